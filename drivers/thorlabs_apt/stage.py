"""Thorlabs APT/Kinesis rotation stages: K10CR1 and PRM1Z8 on a KDC101 (instruments.md s.2).

Registered in ``drivers.registry`` as ``k10cr1`` and ``kdc101_prm1z8``; constructed as
``cls(name=role, address=address, clock=clock, **options)`` with options ``min_deg``/``max_deg``
(soft limits, e.g. for an ND wheel; both within -360..360), ``timeout_s`` (per reply),
``home_timeout_s`` and ``channel``.

Motion: ``move_to``/``move_by``/``home`` send MOT_MOVE_ABSOLUTE / MOT_MOVE_RELATIVE /
MOT_MOVE_HOME and, with ``wait``, return on MOT_MOVE_COMPLETED / MOT_MOVE_HOMED. The move timeout
is derived from the distance and the velocity profile read at connect (MOT_GET_VELPARAMS): twice
the trapezoidal-profile time plus 2 s. If the completion frame is lost (dropped link), a status-bit
poll after 1 s without news ends the wait once the motion bits are clear. A MOT_MOVE_STOPPED
during the wait (someone called ``stop``) raises InstrumentError. ``last_motion_event`` keeps the
message that ended the last wait (None when it ended by status poll).

Waiting: every wait here is a serial read bounded by a wall-time deadline (the link is real even
when the rig clock is virtual). On a virtual rig clock (a simulated stage behind an emulator) each
idle read slice of a motion wait also advances that clock by VIRTUAL_STEP_S, so the simulated stage
moves and the emulator sends its completion frame; on a real clock the serial wait is the wait.
``serial_factory(address, timeout_s=...)`` replaces pyserial (tests script the bytes with it).

UNVERIFIED (kept visible on purpose):

- the 14-byte MOT_MOVE_COMPLETED status block layout on the K10CR1 (only channel, position and
  status bits are used, which both candidate layouts share);
- the model string in HW_GET_INFO: taken to be "K10CR1" for the K10CR1 and "KDC101" for the
  K-Cube; a mismatch fails ``connect`` (scales differ ~70x, so a wrong class would move wildly);
  pass ``check_model=False`` to accept any;
- whether the KDC101 needs MOT_ACK_DCSTATUSUPDATE keep-alives when update messages were never
  started: the PRM1Z8 driver sends one every 0.9 s while waiting for motion, which is harmless;
- whether MOT_MOVE_STOP is answered with MOT_MOVE_STOPPED when the stage is idle: ``stop`` does
  not wait for it.
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

from drivers.addresses import check_serial_address
from drivers.clock import Clock
from drivers.errors import InstrumentConnectionError, InstrumentError
from drivers.interfaces import RotationStage
from drivers.thorlabs_apt.protocol import (
    USB_DEVICE,
    ChannelState,
    HwDisconnect,
    HwGetInfo,
    HwReqInfo,
    Message,
    MessageId,
    ModIdentify,
    ModSetChanEnableState,
    MotAckDcStatusUpdate,
    MotGetPosCounter,
    MotGetStatusBits,
    MotGetVelParams,
    MotMoveAbsolute,
    MotMoveCompleted,
    MotMoveHome,
    MotMoveHomed,
    MotMoveRelative,
    MotMoveStop,
    MotMoveStopped,
    MotReqPosCounter,
    MotReqStatusBits,
    MotReqVelParams,
    StatusBits,
    StopMode,
)
from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING, StageScaling
from drivers.thorlabs_apt.transport import AptTransport, SerialFactory
from drivers.validation import check_int_range, check_positive, check_range

log = logging.getLogger(__name__)

#: absolute angles any APT rotation stage accepts here (options may narrow it)
ANGLE_LIMIT_DEG = 360.0
#: largest single relative move
MAX_STEP_DEG = 360.0
_MOVE_TIMEOUT_FACTOR = 2.0
_MOVE_TIMEOUT_BASE_S = 2.0
_HOME_DISTANCE_DEG = 360.0  # worst case: homing may search a full turn for the index


class AptAxis:
    """One single-channel APT motor behind a stand-alone USB controller (address 0x50), in the
    physical unit of its ``SCALING`` (degrees or metres). Rotation stages and the axes of the XY
    stage are built on it; it validates nothing but the link (callers check ranges first)."""

    #: model name the controller reports in HW_GET_INFO
    REPORTED_MODEL: ClassVar[str]
    SCALING: ClassVar[StageScaling]
    #: send MOT_ACK_DCSTATUSUPDATE while waiting for motion (DC servo K-Cubes)
    SENDS_KEEPALIVE: ClassVar[bool] = False
    #: longest distance a homing run may travel, in the scaling's unit
    HOME_DISTANCE: ClassVar[float] = _HOME_DISTANCE_DEG

    def __init__(self, name: str, address: str, clock: Clock, *,
                 timeout_s: float = 1.0, home_timeout_s: float | None = None, channel: int = 1,
                 check_model: bool = True, serial_factory: SerialFactory | None = None,
                 scaling: StageScaling | None = None) -> None:
        if serial_factory is None:  # a malformed port is refused when the rig loads, not at connect
            check_serial_address("address", address)
        self.name = name
        self.address = address
        self.scaling = scaling or self.SCALING
        self.timeout_s = check_positive(f"{name}.timeout_s", timeout_s, "s")
        self.home_timeout_s = (None if home_timeout_s is None
                               else check_positive(f"{name}.home_timeout_s", home_timeout_s, "s"))
        self.channel = check_int_range(f"{name}.channel", channel, 1, 4)
        self.clock = clock
        self.check_model = check_model
        self.destination = USB_DEVICE
        self.transport = AptTransport(name, address, timeout_s=self.timeout_s,
                                      serial_factory=serial_factory)
        self.info: HwGetInfo | None = None
        #: velocity profile read at connect, in the scaling's unit per s and per s^2
        self.max_velocity = 1.0
        self.acceleration = 1.0
        self.last_motion_event: Message | None = None

    # ----------------------------------------------------------------- life cycle
    @property
    def is_connected(self) -> bool:
        return self.transport.is_open and self.info is not None

    def connect(self) -> None:
        """Open the port, read HW_GET_INFO, enable the channel, read the velocity profile."""
        with self.transport.lock:
            if self.is_connected:
                return
            self.transport.open()
            try:
                self._handshake()
            except BaseException:
                self.info = None
                self.transport.close()
                raise

    def _handshake(self) -> None:
        info = self.transport.request(HwReqInfo(dest=self.destination), HwGetInfo)
        if self.check_model and info.model != self.REPORTED_MODEL:
            raise InstrumentError(self.name, self.address, "HW_REQ_INFO",
                                  f"device reports model {info.model!r}, expected "
                                  f"{self.REPORTED_MODEL!r} for {type(self).__name__}")
        self.transport.send(ModSetChanEnableState(self.channel, ChannelState.ENABLED,
                                                  dest=self.destination))
        velocity = self.transport.request(MotReqVelParams(self.channel, dest=self.destination),
                                          MotGetVelParams, predicate=self._same_channel)
        # a zero profile would make every move timeout infinite or zero; keep a sane floor
        floor = 1e3 * self.scaling.resolution
        self.max_velocity = max(self.scaling.velocity_from_device(velocity.max_velocity), floor)
        self.acceleration = max(self.scaling.accel_from_device(velocity.acceleration), floor)
        self.info = info
        unit = self.scaling.unit
        log.info("%s: connected to %s (%.3g %s/s, %.3g %s/s^2)", self.name, self.identify(),
                 self.max_velocity, unit, self.acceleration, unit)

    def close(self) -> None:
        with self.transport.lock:
            if self.transport.is_open:
                try:
                    self.transport.send(HwDisconnect(dest=self.destination))
                except InstrumentError as exc:
                    log.debug("%s: HW_DISCONNECT not delivered: %s", self.name, exc)
            self.info = None
            self.transport.close()

    def identify(self) -> str:
        info = self._require_info("identify")
        return (f"Thorlabs {info.model} serial {info.serial_number} firmware "
                f"{info.firmware_version} hw {info.hw_version}")

    def safe_state(self) -> None:
        """Stop motion; raises InstrumentError when the stage cannot be reached (the rig then
        reconnects once and reports a stage it still cannot stop)."""
        self.stop()

    # ----------------------------------------------------------------- motion
    def move_absolute(self, target: float, wait: bool, label: str) -> int:
        """MOT_MOVE_ABSOLUTE to ``target`` (scaling unit); ``label`` names it in timeouts.
        Returns the transport mark a later ``wait_motion`` starts from."""
        self._require_info("MOT_MOVE_ABSOLUTE")
        counts = self.scaling.to_counts(target)
        with self.transport.lock:
            distance = abs(target - self.get_position()) if wait else 0.0
            mark = self.transport.send(MotMoveAbsolute(self.channel, counts, dest=self.destination))
        if wait:
            self.wait_motion(mark, MotMoveCompleted, self._move_timeout(distance),
                             "MOT_MOVE_ABSOLUTE", f"MOT_MOVE_COMPLETED at {label}")
        return mark

    def start_relative(self, delta: float) -> int:
        """Send MOT_MOVE_RELATIVE by ``delta`` (scaling unit; the caller has checked the target);
        returns the transport mark a ``wait_motion`` starts from."""
        self._require_info("MOT_MOVE_RELATIVE")
        return self.transport.send(MotMoveRelative(self.channel, self.scaling.to_counts(delta),
                                                   dest=self.destination))

    def home(self, wait: bool = True) -> None:
        mark = self.start_home()
        if wait:
            self.wait_homed(mark)

    def start_home(self) -> int:
        self._require_info("MOT_MOVE_HOME")
        return self.transport.send(MotMoveHome(self.channel, dest=self.destination))

    def wait_homed(self, mark: int) -> None:
        timeout = self.home_timeout_s or self._move_timeout(self.HOME_DISTANCE)
        self.wait_motion(mark, MotMoveHomed, timeout, "MOT_MOVE_HOME", "MOT_MOVE_HOMED")

    def blink(self) -> None:
        """Flash the controller's front-panel LED (MOD_IDENTIFY) to find it on the bench."""
        self._require_info("MOD_IDENTIFY")
        self.transport.send(ModIdentify(dest=self.destination))

    def stop(self, immediate: bool = False) -> None:
        """Send MOT_MOVE_STOP (profiled deceleration unless ``immediate``); does not wait."""
        self._require_info("MOT_MOVE_STOP")
        mode = StopMode.IMMEDIATE if immediate else StopMode.PROFILED
        self.transport.send(MotMoveStop(self.channel, mode, dest=self.destination))

    # ----------------------------------------------------------------- state
    def get_position(self) -> float:
        self._require_info("MOT_REQ_POSCOUNTER")
        reply = self.transport.request(MotReqPosCounter(self.channel, dest=self.destination),
                                       MotGetPosCounter, predicate=self._same_channel)
        return self.scaling.from_counts(reply.position)

    def get_status(self) -> StatusBits:
        self._require_info("MOT_REQ_STATUSBITS")
        reply = self.transport.request(MotReqStatusBits(self.channel, dest=self.destination),
                                       MotGetStatusBits, predicate=self._same_channel)
        return reply.status

    def is_moving(self) -> bool:
        return self.get_status().in_motion

    # ----------------------------------------------------------------- internals
    def _same_channel(self, message: Message) -> bool:
        return getattr(message, "channel", self.channel) == self.channel

    def _require_info(self, command: str) -> HwGetInfo:
        if self.info is None:
            raise InstrumentConnectionError(self.name, self.address, command,
                                            "not connected (call connect() first)")
        return self.info

    def _profile_s(self, distance: float) -> float:
        """Duration of a trapezoidal velocity profile over ``distance``."""
        ramp_s = self.max_velocity / self.acceleration
        return distance / self.max_velocity + ramp_s

    def _move_timeout(self, distance: float) -> float:
        """Twice a trapezoidal profile's duration over ``distance``, plus a fixed margin."""
        return _MOVE_TIMEOUT_FACTOR * self._profile_s(distance) + _MOVE_TIMEOUT_BASE_S + self.timeout_s

    def wait_motion(self, mark: int, done_type: type[Message], timeout_s: float, command: str,
                     expected: str) -> None:
        def ends_motion(message: Message) -> bool:
            return isinstance(message, (done_type, MotMoveStopped)) and self._same_channel(message)

        keepalive = MotAckDcStatusUpdate(dest=self.destination) if self.SENDS_KEEPALIVE else None
        event = self.transport.wait_for(
            ends_motion, mark, timeout_s, command, expected=expected,
            error_for=(int(MessageId.MOT_MOVE_ABSOLUTE), int(MessageId.MOT_MOVE_RELATIVE),
                       int(MessageId.MOT_MOVE_HOME)),
            keepalive=keepalive, poll=lambda: not self.is_moving(),
            idle=(lambda: self.clock.sleep(VIRTUAL_STEP_S)) if self.clock.is_virtual else None)
        self.last_motion_event = event
        if isinstance(event, MotMoveStopped):
            raise InstrumentError(self.name, self.address, command,
                                  f"motion stopped at {self.scaling.from_counts(event.position):g}"
                                  f" {self.scaling.unit} before {expected}")
        status = getattr(event, "status", StatusBits(0))
        if status & StatusBits.MOTION_ERROR:
            raise InstrumentError(self.name, self.address, command,
                                  f"controller reports a motion error (status {status!r})")


#: rig-clock time a motion wait lets pass per idle read slice when the rig clock is virtual
VIRTUAL_STEP_S = 0.1


class AptRotationStage(AptAxis, RotationStage):
    """A single-channel APT rotation stage (degrees), with soft limits ``min_deg``/``max_deg``."""

    def __init__(self, name: str, address: str, clock: Clock, *,
                 min_deg: float = -ANGLE_LIMIT_DEG, max_deg: float = ANGLE_LIMIT_DEG,
                 **options: Any) -> None:
        RotationStage.__init__(self, name, address)
        self.min_deg = check_range(f"{name}.min_deg", min_deg, -ANGLE_LIMIT_DEG, ANGLE_LIMIT_DEG, "deg")
        self.max_deg = check_range(f"{name}.max_deg", max_deg, -ANGLE_LIMIT_DEG, ANGLE_LIMIT_DEG, "deg")
        if self.min_deg >= self.max_deg:
            raise ValueError(f"{name}.min_deg={self.min_deg:g} deg must be below "
                             f"{name}.max_deg={self.max_deg:g} deg")
        AptAxis.__init__(self, name, address, clock, **options)

    @property
    def max_velocity_deg_s(self) -> float:
        return self.max_velocity

    @property
    def acceleration_deg_s2(self) -> float:
        return self.acceleration

    def move_to(self, angle_deg: float, wait: bool = True) -> None:
        angle = check_range(f"{self.name}.angle_deg", angle_deg, self.min_deg, self.max_deg, "deg")
        self.move_absolute(angle, wait, f"{angle:g} deg")

    def move_by(self, delta_deg: float, wait: bool = True) -> None:
        delta = check_range(f"{self.name}.delta_deg", delta_deg, -MAX_STEP_DEG, MAX_STEP_DEG, "deg")
        self._require_info("MOT_MOVE_RELATIVE")
        with self.transport.lock:
            start = self.get_position()
            check_range(f"{self.name}.angle_deg (position {start:g} + delta {delta:g})",
                        start + delta, self.min_deg, self.max_deg, "deg")
            mark = self.start_relative(delta)
        if wait:
            self.wait_motion(mark, MotMoveCompleted, self._move_timeout(abs(delta)),
                             "MOT_MOVE_RELATIVE", f"MOT_MOVE_COMPLETED after {delta:g} deg")


class K10CR1Stage(AptRotationStage):
    """Thorlabs K10CR1 stepper rotation mount (integrated controller)."""

    model = "Thorlabs K10CR1"
    REPORTED_MODEL = "K10CR1"
    SCALING = K10CR1_SCALING


class PRM1Z8Stage(AptRotationStage):
    """Thorlabs PRM1Z8 rotation stage driven by a KDC101 K-Cube DC servo controller."""

    model = "Thorlabs KDC101 + PRM1Z8"
    REPORTED_MODEL = "KDC101"
    SCALING = PRM1Z8_SCALING
    SENDS_KEEPALIVE = True
