"""Rotation-stage moves inside a run start without waiting and are polled through checkpoints:
abort (and pause) are honoured during a long move, the stage is stopped and the rig made safe."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from acquisition.engine import Engine
from acquisition.events import RunStatus
from acquisition.experiments import EXPERIMENTS
from acquisition.experiments.base import Experiment
from acquisition.capabilities.stages import STAGE_MIN_POLL_S, PolledStage
from acquisition.capabilities.waiting import INTERLOCK_POLL_S
from acquisition.rig import load_rig
from acquisition.schema import TEMPERATURE_PARAMETER, ParameterSchema

WHEEL_TARGET_DEG = 270.0  # from 0 deg at the simulated 10 deg/s: a 27 s move


def add_plan(monkeypatch: pytest.MonkeyPatch, plan: Any, name: str = "test_stage_plan") -> str:
    schema = ParameterSchema([TEMPERATURE_PARAMETER])
    monkeypatch.setitem(EXPERIMENTS, name, Experiment(name, "test", schema, plan, lambda p: 1.0))
    return name


def test_abort_during_a_long_move_on_the_virtual_clock_stops_within_a_few_polls(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rig = load_rig("sim")
    engine = Engine(rig)
    polls: list[float] = []
    log: dict[str, float] = {}
    real_is_moving = rig.nd_wheel.is_moving

    def counting_is_moving() -> bool:
        if "plan_ended" in log:  # the safe state's read-back (is the stage still moving?)
            return real_is_moving()
        polls.append(rig.clock.now())
        if len(polls) == 3:  # the operator presses abort during the move
            engine.abort("operator abort during the wheel move")
        return real_is_moving()
    monkeypatch.setattr(rig.nd_wheel, "is_moving", counting_is_moving)

    def plan(ctx: Any, params: dict) -> dict:
        log["move_started_at"] = rig.clock.now()
        try:
            ctx.stages.move("nd_wheel", WHEEL_TARGET_DEG)
            log["move_done"] = 1.0
        finally:
            log["plan_ended"] = rig.clock.now()
        return {}
    try:
        finished = engine.start(add_plan(monkeypatch, plan), {}).wait(600)
        assert finished.status == RunStatus.ABORTED, finished.reason
        assert "move_done" not in log
        # honoured at the next poll: a few polls of at most INTERLOCK_POLL_S, not the 27 s move
        assert len(polls) == 3
        assert polls[-1] - log["move_started_at"] <= 3 * INTERLOCK_POLL_S
        assert not rig.nd_wheel.is_moving()
        assert 0.0 < rig.nd_wheel.get_position() < 10.0  # stopped where it was, not at the target
    finally:
        engine.close()
        rig.close_all()


def test_abort_during_a_long_move_on_the_wall_clock_returns_far_sooner_than_the_move(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rig = load_rig("sim", clock="real")
    engine = Engine(rig)
    moving = threading.Event()

    def plan(ctx: Any, params: dict) -> dict:
        moving.set()
        ctx.stages.move("nd_wheel", WHEEL_TARGET_DEG)
        return {}
    try:
        handle = engine.start(add_plan(monkeypatch, plan), {})
        assert moving.wait(600)
        deadline = time.monotonic() + 10
        while not rig.nd_wheel.is_moving():  # the move has started
            assert time.monotonic() < deadline
            time.sleep(0.01)
        asked = time.monotonic()
        engine.abort("operator abort during the wheel move")
        finished = handle.wait(600)
        latency_s = time.monotonic() - asked
        assert finished.status == RunStatus.ABORTED, finished.reason
        move_s = WHEEL_TARGET_DEG / rig.config.sim.stage.velocity_deg_s
        assert latency_s < move_s / 5  # ~0.01 s measured; before: the rest of the 27 s move
        assert not rig.nd_wheel.is_moving()
        assert rig.nd_wheel.get_position() < WHEEL_TARGET_DEG / 2
    finally:
        engine.close()
        rig.close_all()


def test_polled_moves_end_when_the_stage_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polling follows the move: a short plate step costs its own time, not a poll interval."""
    rig = load_rig("sim")
    engine = Engine(rig)
    took: dict[str, float] = {}
    velocity = rig.config.sim.stage.velocity_deg_s

    def plan(ctx: Any, params: dict) -> dict:
        for degrees in (0.3, 5.0, 45.0):
            start_deg, t0 = rig.hwp.get_position(), rig.clock.now()
            ctx.stages.move("hwp", start_deg + degrees)
            took[str(degrees)] = rig.clock.now() - t0
            assert rig.hwp.get_position() == pytest.approx(start_deg + degrees)
        return {}
    try:
        finished = engine.start(add_plan(monkeypatch, plan), {}).wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        for degrees, seconds in took.items():
            expected = float(degrees) / velocity
            # the first look comes after 10 ms; otherwise at the estimated end of the move
            assert max(expected, 0.01) <= seconds <= max(expected, 0.01) + STAGE_MIN_POLL_S + 1e-6
    finally:
        engine.close()
        rig.close_all()


def test_the_attenuator_moves_its_stages_through_the_polled_path(engine: Engine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def plan(ctx: Any, params: dict) -> dict:
        attenuator = ctx.power.attenuator()  # the engine fixture's stored calibration
        seen["plate"], seen["wheel"] = attenuator.plate, attenuator.wheel
        return {}
    finished = engine.start(add_plan(monkeypatch, plan), {}).wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert isinstance(seen["plate"], PolledStage) and isinstance(seen["wheel"], PolledStage)


def test_pause_requested_during_a_move_is_honoured_before_the_move_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    from acquisition.events import RunState, StateChanged
    from engine_helpers import EventRecorder

    rig = load_rig("sim")
    engine = Engine(rig)
    events = EventRecorder()
    engine.subscribe(events)
    polls: list[float] = []
    real_is_moving = rig.nd_wheel.is_moving

    def counting_is_moving() -> bool:
        polls.append(rig.clock.now())
        if len(polls) == 2:
            engine.pause()
        return real_is_moving()
    monkeypatch.setattr(rig.nd_wheel, "is_moving", counting_is_moving)
    log: dict[str, float] = {}

    def plan(ctx: Any, params: dict) -> dict:
        log["start"] = rig.clock.now()
        ctx.stages.move("nd_wheel", WHEEL_TARGET_DEG)
        log["end"] = rig.clock.now()
        return {}
    try:
        handle = engine.start(add_plan(monkeypatch, plan), {})
        paused = events.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED, 600)
        assert "operator" in paused.reason
        assert rig.clock.now() - log["start"] < 1.0  # paused at the next poll, well inside the 27 s move
        engine.resume()
        finished = handle.wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        assert rig.nd_wheel.get_position() == pytest.approx(WHEEL_TARGET_DEG)  # the move carried on
        assert log["end"] - log["start"] >= WHEEL_TARGET_DEG / rig.config.sim.stage.velocity_deg_s
    finally:
        engine.close()
        rig.close_all()
