"""PlanContext: the only door through which an experiment plan touches the rig.

A thin facade: the plumbing every plan needs (emit points, progress, notes, sleep, checkpoints,
nested plans) and one capability object per part of the rig, each in its own module under
``acquisition/capabilities/``::

    ctx.beam.set_density(d)      ctx.beam.measure()        ctx.beam.off()      (pump beam)
    ctx.power.ensure()           (power calibration, readback checks)
    ctx.detection.count(dwell)   ctx.detection.count_trace(dwell, bin)           (APD)
    ctx.tcspc.histogram(...)     ctx.chopper.run(f, duty)  ctx.chopper.stop()
    ctx.cryostat.set(kelvin)     ctx.control.prepare(...)  ctx.control.pulse(s)
    ctx.stages.move(role, deg)

Every call is a checkpoint at which the engine honours abort, pause and the interlocks:

- a density setpoint above the rig limit less the power meter's stated uncertainty is refused
  before anything moves, and any pick-off reading above the limit itself blocks the beam; both
  raise InterlockError and end the run failed with the interlock's message;
- an APD rate above the rig limit (counts, traces, rate probes during waits and stage moves, the
  TCSPC histogram; judged over the chopper's open phase when it runs) closes the pump and
  emission shutters and pauses the run until the operator resumes (the point is then measured
  again);
- a cryostat temperature out of its band pauses the run until the temperature has been back in
  band for the rig's stability time, then the run resumes by itself;
- while the plan waits (``ctx.sleep``), the count rate and temperature are checked at a fixed rate.

Operator pause holds the sample as it is (beam, chopper, temperature): closing the shutter would
erase the bistable state a sweep is following.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acquisition.calibration import CalibrationStore, PowerCalibration
from acquisition.capabilities.beam import PowerReading, PumpBeam
from acquisition.capabilities.chopper import ChopperControl
from acquisition.capabilities.control import ControlPath
from acquisition.capabilities.cryostat import Cryostat
from acquisition.capabilities.detection import CountResult, Detection
from acquisition.capabilities.power import READBACK_TOLERANCE, PowerControl
from acquisition.capabilities.stages import Stages
from acquisition.capabilities.tcspc import Tcspc
from acquisition.capabilities.waiting import Waiting
from acquisition.events import Event, PointData, PointTaken, Progress
from acquisition.interlocks import InterlockLimits
from acquisition.run_control import RunControl
from drivers.attenuator import PowerAttenuator
from drivers.errors import InstrumentError

log = logging.getLogger(__name__)

__all__ = ["PlanContext", "RunSession", "PowerReading", "CountResult", "READBACK_TOLERANCE"]


@dataclass
class RunSession:
    """State shared by a run's contexts (a temperature series runs several plans in one run)."""

    rig: Any
    control: RunControl
    publish: Callable[[Event], None]
    limits: InterlockLimits
    calibration_store: CalibrationStore
    run_plan: Callable[["PlanContext", str, dict[str, Any]], dict[str, Any]]
    stream_indices: dict[str, int] = field(default_factory=dict)
    target_temperature_k: float | None = None
    attenuator: PowerAttenuator | None = None
    calibration: PowerCalibration | None = None
    calibrated_in_run: bool = False
    #: why the stored calibration was not reused (None: it was, or there was none)
    stale_calibration: str | None = None
    #: density settings read back on the pick-off, and those off the calibrated prediction
    readback_checked: int = 0
    readback_max_deviation: float = 0.0  # largest |measured / predicted - 1|
    readback_deviations: list[dict[str, float]] = field(default_factory=list)
    beam_on: bool = False
    pump_setpoint_w: float | None = None  # the pump power the beam was last opened with
    started_at: float = 0.0
    progress_origin: tuple[float, int] | None = None
    chopper_duty: float | None = None  # open fraction while the chopper runs, None when stopped
    chopper_frequency_hz: float | None = None  # while the chopper runs (count-rate judgement)


class PlanContext:
    """Facade handed to a plan. ``stream_prefix`` namespaces the streams of a nested plan."""

    def __init__(self, session: RunSession, params: dict[str, Any], stream_prefix: str = "") -> None:
        self.session = session
        self.params = params
        self.stream_prefix = stream_prefix
        self.log = logging.getLogger(f"acquisition.run.{session.control.run_id}")
        self.waiting = Waiting(self)
        self.beam = PumpBeam(self)
        self.power = PowerControl(self)
        self.detection = Detection(self)
        self.tcspc = Tcspc(self)
        self.chopper = ChopperControl(self)
        self.cryostat = Cryostat(self)
        self.control = ControlPath(self)
        self.stages = Stages(self)

    # ---- the run and the rig ---------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.session.control.run_id

    @property
    def clock(self) -> Any:
        return self.session.rig.clock

    @property
    def limits(self) -> InterlockLimits:
        return self.session.limits

    @property
    def rig_config(self) -> Any:
        return self.session.rig.config

    @property
    def beam_area_m2(self) -> float:
        """The pump's 1/e2 area at the sample (densities are power over it)."""
        return math.pi * float(self.rig_config.beam.beam_radius_m) ** 2

    def has_instrument(self, role: str) -> bool:
        return getattr(self.session.rig, role, None) is not None

    def instrument(self, role: str) -> Any:
        """The instrument in ``role`` (InstrumentError naming the role when the rig has none)."""
        instrument = getattr(self.session.rig, role, None)
        if instrument is None:
            raise InstrumentError(role, "-", role, f"this rig has no {role}; add it to the rig file")
        return instrument

    # ---- plumbing ----------------------------------------------------------------------------
    def run_plan(self, experiment: str, params: dict[str, Any], stream_prefix: str = "") -> dict[str, Any]:
        """Run another experiment's plan inside this run (its streams get ``stream_prefix``)."""
        child = PlanContext(self.session, params, self.stream_prefix + stream_prefix)
        return self.session.run_plan(child, experiment, params)

    def emit(self, stream: str, data: PointData) -> int:
        """Send one measured point to every subscriber now; returns its index in the stream."""
        name = self.stream_prefix + stream
        index = self.session.stream_indices.get(name, 0)
        self.session.stream_indices[name] = index + 1
        self.session.publish(PointTaken(self.run_id, name, index, dict(data)))
        # a point the run file could not take ends the run here, before anything else moves
        self.session.control.raise_if_failed()
        return index

    def progress(self, done: int, total: int | None, message: str = "") -> None:
        # the ETA extrapolates from the first progress report, not from the run start, so a
        # long temperature stabilisation before the first point does not inflate it
        now = self.clock.now()
        if self.session.progress_origin is None or done <= self.session.progress_origin[1]:
            self.session.progress_origin = (now, done)
        t0, done0 = self.session.progress_origin
        eta = (now - t0) / (done - done0) * (total - done) if total and done > done0 else None
        self.session.publish(Progress(self.run_id, done, total, message, eta))

    def note(self, message: str) -> None:
        """Say something to the operator (CLI progress line, GUI status bar) and the log."""
        self.log.info(message)
        self.session.publish(Progress(self.run_id, 0, None, message, None))

    def checkpoint(self) -> None:
        """Honour abort, operator pause and the temperature interlock."""
        self.waiting.checkpoint()

    def sleep(self, seconds: float) -> None:
        """Wait on the rig clock, checking interlocks meanwhile."""
        self.waiting.sleep(seconds)

    def wall_time(self) -> float:
        """Unix time for records (the rig clock may be virtual)."""
        return time.time()
