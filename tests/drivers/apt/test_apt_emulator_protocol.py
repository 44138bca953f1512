"""The APT emulator as a sans-IO protocol object: bytes in, device bytes out, no server."""
from __future__ import annotations

from typing import TypeVar

import pytest
from apt_fakes import FakeRotationStage, ManualTime, replies, unsolicited_until

from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING
from sim_backends.emulators.apt import AptEmulator


T = TypeVar("T", bound=p.Message)


def one_reply(emulator: AptEmulator, reply_type: type[T], *messages: p.Message) -> T:
    """Feed ``messages``; the emulator must answer with exactly one ``reply_type``."""
    [reply] = replies(emulator, *messages)
    assert isinstance(reply, reply_type)
    return reply


@pytest.mark.parametrize(("model", "reported"), [("K10CR1", "K10CR1"), ("PRM1Z8", "KDC101")])
def test_hw_get_info_identity(model: str, reported: str) -> None:
    emulator = AptEmulator(FakeRotationStage(), model, serial_number=55000123)
    [info] = replies(emulator, p.HwReqInfo())
    assert isinstance(info, p.HwGetInfo)
    assert (info.model, info.serial_number, info.n_channels) == (reported, 55000123, 1)
    assert (info.dest, info.source) == (p.HOST, p.USB_DEVICE)


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="model='K10CR2' is not allowed"):
        AptEmulator(FakeRotationStage(), "K10CR2")


def test_frames_split_across_feeds_are_answered_once_complete() -> None:
    emulator = AptEmulator(FakeRotationStage(position_deg=1.0))
    frame = p.MotReqPosCounter(1).encode()
    assert emulator.feed(frame[:4]) == b""
    assert p.decode(emulator.feed(frame[4:])) == p.MotGetPosCounter(
        1, K10CR1_SCALING.to_counts(1.0), dest=p.HOST, source=p.USB_DEVICE)


def test_move_runs_on_the_backing_stage_and_completes_unsolicited() -> None:
    clock = ManualTime()
    stage = FakeRotationStage(speed_deg_s=400.0, now=clock)
    emulator = AptEmulator(stage, "PRM1Z8")
    counts = PRM1Z8_SCALING.to_counts(-40.0)
    assert replies(emulator, p.MotMoveAbsolute(1, counts)) == []
    assert stage.moves == [pytest.approx(-40.0, abs=1e-3)]
    status = one_reply(emulator, p.MotGetStatusBits, p.MotReqStatusBits(1))
    assert p.StatusBits.MOVING_REV in status.status
    clock.advance(1.0)  # 40 deg at 400 deg/s: 0.1 s
    [done] = unsolicited_until(emulator)
    assert isinstance(done, p.MotMoveCompleted) and done.position == counts
    assert p.StatusBits.SETTLED in done.status  # DC servo settles when idle
    assert emulator.unsolicited() == b""  # exactly one completion per move


def test_relative_move_and_position_counter_offset() -> None:
    stage = FakeRotationStage(speed_deg_s=10_000.0)
    emulator = AptEmulator(stage)
    replies(emulator, p.MotSetPosCounter(1, 1000))
    pos = one_reply(emulator, p.MotGetPosCounter, p.MotReqPosCounter(1))
    assert pos.position == 1000 and stage.get_position() == 0.0
    replies(emulator, p.MotMoveRelative(1, 409600))  # +3 deg
    assert [type(m) for m in unsolicited_until(emulator)] == [p.MotMoveCompleted]
    pos = one_reply(emulator, p.MotGetPosCounter, p.MotReqPosCounter(1))
    assert pos.position == 410600
    assert stage.get_position() == pytest.approx(3.0)


def test_home_reports_homed_and_sets_the_homed_bit() -> None:
    clock = ManualTime()
    emulator = AptEmulator(FakeRotationStage(speed_deg_s=1000.0, position_deg=50.0, now=clock))
    before = one_reply(emulator, p.MotGetStatusBits, p.MotReqStatusBits(1))
    assert p.StatusBits.HOMED not in before.status
    replies(emulator, p.MotMoveHome(1))
    during = one_reply(emulator, p.MotGetStatusBits, p.MotReqStatusBits(1))
    assert p.StatusBits.HOMING in during.status
    clock.advance(1.0)  # 50 deg at 1000 deg/s: 0.05 s
    assert unsolicited_until(emulator) == [p.MotMoveHomed(1, dest=p.HOST, source=p.USB_DEVICE)]
    after = one_reply(emulator, p.MotGetStatusBits, p.MotReqStatusBits(1))
    assert p.StatusBits.HOMED in after.status and not after.status.in_motion


def test_stop_answers_move_stopped_and_cancels_completion() -> None:
    stage = FakeRotationStage(speed_deg_s=10.0)
    emulator = AptEmulator(stage)
    replies(emulator, p.MotMoveAbsolute(1, K10CR1_SCALING.to_counts(90.0)))
    [stopped] = replies(emulator, p.MotMoveStop(1, p.StopMode.IMMEDIATE))
    assert isinstance(stopped, p.MotMoveStopped)
    assert stage.stops == 1 and not stage.is_moving()
    assert emulator.unsolicited() == b""


def test_refused_move_is_answered_with_rich_response() -> None:
    emulator = AptEmulator(FakeRotationStage(limit_deg=90.0))
    [error] = replies(emulator, p.MotMoveAbsolute(1, K10CR1_SCALING.to_counts(120.0)))
    assert isinstance(error, p.HwRichResponse)
    assert error.msg_ident == p.MessageId.MOT_MOVE_ABSOLUTE and "allowed range" in error.text
    assert emulator.unsolicited() == b""


def test_disabled_channel_ignores_moves() -> None:
    stage = FakeRotationStage()
    emulator = AptEmulator(stage)
    state = one_reply(emulator, p.ModGetChanEnableState,
                      p.ModSetChanEnableState(1, p.ChannelState.DISABLED), p.ModReqChanEnableState(1))
    assert state.state == p.ChannelState.DISABLED
    replies(emulator, p.MotMoveAbsolute(1, 100), p.MotMoveHome(1))
    assert stage.moves == []
    status = one_reply(emulator, p.MotGetStatusBits, p.MotReqStatusBits(1))
    assert p.StatusBits.ENABLED not in status.status


def test_velocity_and_home_parameters_are_stored() -> None:
    emulator = AptEmulator(FakeRotationStage())
    vel = one_reply(emulator, p.MotGetVelParams, p.MotSetVelParams(1, 0, 3004, 36650000),
                    p.MotReqVelParams(1))
    assert (vel.min_velocity, vel.acceleration, vel.max_velocity) == (0, 3004, 36650000)
    [home] = replies(emulator, p.MotSetHomeParams(1, 2, 1, 7330000, 100), p.MotReqHomeParams(1))
    assert isinstance(home, p.MotGetHomeParams)
    assert (home.home_direction, home.home_velocity, home.offset_distance) == (2, 7330000, 100)


@pytest.mark.parametrize(("model", "update_type"), [("K10CR1", p.MotGetStatusUpdate),
                                                    ("PRM1Z8", p.MotGetDcStatusUpdate)])
def test_periodic_status_updates_between_start_and_stop(model: str, update_type: type) -> None:
    clock = [0.0]
    emulator = AptEmulator(FakeRotationStage(), model, now=lambda: clock[0])
    assert emulator.unsolicited() == b""
    replies(emulator, p.HwStartUpdateMsgs())
    [first] = [p.decode(f) for f in p.FrameParser().feed(emulator.unsolicited())]
    assert isinstance(first, update_type)
    assert emulator.unsolicited() == b""  # not again within the period
    clock[0] += AptEmulator.UPDATE_PERIOD_S
    assert emulator.unsolicited() != b""
    replies(emulator, p.HwStopUpdateMsgs())
    clock[0] += 10.0
    assert emulator.unsolicited() == b""


def test_silent_messages_and_frames_for_other_addresses() -> None:
    emulator = AptEmulator(FakeRotationStage())
    assert replies(emulator, p.ModIdentify(), p.MotAckDcStatusUpdate(), p.HwDisconnect()) == []
    assert replies(emulator, p.HwReqInfo(dest=0x21)) == []  # a bay address: not this unit
    [update] = replies(emulator, p.MotReqStatusUpdate(1), p.MotReqDcStatusUpdate(1))[:1]
    assert isinstance(update, p.MotGetStatusUpdate)
    assert len(emulator.received) == 6
