"""The real Opus, MC2000B, Chameleon and SC10 drivers against their emulators backed by the
simulated bench's own devices (sim_backends/devices), over a real pty and a real TCP socket."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.coherent_chameleon import ChameleonControlLaser
from drivers.errors import InstrumentError
from drivers.laser_quantum_opus import OpusPumpLaser
from drivers.thorlabs_mc2000b import MC2000BChopper
from drivers.thorlabs_sc10 import SC10Shutter
from sim_backends.bench import BeamConfig, Bench, BenchConfig, SampleConfig
from sim_backends.clock import VirtualClock
from sim_backends.devices import build_sim_device
from sim_backends.emulators.chameleon import ChameleonEmulator
from sim_backends.emulators.mc2000b import MC2000BEmulator
from sim_backends.emulators.opus import OpusEmulator
from sim_backends.emulators.sc10 import SC10Emulator

from .conftest import transport_address


#: generous: the simulated bench may compute physics inside a reply, and CI is a loaded 2-core box
TIMEOUT_S = 10.0


@pytest.fixture
def bench() -> Bench:
    return Bench(BeamConfig(), SampleConfig(), BenchConfig(), VirtualClock())


def sim(role: str, bench: Bench) -> object:
    device = build_sim_device(role, bench)
    device.connect()
    return device


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_opus_drives_the_simulated_pump(serve: Callable, bench: Bench, transport: str) -> None:
    server = serve(lambda: OpusEmulator(sim("pump", bench)), "opus")
    with OpusPumpLaser("pump", transport_address(server, transport), bench.clock,
                       timeout_s=TIMEOUT_S, setter_ack_timeout_s=TIMEOUT_S) as pump:
        pump.set_power(0.8)
        assert bench.pump.setpoint_w == pytest.approx(0.8)
        pump.set_emission(True)
        assert bench.pump.emission is True and pump.get_emission() is True
        bench.clock.sleep(60.0)  # past the simulated warm-up
        assert pump.get_power() == pytest.approx(0.8, rel=0.05)
        with pytest.raises(ValueError, match="power"):
            pump.set_power(3.5)
    assert bench.pump.emission is False


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_mc2000b_drives_the_simulated_chopper(serve: Callable, bench: Bench, transport: str) -> None:
    server = serve(lambda: MC2000BEmulator(sim("chopper", bench)), "mc2000b")
    with MC2000BChopper("chopper", transport_address(server, transport), bench.clock,
                        timeout_s=TIMEOUT_S) as chopper:
        chopper.set_blade("MC1F60")
        assert bench.chopper.blade == "MC1F60"
        chopper.set_frequency(3000)
        chopper.set_phase(45)
        assert bench.chopper.frequency_setpoint_hz == 3000.0
        chopper.set_blade("MC1F10A")
        chopper.set_frequency(400)
        chopper.set_duty_cycle(0.2)
        assert bench.chopper.duty == pytest.approx(0.2)
        chopper.set_enabled(True)
        bench.clock.sleep(30.0)  # spin up on virtual time
        assert chopper.get_actual_frequency() == pytest.approx(400.0, rel=0.01)
        with pytest.raises(InstrumentError, match="stopped"):
            chopper.set_blade("MC1F60")
    assert bench.chopper.enabled is False


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_chameleon_tunes_the_simulated_control_laser(serve: Callable, bench: Bench, transport: str) -> None:
    server = serve(lambda: ChameleonEmulator(sim("control_laser", bench)), "chameleon")
    with ChameleonControlLaser("control_laser", transport_address(server, transport), bench.clock,
                               timeout_s=TIMEOUT_S) as laser:
        assert laser.wavelength_range == pytest.approx((680e-9, 1080e-9))
        laser.set_emission(True)
        for nm in (745, 875, 808):
            start = bench.clock.now()
            laser.set_wavelength(nm * 1e-9)
            laser.wait_tuned(timeout_s=60.0)
            assert bench.clock.now() > start  # tuning took virtual time, polled through the clock
            assert not bench.control_laser.tuning_at(bench.sync())
            assert laser.get_wavelength() == pytest.approx(nm * 1e-9)
        laser.set_shutter(True)
        assert bench.control_laser.shutter_open is True
        assert laser.get_power() > 0.0
    assert bench.control_laser.shutter_open is False


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_sc10_opens_and_closes_the_simulated_shutters(serve: Callable, bench: Bench, transport: str) -> None:
    server = serve(lambda: SC10Emulator(sim("emission_shutter", bench)), "sc10")
    with SC10Shutter("emission_shutter", transport_address(server, transport), bench.clock,
                     timeout_s=TIMEOUT_S) as shutter:
        shutter.open()
        assert bench.emission_shutter.is_open is True and shutter.is_open() is True
        shutter.close_shutter()
        assert bench.emission_shutter.is_open is False
        shutter.open()
    assert bench.emission_shutter.is_open is False
