"""Byte-exact transcripts of the driver: a scripted serial port asserts every byte written and
answers with scripted bytes (cf. pymeasure's expected_protocol). No emulator involved."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from apt_fakes import ScriptedSerial, Step

from drivers.clock import RealClock
from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.stage import AptRotationStage, K10CR1Stage, PRM1Z8Stage


H = bytes.fromhex
ADDRESS = "/dev/ttyFAKE0"
DEVICE_TO_HOST = {"dest": p.HOST, "source": p.USB_DEVICE}

K10_INFO = p.HwGetInfo(55000001, "K10CR1", 16, (10, 0, 3, 0), "APT Stepper Motor Controller",
                       hw_version=1, dest=p.HOST, source=p.USB_DEVICE).encode()
KDC_INFO = p.HwGetInfo(27000001, "KDC101", 16, (14, 0, 3, 0), "Brushed DC Servo Controller",
                       hw_version=1, dest=p.HOST, source=p.USB_DEVICE).encode()

REQ_INFO = H("05 00 00 00 50 01")
ENABLE_CH1 = H("10 02 01 01 50 01")
REQ_VELPARAMS = H("14 04 01 00 50 01")
REQ_POSCOUNTER = H("11 04 01 00 50 01")
REQ_STATUSBITS = H("29 04 01 00 50 01")
MOVE_HOME = H("43 04 01 00 50 01")
MOVE_STOP_PROFILED = H("65 04 01 02 50 01")
HW_DISCONNECT = H("02 00 00 00 50 01")
ACK_DCSTATUS = H("92 04 00 00 50 01")

K10_VELPARAMS = H("15 04 0e 00 81 50 01 00 00 00 00 00 ac 3a 00 00 20 78 5e 04")  # 10 deg/s, 10 deg/s^2
KDC_VELPARAMS = H("15 04 0e 00 81 50 01 00 00 00 00 00 93 00 00 00 69 8d 06 00")
POS_0 = H("12 04 06 00 81 50 01 00 00 00 00 00")
POS_2048 = H("12 04 06 00 81 50 01 00 00 08 00 00")
POS_MINUS_90_K10 = H("12 04 06 00 81 50 01 00 00 80 44 ff")
COMPLETED_2048 = H("64 04 0e 00 81 50 01 00 00 08 00 00 00 00 00 00 00 05 00 80")
HOMED = H("44 04 01 00 01 50")
STATUS_MOVING_FWD = H("2a 04 06 00 81 50 01 00 10 05 00 80")
DC_STATUS_UPDATE = H("91 04 0e 00 81 50 01 00 80 07 00 00 00 00 00 00 00 25 00 80")
STOPPED = p.MotMoveStopped(1, 77, 0, p.StatusBits.ENABLED, **DEVICE_TO_HOST).encode()


def k10_connect() -> list[Step]:
    return [Step(REQ_INFO, K10_INFO), Step(ENABLE_CH1), Step(REQ_VELPARAMS, K10_VELPARAMS)]


def make_stage(cls: type[AptRotationStage], steps: list[Step],
               **options: Any) -> tuple[AptRotationStage, ScriptedSerial]:
    port = ScriptedSerial(steps)
    opened: list[str] = []

    def factory(address: str, timeout_s: float) -> ScriptedSerial:
        opened.append(address)
        return port

    options.setdefault("timeout_s", 0.2)
    stage = cls("hwp", ADDRESS, RealClock(), serial_factory=factory, **options)
    return stage, port


def test_connect_transcript_and_identify() -> None:
    stage, port = make_stage(K10CR1Stage, k10_connect())
    stage.connect()
    port.assert_done()
    # FTDI start-up: raise RTS, flush both buffers, drop RTS - before any byte is written
    assert port.ops == ["rts=True", "reset_input", "reset_output", "rts=False"]
    assert stage.identify() == "Thorlabs K10CR1 serial 55000001 firmware 3.0.10 hw 1"
    assert stage.max_velocity_deg_s == pytest.approx(10.0)
    assert stage.acceleration_deg_s2 == pytest.approx(10.0)


def test_move_to_reference_example_bytes_and_completion() -> None:
    steps = k10_connect() + [
        Step(REQ_POSCOUNTER, POS_0),
        Step(H("53 04 06 00 D0 01 01 00 00 08 00 00"), COMPLETED_2048),
        Step(REQ_POSCOUNTER, POS_2048),
    ]
    stage, port = make_stage(K10CR1Stage, steps)
    stage.connect()
    stage.move_to(0.015)
    assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
    assert stage.get_position() == pytest.approx(0.015)
    port.assert_done()


def test_home_reference_example_bytes() -> None:
    stage, port = make_stage(K10CR1Stage, k10_connect() + [Step(MOVE_HOME, HOMED)])
    stage.connect()
    stage.home()
    assert isinstance(stage.last_motion_event, p.MotMoveHomed)
    port.assert_done()


def test_move_by_reads_position_then_sends_relative_counts() -> None:
    steps = k10_connect() + [
        Step(REQ_POSCOUNTER, POS_0),
        Step(H("48 04 06 00 d0 01 01 00 00 80 44 ff"),  # -90 deg = -12288000 counts
             p.MotMoveCompleted(1, -12288000, 0, p.StatusBits.ENABLED, **DEVICE_TO_HOST).encode()),
        Step(REQ_POSCOUNTER, POS_MINUS_90_K10),
    ]
    stage, port = make_stage(K10CR1Stage, steps)
    stage.connect()
    stage.move_by(-90.0)
    assert stage.get_position() == pytest.approx(-90.0)
    port.assert_done()


def test_unsolicited_frames_mid_request_are_tolerated() -> None:
    # a GUI poll whose reply arrives behind every kind of unsolicited frame the device may send
    noise = COMPLETED_2048 + STOPPED + HOMED + DC_STATUS_UPDATE
    steps = k10_connect() + [Step(REQ_POSCOUNTER, noise + POS_2048),
                             Step(REQ_STATUSBITS, DC_STATUS_UPDATE + STATUS_MOVING_FWD)]
    stage, port = make_stage(K10CR1Stage, steps)
    stage.connect()
    assert stage.get_position() == pytest.approx(0.015)
    assert stage.is_moving() is True
    port.assert_done()


def test_stale_completion_before_a_move_does_not_end_its_wait() -> None:
    # a MOVE_COMPLETED from an earlier move sits in the log; the new move must wait for its own
    steps = k10_connect() + [
        Step(REQ_POSCOUNTER, COMPLETED_2048 + POS_0),
        Step(H("53 04 06 00 D0 01 01 00 00 08 00 00")),
    ]
    stage, port = make_stage(K10CR1Stage, steps, timeout_s=0.05)
    stage.connect()
    done = threading.Event()
    def move_and_flag() -> None:
        stage.move_to(0.015)
        done.set()

    threading.Thread(target=move_and_flag, daemon=True).start()
    assert not done.wait(0.3), "wait ended on a stale MOVE_COMPLETED"
    port.inject(COMPLETED_2048)
    assert done.wait(2.0)
    port.assert_done()


def test_prm1z8_move_sends_keepalives_while_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    target = round(45.0 * 1919.6418578623391)
    move = p.MotMoveAbsolute(1, target).encode()
    completed = p.MotMoveCompleted(1, target, 0, p.StatusBits.ENABLED, **DEVICE_TO_HOST).encode()
    # the controller finishes the move right when the first keep-alive arrives: no second thread,
    # nothing that depends on how fast a loaded machine schedules one
    steps = [Step(REQ_INFO, KDC_INFO), Step(ENABLE_CH1), Step(REQ_VELPARAMS, KDC_VELPARAMS),
             Step(REQ_POSCOUNTER, POS_0), Step(move), Step(ACK_DCSTATUS, completed)]
    stage, port = make_stage(PRM1Z8Stage, steps)
    stage.connect()
    assert move == H("53 04 06 00 d0 01 01 00") + target.to_bytes(4, "little")
    # the lost-frame status poll (from 1 s) may fall in the same loop pass as the keep-alive
    # (0.9 s) on a loaded machine; here it reports "still moving" without writing (it has its
    # own transcript tests), so the script is exact whatever the timing
    monkeypatch.setattr(stage, "is_moving", lambda: True)
    stage.move_to(45.0)
    assert isinstance(stage.last_motion_event, p.MotMoveCompleted)
    port.assert_done()


@pytest.mark.parametrize("call", [
    lambda s: s.move_to(360.5),
    lambda s: s.move_to(-361),
    lambda s: s.move_to(float("nan")),
    lambda s: s.move_to("ten"),
    lambda s: s.move_by(400.0),
])
def test_invalid_angle_raises_value_error_and_writes_nothing(
        call: Callable[[AptRotationStage], None]) -> None:
    stage, port = make_stage(K10CR1Stage, k10_connect())
    stage.connect()
    before = bytes(port.written)
    with pytest.raises(ValueError, match=r"hwp\.(angle|delta)_deg.*allowed range \[-360, 360\] deg"):
        call(stage)
    assert bytes(port.written) == before


def test_soft_limits_narrow_the_range() -> None:
    stage, port = make_stage(K10CR1Stage, k10_connect() + [Step(REQ_POSCOUNTER, POS_MINUS_90_K10)],
                             min_deg=-100.0, max_deg=100.0)
    stage.connect()
    with pytest.raises(ValueError, match=r"allowed range \[-100, 100\] deg"):
        stage.move_to(150.0)
    with pytest.raises(ValueError, match=r"position -90 \+ delta -20.*\[-100, 100\]"):
        stage.move_by(-20.0)  # reads the position (-90 deg) and refuses before moving
    port.assert_done()


def test_constructor_validates_options() -> None:
    with pytest.raises(ValueError, match="hwp.min_deg"):
        K10CR1Stage("hwp", ADDRESS, RealClock(), min_deg=-400.0)
    with pytest.raises(ValueError, match="must be below"):
        K10CR1Stage("hwp", ADDRESS, RealClock(), min_deg=10.0, max_deg=5.0)
    with pytest.raises(ValueError, match="hwp.timeout_s"):
        K10CR1Stage("hwp", ADDRESS, RealClock(), timeout_s=0.0)


def test_reply_timeout_names_instrument_port_and_command() -> None:
    stage, _port = make_stage(K10CR1Stage, k10_connect() + [Step(REQ_POSCOUNTER)])
    stage.connect()
    with pytest.raises(InstrumentTimeout) as info:
        stage.get_position()
    assert info.value.instrument == "hwp"
    assert info.value.address == ADDRESS
    assert info.value.command == "MOT_REQ_POSCOUNTER"
    assert "hwp at /dev/ttyFAKE0" in str(info.value) and "MotGetPosCounter" in str(info.value)


def test_garbled_reply_is_reported_as_timeout_with_garbage() -> None:
    stage, _port = make_stage(K10CR1Stage, k10_connect() + [Step(REQ_POSCOUNTER, b"\xff\xfe#@!\x00\x13")])
    stage.connect()
    with pytest.raises(InstrumentTimeout,
                       match="discarded 2 garbage bytes meanwhile; 5 bytes of an incomplete frame"):
        stage.get_position()


def test_wrong_model_fails_connect_and_closes() -> None:
    stage, port = make_stage(K10CR1Stage, [Step(REQ_INFO, KDC_INFO)])
    with pytest.raises(InstrumentError, match="reports model 'KDC101', expected 'K10CR1'"):
        stage.connect()
    assert port.closed and not stage.is_connected


def test_device_error_reply_fails_the_move() -> None:
    refusal = p.HwRichResponse(0x0453, 1, "target out of range", **DEVICE_TO_HOST).encode()
    steps = k10_connect() + [Step(REQ_POSCOUNTER, POS_0),
                             Step(H("53 04 06 00 D0 01 01 00 00 08 00 00"), refusal)]
    stage, port = make_stage(K10CR1Stage, steps)
    stage.connect()
    with pytest.raises(InstrumentError, match="MOT_MOVE_ABSOLUTE.*device error 1: target out of range"):
        stage.move_to(0.015)
    port.assert_done()


def test_stop_safe_state_blink_and_close() -> None:
    steps = k10_connect() + [Step(MOVE_STOP_PROFILED), Step(H("65 04 01 01 50 01")),
                             Step(MOVE_STOP_PROFILED), Step(H("23 02 00 00 50 01")),
                             Step(HW_DISCONNECT)]
    stage, port = make_stage(K10CR1Stage, steps)
    stage.connect()
    stage.stop()
    stage.stop(immediate=True)
    stage.safe_state()
    stage.blink()
    stage.close()
    port.assert_done()
    assert port.closed and not stage.is_connected
    # not connected: the stop cannot be sent, and the safe state says so (the rig reports it)
    with pytest.raises(InstrumentConnectionError, match="MOT_MOVE_STOP.*not connected"):
        stage.safe_state()


def test_commands_before_connect_fail_clearly_and_write_nothing() -> None:
    stage, port = make_stage(K10CR1Stage, [])
    with pytest.raises(InstrumentConnectionError, match="not connected"):
        stage.get_position()
    with pytest.raises(InstrumentConnectionError, match="MOT_MOVE_ABSOLUTE"):
        stage.move_to(10.0)
    assert port.written == bytearray()


@pytest.mark.parametrize(("driver", "cls"), [("k10cr1", K10CR1Stage), ("kdc101_prm1z8", PRM1Z8Stage)])
def test_registry_builds_the_drivers_with_rig_options(driver: str, cls: type) -> None:
    from drivers.interfaces import RotationStage
    from drivers.registry import create_driver

    stage = create_driver("nd_wheel", driver, "socket://127.0.0.1:9", RealClock(),
                          min_deg=0.0, max_deg=270.0, timeout_s=0.5)
    assert type(stage) is cls and isinstance(stage, RotationStage)
    assert isinstance(stage, AptRotationStage)
    assert (stage.name, stage.min_deg, stage.max_deg, stage.timeout_s) == ("nd_wheel", 0.0, 270.0, 0.5)
    assert not stage.is_connected
