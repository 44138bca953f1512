"""The emulator's share of the APT manual's message list (sans-IO): stored-parameter moves, jog,
velocity moves, parameter set/request pairs, end-of-move suspension, the KDC101 stage id."""
from __future__ import annotations

import pytest
from apt_fakes import FakeRotationStage, ManualTime, replies
from apt_fakes import unsolicited_until as completion

from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING, Z8_SCALING
from sim_backends.emulators.apt import AptEmulator


class FakeLinearAxis(FakeRotationStage):
    """A 0..25 mm actuator in m on wall time (the emulator's MotorAxis for a Z8 profile)."""

    def __init__(self, position_m: float = 12.5e-3) -> None:
        super().__init__(speed_deg_s=2e-4, limit_deg=1.0, position_deg=position_m)

    @property
    def travel_range(self) -> tuple[float, float]:
        return (0.0, 25e-3)


@pytest.mark.parametrize(("model", "stage_id"), [("PRM1Z8", 6), ("Z825B", 9), ("MTS25Z8", 7),
                                                  ("K10CR1", 0)])
def test_hw_get_info_names_the_stage_of_a_kdc101(model: str, stage_id: int) -> None:
    [info] = replies(AptEmulator(FakeRotationStage(), model), p.HwReqInfo())
    assert isinstance(info, p.HwGetInfo) and info.stage_id == stage_id
    # the bytes pyLabLib reads the stage id from: 76..78 of the 84 data bytes
    raw = info.encode()[6:]
    assert int.from_bytes(raw[76:78], "little") == stage_id


def test_short_move_absolute_goes_to_the_stored_absolute_position() -> None:
    stage = FakeRotationStage()
    emulator = AptEmulator(stage, "K10CR1")
    target = K10CR1_SCALING.to_counts(30.0)
    assert replies(emulator, p.MotSetMoveAbsParams(1, target)) == []
    [stored] = replies(emulator, p.MotReqMoveAbsParams(1))
    assert stored == p.MotGetMoveAbsParams(1, target, dest=p.HOST, source=p.USB_DEVICE)
    assert replies(emulator, p.MotMoveAbsoluteStored(1)) == []   # was "unframed bytes"
    [done] = completion(emulator)
    assert isinstance(done, p.MotMoveCompleted) and done.position == target
    assert stage.get_position() == pytest.approx(30.0)


def test_short_move_relative_moves_by_the_stored_distance_twice() -> None:
    stage = FakeRotationStage(position_deg=10.0)
    emulator = AptEmulator(stage, "PRM1Z8")
    replies(emulator, p.MotSetMoveRelParams(1, PRM1Z8_SCALING.to_counts(-4.0)))
    [stored] = replies(emulator, p.MotReqMoveRelParams(1))
    assert isinstance(stored, p.MotGetMoveRelParams)
    for expected in (6.0, 2.0):
        replies(emulator, p.MotMoveRelativeStored(1))
        assert isinstance(completion(emulator)[0], p.MotMoveCompleted)
        assert stage.get_position() == pytest.approx(expected, abs=1e-3)


def test_parameter_sets_are_answered_by_the_matching_get() -> None:
    emulator = AptEmulator(FakeRotationStage(), "PRM1Z8")
    to_host = {"dest": p.HOST, "source": p.USB_DEVICE}
    jog = p.MotSetJogParams(1, p.JogMode.CONTINUOUS, 1234, 0, 55, 42941, p.StopMode.IMMEDIATE)
    limits = p.MotSetLimSwitchParams(1, 2, 3, 500000, -500000, 3)
    replies(emulator, jog, limits, p.MotSetGenMoveParams(1, 77))
    got = replies(emulator, p.MotReqJogParams(1), p.MotReqLimSwitchParams(1), p.MotReqGenMoveParams(1))
    assert got == [p.MotGetJogParams(*jog.payload_values(), **to_host),
                   p.MotGetLimSwitchParams(*limits.payload_values(), **to_host),
                   p.MotGetGenMoveParams(1, 77, **to_host)]


def test_single_step_jog_moves_by_the_jog_step_both_ways_with_jogging_bits() -> None:
    clock = ManualTime()
    stage = FakeRotationStage(speed_deg_s=20.0, now=clock)
    emulator = AptEmulator(stage, "K10CR1")
    replies(emulator, p.MotSetJogParams(1, p.JogMode.SINGLE_STEP, K10CR1_SCALING.to_counts(5.0),
                                        0, 1502, 73300000, p.StopMode.PROFILED))
    replies(emulator, p.MotMoveJog(1, p.Direction.FORWARD))
    [status] = replies(emulator, p.MotReqStatusBits(1))
    assert p.StatusBits.JOGGING_FWD in status.status
    clock.advance(1.0)  # a 5 deg step at 20 deg/s takes 0.25 s
    assert isinstance(completion(emulator)[0], p.MotMoveCompleted)
    for _ in range(2):
        replies(emulator, p.MotMoveJog(1, p.Direction.REVERSE))
        clock.advance(1.0)
        assert isinstance(completion(emulator)[0], p.MotMoveCompleted)
    assert stage.get_position() == pytest.approx(-5.0, abs=1e-3)


def test_velocity_move_runs_to_the_limit_switch_and_sets_its_bit() -> None:
    axis = FakeLinearAxis(position_m=24.9e-3)
    emulator = AptEmulator(axis, "Z825B")
    replies(emulator, p.MotMoveVelocity(1, p.Direction.FORWARD))
    [status] = replies(emulator, p.MotReqStatusBits(1))
    assert p.StatusBits.MOVING_FWD in status.status
    [done] = completion(emulator)
    assert done.position == Z8_SCALING.to_counts(25e-3)
    assert p.StatusBits.FWD_HARDWARE_LIMIT in done.status


def test_velocity_move_until_stopped_and_continuous_jog_reverse() -> None:
    clock = ManualTime()
    stage = FakeRotationStage(speed_deg_s=50.0, position_deg=0.0, now=clock)
    emulator = AptEmulator(stage, "K10CR1")
    replies(emulator, p.MotMoveVelocity(1, p.Direction.REVERSE))
    clock.advance(0.1)
    [stopped] = replies(emulator, p.MotMoveStop(1, p.StopMode.IMMEDIATE))
    assert isinstance(stopped, p.MotMoveStopped)
    assert -10.0 < stage.get_position() < -1.0
    replies(emulator, p.MotSetJogParams(1, p.JogMode.CONTINUOUS, 0, 0, 1502, 73300000, 2))
    replies(emulator, p.MotMoveJog(1, p.Direction.FORWARD))
    [status] = replies(emulator, p.MotReqDcStatusUpdate(1))
    assert p.StatusBits.JOGGING_FWD in status.status


def test_suspended_end_of_move_messages_are_not_sent() -> None:
    stage = FakeRotationStage()
    emulator = AptEmulator(stage, "K10CR1")
    replies(emulator, p.MotSuspendEndOfMoveMsgs(), p.MotMoveAbsolute(1, K10CR1_SCALING.to_counts(5.0)))
    assert completion(emulator, timeout_s=0.3) == []
    assert stage.get_position() == pytest.approx(5.0)
    replies(emulator, p.MotResumeEndOfMoveMsgs(), p.MotMoveAbsolute(1, 0))
    assert isinstance(completion(emulator)[0], p.MotMoveCompleted)


def test_flash_programming_notices_are_accepted_silently() -> None:
    emulator = AptEmulator(FakeRotationStage(), "K10CR1")
    assert replies(emulator, p.HwNoFlashProgramming(), p.HwYesFlashProgramming()) == []
    assert emulator.received == [p.HwNoFlashProgramming(), p.HwYesFlashProgramming()]
