"""The real PM100 and Lake Shore drivers against their emulators backed by the simulated bench's
own devices (sim_backends/devices), over a real TCP socket and a real pty."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from ascii_b_fakes import REPLY_TIMEOUT_S, address_of, serving

from drivers.errors import InstrumentError
from drivers.lakeshore import LakeShore335Controller
from drivers.thorlabs_pm100 import PM100PowerMeter
from sim_backends.bench import BeamConfig, Bench, BenchConfig, SampleConfig
from sim_backends.clock import VirtualClock
from sim_backends.devices import build_sim_device
from sim_backends.emulators.lakeshore import lakeshore_server
from sim_backends.emulators.pm100 import pm100_server


@pytest.fixture
def bench() -> Bench:
    return Bench(BeamConfig(), SampleConfig(), BenchConfig(), VirtualClock())


def switch_pump_on(bench: Bench, power_w: float) -> None:
    pump = build_sim_device("pump", bench)
    shutter = build_sim_device("pump_shutter", bench)
    pump.connect()
    shutter.connect()
    pump.set_power(power_w)
    pump.set_emission(True)
    shutter.open()
    bench.clock.sleep(5.0)


@pytest.fixture
def meter_server(bench: Bench) -> Iterator[object]:
    sim_meter = build_sim_device("power_meter", bench)
    sim_meter.connect()
    with serving(pm100_server(sim_meter, "PM100D")) as server:
        yield server


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_pm100_driver_reads_the_simulated_pick_off(bench: Bench, meter_server,  # type: ignore[no-untyped-def]
                                                   transport: str) -> None:
    switch_pump_on(bench, 0.1)
    with PM100PowerMeter(name="power_meter", address=address_of(meter_server, transport),
                         timeout_s=REPLY_TIMEOUT_S) as meter:
        meter.set_wavelength(1064e-9)
        assert bench.power_meter_wavelength_m == pytest.approx(1064e-9)
        meter.set_averaging(10)
        reading = meter.read_power()
        true_w = bench.power_at_meter(bench.sync())
        assert reading == pytest.approx(true_w, rel=0.02)
        switch_pump_on(bench, 1.0)  # ten times more light: beyond the sensor's 50 mW range
        with pytest.raises(InstrumentError, match="over-range"):
            meter.read_power()


@pytest.fixture
def cryostat_server(bench: Bench) -> Iterator[object]:
    sim_controller = build_sim_device("cryostat", bench)
    sim_controller.connect()
    with serving(lakeshore_server(sim_controller, 335)) as server:
        yield server


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_lakeshore_driver_controls_the_simulated_cryostat(bench: Bench, cryostat_server,  # type: ignore[no-untyped-def]
                                                          transport: str) -> None:
    with LakeShore335Controller(name="cryostat", address=address_of(cryostat_server, transport),
                                timeout_s=REPLY_TIMEOUT_S) as cryostat:
        assert cryostat.get_temperature("A") == pytest.approx(77.0, abs=0.1)
        assert cryostat.get_temperature("B") == pytest.approx(77.0, abs=0.1)
        cryostat.set_ramp(True, 0.05)
        cryostat.set_setpoint(90.0)
        assert bench.cryostat.setpoint_k == 90.0 and cryostat.get_setpoint() == 90.0
        assert bench.cryostat.ramp_enabled and bench.cryostat.ramp_rate_k_s == pytest.approx(0.05)
        assert cryostat.is_ramping() is True  # 13 K at 3 K/min
        cryostat.set_heater_range(2)
        assert bench.cryostat.heater_range == 2
        bench.clock.sleep(600.0)
        assert cryostat.get_temperature("A") > 78.0  # the heater warmed the cold finger
        assert 0.0 <= cryostat.get_heater_output() <= 100.0
        # the simulated cryostat wires one loop: output 2 answers like a 335 output with no
        # heater attached (setpoint kept, 0 % delivered, open load once its range is on)
        cryostat.set_setpoint(80.0, output=2)
        assert cryostat.get_setpoint(2) == 80.0 and bench.cryostat.setpoint_k == 90.0
        assert cryostat.heater_status(2) == "no error"
        cryostat.set_heater_range(1, output=2)
        assert cryostat.heater_status(2) == "open load"
        assert cryostat.get_heater_output(2) == 0.0
        assert cryostat.heater_status(1) == "no error"
    # leaving the context ran safe_state: every output is off
    assert bench.cryostat.heater_range == 0
