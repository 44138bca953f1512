"""Sans-IO APT codec: every message round-trips, the reference examples are byte-exact, the
frame parser copes with split, concatenated and garbled streams."""
from __future__ import annotations

import pytest

from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.protocol import StatusBits


DEVICE_TO_HOST = {"dest": p.HOST, "source": p.USB_DEVICE}

#: one instance of every message the codec knows (host->device or device->host as on the wire)
EVERY_MESSAGE: list[p.Message] = [
    p.HwDisconnect(),
    p.HwReqInfo(),
    p.HwGetInfo(55000001, "K10CR1", 16, (10, 0, 3, 0), "APT Stepper Motor Controller",
                b"\x01" * 10, 1, 0, 1, stage_id=6, **DEVICE_TO_HOST),
    p.HwStartUpdateMsgs(),
    p.HwStopUpdateMsgs(),
    p.HwResponse(**DEVICE_TO_HOST),
    p.HwRichResponse(0x0453, 1, "move refused", **DEVICE_TO_HOST),
    p.ModIdentify(),
    p.ModSetChanEnableState(1, p.ChannelState.DISABLED),
    p.ModReqChanEnableState(1),
    p.ModGetChanEnableState(1, p.ChannelState.ENABLED, **DEVICE_TO_HOST),
    p.MotSetPosCounter(1, -1234567),
    p.MotReqPosCounter(1),
    p.MotGetPosCounter(1, 2048, **DEVICE_TO_HOST),
    p.MotSetVelParams(1, 0, 15020, 73300000),
    p.MotReqVelParams(1),
    p.MotGetVelParams(1, 0, 147, 429417, **DEVICE_TO_HOST),
    p.MotReqStatusBits(1),
    p.MotGetStatusBits(1, StatusBits.ENABLED | StatusBits.HOMED | StatusBits.MOVING_FWD,
                       **DEVICE_TO_HOST),
    p.MotSetHomeParams(1, 2, 1, 73300000, 0),
    p.MotReqHomeParams(1),
    p.MotGetHomeParams(1, 2, 1, 429417, -55, **DEVICE_TO_HOST),
    p.MotMoveHome(1),
    p.MotMoveHomed(1, **DEVICE_TO_HOST),
    p.MotMoveRelative(1, -409600),
    p.MotMoveAbsolute(1, 2048),
    p.MotMoveCompleted(1, 2048, -7, StatusBits.ENABLED | StatusBits.SETTLED, **DEVICE_TO_HOST),
    p.MotMoveStop(1, p.StopMode.IMMEDIATE),
    p.MotMoveStopped(1, -99, 0, StatusBits.CONNECTED, **DEVICE_TO_HOST),
    p.MotReqStatusUpdate(1),
    p.MotGetStatusUpdate(1, 123456, 654321, StatusBits.HOMED, **DEVICE_TO_HOST),
    p.MotReqDcStatusUpdate(1),
    p.MotGetDcStatusUpdate(1, -5000, -300, 7, StatusBits.MOVING_REV, **DEVICE_TO_HOST),
    p.MotAckDcStatusUpdate(),
    p.HwYesFlashProgramming(),
    p.HwNoFlashProgramming(),
    p.MotSetJogParams(1, p.JogMode.SINGLE_STEP, 34555, 0, 264, 772981, p.StopMode.PROFILED),
    p.MotReqJogParams(1),
    p.MotGetJogParams(1, p.JogMode.CONTINUOUS, -5, 1, 2, 3, p.StopMode.IMMEDIATE, **DEVICE_TO_HOST),
    p.MotSetLimSwitchParams(1, 2, 0x82, 864000, -1, 3),
    p.MotReqLimSwitchParams(1),
    p.MotGetLimSwitchParams(1, 3, 1, 0, 0, 1, **DEVICE_TO_HOST),
    p.MotSetGenMoveParams(1, -345),
    p.MotReqGenMoveParams(1),
    p.MotGetGenMoveParams(1, 345, **DEVICE_TO_HOST),
    p.MotSetMoveRelParams(1, -1000),
    p.MotReqMoveRelParams(1),
    p.MotGetMoveRelParams(1, 1000, **DEVICE_TO_HOST),
    p.MotSetMoveAbsParams(1, 2048),
    p.MotReqMoveAbsParams(1),
    p.MotGetMoveAbsParams(1, -2048, **DEVICE_TO_HOST),
    p.MotMoveRelativeStored(1),
    p.MotMoveAbsoluteStored(1),
    p.MotMoveJog(1, p.Direction.REVERSE),
    p.MotMoveVelocity(1, p.Direction.FORWARD),
    p.MotSuspendEndOfMoveMsgs(),
    p.MotResumeEndOfMoveMsgs(),
]


def test_every_registered_message_has_a_round_trip_case() -> None:
    covered = {type(m) for m in EVERY_MESSAGE}
    assert covered == set(p.all_message_classes())
    # every id has a class; MOT_MOVE_RELATIVE / MOT_MOVE_ABSOLUTE have a short and a long one
    assert {int(m.MSG_ID) for m in covered} == {int(i) for i in p.MessageId}
    assert len(covered) == len(p.MessageId) + 2


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: m.name)
def test_round_trip(message: p.Message) -> None:
    frame = message.encode()
    assert p.decode(frame) == message
    long_form = bool(frame[4] & p.LONG_FLAG)
    assert long_form == isinstance(message, p.LongMessage)
    if long_form:
        assert int.from_bytes(frame[2:4], "little") == len(frame) - p.HEADER_SIZE
    else:
        assert len(frame) == p.HEADER_SIZE
    assert int.from_bytes(frame[0:2], "little") == message.MSG_ID


@pytest.mark.parametrize(("message", "wire"), [
    (p.MotMoveHome(1), "43 04 01 00 50 01"),
    (p.MotMoveAbsolute(1, 2048), "53 04 06 00 D0 01 01 00 00 08 00 00"),
    (p.HwReqInfo(), "05 00 00 00 50 01"),
    # the 6-byte short forms move to / by the stored MOVEABSPARAMS / MOVERELPARAMS
    (p.MotMoveAbsoluteStored(1), "53 04 01 00 50 01"),
    (p.MotMoveRelativeStored(1), "48 04 01 00 50 01"),
    (p.MotSetMoveAbsParams(1, 2048), "50 04 06 00 D0 01 01 00 00 08 00 00"),
    (p.MotMoveJog(1, p.Direction.REVERSE), "6A 04 01 02 50 01"),
    (p.MotMoveVelocity(1, p.Direction.FORWARD), "57 04 01 01 50 01"),
    (p.MotReqJogParams(1), "17 04 01 00 50 01"),
])
def test_reference_examples_are_byte_exact(message: p.Message, wire: str) -> None:
    assert message.encode() == bytes.fromhex(wire)
    assert p.decode(bytes.fromhex(wire)) == message


def test_hw_get_info_is_84_data_bytes_and_decodes_strings() -> None:
    info = EVERY_MESSAGE[2]
    frame = info.encode()
    assert len(frame) == 6 + 84
    assert frame[:6] == bytes.fromhex("06 00 54 00 81 50")
    decoded = p.decode(frame)
    assert isinstance(decoded, p.HwGetInfo)
    assert decoded.model == "K10CR1"
    assert decoded.firmware_version == "3.0.10"


def test_status_block_decodes_from_hand_written_bytes() -> None:
    # channel 1, position 2048, aux 0, status CONNECTED|HOMED|ENABLED
    wire = bytes.fromhex("64 04 0E 00 81 50 01 00 00 08 00 00 00 00 00 00 00 05 00 80")
    message = p.decode(wire)
    assert message == p.MotMoveCompleted(1, 2048, 0,
                                         StatusBits.CONNECTED | StatusBits.HOMED | StatusBits.ENABLED,
                                         dest=p.HOST, source=p.USB_DEVICE)
    assert not message.status.in_motion


def test_dc_velocity_reads_the_low_half_of_aux() -> None:
    dc_layout = p.MotGetDcStatusUpdate(1, 10, -300, 7, StatusBits(0)).encode()
    as_completed = p.decode(bytes([0x64, 0x04]) + dc_layout[2:])
    assert isinstance(as_completed, p.MotMoveCompleted)
    assert as_completed.dc_velocity == -300
    assert as_completed.position == 10


def test_status_bits_flags() -> None:
    status = StatusBits(0x80000000 | 0x400 | 0x20 | 0x800)  # 0x800 is undocumented: kept
    assert StatusBits.ENABLED in status and StatusBits.MOVING_REV in status
    assert status.in_motion
    assert int(status) & 0x800
    assert StatusBits.HOMING.in_motion
    assert not (StatusBits.HOMED | StatusBits.SETTLED).in_motion


def test_out_of_range_payload_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="MOT_MOVE_ABSOLUTE"):
        p.MotMoveAbsolute(1, 2**31).encode()
    with pytest.raises(ValueError, match="longer than 8 bytes"):
        p.HwGetInfo(1, "TOO-LONG-MODEL", 16, (0, 0, 0, 0), "").encode()


def test_unknown_message_is_kept_not_dropped() -> None:
    short = bytes.fromhex("99 02 01 00 01 50")
    decoded = p.decode(short)
    assert isinstance(decoded, p.UnknownMessage)
    assert decoded.msg_id == 0x0299 and decoded.param1 == 1
    assert decoded.encode() == short
    long_frame = bytes.fromhex("99 02 02 00 81 50 AA BB")
    decoded_long = p.decode(long_frame)
    assert isinstance(decoded_long, p.UnknownMessage) and decoded_long.data == b"\xaa\xbb"


@pytest.mark.parametrize("bad", [
    "12 04 01 00 01 50",            # GET_POSCOUNTER must be long
    "43 04 02 00 D0 01 01 00",      # MOVE_HOME must be short
    "17 04 02 00 D0 01 01 00",      # REQ_JOGPARAMS must be short
    "50 04 01 00 50 01",            # SET_MOVEABSPARAMS must be long
    "12 04 06 00 81 50 01 00 00",   # announced 6 data bytes, got 3
    "12 04",                        # shorter than a header
])
def test_malformed_frames_raise_protocol_error(bad: str) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode(bytes.fromhex(bad))


def test_parser_byte_by_byte_keeps_partial_frames() -> None:
    stream = b"".join(m.encode() for m in EVERY_MESSAGE)
    parser = p.FrameParser()
    frames: list[bytes] = []
    for i in range(len(stream)):
        frames += parser.feed(stream[i:i + 1])
    assert [p.decode(f) for f in frames] == EVERY_MESSAGE
    assert parser.pending == 0 and parser.take_discarded() == b""


def test_parser_splits_concatenated_frames_in_one_chunk() -> None:
    stream = b"".join(m.encode() for m in EVERY_MESSAGE[:10])
    parser = p.FrameParser()
    frames = parser.feed(stream + p.MotMoveAbsolute(1, 5).encode()[:7])
    assert len(frames) == 10
    assert parser.pending == 7
    assert [p.decode(f) for f in parser.feed(p.MotMoveAbsolute(1, 5).encode()[7:])] == \
        [p.MotMoveAbsolute(1, 5)]


@pytest.mark.parametrize("garbage", [
    b"\xff\xfe#@!\x00\x13",
    b"\x00" * 11,
    bytes(range(200, 256)),
    b"\x12\x04\x06\x00\x81",   # a header cut short, then a new frame
])
def test_parser_resynchronises_after_garbage(garbage: bytes) -> None:
    wanted = [p.MotGetPosCounter(1, 2048, **DEVICE_TO_HOST), p.MotMoveHomed(1, **DEVICE_TO_HOST)]
    parser = p.FrameParser()
    frames = parser.feed(garbage + b"".join(m.encode() for m in wanted))
    assert [p.decode(f) for f in frames] == wanted
    assert parser.take_discarded() == garbage
