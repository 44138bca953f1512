"""Thorlabs APT/Kinesis rotation-stage emulator (K10CR1, or PRM1Z8 on a KDC101), sans-IO.

Speaks the binary protocol of instruments.md section 2 as a stand-alone USB unit (address 0x50)
and executes moves on a backing :class:`drivers.interfaces.RotationStage` (the simulated bench's
stage, or a test fake): ``move_to(angle, wait=False)`` starts a move, ``is_moving()`` tells when it
has finished, at which point MOT_MOVE_COMPLETED (or MOT_MOVE_HOMED) is emitted unsolicited, as the
device does. After HW_START_UPDATEMSGS it sends MOT_GET_STATUSUPDATE (K10CR1) or
MOT_GET_DCSTATUSUPDATE (KDC101) every ``UPDATE_PERIOD_S``.

Serve it with ``EmulatorServer(lambda: AptEmulator(stage, "K10CR1"), "k10cr1")``; one backing
stage may be shared by several connections (the position survives a reconnect). The emulator
connects the backing stage if it is not connected yet (the device's motor is always powered), and
the stage must make progress on its own: a bench on a virtual clock needs someone advancing it.
Controller state other than the position (homed flag, position-counter offset, velocity/home
parameters, update messages) belongs to one connection and starts fresh on the next.

Emulator choices where the real behaviour is UNVERIFIED:

- the 14-byte status block of MOT_MOVE_COMPLETED / MOT_MOVE_STOPPED uses the stepper layout
  ``<HllL`` (aux = encoder count 0) for the K10CR1 and the DC layout ``<HlhHL`` (velocity 0,
  reserved 0) for the KDC101; both are encoded through the codec's layout-neutral ``aux`` field;
- MOT_MOVE_STOP is always answered with MOT_MOVE_STOPPED, even when idle;
- a move the backing stage refuses (ValueError, e.g. outside its range, or InstrumentError) is
  answered with HW_RICHRESPONSE (msg id of the move, code 1, the error text) and no completion;
- both status-update requests are answered on both models;
- HW_GET_INFO identity: model "K10CR1" / "KDC101", hardware type 16, firmware 3.0.10 / 3.0.14.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from drivers.errors import InstrumentError
from drivers.interfaces import RotationStage
from drivers.thorlabs_apt.protocol import (
    HOST,
    USB_DEVICE,
    ChannelState,
    FrameParser,
    HwDisconnect,
    HwGetInfo,
    HwReqInfo,
    HwRichResponse,
    HwStartUpdateMsgs,
    HwStopUpdateMsgs,
    Message,
    ModGetChanEnableState,
    ModIdentify,
    ModReqChanEnableState,
    ModSetChanEnableState,
    MotAckDcStatusUpdate,
    MotGetDcStatusUpdate,
    MotGetHomeParams,
    MotGetPosCounter,
    MotGetStatusBits,
    MotGetStatusUpdate,
    MotGetVelParams,
    MotMoveAbsolute,
    MotMoveCompleted,
    MotMoveHome,
    MotMoveHomed,
    MotMoveRelative,
    MotMoveStop,
    MotMoveStopped,
    MotReqDcStatusUpdate,
    MotReqHomeParams,
    MotReqPosCounter,
    MotReqStatusBits,
    MotReqStatusUpdate,
    MotReqVelParams,
    MotSetHomeParams,
    MotSetPosCounter,
    MotSetVelParams,
    ProtocolError,
    StatusBits,
    decode,
)
from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING, StageScaling
from drivers.validation import check_choice
from sim_backends.emulators.server import DeviceProtocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _ModelProfile:
    reported_model: str
    notes: str
    firmware: tuple[int, int, int, int]  # minor, interim, major, unused
    scaling: StageScaling
    is_dc_servo: bool


_PROFILES: dict[str, _ModelProfile] = {
    "K10CR1": _ModelProfile("K10CR1", "APT Stepper Motor Controller", (10, 0, 3, 0),
                            K10CR1_SCALING, is_dc_servo=False),
    "PRM1Z8": _ModelProfile("KDC101", "Brushed DC Servo Controller", (14, 0, 3, 0),
                            PRM1Z8_SCALING, is_dc_servo=True),
}

#: Kinesis default velocity profile for both stages, deg/s and deg/s^2
_DEFAULT_MAX_VELOCITY_DEG_S = 10.0
_DEFAULT_ACCELERATION_DEG_S2 = 10.0
_RICH_RESPONSE_REFUSED = 1


class AptEmulator(DeviceProtocol):
    """One APT rotation-stage controller on one connection, moving ``stage``."""

    UPDATE_PERIOD_S = 0.1

    def __init__(self, stage: RotationStage, model: str = "K10CR1",
                 serial_number: int = 55000001, *,
                 now: Callable[[], float] = time.monotonic) -> None:
        check_choice("model", model, tuple(_PROFILES))
        self.stage = stage
        if not stage.is_connected:
            stage.connect()
        self.profile = _PROFILES[model]
        self.serial_number = serial_number
        self._now = now
        self._parser = FrameParser()
        self._scaling = self.profile.scaling
        self.channel_enabled = True
        self.homed = False
        self._offset_counts = 0
        self._pending: type[Message] | None = None  # completion message owed to the host
        self._direction = 0
        self._updates = False
        self._next_update = 0.0
        self.velocity_params = (0, self._scaling.accel_to_device(_DEFAULT_ACCELERATION_DEG_S2),
                                self._scaling.velocity_to_device(_DEFAULT_MAX_VELOCITY_DEG_S))
        self.home_params = (1, 1, self._scaling.velocity_to_device(_DEFAULT_MAX_VELOCITY_DEG_S), 0)
        #: every message the host sent, decoded (tests inspect it)
        self.received: list[Message] = []

    # ----------------------------------------------------------------- DeviceProtocol
    def feed(self, data: bytes) -> bytes:
        replies = bytearray()
        for frame in self._parser.feed(data):
            try:
                message = decode(frame)
            except ProtocolError as exc:
                log.warning("APT emulator: undecodable frame %s: %s", frame.hex(" "), exc)
                continue
            self.received.append(message)
            if message.dest != USB_DEVICE:
                log.debug("APT emulator: ignoring %s for address 0x%02X", message.name, message.dest)
                continue
            reply = self._handle(message)
            if reply is not None:
                replies += reply.encode()
        dropped = self._parser.take_discarded()
        if dropped:
            log.warning("APT emulator: discarded %d unframed bytes from host", len(dropped))
        return bytes(replies)

    def unsolicited(self) -> bytes:
        out = bytearray()
        if self._pending is not None and not self.stage.is_moving():
            out += self._completion(self._pending).encode()
            self._pending = None
        if self._updates and self._now() >= self._next_update:
            out += self._status_update().encode()
            self._next_update = self._now() + self.UPDATE_PERIOD_S
        return bytes(out)

    # ----------------------------------------------------------------- state
    @property
    def position_counts(self) -> int:
        return self._scaling.deg_to_counts(self.stage.get_position()) + self._offset_counts

    def status_bits(self) -> StatusBits:
        bits = StatusBits.CONNECTED
        if self.channel_enabled:
            bits |= StatusBits.ENABLED
        if self.homed:
            bits |= StatusBits.HOMED
        moving = self.stage.is_moving()
        if moving and self._pending is MotMoveHomed:
            bits |= StatusBits.HOMING
        elif moving:
            bits |= StatusBits.MOVING_REV if self._direction < 0 else StatusBits.MOVING_FWD
        elif self.profile.is_dc_servo:
            bits |= StatusBits.SETTLED
        return bits

    # ----------------------------------------------------------------- handlers
    def _reply(self, message: Message) -> Message:
        """Address ``message`` from this unit to the host."""
        return replace(message, dest=HOST, source=USB_DEVICE)

    def _handle(self, message: Message) -> Message | None:
        channel = getattr(message, "channel", 1)
        match message:
            case HwReqInfo():
                return self._reply(HwGetInfo(self.serial_number, self.profile.reported_model, 16,
                                             self.profile.firmware, self.profile.notes,
                                             hw_version=1, mod_state=0, n_channels=1))
            case HwStartUpdateMsgs():
                self._updates = True
                self._next_update = self._now()
            case HwStopUpdateMsgs():
                self._updates = False
            case HwDisconnect() | ModIdentify() | MotAckDcStatusUpdate():
                pass
            case ModSetChanEnableState(state=state):
                self.channel_enabled = state == ChannelState.ENABLED
            case ModReqChanEnableState():
                state = ChannelState.ENABLED if self.channel_enabled else ChannelState.DISABLED
                return self._reply(ModGetChanEnableState(channel, state))
            case MotSetPosCounter(position=position):
                self._offset_counts += position - self.position_counts
            case MotReqPosCounter():
                return self._reply(MotGetPosCounter(channel, self.position_counts))
            case MotSetVelParams(min_velocity=vmin, acceleration=acc, max_velocity=vmax):
                self.velocity_params = (vmin, acc, vmax)
            case MotReqVelParams():
                return self._reply(MotGetVelParams(channel, *self.velocity_params))
            case MotSetHomeParams(home_direction=d, limit_switch=s, home_velocity=v,
                                  offset_distance=o):
                self.home_params = (d, s, v, o)
            case MotReqHomeParams():
                return self._reply(MotGetHomeParams(channel, *self.home_params))
            case MotReqStatusBits():
                return self._reply(MotGetStatusBits(channel, self.status_bits()))
            case MotReqStatusUpdate():
                return self._reply(MotGetStatusUpdate(channel, self.position_counts, 0,
                                                      self.status_bits()))
            case MotReqDcStatusUpdate():
                return self._reply(MotGetDcStatusUpdate(channel, self.position_counts, 0, 0,
                                                        self.status_bits()))
            case MotMoveAbsolute(position=target):
                return self._start_move(message, target)
            case MotMoveRelative(distance=distance):
                return self._start_move(message, self.position_counts + distance)
            case MotMoveHome():
                return self._start_home()
            case MotMoveStop():
                self.stage.stop()
                self._pending = None
                return self._completion(MotMoveStopped)
            case _:
                log.info("APT emulator: no handler for %s", message.name)
        return None

    def _start_move(self, message: Message, target_counts: int) -> Message | None:
        if not self.channel_enabled:
            log.info("APT emulator: %s ignored, channel disabled", message.name)
            return None
        target_deg = self._scaling.counts_to_deg(target_counts - self._offset_counts)
        self._direction = (target_counts > self.position_counts) - (target_counts < self.position_counts)
        try:
            self.stage.move_to(target_deg, wait=False)
        except (ValueError, InstrumentError) as exc:
            return self._reply(HwRichResponse(int(message.MSG_ID), _RICH_RESPONSE_REFUSED,
                                              str(exc)[:64]))
        self._pending = MotMoveCompleted
        return None

    def _start_home(self) -> Message | None:
        if not self.channel_enabled:
            log.info("APT emulator: MOT_MOVE_HOME ignored, channel disabled")
            return None
        self._offset_counts = 0
        self.stage.home(wait=False)
        self._pending = MotMoveHomed
        return None

    def _completion(self, kind: type[Message]) -> Message:
        if kind is MotMoveHomed:
            self.homed = True
            return self._reply(MotMoveHomed(1))
        block_type = MotMoveStopped if kind is MotMoveStopped else MotMoveCompleted
        return self._reply(block_type(1, self.position_counts, 0, self.status_bits()))

    def _status_update(self) -> Message:
        if self.profile.is_dc_servo:
            return self._reply(MotGetDcStatusUpdate(1, self.position_counts, 0, 0,
                                                    self.status_bits()))
        return self._reply(MotGetStatusUpdate(1, self.position_counts, 0, self.status_bits()))
