"""The real driver against the APT emulator across a real pty and a real TCP socket: moves
complete with MOT_MOVE_COMPLETED / MOT_MOVE_HOMED, unsolicited frames are tolerated, a GUI poll
can run during a move, and the bench's simulated stage can back the emulator."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from apt_fakes import REPLY_TIMEOUT_S, FakeRotationStage, ServeApt

from drivers.clock import RealClock
from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.stage import AptRotationStage, K10CR1Stage, PRM1Z8Stage
from sim_backends.emulators.apt import AptEmulator


STAGES: dict[str, type[AptRotationStage]] = {"K10CR1": K10CR1Stage, "PRM1Z8": PRM1Z8Stage}
REPORTED = {"K10CR1": "K10CR1", "PRM1Z8": "KDC101"}


def wait_until(condition: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    """Poll ``condition`` (the emulator runs in its own thread) until true or the time is up."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def one_count(model: str) -> float:
    return 1.0 / STAGES[model].SCALING.counts_per_unit


@pytest.mark.parametrize("link", ["pty", "tcp"])
@pytest.mark.parametrize("model", ["K10CR1", "PRM1Z8"])
def test_absolute_relative_and_home_moves_complete(serve_apt: ServeApt, fake_stage: FakeRotationStage,
                                                   model: str, link: str) -> None:
    _server, address, emulators = serve_apt(fake_stage, model, link)
    stage = STAGES[model]("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        assert stage.identify() == (f"Thorlabs {REPORTED[model]} serial 55000001 firmware "
                                    f"{emulators[0].profile.firmware[2]}.0."
                                    f"{emulators[0].profile.firmware[0]} hw 1")
        stage.move_to(90.0)
        assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
        assert stage.get_position() == pytest.approx(90.0, abs=one_count(model))
        assert fake_stage.get_position() == pytest.approx(90.0, abs=one_count(model))

        stage.move_by(-30.0)
        assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
        assert stage.get_position() == pytest.approx(60.0, abs=2 * one_count(model))

        stage.home()
        assert isinstance(stage.last_motion_event, p.MotMoveHomed)
        assert stage.get_position() == 0.0
        assert stage.get_status() & p.StatusBits.HOMED
        assert not stage.is_moving()

        fake_stage.speed_deg_s = 1.0  # a 45 s move: still under way however late the poll comes
        stage.move_to(-45.0, wait=False)
        assert stage.is_moving()
        assert stage.get_status() & p.StatusBits.MOVING_REV
    # leaving the context stops the stage (safe_state), then says goodbye
    assert wait_until(lambda: type(emulators[0].received[-1]) is p.HwDisconnect, REPLY_TIMEOUT_S)
    sent = [type(m) for m in emulators[0].received]
    assert sent[:3] == [p.HwReqInfo, p.ModSetChanEnableState, p.MotReqVelParams]
    assert sent[-2:] == [p.MotMoveStop, p.HwDisconnect]
    assert fake_stage.stops == 1


class ChattyEmulator(AptEmulator):
    """Puts every frame type that may arrive unsolicited in front of each reply."""

    NOISE = (p.MotMoveCompleted(1, 12345, 0, p.StatusBits.ENABLED, dest=p.HOST, source=p.USB_DEVICE),
             p.MotMoveStopped(1, 12345, 0, p.StatusBits.ENABLED, dest=p.HOST, source=p.USB_DEVICE),
             p.MotMoveHomed(1, dest=p.HOST, source=p.USB_DEVICE),
             p.MotGetDcStatusUpdate(1, 12345, 0, 0, p.StatusBits.ENABLED, dest=p.HOST,
                                    source=p.USB_DEVICE))

    def feed(self, data: bytes) -> bytes:
        reply = super().feed(data)
        if not reply:
            return reply
        return b"".join(m.encode() for m in self.NOISE) + reply


@pytest.mark.parametrize("link", ["pty", "tcp"])
def test_unsolicited_frames_mid_request_and_update_stream(serve_apt: ServeApt,
                                                          fake_stage: FakeRotationStage,
                                                          link: str) -> None:
    _server, address, emulators = serve_apt(fake_stage, "PRM1Z8", link, ChattyEmulator)
    stage = PRM1Z8Stage("nd_wheel", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        stage.transport.send(p.HwStartUpdateMsgs())  # 10 Hz DC status updates from now on
        for target in (30.0, -20.0, 5.0):
            stage.move_to(target)
            assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
            assert stage.last_motion_event.position == PRM1Z8Stage.SCALING.to_counts(target)
            assert stage.get_position() == pytest.approx(target, abs=one_count("PRM1Z8"))
            assert not stage.is_moving()
        updates_seen = [m for _, m in stage.transport._received
                        if isinstance(m, p.MotGetDcStatusUpdate) and m.position != 12345]
        assert updates_seen, "the periodic status updates should have arrived"
    assert emulators[0]._updates


@pytest.mark.parametrize("link", ["pty", "tcp"])
def test_gui_poll_during_a_move_shares_the_link(serve_apt: ServeApt, link: str) -> None:
    # slow enough that the polls below see it in motion however loaded the machine is; once they
    # have, the stage speeds up and the move completes
    slow_stage = FakeRotationStage(speed_deg_s=5.0)
    _server, address, _ = serve_apt(slow_stage, "K10CR1", link)
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        polled: list[float] = []
        errors: list[BaseException] = []
        mover_done = threading.Event()

        def mover() -> None:
            try:
                stage.move_to(150.0)
            except BaseException as exc:  # reported to the test thread below
                errors.append(exc)
            finally:
                mover_done.set()

        thread = threading.Thread(target=mover, daemon=True)
        thread.start()
        while not mover_done.is_set():
            polled.append(stage.get_position())
            if sum(0.0 < x < 150.0 for x in polled) == 5:
                slow_stage.set_speed(3000.0)
        thread.join(REPLY_TIMEOUT_S)
        assert not errors
        assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
        assert sum(0.0 < x < 150.0 for x in polled) >= 5, "polls should see the stage in motion"
        assert polled == sorted(polled)
        assert stage.get_position() == pytest.approx(150.0, abs=one_count("K10CR1"))


def test_bench_simulated_stage_backs_the_emulator(serve_apt: ServeApt) -> None:
    bench_module = pytest.importorskip("sim_backends.bench")
    devices = pytest.importorskip("sim_backends.devices")
    bench = bench_module.Bench(bench_module.BeamConfig(), bench_module.SampleConfig(),
                               bench_module.BenchConfig(stage=bench_module.StageParams(500.0)),
                               RealClock())
    sim_stage = devices.build_sim_device("hwp", bench)  # the emulator connects it, like power-on
    _server, address, _ = serve_apt(sim_stage, "K10CR1", "tcp")
    stage = K10CR1Stage("hwp", address, RealClock(), timeout_s=REPLY_TIMEOUT_S)
    with stage:
        stage.move_to(45.0)
        assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
        assert sim_stage.get_position() == pytest.approx(45.0, abs=1e-4)
        stage.move_by(-15.0)
        assert stage.get_position() == pytest.approx(30.0, abs=1e-4)
        stage.home()
        assert isinstance(stage.last_motion_event, p.MotMoveHomed)
        assert sim_stage.get_position() == pytest.approx(0.0, abs=1e-6)
