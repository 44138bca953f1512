"""Waits inside a run are checkpoints: the cryostat-settling wait of ``ctx.cryostat.set``
honours operator pause (the heater keeps regulating) and abort; polled stage moves take the
count-rate probe while the pump beam is on, so the interlock trips in the middle of a move."""
from __future__ import annotations

from typing import Any

import pytest

from acquisition.engine import Engine
from acquisition.events import InterlockTripped, RunState, RunStatus, StateChanged
from acquisition.experiments import EXPERIMENTS
from acquisition.experiments.base import Experiment
from acquisition.capabilities.waiting import INTERLOCK_POLL_S
from acquisition.rig import load_rig
from acquisition.schema import TEMPERATURE_PARAMETER, ParameterSchema
from engine_helpers import EventRecorder

SETPOINT_K = 90.0  # from the 77 K start: minutes of rig-clock time to settle
PAUSE_AFTER_S = 30.0  # into the wait, well before the temperature is in band


def add_plan(monkeypatch: pytest.MonkeyPatch, plan: Any, name: str = "test_wait_plan") -> str:
    schema = ParameterSchema([TEMPERATURE_PARAMETER])
    monkeypatch.setitem(EXPERIMENTS, name, Experiment(name, "test", schema, plan, lambda p: 1.0))
    return name


def _is_state(state: RunState, reason: str | None = None) -> Any:
    return lambda e: (isinstance(e, StateChanged) and e.state == state
                      and (reason is None or reason in e.reason))


class _TemperatureWaitRun:
    """A run whose plan sets the cryostat to SETPOINT_K; ``on_wait`` fires once, from inside the
    settling wait, PAUSE_AFTER_S (rig clock) after the setpoint was sent."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, on_wait: str) -> None:
        self.rig = load_rig("sim")
        self.engine = Engine(self.rig)
        self.events = EventRecorder()
        self.engine.subscribe(self.events)
        self.log: dict[str, Any] = {}
        rig, log = self.rig, self.log
        real_read = rig.cryostat.get_temperature

        def reading() -> float:
            value = real_read()
            started = log.get("setpoint_sent_at")
            if started is not None and "fired_at" not in log and rig.clock.now() - started >= PAUSE_AFTER_S:
                log["fired_at"], log["temperature_when_fired"] = rig.clock.now(), value
                (self.engine.pause if on_wait == "pause" else self.engine.abort)()
            return value
        monkeypatch.setattr(rig.cryostat, "get_temperature", reading)
        real_setpoint = rig.cryostat.set_setpoint

        def set_setpoint(kelvin: float) -> None:
            real_setpoint(kelvin)
            log.setdefault("setpoint_sent_at", rig.clock.now())
        monkeypatch.setattr(rig.cryostat, "set_setpoint", set_setpoint)

        def plan(ctx: Any, params: dict) -> dict:
            ctx.cryostat.set(SETPOINT_K)
            log["stable_at"] = rig.clock.now()
            log["temperature_when_stable"] = real_read()
            return {}
        self.handle = self.engine.start(add_plan(monkeypatch, plan), {})

    def close(self) -> None:
        self.engine.close()
        self.rig.close_all()


def test_operator_pause_holds_the_cryostat_wait_and_resume_continues_it(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _TemperatureWaitRun(monkeypatch, "pause")
    rig, log, limits = run.rig, run.log, run.rig.config.limits
    try:
        paused = run.events.wait_for(_is_state(RunState.PAUSED), 600)
        assert "operator" in paused.reason
        # paused inside the wait, before the temperature was stable (before: only after it was)
        assert "stable_at" not in log
        assert abs(log["temperature_when_fired"] - SETPOINT_K) > limits.temperature_band_k
        # the heater keeps regulating: setpoint and heater range as the run set them
        assert rig.cryostat.get_setpoint() == pytest.approx(SETPOINT_K)
        heater_range = rig.cryostat.get_heater_range()
        assert heater_range > 0
        paused_at = rig.clock.now()
        assert paused_at - log["fired_at"] <= max(INTERLOCK_POLL_S, limits.temperature_stable_s / 30.0) + 1e-6
        run.engine.resume()
        finished = run.handle.wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        assert any(e.state == RunState.RUNNING and e.reason == "resumed" for e in run.events.of(StateChanged))
        # the wait carried on after the resume and ended with the temperature stable in band
        assert log["stable_at"] - paused_at >= limits.temperature_stable_s
        assert abs(log["temperature_when_stable"] - SETPOINT_K) <= limits.temperature_band_k
        assert rig.cryostat.get_heater_range() == 0  # the run ended in the safe state
    finally:
        run.close()


def test_abort_while_paused_in_the_cryostat_wait_ends_the_run_safely(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _TemperatureWaitRun(monkeypatch, "pause")
    try:
        run.events.wait_for(_is_state(RunState.PAUSED, "operator"), 600)
        run.engine.abort("operator abort while paused")
        finished = run.handle.wait(600)
        assert finished.status == RunStatus.ABORTED, finished.reason
        assert "stable_at" not in run.log
        assert run.rig.cryostat.get_heater_range() == 0
    finally:
        run.close()


def test_abort_during_the_cryostat_wait_is_honoured_at_the_next_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _TemperatureWaitRun(monkeypatch, "abort")
    try:
        finished = run.handle.wait(600)
        assert finished.status == RunStatus.ABORTED, finished.reason
        assert "stable_at" not in run.log
        poll_s = max(INTERLOCK_POLL_S, run.rig.config.limits.temperature_stable_s / 30.0)
        assert run.rig.clock.now() - run.log["fired_at"] <= poll_s + 1.0
        assert run.rig.cryostat.get_heater_range() == 0
    finally:
        run.close()


def test_operator_pause_during_a_temperature_interlock_pause_stays_paused_until_stable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The interlock's own wait is a checkpoint too: an operator pause there holds, and after the
    operator resumes the run is PAUSED (temperature) again until the temperature is stable."""
    rig = load_rig("sim")
    engine = Engine(rig)
    events = EventRecorder()
    engine.subscribe(events)
    log: dict[str, Any] = {}

    def on_event(event: Any) -> None:
        if isinstance(event, InterlockTripped) and event.interlock == "temperature":
            rig.cryostat.set_setpoint(77.0)  # the operator removes the disturbance ...
            engine.pause()  # ... and pauses the run
    engine.subscribe(on_event)

    def plan(ctx: Any, params: dict) -> dict:
        rig.cryostat.set_heater_range(2)  # a disturbance behind the run's back
        rig.cryostat.set_setpoint(90.0)
        ctx.sleep(600.0)
        log["done_at"] = rig.clock.now()
        return {}
    try:
        handle = engine.start(add_plan(monkeypatch, plan), {"temperature_k": 77.0})
        # the operator's pause on top of the interlock's is published as a state change of its own
        events.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED
                        and e.reason == "paused by operator", 60)
        held_at = rig.clock.now()
        assert "done_at" not in log
        assert engine.state == RunState.PAUSED
        engine.resume()
        finished = handle.wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        reasons = [e.reason for e in events.of(StateChanged)]
        resumed = reasons.index("resumed")
        assert "out of band" in reasons[resumed + 1]  # back to the temperature pause
        assert reasons[resumed + 2] == "temperature back in band"
        # held, not waited through: the stability time counts from after the resume
        back = [e for e in events.of(StateChanged) if e.reason == "temperature back in band"]
        assert back and log["done_at"] - held_at >= rig.config.limits.temperature_stable_s
    finally:
        engine.close()
        rig.close_all()


RATE_LIMIT_CPS = 2000.0  # the dark state is below it, the bright state (~1e4 cps) above
DARK_W_M2, BRIGHT_W_M2 = 2e7, 9e7  # 2 -> 9 kW/cm2 at 77 K passes switch-on (~5 kW/cm2)


def test_count_rate_interlock_trips_during_a_polled_plate_move(engine: Engine, recorder: EventRecorder,
                                                               rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.config.limits.max_count_rate_cps = RATE_LIMIT_CPS
    log: dict[str, Any] = {}

    def on_trip(event: Any) -> None:  # on the worker thread, the moment the interlock trips
        if isinstance(event, InterlockTripped) and "trip" not in log:
            log["trip"] = {"interlock": event.interlock, "moving": rig.hwp.is_moving(),
                           "plate_deg": rig.hwp.get_position(), "at": rig.clock.now(),
                           "pump_shutter": rig.pump_shutter.is_open(),
                           "emission_shutter": rig.emission_shutter.is_open()}
    engine.subscribe(on_trip)

    def plan(ctx: Any, params: dict) -> dict:
        ctx.beam.set_density(DARK_W_M2)
        log["dark_cps"] = ctx.detection.count(0.5).rate_cps
        log["plate_from"], log["move_from_t"] = rig.hwp.get_position(), rig.clock.now()
        setting = ctx.beam.set_density(BRIGHT_W_M2)
        log["plate_to"] = setting.plate_deg
        log["after_resume"] = ctx.detection.count(0.5).rate_cps  # the point, measured after the resume
        log["density_after"] = ctx.beam.measure().density_w_m2
        return {}
    handle = engine.start(add_plan(monkeypatch, plan), {})
    recorder.wait_for(_is_state(RunState.PAUSED, "count rate"), 600)
    trip = log["trip"]
    assert log["dark_cps"] < RATE_LIMIT_CPS
    assert trip["interlock"] == "count_rate"
    # tripped mid-move (before: only at the next count, after the move had ended)
    assert trip["moving"] is True
    assert trip["at"] > log["move_from_t"]
    # shutters closed before anyone was told, and the run paused
    assert trip["pump_shutter"] is False and trip["emission_shutter"] is False
    assert rig.pump_shutter.is_open() is False and rig.emission_shutter.is_open() is False
    assert engine.state == RunState.PAUSED
    # the operator attenuates the detection path (an ND in front of the APD) and resumes
    rig.bench.config.detection.collection_efficiency *= 0.01
    engine.resume()
    finished = handle.wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert [t.interlock for t in recorder.of(InterlockTripped)] == ["count_rate"]
    # the move went on to its target and the point was measured with the beam open again
    assert rig.hwp.get_position() == pytest.approx(log["plate_to"], abs=0.05)
    assert min(log["plate_from"], log["plate_to"]) < trip["plate_deg"] < max(log["plate_from"], log["plate_to"])
    assert log["density_after"] == pytest.approx(BRIGHT_W_M2, rel=0.1)
    assert 0.0 < log["after_resume"] < RATE_LIMIT_CPS
