"""Interlocks on every path that puts light on a detector or the sample (issue 10, item 3).

The count-rate limit trips on APD counts, traces, probes during stage moves and the TCSPC
histogram (the ``lifetime`` run included), judged over the chopper's open phase when it runs.
The density limit is hard: any pick-off reading above it blocks the beam and fails the run, and
the power meter's stated uncertainty is spent on the setpoints (refused above limit / (1 + u))
instead of being a silent margin on the trip level. All on the simulated rig's virtual clock.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from acquisition.engine import Engine
from acquisition.events import InterlockTripped, PointTaken, RunState, RunStatus, StateChanged
from acquisition.interlocks import (InterlockLimits, histogram_peak_rate_cps, measured_density_error,
                                    open_phase_rate_cps)
from engine_helpers import EventRecorder
from test_engine import add_plan, assert_rig_safe

BRIGHT_W_M2 = 9e7  # above switch-on at 77 K: ~1e4 cps on the APD
RATE_LIMIT_CPS = 2000.0
LIMIT_W_M2 = 1.5e8  # the simulated rig's density limit, 15 kW/cm2
SETPOINT_W_M2 = 1.2e8  # within what the shared calibration's optics deliver


def _paused_by_count_rate(event: Any) -> bool:
    return isinstance(event, StateChanged) and event.state == RunState.PAUSED and "count rate" in event.reason


def _abort_after_trip(engine: Engine, recorder: EventRecorder, handle: Any) -> InterlockTripped:
    recorder.wait_for(_paused_by_count_rate, 600)
    trip = recorder.of(InterlockTripped)[0]
    engine.abort()
    finished = handle.wait(600)
    assert finished.status == RunStatus.ABORTED, finished.reason
    return trip


# ---- the power meter's uncertainty is stated, and spent on setpoints -------------------------
def test_the_simulated_meter_states_its_uncertainty_and_the_limits_carry_it(rig: Any) -> None:
    assert rig.power_meter.relative_uncertainty == pytest.approx(5 * rig.bench.config.power_meter.noise_rel)
    limits = InterlockLimits.from_rig(rig)
    assert limits.meter_relative_uncertainty == pytest.approx(0.01)
    assert limits.max_density_setpoint_w_m2 == pytest.approx(1.5e8 / 1.01)


def test_a_setpoint_within_the_meter_uncertainty_of_the_limit_is_refused_before_anything_moves(
        engine: Engine, rig: Any) -> None:
    with pytest.raises(ValueError) as refused:
        engine.start("lifetime", {"density_kw_cm2": 14.9})
    assert str(refused.value) == ("density_kw_cm2=14.9 kW/cm2 is above the rig limit; allowed range (0, 14.85] "
                                  "kW/cm2 (the limit 15 kW/cm2 less the power meter's 1 % uncertainty)")
    assert not any(instrument.is_connected for instrument in rig.instruments.values())


def test_a_reading_is_judged_against_the_limit_itself_and_the_message_states_the_uncertainty() -> None:
    limits = InterlockLimits(1.5e8, 5e6, 1.0, 10.0, meter_relative_uncertainty=0.07)
    assert measured_density_error("measured_density", 1.5e8, limits) is None
    assert measured_density_error("measured_density", 1.5015e8, limits) == (
        "measured_density=15.02 kW/cm2 (power meter +/-7 %) is above the rig limit 15 kW/cm2 by 0.1 %")
    assert measured_density_error("measured_density", float("nan"), limits) is not None


@pytest.mark.parametrize("excess", [0.01, 0.03, 0.05])
def test_a_readback_1_to_5_percent_above_the_limit_trips_and_fails_the_run(
        engine: Engine, recorder: EventRecorder, rig: Any, monkeypatch: pytest.MonkeyPatch, excess: float) -> None:
    """A pump that emits more than its setpoint: a setpoint below the limit reads back above it
    by ``excess``; the old 10 % readback margin let all three through."""
    factor = LIMIT_W_M2 * (1 + excess) / SETPOINT_W_M2
    emitting = rig.pump.set_power
    monkeypatch.setattr(rig.pump, "set_power", lambda watts: emitting(watts * factor))
    at_trip: dict[str, Any] = {}

    def on_trip(event: Any) -> None:
        if isinstance(event, InterlockTripped):
            at_trip["pump_shutter_open"] = rig.pump_shutter.is_open()
    engine.subscribe(on_trip)

    def plan(ctx: Any, params: dict) -> dict:
        ctx.beam.set_density(SETPOINT_W_M2)
        ctx.emit("should_not_exist", {"x": 1.0})
        return {}
    finished = engine.start(add_plan(monkeypatch, plan), {}).wait(600)
    assert finished.status == RunStatus.FAILED
    assert "measured_density=" in finished.reason and "is above the rig limit 15 kW/cm2 by" in finished.reason
    [trip] = recorder.of(InterlockTripped)
    assert trip.interlock == "power_density" and "(power meter +/-1 %)" in trip.detail
    measured_kw_cm2 = float(trip.detail.split("=")[1].split(" ")[0])
    assert measured_kw_cm2 == pytest.approx(15 * (1 + excess), rel=0.006)
    assert at_trip["pump_shutter_open"] is False
    assert not recorder.of(PointTaken)
    assert_rig_safe(rig)


@pytest.mark.parametrize("excess", [0.02, 0.05])
def test_a_point_reading_above_the_limit_after_a_drift_trips(engine: Engine, recorder: EventRecorder, rig: Any,
                                                             monkeypatch: pytest.MonkeyPatch, excess: float) -> None:
    """The pump drifts up behind the run's back after the density was set: the next point's
    pick-off reading (``beam.measure``, as every experiment takes it) trips."""
    seen: dict[str, Any] = {}

    def plan(ctx: Any, params: dict) -> dict:
        ctx.beam.set_density(SETPOINT_W_M2)
        seen["first"] = ctx.beam.measure().density_w_m2
        rig.pump.set_power(rig.pump.get_power() * LIMIT_W_M2 * (1 + excess) / seen["first"])
        ctx.beam.measure()
        seen["after"] = True
        return {}
    finished = engine.start(add_plan(monkeypatch, plan), {}).wait(600)
    assert seen["first"] <= rig.config.limits.max_power_density_w_m2
    assert "after" not in seen
    assert finished.status == RunStatus.FAILED and "measured_density=" in finished.reason
    assert [t.interlock for t in recorder.of(InterlockTripped)] == ["power_density"]


# ---- the count-rate interlock on every detection path -----------------------------------------
def test_a_lifetime_run_above_the_count_rate_limit_trips_and_is_not_complete(
        engine: Engine, recorder: EventRecorder, rig: Any) -> None:
    rig.config.limits.max_count_rate_cps = RATE_LIMIT_CPS
    handle = engine.start("lifetime", {"acquisition_s": 1.0, "bin_width_s": 2e-4, "settle_s": 0.0})
    trip = _abort_after_trip(engine, recorder, handle)
    assert trip.interlock == "count_rate"
    rate = float(trip.detail.split("=")[1].split(" ")[0])
    assert rate > RATE_LIMIT_CPS
    assert not [p for p in recorder.of(PointTaken) if p.stream == "histogram"]
    assert_rig_safe(rig)


def test_the_tcspc_histogram_itself_is_judged_when_no_counter_probes_first(
        engine: Engine, recorder: EventRecorder, rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the tagger sees the photons: the histogram's fullest bin over its exposure trips."""
    monkeypatch.delitem(rig.instruments, "counter")
    rig.config.limits.max_count_rate_cps = RATE_LIMIT_CPS
    shutters: dict[str, bool] = {}

    def on_trip(event: Any) -> None:
        if isinstance(event, InterlockTripped):
            shutters.update(pump=rig.pump_shutter.is_open(), emission=rig.emission_shutter.is_open())
    engine.subscribe(on_trip)

    def plan(ctx: Any, params: dict) -> dict:
        ctx.chopper.run(20.0, 0.5)
        ctx.beam.set_density(SETPOINT_W_M2)  # avalanches within one 25 ms open phase
        ctx.sleep(1.0)  # into the bright state (no rate probe: there is no counter)
        counts = ctx.tcspc.histogram(1.0, 2e-4, 250)
        ctx.emit("histogram", {"counts": counts})
        return {}
    handle = engine.start(add_plan(monkeypatch, plan), {})
    trip = _abort_after_trip(engine, recorder, handle)
    assert "(TCSPC histogram)" in trip.detail
    assert float(trip.detail.split("=")[1].split(" ")[0]) > RATE_LIMIT_CPS
    assert shutters == {"pump": False, "emission": False}
    assert not recorder.of(PointTaken)


def test_an_emission_trace_above_the_limit_trips(engine: Engine, recorder: EventRecorder, rig: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rig.config.limits.max_count_rate_cps = RATE_LIMIT_CPS

    def plan(ctx: Any, params: dict) -> dict:
        ctx.beam.set_density(BRIGHT_W_M2)  # no wait, so no probe: the trace itself must trip
        ctx.emit("trace", {"counts": ctx.detection.count_trace(2.0, 0.01)})
        return {}
    trip = _abort_after_trip(engine, recorder, engine.start(add_plan(monkeypatch, plan), {}))
    assert "(APD trace)" in trip.detail
    assert not recorder.of(PointTaken)


def test_under_the_chopper_the_rate_is_judged_over_the_open_phase(
        engine: Engine, recorder: EventRecorder, rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Duty 0.1: the counted mean is a tenth of what the APD sees while the blade is open; a
    limit three times the mean trips."""
    seen: dict[str, Any] = {}

    def plan(ctx: Any, params: dict) -> dict:
        ctx.chopper.run(20.0, 0.1)
        ctx.beam.set_density(BRIGHT_W_M2)
        seen["mean"] = mean = ctx.detection.count(1.0).rate_cps
        ctx.session.limits = dataclasses.replace(ctx.session.limits, max_count_rate_cps=3 * mean)
        ctx.detection.count(1.0)
        return {}
    trip = _abort_after_trip(engine, recorder, engine.start(add_plan(monkeypatch, plan), {}))
    assert seen["mean"] > 0
    judged = float(trip.detail.split("=")[1].split(" ")[0])
    assert judged > 3 * seen["mean"]


def test_a_sample_stage_move_with_the_beam_open_probes_the_rate(engine: Engine, recorder: EventRecorder,
                                                                 rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A light leak onto the APD (its background at 1e5 cps): the first probe of the XY move
    trips. (The sample itself stays dark while the spot sweeps over it: no particle is under
    the focus long enough to avalanche.)"""
    rig.config.limits.max_count_rate_cps = RATE_LIMIT_CPS
    rig.bench.config.detection.dark_count_rate_cps = 1e5
    moving: list[bool] = []

    def on_trip(event: Any) -> None:
        if isinstance(event, InterlockTripped):
            moving.append(rig.xy_stage.is_moving())
    engine.subscribe(on_trip)

    def plan(ctx: Any, params: dict) -> dict:
        ctx.beam.set_density(BRIGHT_W_M2)  # no wait: the move's probe is the first
        x, y = rig.xy_stage.get_position()
        ctx.stages.move_xy(x + 5e-3, y)
        return {}
    trip = _abort_after_trip(engine, recorder, engine.start(add_plan(monkeypatch, plan), {}))
    assert trip.interlock == "count_rate" and moving == [True]


# ---- the rate estimates themselves -------------------------------------------------------------
def test_open_phase_rate_never_exceeds_what_an_open_blade_can_explain() -> None:
    assert open_phase_rate_cps(1000, 1.0, None, None) == 1000.0
    # 1 s at 20 Hz, duty 0.1: at most 21 open phases of 5 ms
    assert open_phase_rate_cps(1000, 1.0, 0.1, 20.0) == pytest.approx(1000 / 0.105)
    # a 10 ms probe holds at most one 5 ms open phase
    assert open_phase_rate_cps(10, 0.01, 0.1, 20.0) == pytest.approx(10 / 0.005)
    assert open_phase_rate_cps(10, 0.01, 1.0, 20.0) == pytest.approx(1000.0)


def test_histogram_peak_rate_is_the_fullest_bin_over_its_exposure() -> None:
    counts = np.array([0, 400, 100, 0])
    # 2 s at 10 Hz: each 1 ms bin was exposed 20 times
    assert histogram_peak_rate_cps(counts, 2.0, 1e-3, 10.0) == pytest.approx(400 / (1e-3 * 20))
    assert histogram_peak_rate_cps(counts, 2.0, 1e-3, None) == pytest.approx(250.0)
    assert histogram_peak_rate_cps(np.zeros(0), 2.0, 1e-3, 10.0) == 0.0



def test_the_control_paths_readings_are_held_to_the_same_density_limit(
        engine: Engine, recorder: EventRecorder, rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rig whose limit is below what the control path delivers (~10 W/cm2 at its maximum):
    the path's own calibration readings trip, with the control beam shut."""
    rig.config.limits.max_power_density_w_m2 = 2e4  # 2 W/cm2
    shut: list[bool] = []

    def on_trip(event: Any) -> None:
        if isinstance(event, InterlockTripped):
            shut.append(rig.control_laser.get_shutter() is False and rig.control_shutter.is_open() is False)
    engine.subscribe(on_trip)

    def plan(ctx: Any, params: dict) -> dict:
        ctx.control.prepare(808e-9, 1e4)
        return {}
    finished = engine.start(add_plan(monkeypatch, plan), {}).wait(600)
    assert finished.status == RunStatus.FAILED and "measured_control_density=" in finished.reason
    assert [t.interlock for t in recorder.of(InterlockTripped)] == ["power_density"] and shut == [True]
