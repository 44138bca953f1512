"""Laser Quantum Opus (MPC-D) emulator against pymeasure's Laser Quantum FPU60 driver.

Client: pymeasure (maintained) ``pymeasure.instruments.novanta.fpu60.Fpu60`` (Laser Quantum is
a Novanta company), written for the FPU60 supply of the Finesse laser, which shares the MPC's
command family; over VISA on a pty and on TCP. Operations that the MPC-D shares, command and
reply format: ``emission_enabled``, ``interlock_enabled``, ``current``, ``psu_temperature``,
``serial_number``, ``software_version``, ``get_operation_times``, and ``write``/``read`` of
``ON``/``OFF``. Not MPC-D operations (a different controller, so not run here): ``power`` /
``power_setpoint`` (the FPU60 answers and takes watts, ``" ##.###W"``; the MPC-D milliwatts,
``0123.4mW``: 0.5 W would be sent as 0.5 mW), ``head_temperature`` (``HTEMP?``; the MPC-D
reports the head as ``LASTEMP?``), ``shutter_open`` (the Opus has no shutter command),
``disable_emission`` (``LASER=OFF``/``ON``, the FPU60's button lock).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conformance_support import Link

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.opus import OpusEmulator
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def pump(bench: Bench) -> Any:
    device = build_sim_device("pump", bench)
    device.connect()
    return device


def serve_opus(pump: Any, make_link: Any) -> Link:
    return make_link(EmulatorServer(lambda: OpusEmulator(pump), "opus"))


@pytest.fixture
def laser(pump: Any, make_link: Any) -> Iterator[Any]:
    from pymeasure.instruments.novanta.fpu60 import Fpu60

    instrument = Fpu60(serve_opus(pump, make_link).visa_address, timeout=10000)
    yield instrument
    instrument.adapter.close()


def test_status_interlock_and_identity(laser: Any) -> None:
    assert laser.emission_enabled is False
    assert laser.interlock_enabled is True
    assert laser.serial_number.startswith("OPUS")
    assert laser.software_version


def test_current_and_psu_temperature(laser: Any) -> None:
    assert laser.current == pytest.approx(0.0)  # emission off
    assert 0.0 < laser.psu_temperature < 80.0


def test_operation_times(laser: Any) -> None:
    timers = laser.get_operation_times()
    assert set(timers) == {"psu", "laser", "laser_above_1A"}
    assert all(value > 0 for value in timers.values())


def test_emission_on_and_off(laser: Any, bench: Bench) -> None:
    laser.write("ON")  # no pymeasure property for it; the client's write + read of the ack
    assert laser.read() == ""
    assert laser.emission_enabled is True and bench.pump.emission is True
    laser.write("OFF")
    assert laser.read() == ""
    assert laser.emission_enabled is False
