"""Engine: streaming, pause/resume, abort and failure to safe state, validation before moving,
automatic calibration, interlocks (count rate, power density, temperature)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.events import (InterlockTripped, PointTaken, Progress, RunFinished, RunStarted,
                                RunState, RunStatus, StateChanged)
from acquisition.experiments import EXPERIMENTS
from acquisition.experiments.base import Experiment
from acquisition.schema import TEMPERATURE_PARAMETER, ParameterSchema
from drivers.errors import InterlockError

from engine_helpers import EventRecorder

QUICK_SWEEP = {"start_kw_cm2": 2.0, "stop_kw_cm2": 8.0, "points": 13, "dwell_s": 0.1, "settle_s": 0.2}


def assert_rig_safe(rig: Any) -> None:
    """Every instrument in the safe state its interface defines."""
    assert rig.pump.get_emission() is False
    for shutter in (rig.pump_shutter, rig.control_shutter, rig.emission_shutter):
        assert shutter.is_open() is False
    assert rig.control_laser.get_shutter() is False
    assert rig.chopper.get_enabled() is False
    assert rig.cryostat.get_heater_range() == 0
    for stage in (rig.hwp, rig.nd_wheel, rig.control_attenuator):
        assert stage.is_moving() is False


def add_plan(monkeypatch: pytest.MonkeyPatch, plan: Any, name: str = "test_plan") -> str:
    schema = ParameterSchema([TEMPERATURE_PARAMETER])
    monkeypatch.setitem(EXPERIMENTS, name, Experiment(name, "test", schema, plan, lambda p: 1.0))
    return name


def test_sweep_streams_every_point_in_order_and_completes(engine: Engine, recorder: EventRecorder) -> None:
    finished = engine.start("sweep", QUICK_SWEEP).wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    kinds = [type(e) for e in recorder.events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    points = recorder.of(PointTaken)
    assert [p.index for p in points] == list(range(26))
    assert [p.data["direction"] for p in points] == ["up"] * 13 + ["down"] * 13
    first = points[0].data
    for key in ("setpoint_w_m2", "power_pickoff_w", "density_w_m2", "counts", "rate_cps",
                "temperature_k", "timestamp_s", "direction", "index"):
        assert key in first
    assert first["density_w_m2"] == pytest.approx(2e7, rel=0.03)
    assert recorder.of(Progress)[-1].done == 26
    assert engine.state == RunState.IDLE and not engine.is_busy


def test_invalid_parameters_raise_before_anything_connects_or_moves(engine: Engine, rig: Any) -> None:
    with pytest.raises(ValueError, match=r"dwell_s=-1 s is outside the allowed range"):
        engine.start("sweep", {"dwell_s": -1})
    with pytest.raises(ValueError, match=r"stop_kw_cm2=30 kW/cm2 is above the rig limit"):
        engine.start("sweep", {"stop_kw_cm2": 30})
    assert not any(instrument.is_connected for instrument in rig.instruments.values())
    assert not engine.is_busy


def test_pause_holds_at_a_safe_point_and_resume_finishes(engine: Engine, recorder: EventRecorder) -> None:
    def pause_at_fifth_point(event: Any) -> None:
        if isinstance(event, PointTaken) and event.index == 4:
            engine.pause()
    engine.subscribe(pause_at_fifth_point)
    handle = engine.start("sweep", QUICK_SWEEP)
    recorder.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED)
    assert engine.state == RunState.PAUSED
    held = len(recorder.of(PointTaken))
    threading.Event().wait(0.3)  # wall time: nothing is measured while paused
    assert len(recorder.of(PointTaken)) == held == 5
    engine.resume()
    finished = handle.wait(600)
    assert finished.status == RunStatus.COMPLETE
    assert len(recorder.of(PointTaken)) == 26


def test_abort_ends_the_run_with_every_instrument_safe(engine: Engine, recorder: EventRecorder, rig: Any) -> None:
    recorder.hold_at(lambda e: isinstance(e, PointTaken) and e.index == 3)
    handle = engine.start("sweep", QUICK_SWEEP)
    recorder.wait_for(lambda e: isinstance(e, PointTaken) and e.index == 3)
    engine.abort()
    recorder.release()
    finished = handle.wait(600)
    assert finished.status == RunStatus.ABORTED
    assert len(recorder.of(PointTaken)) < 26
    assert_rig_safe(rig)


def test_abort_while_paused(engine: Engine, recorder: EventRecorder, rig: Any) -> None:
    recorder.hold_at(lambda e: isinstance(e, PointTaken))
    handle = engine.start("sweep", QUICK_SWEEP)
    recorder.wait_for(lambda e: isinstance(e, PointTaken))
    engine.pause()
    recorder.release()
    recorder.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED)
    engine.abort()
    assert handle.wait(600).status == RunStatus.ABORTED
    assert_rig_safe(rig)


def test_emergency_stop_makes_everything_safe_at_once(engine: Engine, recorder: EventRecorder, rig: Any) -> None:
    recorder.hold_at(lambda e: isinstance(e, PointTaken) and e.index == 2)
    handle = engine.start("sweep", QUICK_SWEEP)
    recorder.wait_for(lambda e: isinstance(e, PointTaken) and e.index == 2)
    failures = engine.emergency_stop()
    recorder.release()
    assert all(error is None for error in failures.values())
    assert handle.wait(600).status == RunStatus.ABORTED
    assert_rig_safe(rig)


def test_exception_in_a_plan_fails_the_run_with_the_reason(engine: Engine, rig: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: Any, params: dict) -> dict:
        ctx.beam.set_density(3e7)
        raise RuntimeError("stage controller unplugged")
    finished = engine.start(add_plan(monkeypatch, broken), {}).wait(600)
    assert finished.status == RunStatus.FAILED
    assert "stage controller unplugged" in finished.reason
    assert_rig_safe(rig)


def test_density_above_the_limit_is_refused_before_it_is_set(engine: Engine, recorder: EventRecorder,
                                                             rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def too_much(ctx: Any, params: dict) -> dict:
        ctx.beam.set_density(5e7)
        seen["plate"] = rig.hwp.get_position()
        try:
            ctx.beam.set_density(1.2 * rig.config.limits.max_power_density_w_m2)
        except InterlockError as exc:
            seen["error"] = str(exc)
            seen["plate_after"] = rig.hwp.get_position()
            seen["density"] = ctx.beam.measure().density_w_m2
        return {}
    finished = engine.start(add_plan(monkeypatch, too_much), {}).wait(600)
    assert finished.status == RunStatus.COMPLETE
    assert seen["error"] == ("power_density=18 kW/cm2 is above the rig limit; allowed range [0, 14.85] kW/cm2 "
                             "(the limit 15 kW/cm2 less the power meter's 1 % uncertainty)")
    assert seen["plate_after"] == seen["plate"]
    assert seen["density"] == pytest.approx(5e7, rel=0.03)
    assert [t.interlock for t in recorder.of(InterlockTripped)] == ["power_density"]


def test_count_rate_trip_closes_the_pump_shutter_and_pauses(engine: Engine, recorder: EventRecorder,
                                                            rig: Any) -> None:
    rig.config.limits.max_count_rate_cps = 2000.0  # the bright state (~1e4 cps) trips it
    handle = engine.start("sweep", QUICK_SWEEP)
    trip = recorder.wait_for(lambda e: isinstance(e, InterlockTripped))
    recorder.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED)
    assert trip.interlock == "count_rate"
    assert rig.pump_shutter.is_open() is False and rig.emission_shutter.is_open() is False
    assert engine.state == RunState.PAUSED
    assert all(p.data["rate_cps"] <= 2000.0 for p in recorder.of(PointTaken))
    # resuming re-opens the beam and measures the point again: still too bright, trips again
    engine.resume()
    recorder.wait_for(lambda e: isinstance(e, InterlockTripped) and e is not trip)
    recorder.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.RUNNING
                      and e.reason == "resumed")
    assert len(recorder.of(InterlockTripped)) == 2
    engine.abort()
    assert handle.wait(600).status == RunStatus.ABORTED
    assert all(p.data["rate_cps"] <= 2000.0 for p in recorder.of(PointTaken))
    assert_rig_safe(rig)


def test_temperature_out_of_band_pauses_until_stable_again(engine: Engine, recorder: EventRecorder,
                                                          rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = rig.config.limits
    log: dict[str, Any] = {}

    def restore_setpoint(event: Any) -> None:  # the operator fixes the disturbance
        if isinstance(event, InterlockTripped) and event.interlock == "temperature":
            log["tripped_at"] = rig.clock.now()
            rig.cryostat.set_setpoint(77.0)
        if isinstance(event, StateChanged) and event.reason == "temperature back in band":
            log["resumed_at"] = rig.clock.now()
            log["temperature_at_resume"] = rig.cryostat.get_temperature()
    engine.subscribe(restore_setpoint)

    def disturbed(ctx: Any, params: dict) -> dict:
        rig.cryostat.set_heater_range(2)  # a disturbance behind the run's back: heater towards 90 K
        rig.cryostat.set_setpoint(90.0)
        ctx.sleep(600.0)
        log["plan_done_at"] = rig.clock.now()
        return {}
    finished = engine.start(add_plan(monkeypatch, disturbed), {"temperature_k": 77.0}).wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert [t.interlock for t in recorder.of(InterlockTripped)] == ["temperature"]
    paused = [e for e in recorder.of(StateChanged) if e.state == RunState.PAUSED]
    assert paused and "out of band" in paused[0].reason
    assert log["resumed_at"] - log["tripped_at"] >= limits.temperature_stable_s
    assert abs(log["temperature_at_resume"] - 77.0) <= limits.temperature_band_k


def test_sweep_without_calibration_calibrates_first_and_says_so(rig: Any, tmp_path: Path) -> None:
    engine = Engine(rig, CalibrationStore(tmp_path))
    events = EventRecorder()
    engine.subscribe(events)
    finished = engine.start("sweep", QUICK_SWEEP).wait(600)
    engine.close()
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert finished.summary["calibrated_first"] is True
    assert any("calibrating first" in p.message for p in events.of(Progress))
    streams = {p.stream for p in events.of(PointTaken)}
    assert streams == {"calibration", "sweep"}
    assert CalibrationStore(tmp_path).load(rig.config.name) is not None


def test_a_second_start_while_busy_is_refused(engine: Engine, recorder: EventRecorder) -> None:
    handle = engine.start("sweep", QUICK_SWEEP)
    with pytest.raises(RuntimeError, match="already in progress"):
        engine.start("sweep", QUICK_SWEEP)
    engine.abort()
    handle.wait(600)


def test_run_file_holds_every_point_the_params_and_the_calibration(engine: Engine, recorder: EventRecorder,
                                                                   tmp_path: Path) -> None:
    from acquisition.storage import open_run

    path = tmp_path / "run.h5"
    finished = engine.start("sweep", QUICK_SWEEP, path).wait(600)
    assert finished.status == RunStatus.COMPLETE and finished.path == str(path)
    stored = open_run(path)
    assert stored.status == "complete" and stored.experiment == "sweep"
    assert stored.params["points"] == 13
    assert stored.n_points("sweep") == 26
    assert stored.calibration is not None and stored.calibration["plate"]["harmonic"] == 2
    densities = [p.data["density_w_m2"] for p in recorder.of(PointTaken)]
    assert list(stored.streams["sweep"]["density_w_m2"]) == densities
    with pytest.raises(ValueError, match="already exists"):
        engine.start("sweep", QUICK_SWEEP, path)


EXIT_SCRIPT = """
import atexit, json, os, sys, threading
from acquisition.rig import load_rig
rig = load_rig("sim")

def report() -> None:  # registered before the engine's hook, so atexit runs it after
    state = {"pump_emission": rig.pump.get_emission(), "pump_shutter": rig.pump_shutter.is_open(),
             "emission_shutter": rig.emission_shutter.is_open()}
    sys.stdout.write(json.dumps(state) + "\\n")
atexit.register(report)

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.events import PointTaken
engine = Engine(rig, CalibrationStore(__import__("pathlib").Path(sys.argv[1])))
running = threading.Event()
engine.subscribe(lambda e: running.set() if isinstance(e, PointTaken) and e.stream == "sweep" else None)
engine.start("sweep", {"points": 500, "dwell_s": 5})
running.wait(600)
assert rig.pump.get_emission() and rig.pump_shutter.is_open()
sys.exit(0)  # the interpreter leaves with the run in progress
"""


def test_process_exit_mid_run_leaves_the_rig_safe(tmp_path: Path, shared_calibration_dir: Path) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(shared_calibration_dir)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state == {"pump_emission": False, "pump_shutter": False, "emission_shutter": False}


def test_the_next_run_can_start_from_the_run_finished_callback(engine: Engine, recorder: EventRecorder,
                                                               tmp_path: Path) -> None:
    follow_up: list[Any] = []

    def chain(event: Any) -> None:  # a run queue starting the next run the moment one ends
        if isinstance(event, RunFinished) and not follow_up:
            follow_up.append(engine.start("sweep", QUICK_SWEEP, tmp_path / "second.h5"))
    engine.subscribe(chain)
    first = engine.start("sweep", QUICK_SWEEP, tmp_path / "first.h5").wait(600)
    assert first.status == RunStatus.COMPLETE
    second = follow_up[0].wait(600)
    assert second.status == RunStatus.COMPLETE
    from acquisition.storage import open_run
    assert open_run(tmp_path / "first.h5").n_points("sweep") == 26
    assert open_run(tmp_path / "second.h5").n_points("sweep") == 26


def test_a_generator_plan_pauses_at_its_yields(engine: Engine, recorder: EventRecorder,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def stepwise(ctx: Any, params: dict) -> Any:
        for step in range(5):
            ctx.emit("steps", {"step": step})
            yield
        return {"steps": 5}

    def pause_after_second(event: Any) -> None:
        if isinstance(event, PointTaken) and event.stream == "steps" and event.index == 1:
            engine.pause()
    engine.subscribe(pause_after_second)
    handle = engine.start(add_plan(monkeypatch, stepwise), {})
    recorder.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED)
    assert [p.data["step"] for p in recorder.of(PointTaken)] == [0, 1]
    engine.resume()
    finished = handle.wait(600)
    assert finished.status == RunStatus.COMPLETE and finished.summary["steps"] == 5
