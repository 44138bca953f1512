"""Thorlabs MC2000B emulator against the ``thorlabs_mc2000b`` package.

Client: PyPI ``thorlabs-mc2000b`` (Patrick Tapping), ``thorlabs_mc2000b.MC2000B``. Connected the
way it connects hardware: ``MC2000B(serial_port=<device path>)``; it opens a local serial port
with ``serial.Serial(port=...)`` only, so the TCP transport is skipped (pyLabLib's test covers
TCP). Operations: every property (``freq``, ``refoutfreq``, ``blade``, ``nharmonic``,
``dharmonic``, ``phase``, ``enable``, ``ref``, ``output``, ``oncycle``, ``intensity``,
``input``), the blade-dependent ``set/get_inref_string`` / ``set/get_outref_string``,
``get_blade_string``, ``get_commands``. It parses values with ``int()`` and sends a bare CR
before each command to resynchronise.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conformance_support import Link, require_client

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.mc2000b import MC2000BEmulator
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def blade_drive(bench: Bench) -> Any:
    device = build_sim_device("chopper", bench)
    device.connect()
    return device


@pytest.fixture
def chopper(blade_drive: Any, make_link: Any) -> Iterator[Any]:
    package = require_client("thorlabs_mc2000b", "thorlabs-mc2000b")
    link: Link = make_link(EmulatorServer(lambda: MC2000BEmulator(blade_drive), "mc2000b"))
    if link.transport == "tcp":
        pytest.skip("thorlabs_mc2000b opens a local serial port only (serial.Serial(port=...))")
    client = package.MC2000B(link.device)
    yield client
    client.close()


def test_identity_blade_and_command_list(chopper: Any, blade_drive: Any) -> None:
    assert chopper.id.startswith("THORLABS MC2000B")
    assert chopper.get_blade_string() == blade_drive.get_blade()
    chopper.blade = 9
    assert chopper.blade == 9 and blade_drive.get_blade() == "MC1F10A"
    assert "oncycle" in chopper.get_commands()


def test_frequency_oncycle_phase_harmonics_intensity(chopper: Any, blade_drive: Any) -> None:
    chopper.blade = 9
    chopper.freq = 733
    assert chopper.freq == 733 and blade_drive.get_frequency() == 733.0
    chopper.oncycle = 30
    assert chopper.oncycle == 30 and blade_drive.get_duty_cycle() == pytest.approx(0.3)
    chopper.phase = 90
    assert chopper.phase == 90
    chopper.nharmonic, chopper.dharmonic = 3, 2
    assert (chopper.nharmonic, chopper.dharmonic) == (3, 2)
    chopper.intensity = 7
    assert chopper.intensity == 7


def test_reference_strings_and_input(chopper: Any) -> None:
    chopper.blade = 9
    chopper.set_inref_string("external")
    assert chopper.get_inref_string() == "external" and chopper.ref == 1
    chopper.set_outref_string("actual")
    assert chopper.get_outref_string() == "actual" and chopper.output == 1
    assert chopper.input == 0  # nothing on the bench's reference input


def test_enable_and_reference_output_frequency(chopper: Any, blade_drive: Any, bench: Bench) -> None:
    chopper.blade = 9
    chopper.freq = 733
    chopper.enable = True
    assert chopper.enable == 1 and blade_drive.get_enabled() is True
    bench.clock.sleep(5.0)  # the blade spins up on the bench's clock
    assert abs(chopper.refoutfreq - 733) <= 5  # the bench's blade jitters a little
    with pytest.raises(RuntimeError, match="Could not set"):
        chopper.blade = 4  # refused while spinning; the client reports the error line
    chopper.enable = False
    assert blade_drive.get_enabled() is False
