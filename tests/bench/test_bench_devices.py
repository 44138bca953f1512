"""Simulated devices through their role interfaces: validation, waits on the clock, safe states,
chopper, control laser, time tagger, thread safety."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from acquisition.rig import Rig
from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from drivers.registry import ROLES


def test_every_role_has_a_simulated_device_that_identifies(sim_rig: Rig) -> None:
    identities = sim_rig.identities()
    assert set(identities) == set(ROLES)
    assert all(text.startswith("simulated") for text in identities.values())


def test_devices_refuse_commands_before_connect() -> None:
    from acquisition.rig import load_rig

    rig = load_rig("sim")
    with pytest.raises(InstrumentConnectionError, match="pump"):
        rig.pump.set_power(0.1)
    assert rig.safe_state_all() == {role: None for role in ROLES}  # safe state needs no link


@pytest.mark.parametrize("call, field", [
    (lambda r: r.pump.set_power(5.0), "pump.power_w=5 W"),
    (lambda r: r.hwp.move_to(1000.0), "hwp.angle_deg=1000 deg"),
    (lambda r: r.power_meter.set_wavelength(1500e-9), "power_meter.wavelength_m"),
    (lambda r: r.power_meter.set_averaging(0), "power_meter.averaging"),
    (lambda r: r.counter.count(-1.0), "counter.dwell_s"),
    (lambda r: r.tagger.histogram(1.0, 1e-6, 70000), "tagger.n_bins"),
    (lambda r: r.chopper.set_frequency(5000.0), "chopper.frequency_hz (MC1F10A blade)=5000 Hz"),
    (lambda r: r.chopper.set_blade("MC9"), "chopper.blade='MC9'"),
    (lambda r: r.cryostat.set_heater_range(4), "cryostat.heater_range=4"),
    (lambda r: r.cryostat.set_setpoint(600.0), "cryostat.setpoint_k=600 K"),
    (lambda r: r.control_laser.set_wavelength(600e-9), "control_laser.wavelength_m"),
])
def test_bad_values_raise_one_line_before_anything_changes(sim_rig: Rig, call, field: str) -> None:
    before = sim_rig.config_dict(), sim_rig.hwp.get_position(), sim_rig.chopper.get_frequency()
    with pytest.raises(ValueError) as info:
        call(sim_rig)
    assert field in str(info.value) and "\n" not in str(info.value)
    assert (sim_rig.config_dict(), sim_rig.hwp.get_position(), sim_rig.chopper.get_frequency()) == before


def test_stage_moves_take_time_on_the_clock(sim_rig: Rig) -> None:
    speed = sim_rig.config.sim.stage.velocity_deg_s
    start = sim_rig.clock.now()
    sim_rig.hwp.move_to(40.0)
    assert sim_rig.clock.now() - start == pytest.approx(40.0 / speed)
    sim_rig.hwp.move_to(0.0, wait=False)
    assert sim_rig.hwp.is_moving()
    sim_rig.clock.sleep(1.0)
    assert sim_rig.hwp.get_position() == pytest.approx(40.0 - speed)
    sim_rig.hwp.stop()
    sim_rig.clock.sleep(10.0)
    assert sim_rig.hwp.get_position() == pytest.approx(40.0 - speed)
    sim_rig.hwp.move_by(-5.0)
    assert sim_rig.hwp.get_position() == pytest.approx(35.0 - speed)


def test_pump_safe_state_turns_emission_off_and_power_meter_sees_it(sim_rig: Rig) -> None:
    sim_rig.nd_wheel.move_to(200.0)
    sim_rig.pump.set_power(0.5)
    sim_rig.pump.set_emission(True)
    sim_rig.pump_shutter.open()
    sim_rig.clock.sleep(2.0)
    assert sim_rig.pump.get_power() == pytest.approx(0.5, rel=0.02)
    assert sim_rig.power_meter.read_power() > 1e-7
    results = sim_rig.safe_state_all()
    assert all(error is None for error in results.values())
    assert not sim_rig.pump.get_emission() and not sim_rig.pump_shutter.is_open()
    assert not sim_rig.emission_shutter.is_open() and not sim_rig.control_laser.get_shutter()
    assert abs(sim_rig.power_meter.read_power()) < 1e-8


def test_power_meter_manual_range_reports_over_range(sim_rig: Rig) -> None:
    sim_rig.nd_wheel.move_to(200.0)
    sim_rig.pump.set_power(0.05)
    sim_rig.pump.set_emission(True)
    sim_rig.pump_shutter.open()
    sim_rig.clock.sleep(2.0)
    sim_rig.power_meter.set_auto_range(False)
    sim_rig.pump.set_power(2.0)
    with pytest.raises(InstrumentError, match="over range"):
        sim_rig.power_meter.read_power()
    sim_rig.power_meter.set_auto_range(True)
    assert sim_rig.power_meter.read_power() > 0


def test_power_meter_wavelength_correction_mismatch(sim_rig: Rig) -> None:
    sim_rig.nd_wheel.move_to(200.0)
    sim_rig.pump.set_power(1.0)
    sim_rig.pump.set_emission(True)
    sim_rig.pump_shutter.open()
    sim_rig.clock.sleep(2.0)
    sim_rig.power_meter.set_averaging(1000)
    right = sim_rig.power_meter.read_power()
    sim_rig.power_meter.set_wavelength(800e-9)  # silicon is more sensitive at 800 nm than at 1064
    assert sim_rig.power_meter.read_power() < 0.7 * right


def test_chopper_rules_spin_up_and_blades(sim_rig: Rig) -> None:
    chopper = sim_rig.chopper
    chopper.set_blade("MC1F10A")
    chopper.set_frequency(500.0)
    chopper.set_duty_cycle(0.3)
    assert chopper.get_actual_frequency() == 0.0
    chopper.set_enabled(True)
    sim_rig.clock.sleep(0.5)
    assert 0.0 < chopper.get_actual_frequency() < 500.0
    sim_rig.clock.sleep(10.0)
    assert chopper.get_actual_frequency() == pytest.approx(500.0, rel=1e-3)
    with pytest.raises(InstrumentError, match="stopped"):
        chopper.set_blade("MC1F60")
    chopper.safe_state()
    assert not chopper.get_enabled()
    chopper.set_blade("MC1F60")
    assert chopper.get_duty_cycle() == 0.5  # the 50 % blade cannot do 0.3
    with pytest.raises(ValueError, match="duty_cycle"):
        chopper.set_duty_cycle(0.3)


def test_control_laser_tuning_takes_time_and_wait_can_time_out(sim_rig: Rig) -> None:
    laser = sim_rig.control_laser
    params = sim_rig.config.sim.control_laser
    laser.set_emission(True)
    laser.set_wavelength(745e-9)
    with pytest.raises(InstrumentTimeout):
        laser.wait_tuned(timeout_s=1.0)
    start = sim_rig.clock.now()
    laser.wait_tuned()
    expected = (808e-9 - 745e-9) / params.tuning_rate_m_s + params.tuning_overhead_s
    assert sim_rig.clock.now() - start == pytest.approx(expected - 1.0, abs=0.15)
    assert laser.get_wavelength() == pytest.approx(745e-9)
    assert laser.get_power() > 0.5 * params.peak_power_w


def test_time_tagger_histogram_shows_the_chopper_window_on_the_bright_spot(sim_rig: Rig) -> None:
    """With the chopper at 20 Hz, 50 % duty, the pump only reaches the bright spot for the first
    half of each period after the reference edge: the delay histogram is high then low; a 90 deg
    phase moves the window by a quarter period."""
    from tests.bench.operator_steps import calibrate_hwp, prepare_pump, set_density

    prepare_pump(sim_rig)
    calibration = calibrate_hwp(sim_rig, step_deg=9.0)
    set_density(sim_rig, calibration, 9e7)
    sim_rig.emission_shutter.open()
    chopper = sim_rig.chopper
    chopper.set_blade("MC1F10A")
    chopper.set_frequency(20.0)
    chopper.set_duty_cycle(0.5)
    chopper.set_phase(0.0)
    chopper.set_enabled(True)
    sim_rig.clock.sleep(10.0)
    histogram = sim_rig.tagger.histogram(2.0, 1e-3, 50)
    assert histogram.sum() > 1000
    open_half, closed_half = histogram[:25].sum(), histogram[25:].sum()
    assert open_half > 5 * closed_half
    chopper.set_phase(90.0)
    shifted = sim_rig.tagger.histogram(2.0, 1e-3, 50)
    assert shifted[:12].sum() < 0.2 * shifted[12:37].sum()
    tags = sim_rig.tagger.time_tags(0.5)
    assert tags.marker_times_s.size == pytest.approx(10, abs=1)
    assert np.all(np.diff(tags.times_s) >= 0) and np.all(tags.channels == 1)
    assert np.all((tags.times_s >= 0) & (tags.times_s < 0.5))


def test_shutter_edges_are_markers(sim_rig: Rig) -> None:
    """A second thread opens the pump shutter while the tagger runs (real-clock style use): the
    edge is one marker, at the moment it happened in the acquisition."""
    from acquisition.rig import load_rig

    rig = load_rig("sim", clock="real")
    rig.connect_all()
    bench = rig.tagger.bench
    recording = threading.Event()
    starts: list[float] = []
    opened: list[float] = []
    start_recording = bench.start_recording

    def start_and_tell(resolution_s: float):  # type: ignore[no-untyped-def]
        recorder = start_recording(resolution_s)
        starts.append(recorder.start_t)
        recording.set()
        return recorder

    def open_during_the_acquisition() -> None:
        assert recording.wait(600)
        before = rig.clock.now()
        rig.pump_shutter.open()
        opened[:] = [before, rig.clock.now()]

    bench.start_recording = start_and_tell  # type: ignore[method-assign]
    toggler = threading.Thread(target=open_during_the_acquisition, daemon=True)
    try:
        toggler.start()
        # long enough that the other thread opens within it however loaded the machine is
        tags = rig.tagger.time_tags(5.0)
        toggler.join(60)
        assert tags.marker_times_s.size == 1
        before, after = opened
        assert before - starts[0] <= tags.marker_times_s[0] <= after - starts[0]
    finally:
        rig.close_all()


def test_devices_are_thread_safe(sim_rig: Rig) -> None:
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            for _ in range(200):
                sim_rig.cryostat.get_temperature()
                sim_rig.power_meter.read_power()
                sim_rig.hwp.get_position()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for angle in np.linspace(0.0, 90.0, 50):
        sim_rig.hwp.move_to(float(angle))
        sim_rig.counter.count(0.01)
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_long_idle_is_advanced_in_pieces(sim_rig: Rig) -> None:
    sim_rig.emission_shutter.open()
    sim_rig.clock.sleep(5 * 86400.0)  # a long weekend with the rig left on
    assert sim_rig.counter.count(1.0) < 200
