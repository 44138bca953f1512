"""Thorlabs APT/Kinesis controller emulator (K10CR1; KDC101 with a PRM1Z8, Z825B or MTS25-Z8), sans-IO.

Speaks the binary protocol of instruments.md section 2 and of the APT manual's message list (the
messages a host can send a K10CR1 / KDC101) as a stand-alone USB unit (address 0x50), and executes
moves on a backing axis (:class:`MotorAxis`, in the profile's unit: degrees for the rotation
stages, metres for the Z8 actuators): ``move_to(x, wait=False)`` starts a move, ``is_moving()``
tells when it has finished, at which point MOT_MOVE_COMPLETED (or MOT_MOVE_HOMED) is emitted
unsolicited, as the device does. After HW_START_UPDATEMSGS it sends MOT_GET_STATUSUPDATE (K10CR1)
or MOT_GET_DCSTATUSUPDATE (KDC101) every ``UPDATE_PERIOD_S``.

Messages: identity (HW_REQ_INFO; a KDC101 names its stage in HW_GET_INFO's stage id), update
messages on/off, flash-programming notices, channel enable, identify; position counter; velocity,
jog, home, limit-switch, general-move (backlash), relative-move and absolute-move parameters (set,
request -> get); MOT_MOVE_HOME, MOT_MOVE_RELATIVE / MOT_MOVE_ABSOLUTE in the long form (with the
distance) and the 6-byte short form (the stored MOVERELPARAMS / MOVEABSPARAMS), MOT_MOVE_JOG
(single step by the jog step size, or continuous to the end of travel until stopped),
MOT_MOVE_VELOCITY (at the maximum velocity until stopped), MOT_MOVE_STOP; status bits, status
updates (both forms), DC status keep-alives; suspend/resume of end-of-move messages.

Serve it with ``EmulatorServer(lambda: AptEmulator(stage, "K10CR1"), "k10cr1")``; one backing
axis may be shared by several connections (the position survives a reconnect). The emulator
connects the backing axis if it is not connected yet (the device's motor is always powered), and
the axis must make progress on its own: a bench on a virtual clock needs someone advancing it.
Controller state other than the position (homed flag, position-counter offset, parameters,
update messages) belongs to one connection and starts fresh on the next.

Emulator choices where the real behaviour is UNVERIFIED:

- the 14-byte status block of MOT_MOVE_COMPLETED / MOT_MOVE_STOPPED uses the stepper layout
  ``<HllL`` (aux = encoder count 0) for the K10CR1 and the DC layout ``<HlhHL`` (velocity 0,
  reserved 0) for the KDC101; both are encoded through the codec's layout-neutral ``aux`` field;
- MOT_MOVE_STOP is always answered with MOT_MOVE_STOPPED, even when idle;
- a move the backing axis refuses (ValueError, e.g. outside its range, or InstrumentError) is
  answered with HW_RICHRESPONSE (msg id of the move, code 1, the error text) and no completion;
- a linear actuator's moves beyond its travel stop at the end of travel with the hardware-limit
  status bit set (the limit switch); a rotation mount has no end: a continuous jog or a velocity
  move turns at most one revolution before it completes;
- both status-update requests are answered on both models;
- HW_GET_INFO identity: model "K10CR1" / "KDC101", hardware type 16, firmware 3.0.10 / 3.0.14;
  the KDC101's stage id (PRM1-Z8 6, MTS25-Z8 7, Z825 9) in the last two bytes before the hardware
  version (see ``protocol.HwGetInfo``).
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from drivers.errors import InstrumentError
from drivers.thorlabs_apt.protocol import (
    HOST,
    USB_DEVICE,
    ChannelState,
    Direction,
    FrameParser,
    HwDisconnect,
    HwGetInfo,
    HwNoFlashProgramming,
    HwReqInfo,
    HwRichResponse,
    HwStartUpdateMsgs,
    HwStopUpdateMsgs,
    HwYesFlashProgramming,
    JogMode,
    Message,
    ModGetChanEnableState,
    ModIdentify,
    ModReqChanEnableState,
    ModSetChanEnableState,
    MotAckDcStatusUpdate,
    MotGetDcStatusUpdate,
    MotGetGenMoveParams,
    MotGetHomeParams,
    MotGetJogParams,
    MotGetLimSwitchParams,
    MotGetMoveAbsParams,
    MotGetMoveRelParams,
    MotGetPosCounter,
    MotGetStatusBits,
    MotGetStatusUpdate,
    MotGetVelParams,
    MotMoveAbsolute,
    MotMoveAbsoluteStored,
    MotMoveCompleted,
    MotMoveHome,
    MotMoveHomed,
    MotMoveJog,
    MotMoveRelative,
    MotMoveRelativeStored,
    MotMoveStop,
    MotMoveStopped,
    MotMoveVelocity,
    MotReqDcStatusUpdate,
    MotReqGenMoveParams,
    MotReqHomeParams,
    MotReqJogParams,
    MotReqLimSwitchParams,
    MotReqMoveAbsParams,
    MotReqMoveRelParams,
    MotReqPosCounter,
    MotReqStatusBits,
    MotReqStatusUpdate,
    MotReqVelParams,
    MotResumeEndOfMoveMsgs,
    MotSetGenMoveParams,
    MotSetHomeParams,
    MotSetJogParams,
    MotSetLimSwitchParams,
    MotSetMoveAbsParams,
    MotSetMoveRelParams,
    MotSetPosCounter,
    MotSetVelParams,
    MotSuspendEndOfMoveMsgs,
    ProtocolError,
    StatusBits,
    StopMode,
    decode,
)
from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING, Z8_SCALING, StageScaling
from drivers.validation import check_choice
from sim_backends.emulators.server import DeviceProtocol

log = logging.getLogger(__name__)


class MotorAxis(Protocol):
    """What the emulator needs from the mechanics it drives (positions in the profile's unit).

    A :class:`drivers.interfaces.RotationStage` is one (degrees); so is one axis of the
    simulated XY stage (metres).
    """

    @property
    def is_connected(self) -> bool: ...

    def connect(self) -> None: ...

    def get_position(self) -> float: ...

    def move_to(self, position: float, wait: bool = True) -> None: ...

    def home(self, wait: bool = True) -> None: ...

    def is_moving(self) -> bool: ...

    def stop(self) -> None: ...

    # optional: ``travel_range`` (low, high) the axis accepts; continuous motion stays inside it


@dataclass(frozen=True)
class _ModelProfile:
    reported_model: str
    notes: str
    firmware: tuple[int, int, int, int]  # minor, interim, major, unused
    scaling: StageScaling
    is_dc_servo: bool
    stage_id: int = 0
    #: end-of-travel positions (limit switches) in the scaling's unit; None: endless rotation
    travel: tuple[float, float] | None = None
    #: Kinesis default velocity profile in the scaling's unit per s and per s^2
    max_velocity: float = 10.0
    acceleration: float = 10.0


_ROTATION_TURN_DEG = 360.0
_Z8_TRAVEL_M = (0.0, 25e-3)

_PROFILES: dict[str, _ModelProfile] = {
    "K10CR1": _ModelProfile("K10CR1", "APT Stepper Motor Controller", (10, 0, 3, 0),
                            K10CR1_SCALING, is_dc_servo=False),
    "PRM1Z8": _ModelProfile("KDC101", "Brushed DC Servo Controller", (14, 0, 3, 0),
                            PRM1Z8_SCALING, is_dc_servo=True, stage_id=6),
    "Z825B": _ModelProfile("KDC101", "Brushed DC Servo Controller", (14, 0, 3, 0),
                           Z8_SCALING, is_dc_servo=True, stage_id=9, travel=_Z8_TRAVEL_M,
                           max_velocity=2.3e-3, acceleration=1.5e-3),
    "MTS25Z8": _ModelProfile("KDC101", "Brushed DC Servo Controller", (14, 0, 3, 0),
                             Z8_SCALING, is_dc_servo=True, stage_id=7, travel=_Z8_TRAVEL_M,
                             max_velocity=2.3e-3, acceleration=1.5e-3),
}

_RICH_RESPONSE_REFUSED = 1
_HW_LIMIT_IGNORE, _HW_LIMIT_BREAKS = 1, 3
_SOFT_LIMIT_IGNORE = 1


@dataclass
class _Motion:
    """What the controller is doing: which completion it owes and which status bits it shows."""

    completion: type[Message]
    direction: int  # +1 forward, -1 reverse
    kind: str       # "move", "jog", "home"


class AptEmulator(DeviceProtocol):
    """One APT controller on one connection, moving ``stage`` (any :class:`MotorAxis`)."""

    UPDATE_PERIOD_S = 0.1

    def __init__(self, stage: MotorAxis, model: str = "K10CR1",
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
        self._motion: _Motion | None = None
        self._updates = False
        self._end_of_move_messages = True
        self._next_update = 0.0
        scale = self._scaling
        max_velocity = scale.velocity_to_device(self.profile.max_velocity)
        acceleration = scale.accel_to_device(self.profile.acceleration)
        self.velocity_params = (0, acceleration, max_velocity)
        self.home_params = (1, 1, max_velocity, 0)
        self.jog_params = (JogMode.SINGLE_STEP, scale.to_counts(self._default_jog_step()), 0,
                           acceleration, max_velocity, StopMode.PROFILED)
        hard = _HW_LIMIT_IGNORE if self.profile.travel is None else _HW_LIMIT_BREAKS
        self.limit_params = (hard, hard, 0, 0, _SOFT_LIMIT_IGNORE)
        self.backlash_counts = 0
        self.move_rel_counts = 0
        self.move_abs_counts = 0
        #: every message the host sent, decoded (tests inspect it)
        self.received: list[Message] = []

    def _default_jog_step(self) -> float:
        return 1.0 if self.profile.travel is None else 0.1e-3

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
        if self._motion is not None and not self.stage.is_moving():
            completion = self._completion(self._motion.completion)
            self._motion = None
            if self._end_of_move_messages:
                out += completion.encode()
        if self._updates and self._now() >= self._next_update:
            out += self._status_update().encode()
            self._next_update = self._now() + self.UPDATE_PERIOD_S
        return bytes(out)

    # ----------------------------------------------------------------- state
    @property
    def position_counts(self) -> int:
        return self._scaling.to_counts(self.stage.get_position()) + self._offset_counts

    def status_bits(self) -> StatusBits:
        bits = StatusBits.CONNECTED
        if self.channel_enabled:
            bits |= StatusBits.ENABLED
        if self.homed:
            bits |= StatusBits.HOMED
        bits |= self._limit_bits()
        if not self.stage.is_moving():
            return bits | StatusBits.SETTLED if self.profile.is_dc_servo else bits
        # the axis may be moving for another connection (a move started before a reconnect)
        motion = self._motion or _Motion(MotMoveCompleted, 1, "move")
        if motion.kind == "home":
            bits |= StatusBits.HOMING
        elif motion.kind == "jog":
            bits |= StatusBits.JOGGING_REV if motion.direction < 0 else StatusBits.JOGGING_FWD
        else:
            bits |= StatusBits.MOVING_REV if motion.direction < 0 else StatusBits.MOVING_FWD
        return bits

    def _limit_bits(self) -> StatusBits:
        travel = self.profile.travel
        if travel is None:
            return StatusBits(0)
        here = self.stage.get_position()
        resolution = self._scaling.resolution
        bits = StatusBits(0)
        if here <= travel[0] + resolution:
            bits |= StatusBits.REV_HARDWARE_LIMIT
        if here >= travel[1] - resolution:
            bits |= StatusBits.FWD_HARDWARE_LIMIT
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
                                             hw_version=1, mod_state=0, n_channels=1,
                                             stage_id=self.profile.stage_id))
            case HwStartUpdateMsgs():
                self._updates = True
                self._next_update = self._now()
            case HwStopUpdateMsgs():
                self._updates = False
            case (HwDisconnect() | ModIdentify() | MotAckDcStatusUpdate() | HwNoFlashProgramming()
                  | HwYesFlashProgramming()):
                pass
            case MotSuspendEndOfMoveMsgs():
                self._end_of_move_messages = False
            case MotResumeEndOfMoveMsgs():
                self._end_of_move_messages = True
            case ModSetChanEnableState(state=state):
                self.channel_enabled = state == ChannelState.ENABLED
            case ModReqChanEnableState():
                state = ChannelState.ENABLED if self.channel_enabled else ChannelState.DISABLED
                return self._reply(ModGetChanEnableState(channel, state))
            case MotSetPosCounter(position=position):
                self._offset_counts += position - self.position_counts
            case MotReqPosCounter():
                return self._reply(MotGetPosCounter(channel, self.position_counts))
            case _:
                return self._handle_parameters(message, channel)
        return None

    def _handle_parameters(self, message: Message, channel: int) -> Message | None:
        match message:
            case MotSetVelParams(min_velocity=vmin, acceleration=acc, max_velocity=vmax):
                self.velocity_params = (vmin, acc, vmax)
            case MotReqVelParams():
                return self._reply(MotGetVelParams(channel, *self.velocity_params))
            case MotSetHomeParams(home_direction=d, limit_switch=s, home_velocity=v,
                                  offset_distance=o):
                self.home_params = (d, s, v, o)
            case MotReqHomeParams():
                return self._reply(MotGetHomeParams(channel, *self.home_params))
            case MotSetJogParams():
                self.jog_params = message.payload_values()[1:]
            case MotReqJogParams():
                return self._reply(MotGetJogParams(channel, *self.jog_params))
            case MotSetLimSwitchParams():
                self.limit_params = message.payload_values()[1:]
            case MotReqLimSwitchParams():
                return self._reply(MotGetLimSwitchParams(channel, *self.limit_params))
            case MotSetGenMoveParams(backlash_distance=backlash):
                self.backlash_counts = backlash
            case MotReqGenMoveParams():
                return self._reply(MotGetGenMoveParams(channel, self.backlash_counts))
            case MotSetMoveRelParams(relative_distance=distance):
                self.move_rel_counts = distance
            case MotReqMoveRelParams():
                return self._reply(MotGetMoveRelParams(channel, self.move_rel_counts))
            case MotSetMoveAbsParams(absolute_position=position):
                self.move_abs_counts = position
            case MotReqMoveAbsParams():
                return self._reply(MotGetMoveAbsParams(channel, self.move_abs_counts))
            case _:
                return self._handle_status_and_motion(message, channel)
        return None

    def _handle_status_and_motion(self, message: Message, channel: int) -> Message | None:
        match message:
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
            case MotMoveAbsoluteStored():
                return self._start_move(message, self.move_abs_counts)
            case MotMoveRelative(distance=distance):
                return self._start_move(message, self.position_counts + distance)
            case MotMoveRelativeStored():
                return self._start_move(message, self.position_counts + self.move_rel_counts)
            case MotMoveJog(direction=direction):
                return self._start_jog(message, direction)
            case MotMoveVelocity(direction=direction):
                return self._start_move(message, self._end_of_travel(direction))
            case MotMoveHome():
                return self._start_home()
            case MotMoveStop():
                self.stage.stop()
                self._motion = None
                stopped = self._completion(MotMoveStopped)
                return stopped if self._end_of_move_messages else None
            case _:
                log.info("APT emulator: no handler for %s", message.name)
        return None

    def _sign(self, direction: int) -> int:
        return -1 if direction == Direction.REVERSE else 1

    def _end_of_travel(self, direction: int) -> int:
        """Where a move that runs until stopped ends: the limit switch, or one turn further."""
        sign = self._sign(direction)
        travel = self.profile.travel
        if travel is None:
            target = self.stage.get_position() + sign * _ROTATION_TURN_DEG
            # the backing mount may accept a narrower window than an endless rotation mount
            low, high = getattr(self.stage, "travel_range", (-math.inf, math.inf))
            return self._scaling.to_counts(min(max(target, low), high)) + self._offset_counts
        return self._scaling.to_counts(travel[1] if sign > 0 else travel[0]) + self._offset_counts

    def _start_jog(self, message: Message, direction: int) -> Message | None:
        mode, step = self.jog_params[0], self.jog_params[1]
        if mode == JogMode.CONTINUOUS:
            target = self._end_of_travel(direction)
        else:
            target = self.position_counts + self._sign(direction) * abs(step)
        return self._start_move(message, target, kind="jog")

    def _start_move(self, message: Message, target_counts: int, kind: str = "move") -> Message | None:
        if not self.channel_enabled:
            log.info("APT emulator: %s ignored, channel disabled", message.name)
            return None
        target = self._scaling.from_counts(target_counts - self._offset_counts)
        travel = self.profile.travel
        if travel is not None:  # the limit switch ends the move at the end of travel
            target = min(max(target, travel[0]), travel[1])
        here = self.position_counts
        direction = (target_counts > here) - (target_counts < here)
        try:
            self.stage.move_to(target, wait=False)
        except (ValueError, InstrumentError) as exc:
            return self._reply(HwRichResponse(int(message.MSG_ID), _RICH_RESPONSE_REFUSED,
                                              str(exc)[:64]))
        self._motion = _Motion(MotMoveCompleted, direction or 1, kind)
        return None

    def _start_home(self) -> Message | None:
        if not self.channel_enabled:
            log.info("APT emulator: MOT_MOVE_HOME ignored, channel disabled")
            return None
        self._offset_counts = 0
        self.stage.home(wait=False)
        self._motion = _Motion(MotMoveHomed, -1, "home")
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
