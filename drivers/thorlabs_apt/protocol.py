"""Sans-IO codec for the Thorlabs APT/Kinesis binary protocol (instruments.md section 2).

Every message is a frozen dataclass that knows its message id and how to ``encode()`` itself;
``decode(frame)`` turns one complete frame back into the matching dataclass, and
:class:`FrameParser` splits an arbitrary byte stream into complete frames, keeping partial frames
for the next ``feed`` and discarding bytes that cannot start a frame (resynchronisation).

Framing (little-endian, 6-byte header):

- short message ``<HBBBB``: message id, param1, param2, dest, source (no data);
- long message ``<HHBB``: message id, data length, dest | 0x80, source, then the data.

Addresses: host 0x01, stand-alone USB unit 0x50, rack 0x11, bay n 0x20 + n.

MOT_MOVE_RELATIVE and MOT_MOVE_ABSOLUTE exist in two forms (APT manual): the long form carries
the distance/position, the 6-byte short form (``MotMoveRelativeStored``/``MotMoveAbsoluteStored``)
moves by/to the value stored with MOT_SET_MOVERELPARAMS / MOT_SET_MOVEABSPARAMS. The registry is
keyed by (id, form), so both decode.

UNVERIFIED (kept visible on purpose):

- the 14-byte status block of MOT_MOVE_COMPLETED / MOT_MOVE_STOPPED on the K10CR1. Both candidate
  layouts (stepper ``<HllL``: channel, position, encoder count, status; DC ``<HlhHL``: channel,
  position, velocity, reserved, status) agree on channel, position and status bits, so the codec
  decodes those and keeps the middle four bytes as one opaque signed ``aux`` integer;
- MOT_MOVE_STOPPED is taken to carry the same status block as MOT_MOVE_COMPLETED (APT manual);
- MOT_GET_HOMEPARAMS (0x0442) is not listed in instruments.md; it is the APT manual's reply to
  MOT_REQ_HOMEPARAMS and uses the same ``<HHHii`` layout as MOT_SET_HOMEPARAMS.

APT frames carry no checksum, so resynchronisation can only use plausibility: a header is accepted
when its source and destination are valid APT addresses and, for a known message id, its short/long
form and data length match that message. Unknown ids are accepted (as :class:`UnknownMessage`)
when their addresses are valid, the id is below 0x1000 and a long frame has at most
``MAX_UNKNOWN_DATA`` bytes.
"""
from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from enum import IntEnum, IntFlag
from typing import Any, ClassVar, Self

HOST = 0x01
USB_DEVICE = 0x50
RACK = 0x11
LONG_FLAG = 0x80
HEADER_SIZE = 6
MAX_UNKNOWN_DATA = 128
_MAX_KNOWN_ID = 0x0FFF

#: addresses an APT frame may name as source or destination
VALID_ADDRESSES: frozenset[int] = frozenset({HOST, RACK, USB_DEVICE, *range(0x21, 0x2B)})

SHORT_HEADER = struct.Struct("<HBBBB")
LONG_HEADER = struct.Struct("<HHBB")


class MessageId(IntEnum):
    HW_DISCONNECT = 0x0002
    HW_REQ_INFO = 0x0005
    HW_GET_INFO = 0x0006
    HW_START_UPDATEMSGS = 0x0011
    HW_STOP_UPDATEMSGS = 0x0012
    HW_RESPONSE = 0x0080
    HW_RICHRESPONSE = 0x0081
    HW_YES_FLASH_PROGRAMMING = 0x0017
    HW_NO_FLASH_PROGRAMMING = 0x0018
    MOD_SET_CHANENABLESTATE = 0x0210
    MOD_REQ_CHANENABLESTATE = 0x0211
    MOD_GET_CHANENABLESTATE = 0x0212
    MOD_IDENTIFY = 0x0223
    MOT_SET_POSCOUNTER = 0x0410
    MOT_REQ_POSCOUNTER = 0x0411
    MOT_GET_POSCOUNTER = 0x0412
    MOT_SET_VELPARAMS = 0x0413
    MOT_REQ_VELPARAMS = 0x0414
    MOT_GET_VELPARAMS = 0x0415
    MOT_SET_JOGPARAMS = 0x0416
    MOT_REQ_JOGPARAMS = 0x0417
    MOT_GET_JOGPARAMS = 0x0418
    MOT_SET_LIMSWITCHPARAMS = 0x0423
    MOT_REQ_LIMSWITCHPARAMS = 0x0424
    MOT_GET_LIMSWITCHPARAMS = 0x0425
    MOT_REQ_STATUSBITS = 0x0429
    MOT_GET_STATUSBITS = 0x042A
    MOT_SET_GENMOVEPARAMS = 0x043A
    MOT_REQ_GENMOVEPARAMS = 0x043B
    MOT_GET_GENMOVEPARAMS = 0x043C
    MOT_SET_HOMEPARAMS = 0x0440
    MOT_REQ_HOMEPARAMS = 0x0441
    MOT_GET_HOMEPARAMS = 0x0442
    MOT_MOVE_HOME = 0x0443
    MOT_MOVE_HOMED = 0x0444
    MOT_SET_MOVERELPARAMS = 0x0445
    MOT_REQ_MOVERELPARAMS = 0x0446
    MOT_GET_MOVERELPARAMS = 0x0447
    MOT_MOVE_RELATIVE = 0x0448
    MOT_SET_MOVEABSPARAMS = 0x0450
    MOT_REQ_MOVEABSPARAMS = 0x0451
    MOT_GET_MOVEABSPARAMS = 0x0452
    MOT_MOVE_ABSOLUTE = 0x0453
    MOT_MOVE_VELOCITY = 0x0457
    MOT_MOVE_COMPLETED = 0x0464
    MOT_MOVE_STOP = 0x0465
    MOT_MOVE_STOPPED = 0x0466
    MOT_MOVE_JOG = 0x046A
    MOT_SUSPEND_ENDOFMOVEMSGS = 0x046B
    MOT_RESUME_ENDOFMOVEMSGS = 0x046C
    MOT_REQ_STATUSUPDATE = 0x0480
    MOT_GET_STATUSUPDATE = 0x0481
    MOT_REQ_DCSTATUSUPDATE = 0x0490
    MOT_GET_DCSTATUSUPDATE = 0x0491
    MOT_ACK_DCSTATUSUPDATE = 0x0492


class StatusBits(IntFlag):
    """Motor status bits (MOT_GET_STATUSBITS, status updates, move-completed status blocks)."""

    FWD_HARDWARE_LIMIT = 0x1
    REV_HARDWARE_LIMIT = 0x2
    FWD_SOFTWARE_LIMIT = 0x4
    REV_SOFTWARE_LIMIT = 0x8
    MOVING_FWD = 0x10
    MOVING_REV = 0x20
    JOGGING_FWD = 0x40
    JOGGING_REV = 0x80
    CONNECTED = 0x100
    HOMING = 0x200
    HOMED = 0x400
    TRACKING = 0x1000
    SETTLED = 0x2000
    MOTION_ERROR = 0x4000
    ENABLED = 0x80000000

    @property
    def in_motion(self) -> bool:
        """Moving, jogging or homing: the stage has not finished what it was asked to do."""
        return bool(self & _MOTION_BITS)


_MOTION_BITS = (StatusBits.MOVING_FWD | StatusBits.MOVING_REV | StatusBits.JOGGING_FWD
                | StatusBits.JOGGING_REV | StatusBits.HOMING)


class ChannelState(IntEnum):
    ENABLED = 1
    DISABLED = 2


class StopMode(IntEnum):
    IMMEDIATE = 1
    PROFILED = 2


class Direction(IntEnum):
    """param2 of MOT_MOVE_JOG / MOT_MOVE_VELOCITY."""

    FORWARD = 1
    REVERSE = 2


class JogMode(IntEnum):
    CONTINUOUS = 1
    SINGLE_STEP = 2


class ProtocolError(ValueError):
    """A frame could not be decoded (wrong length, wrong form for its id)."""


#: (message id, long form?) -> class; MOT_MOVE_RELATIVE / MOT_MOVE_ABSOLUTE exist in both forms
_REGISTRY: dict[tuple[int, bool], type[Message]] = {}


@dataclass(frozen=True)
class Message(ABC):
    """One APT message. ``dest``/``source`` default to host -> stand-alone USB unit."""

    MSG_ID: ClassVar[MessageId]
    dest: int = field(default=USB_DEVICE, kw_only=True)
    source: int = field(default=HOST, kw_only=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "MSG_ID" in cls.__dict__:
            _REGISTRY[(int(cls.MSG_ID), issubclass(cls, LongMessage))] = cls

    @property
    def name(self) -> str:
        """Message name as in the APT manual, e.g. ``MOT_REQ_POSCOUNTER`` (used in errors)."""
        return self.MSG_ID.name

    def payload_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self) if f.name not in ("dest", "source"))

    @abstractmethod
    def encode(self) -> bytes:
        """The complete frame (header + data) as sent on the wire."""


@dataclass(frozen=True)
class ShortMessage(Message):
    """Header-only message; the payload (up to two fields) rides in param1/param2."""

    def encode(self) -> bytes:
        params = [int(v) for v in self.payload_values()] + [0, 0]
        try:
            return SHORT_HEADER.pack(self.MSG_ID, params[0], params[1], self.dest, self.source)
        except struct.error as exc:
            raise ValueError(f"{self.name}: cannot encode {self!r}: {exc}") from None

    @classmethod
    def from_params(cls, param1: int, param2: int, dest: int, source: int) -> Self:
        names = [f.name for f in fields(cls) if f.name not in ("dest", "source")]
        values = dict(zip(names, (param1, param2), strict=False))  # unused params are 0
        return cls(**values, dest=dest, source=source)


@dataclass(frozen=True)
class LongMessage(Message):
    """Header + fixed-size data block described by ``DATA``."""

    DATA: ClassVar[struct.Struct]

    def data_values(self) -> tuple[Any, ...]:
        return self.payload_values()

    @classmethod
    def from_data_values(cls, values: tuple[Any, ...], dest: int, source: int) -> Self:
        return cls(*values, dest=dest, source=source)

    def encode(self) -> bytes:
        try:
            data = self.DATA.pack(*self.data_values())
        except struct.error as exc:
            raise ValueError(f"{self.name}: cannot encode {self!r}: {exc}") from None
        return LONG_HEADER.pack(self.MSG_ID, len(data), self.dest | LONG_FLAG, self.source) + data


# ---------------------------------------------------------------------------- hardware messages
@dataclass(frozen=True)
class HwDisconnect(ShortMessage):
    MSG_ID = MessageId.HW_DISCONNECT


@dataclass(frozen=True)
class HwReqInfo(ShortMessage):
    MSG_ID = MessageId.HW_REQ_INFO


def _pad(text: str, size: int) -> bytes:
    raw = text.encode("latin-1")
    if len(raw) > size:
        raise ValueError(f"text {text!r} is longer than {size} bytes")
    return raw.ljust(size, b"\0")


def _unpad(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


@dataclass(frozen=True)
class HwGetInfo(LongMessage):
    """Reply to HW_REQ_INFO. ``firmware`` is the 4 raw bytes (minor, interim, major, unused).

    The manual documents 12 bytes of empty space after the notes; a KDC101 puts the connected
    stage's id in the last two of them (``stage_id``: 6 PRM1-Z8, 7 MTS25-Z8, 9 Z825, the ids
    pyLabLib's Kinesis driver reads to recognise the stage; UNVERIFIED against the manual, which
    does not document the field). ``reserved`` is the first 10 bytes.
    """

    MSG_ID = MessageId.HW_GET_INFO
    DATA = struct.Struct("<l8sH4B48s10sHHHH")
    serial_number: int
    model: str
    hw_type: int
    firmware: tuple[int, int, int, int]
    notes: str
    reserved: bytes = b"\0" * 10
    hw_version: int = 0
    mod_state: int = 0
    n_channels: int = 1
    stage_id: int = field(default=0, kw_only=True)

    @property
    def firmware_version(self) -> str:
        minor, interim, major, _unused = self.firmware
        return f"{major}.{interim}.{minor}"

    def data_values(self) -> tuple[Any, ...]:
        if len(self.firmware) != 4:
            raise ValueError(f"firmware={self.firmware!r} must be 4 bytes")
        return (self.serial_number, _pad(self.model, 8), self.hw_type, *self.firmware,
                _pad(self.notes, 48), self.reserved, self.stage_id, self.hw_version,
                self.mod_state, self.n_channels)

    @classmethod
    def from_data_values(cls, values: tuple[Any, ...], dest: int, source: int) -> HwGetInfo:
        (serial, model, hw_type, f0, f1, f2, f3, notes, reserved, stage_id, hw_ver, mod_state,
         n_ch) = values
        return cls(serial, _unpad(model), hw_type, (f0, f1, f2, f3), _unpad(notes), reserved,
                   hw_ver, mod_state, n_ch, stage_id=stage_id, dest=dest, source=source)


#: HW_GET_INFO stage ids of a KDC101 (see HwGetInfo)
KDC101_STAGE_IDS: dict[int, str] = {6: "PRM1-Z8", 7: "MTS25-Z8", 8: "MTS50-Z8", 9: "Z825",
                                    10: "Z812", 11: "Z806"}


@dataclass(frozen=True)
class HwStartUpdateMsgs(ShortMessage):
    MSG_ID = MessageId.HW_START_UPDATEMSGS


@dataclass(frozen=True)
class HwStopUpdateMsgs(ShortMessage):
    MSG_ID = MessageId.HW_STOP_UPDATEMSGS


@dataclass(frozen=True)
class HwResponse(ShortMessage):
    """Unsolicited notice of an event or error from the controller."""

    MSG_ID = MessageId.HW_RESPONSE


@dataclass(frozen=True)
class HwRichResponse(LongMessage):
    """Error report: the message id it refers to, an error code and a text."""

    MSG_ID = MessageId.HW_RICHRESPONSE
    DATA = struct.Struct("<HH64s")
    msg_ident: int
    code: int
    text: str

    def data_values(self) -> tuple[Any, ...]:
        return (self.msg_ident, self.code, _pad(self.text, 64))

    @classmethod
    def from_data_values(cls, values: tuple[Any, ...], dest: int, source: int) -> HwRichResponse:
        msg_ident, code, text = values
        return cls(msg_ident, code, _unpad(text), dest=dest, source=source)


# ---------------------------------------------------------------------------- module messages
@dataclass(frozen=True)
class ModIdentify(ShortMessage):
    """Flash the front-panel LED."""

    MSG_ID = MessageId.MOD_IDENTIFY
    channel: int = 0


@dataclass(frozen=True)
class ModSetChanEnableState(ShortMessage):
    MSG_ID = MessageId.MOD_SET_CHANENABLESTATE
    channel: int = 1
    state: int = ChannelState.ENABLED


@dataclass(frozen=True)
class ModReqChanEnableState(ShortMessage):
    MSG_ID = MessageId.MOD_REQ_CHANENABLESTATE
    channel: int = 1


@dataclass(frozen=True)
class ModGetChanEnableState(ShortMessage):
    MSG_ID = MessageId.MOD_GET_CHANENABLESTATE
    channel: int = 1
    state: int = ChannelState.ENABLED


# ---------------------------------------------------------------------------- motor messages
@dataclass(frozen=True)
class MotSetPosCounter(LongMessage):
    MSG_ID = MessageId.MOT_SET_POSCOUNTER
    DATA = struct.Struct("<Hl")
    channel: int
    position: int


@dataclass(frozen=True)
class MotReqPosCounter(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_POSCOUNTER
    channel: int = 1


@dataclass(frozen=True)
class MotGetPosCounter(LongMessage):
    MSG_ID = MessageId.MOT_GET_POSCOUNTER
    DATA = struct.Struct("<Hl")
    channel: int
    position: int


@dataclass(frozen=True)
class MotSetVelParams(LongMessage):
    """Velocity profile in device units (see ``scaling``)."""

    MSG_ID = MessageId.MOT_SET_VELPARAMS
    DATA = struct.Struct("<Hlll")
    channel: int
    min_velocity: int
    acceleration: int
    max_velocity: int


@dataclass(frozen=True)
class MotReqVelParams(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_VELPARAMS
    channel: int = 1


@dataclass(frozen=True)
class MotGetVelParams(LongMessage):
    MSG_ID = MessageId.MOT_GET_VELPARAMS
    DATA = struct.Struct("<Hlll")
    channel: int
    min_velocity: int
    acceleration: int
    max_velocity: int


@dataclass(frozen=True)
class MotReqStatusBits(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_STATUSBITS
    channel: int = 1


def _status(value: int) -> StatusBits:
    return StatusBits(value)


@dataclass(frozen=True)
class MotGetStatusBits(LongMessage):
    MSG_ID = MessageId.MOT_GET_STATUSBITS
    DATA = struct.Struct("<HL")
    channel: int
    status: StatusBits

    @classmethod
    def from_data_values(cls, values: tuple[Any, ...], dest: int, source: int) -> MotGetStatusBits:
        channel, status = values
        return cls(channel, _status(status), dest=dest, source=source)


@dataclass(frozen=True)
class MotSetHomeParams(LongMessage):
    MSG_ID = MessageId.MOT_SET_HOMEPARAMS
    DATA = struct.Struct("<HHHii")
    channel: int
    home_direction: int
    limit_switch: int
    home_velocity: int
    offset_distance: int


@dataclass(frozen=True)
class MotReqHomeParams(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_HOMEPARAMS
    channel: int = 1


@dataclass(frozen=True)
class MotGetHomeParams(LongMessage):
    """Reply to MOT_REQ_HOMEPARAMS (UNVERIFIED: id 0x0442 from the APT manual, not instruments.md)."""

    MSG_ID = MessageId.MOT_GET_HOMEPARAMS
    DATA = struct.Struct("<HHHii")
    channel: int
    home_direction: int
    limit_switch: int
    home_velocity: int
    offset_distance: int


@dataclass(frozen=True)
class MotMoveHome(ShortMessage):
    MSG_ID = MessageId.MOT_MOVE_HOME
    channel: int = 1


@dataclass(frozen=True)
class MotMoveHomed(ShortMessage):
    MSG_ID = MessageId.MOT_MOVE_HOMED
    channel: int = 1


@dataclass(frozen=True)
class MotMoveRelative(LongMessage):
    MSG_ID = MessageId.MOT_MOVE_RELATIVE
    DATA = struct.Struct("<Hl")
    channel: int
    distance: int


@dataclass(frozen=True)
class MotMoveAbsolute(LongMessage):
    MSG_ID = MessageId.MOT_MOVE_ABSOLUTE
    DATA = struct.Struct("<Hl")
    channel: int
    position: int


@dataclass(frozen=True)
class _StatusBlockMessage(LongMessage):
    """14-byte status block: channel, position, aux (layout-dependent, UNVERIFIED), status bits.

    ``aux`` is the encoder count in the stepper layout (``<HllL``) or velocity (low int16) +
    reserved (high uint16) in the DC layout (``<HlhHL``); the bytes round-trip either way.
    """

    DATA = struct.Struct("<HllL")
    channel: int
    position: int
    aux: int
    status: StatusBits

    @property
    def dc_velocity(self) -> int:
        """``aux`` read as the DC layout's signed 16-bit velocity."""
        low = self.aux & 0xFFFF
        return low - 0x10000 if low & 0x8000 else low

    @classmethod
    def from_data_values(cls, values: tuple[Any, ...], dest: int, source: int) -> Self:
        channel, position, aux, status = values
        return cls(channel, position, aux, _status(status), dest=dest, source=source)


@dataclass(frozen=True)
class MotMoveCompleted(_StatusBlockMessage):
    MSG_ID = MessageId.MOT_MOVE_COMPLETED


@dataclass(frozen=True)
class MotMoveStop(ShortMessage):
    MSG_ID = MessageId.MOT_MOVE_STOP
    channel: int = 1
    stop_mode: int = StopMode.PROFILED


@dataclass(frozen=True)
class MotMoveStopped(_StatusBlockMessage):
    MSG_ID = MessageId.MOT_MOVE_STOPPED


@dataclass(frozen=True)
class MotReqStatusUpdate(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_STATUSUPDATE
    channel: int = 1


@dataclass(frozen=True)
class MotGetStatusUpdate(LongMessage):
    """Stepper status update ``<HllL``: channel, position, encoder count, status bits."""

    MSG_ID = MessageId.MOT_GET_STATUSUPDATE
    DATA = struct.Struct("<HllL")
    channel: int
    position: int
    encoder_count: int
    status: StatusBits

    @classmethod
    def from_data_values(cls, values: tuple[Any, ...], dest: int, source: int) -> MotGetStatusUpdate:
        channel, position, encoder, status = values
        return cls(channel, position, encoder, _status(status), dest=dest, source=source)


@dataclass(frozen=True)
class MotReqDcStatusUpdate(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_DCSTATUSUPDATE
    channel: int = 1


@dataclass(frozen=True)
class MotGetDcStatusUpdate(LongMessage):
    """DC servo status update ``<HlhHL``: channel, position, velocity, reserved, status bits."""

    MSG_ID = MessageId.MOT_GET_DCSTATUSUPDATE
    DATA = struct.Struct("<HlhHL")
    channel: int
    position: int
    velocity: int
    reserved: int
    status: StatusBits

    @classmethod
    def from_data_values(cls, values: tuple[Any, ...], dest: int, source: int) -> MotGetDcStatusUpdate:
        channel, position, velocity, reserved, status = values
        return cls(channel, position, velocity, reserved, _status(status), dest=dest, source=source)


@dataclass(frozen=True)
class MotAckDcStatusUpdate(ShortMessage):
    """Host keep-alive while DC status updates flow (some clients send it every ~0.9 s)."""

    MSG_ID = MessageId.MOT_ACK_DCSTATUSUPDATE

# ---------------------------------------------------------------------------- motion parameters
@dataclass(frozen=True)
class _JogParams(LongMessage):
    """Jog profile ``<HHllllH``: channel, mode (1 continuous, 2 single step), step size, min
    velocity, acceleration, max velocity (device units), stop mode (1 immediate, 2 profiled)."""

    DATA = struct.Struct("<HHllllH")
    channel: int
    jog_mode: int
    step_size: int
    min_velocity: int
    acceleration: int
    max_velocity: int
    stop_mode: int


@dataclass(frozen=True)
class MotSetJogParams(_JogParams):
    MSG_ID = MessageId.MOT_SET_JOGPARAMS


@dataclass(frozen=True)
class MotReqJogParams(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_JOGPARAMS
    channel: int = 1


@dataclass(frozen=True)
class MotGetJogParams(_JogParams):
    MSG_ID = MessageId.MOT_GET_JOGPARAMS


@dataclass(frozen=True)
class _LimSwitchParams(LongMessage):
    """Limit switches ``<HHHllH``: channel, CW and CCW hardware limit (1 ignore, 2 make, 3 break,
    4 make home only, 5 break home only; 0x80 set = swapped), CW and CCW software limit (device
    units), software limit mode (1 ignore, 2 stop immediate, 3 stop profiled)."""

    DATA = struct.Struct("<HHHllH")
    channel: int
    cw_hard_limit: int
    ccw_hard_limit: int
    cw_soft_limit: int
    ccw_soft_limit: int
    soft_limit_mode: int


@dataclass(frozen=True)
class MotSetLimSwitchParams(_LimSwitchParams):
    MSG_ID = MessageId.MOT_SET_LIMSWITCHPARAMS


@dataclass(frozen=True)
class MotReqLimSwitchParams(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_LIMSWITCHPARAMS
    channel: int = 1


@dataclass(frozen=True)
class MotGetLimSwitchParams(_LimSwitchParams):
    MSG_ID = MessageId.MOT_GET_LIMSWITCHPARAMS


@dataclass(frozen=True)
class MotSetGenMoveParams(LongMessage):
    """General move parameters ``<Hl``: channel, backlash distance (device units)."""

    MSG_ID = MessageId.MOT_SET_GENMOVEPARAMS
    DATA = struct.Struct("<Hl")
    channel: int
    backlash_distance: int


@dataclass(frozen=True)
class MotReqGenMoveParams(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_GENMOVEPARAMS
    channel: int = 1


@dataclass(frozen=True)
class MotGetGenMoveParams(LongMessage):
    MSG_ID = MessageId.MOT_GET_GENMOVEPARAMS
    DATA = struct.Struct("<Hl")
    channel: int
    backlash_distance: int


@dataclass(frozen=True)
class MotSetMoveRelParams(LongMessage):
    """Stored relative distance ``<Hl`` used by the short MOT_MOVE_RELATIVE."""

    MSG_ID = MessageId.MOT_SET_MOVERELPARAMS
    DATA = struct.Struct("<Hl")
    channel: int
    relative_distance: int


@dataclass(frozen=True)
class MotReqMoveRelParams(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_MOVERELPARAMS
    channel: int = 1


@dataclass(frozen=True)
class MotGetMoveRelParams(LongMessage):
    MSG_ID = MessageId.MOT_GET_MOVERELPARAMS
    DATA = struct.Struct("<Hl")
    channel: int
    relative_distance: int


@dataclass(frozen=True)
class MotSetMoveAbsParams(LongMessage):
    """Stored absolute position ``<Hl`` used by the short MOT_MOVE_ABSOLUTE."""

    MSG_ID = MessageId.MOT_SET_MOVEABSPARAMS
    DATA = struct.Struct("<Hl")
    channel: int
    absolute_position: int


@dataclass(frozen=True)
class MotReqMoveAbsParams(ShortMessage):
    MSG_ID = MessageId.MOT_REQ_MOVEABSPARAMS
    channel: int = 1


@dataclass(frozen=True)
class MotGetMoveAbsParams(LongMessage):
    MSG_ID = MessageId.MOT_GET_MOVEABSPARAMS
    DATA = struct.Struct("<Hl")
    channel: int
    absolute_position: int


@dataclass(frozen=True)
class MotMoveRelativeStored(ShortMessage):
    """Short (6-byte) MOT_MOVE_RELATIVE: move by the distance stored with MOT_SET_MOVERELPARAMS."""

    MSG_ID = MessageId.MOT_MOVE_RELATIVE
    channel: int = 1


@dataclass(frozen=True)
class MotMoveAbsoluteStored(ShortMessage):
    """Short (6-byte) MOT_MOVE_ABSOLUTE: move to the position stored with MOT_SET_MOVEABSPARAMS."""

    MSG_ID = MessageId.MOT_MOVE_ABSOLUTE
    channel: int = 1


@dataclass(frozen=True)
class MotMoveJog(ShortMessage):
    """Jog by the stored jog parameters; param2 = direction (1 forward, 2 reverse)."""

    MSG_ID = MessageId.MOT_MOVE_JOG
    channel: int = 1
    direction: int = Direction.FORWARD


@dataclass(frozen=True)
class MotMoveVelocity(ShortMessage):
    """Move at the stored maximum velocity until stopped; param2 = direction."""

    MSG_ID = MessageId.MOT_MOVE_VELOCITY
    channel: int = 1
    direction: int = Direction.FORWARD


@dataclass(frozen=True)
class MotSuspendEndOfMoveMsgs(ShortMessage):
    """Stop sending MOT_MOVE_COMPLETED / MOT_MOVE_STOPPED / MOT_MOVE_HOMED."""

    MSG_ID = MessageId.MOT_SUSPEND_ENDOFMOVEMSGS


@dataclass(frozen=True)
class MotResumeEndOfMoveMsgs(ShortMessage):
    MSG_ID = MessageId.MOT_RESUME_ENDOFMOVEMSGS


@dataclass(frozen=True)
class HwYesFlashProgramming(ShortMessage):
    MSG_ID = MessageId.HW_YES_FLASH_PROGRAMMING


@dataclass(frozen=True)
class HwNoFlashProgramming(ShortMessage):
    """Sent by clients at start-up; the controller only takes note."""

    MSG_ID = MessageId.HW_NO_FLASH_PROGRAMMING


@dataclass(frozen=True)
class UnknownMessage(Message):
    """A well-formed frame whose id this codec does not know; kept so it can be logged."""

    msg_id: int
    param1: int = 0
    param2: int = 0
    data: bytes | None = None

    @property
    def name(self) -> str:
        return f"UNKNOWN_0x{self.msg_id:04X}"

    def encode(self) -> bytes:
        if self.data is None:
            return SHORT_HEADER.pack(self.msg_id, self.param1, self.param2, self.dest, self.source)
        return LONG_HEADER.pack(self.msg_id, len(self.data), self.dest | LONG_FLAG,
                                self.source) + self.data


# ---------------------------------------------------------------------------- decoding
def message_class(msg_id: int, long_form: bool) -> type[Message] | None:
    """The dataclass registered for ``msg_id`` in that form (None if unknown)."""
    return _REGISTRY.get((msg_id, long_form))


def all_message_classes() -> tuple[type[Message], ...]:
    return tuple(_REGISTRY.values())


def _known_id(msg_id: int) -> bool:
    return (msg_id, True) in _REGISTRY or (msg_id, False) in _REGISTRY


def decode(frame: bytes) -> Message:
    """Decode one complete frame (header + data). Raises ProtocolError on a malformed frame."""
    if len(frame) < HEADER_SIZE:
        raise ProtocolError(f"frame of {len(frame)} bytes is shorter than the 6-byte header")
    msg_id = int.from_bytes(frame[0:2], "little")
    is_long = bool(frame[4] & LONG_FLAG)
    cls = _REGISTRY.get((msg_id, is_long))
    if is_long:
        _, length, dest, source = LONG_HEADER.unpack_from(frame)
        dest &= ~LONG_FLAG
        data = bytes(frame[HEADER_SIZE:])
        if len(data) != length:
            raise ProtocolError(f"0x{msg_id:04X}: header announces {length} data bytes, "
                                f"frame has {len(data)}")
        if cls is None:
            if _known_id(msg_id):
                raise ProtocolError(f"{MessageId(msg_id).name}: expected a short frame, got a long one")
            return UnknownMessage(msg_id, data=data, dest=dest, source=source)
        assert issubclass(cls, LongMessage)
        if cls.DATA.size != length:
            raise ProtocolError(f"{cls.MSG_ID.name}: unexpected long frame with {length} data bytes")
        return cls.from_data_values(cls.DATA.unpack(data), dest, source)
    if len(frame) != HEADER_SIZE:
        raise ProtocolError(f"0x{msg_id:04X}: short frame with {len(frame) - HEADER_SIZE} "
                            "trailing bytes")
    _, param1, param2, dest, source = SHORT_HEADER.unpack(frame)
    if cls is None:
        if _known_id(msg_id):
            raise ProtocolError(f"{MessageId(msg_id).name}: expected a long frame, got a short one")
        return UnknownMessage(msg_id, param1, param2, dest=dest, source=source)
    assert issubclass(cls, ShortMessage)
    return cls.from_params(param1, param2, dest, source)


def frame_length(header: bytes) -> int | None:
    """Total frame length if ``header`` (>= 6 bytes) is a plausible APT header, else None."""
    msg_id = int.from_bytes(header[0:2], "little")
    dest_byte, source = header[4], header[5]
    is_long = bool(dest_byte & LONG_FLAG)
    dest = dest_byte & ~LONG_FLAG if is_long else dest_byte
    if dest not in VALID_ADDRESSES or source not in VALID_ADDRESSES:
        return None
    cls = _REGISTRY.get((msg_id, is_long))
    if cls is None and _known_id(msg_id):
        return None  # a known message in the wrong form
    if not is_long:
        return HEADER_SIZE if cls is not None or msg_id <= _MAX_KNOWN_ID else None
    length = int.from_bytes(header[2:4], "little")
    if cls is None:
        return HEADER_SIZE + length if msg_id <= _MAX_KNOWN_ID and length <= MAX_UNKNOWN_DATA else None
    assert issubclass(cls, LongMessage)
    return HEADER_SIZE + length if cls.DATA.size == length else None


class FrameParser:
    """Incremental splitter: ``feed`` bytes, get complete frames; partial frames are kept.

    Bytes that cannot start a plausible frame are dropped one at a time (resynchronisation) and
    collected in ``discarded`` so the caller can report them; ``take_discarded`` empties it.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.discarded = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= HEADER_SIZE:
            length = frame_length(bytes(self._buffer[:HEADER_SIZE]))
            if length is None:
                self.discarded.append(self._buffer.pop(0))
                continue
            if len(self._buffer) < length:
                break
            frames.append(bytes(self._buffer[:length]))
            del self._buffer[:length]
        return frames

    def take_discarded(self) -> bytes:
        dropped = bytes(self.discarded)
        self.discarded.clear()
        return dropped

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete frame."""
        return len(self._buffer)

    def reset(self) -> None:
        self._buffer.clear()
        self.discarded.clear()
