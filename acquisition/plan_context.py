"""PlanContext: the only door through which an experiment plan touches the rig.

A plan describes steps (``ctx.set_power_density``, ``ctx.count``, ``ctx.sleep``, ``ctx.emit`` ...);
every call is a checkpoint at which the engine honours abort, pause and the interlocks:

- a power density above the rig limit is refused before anything moves (InterlockError);
- an APD rate above the rig limit closes the pump shutter and pauses the run until the operator
  resumes (the point is then measured again);
- a cryostat temperature out of its band pauses the run until the temperature has been back in
  band for the rig's stability time, then the run resumes by itself;
- while the plan waits (``ctx.sleep``), the count rate and temperature are checked at a fixed rate.

Operator pause holds the sample as it is (beam, chopper, temperature): closing the shutter would
erase the bistable state a sweep is following.
"""
from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acquisition.blades import blade_for
from acquisition.calibration import CalibrationStore, PowerCalibration, fit_malus
from acquisition.events import Event, InterlockTripped, PointData, PointTaken, Progress, RunState
from acquisition.interlocks import (InterlockLimits, check_power_density, count_rate_exceeded,
                                    temperature_in_band, temperature_limit_error)
from acquisition.run_control import RunControl
from drivers.attenuator import AttenuatorSetting, PowerAttenuator
from drivers.errors import InstrumentError, InterlockError

log = logging.getLogger(__name__)

#: how often interlocks are checked while a plan waits (rig-clock seconds)
INTERLOCK_POLL_S = 0.25
#: the short count taken to check the APD rate while waiting
RATE_PROBE_S = 0.01
#: output stabilisation after the pump's emission is switched on (diode-pumped lasers rise
#: over a fraction of a second; the sample must not see the ramp)
PUMP_WARMUP_S = 2.0
#: measured/set density mismatch that triggers a warning (and, above the limit, the interlock)
READBACK_TOLERANCE = 0.1
#: how long a chopper may take to reach its frequency
CHOPPER_SPINUP_TIMEOUT_S = 30.0
#: heater ranges of a Lake Shore output (``TemperatureController.HEATER_RANGES``)
HEATER_RANGE_NAMES = ("off", "low", "medium", "high")
#: without a model of the cryostat (real rigs): medium range, high above this setpoint; a range
#: that turns out too weak is raised at run time (see STALL_WINDOW_S)
HIGH_RANGE_ABOVE_K = 200.0
#: with a model (simulated or emulated cryostat): the lowest range whose full scale covers the
#: power that holds the setpoint against the bath with this fraction to spare for regulation
HEATER_HEADROOM = 0.8
#: heater output (percent) at or above which the heater counts as saturated, at or below which idle
HEATER_SATURATED_PCT = 99.0
HEATER_IDLE_PCT = 0.5
#: while the heater is saturated (or idle) outside the band, the temperature's trend over this
#: much rig-clock time decides whether it is still approaching the band; if it is not (it levels
#: off short of the band), the next heater range is tried, or the run ends with the reason
STALL_WINDOW_S = 300.0
#: "not approaching": less progress over the window than this fraction of the remaining gap
STALL_PROGRESS_FRACTION = 0.05
#: the longest a run waits for the cryostat to reach a new setpoint
TEMPERATURE_TIMEOUT_S = 4 * 3600.0
#: stage moves: first look after this long (short plate steps are over by then), then at the
#: estimated end of the move but at least every INTERLOCK_POLL_S (abort/pause honoured each time)
STAGE_FIRST_POLL_S = 0.01
STAGE_MIN_POLL_S = 0.002
#: a move still going after this long (rig clock) has failed
STAGE_MOVE_TIMEOUT_S = 180.0
#: a stage that stops farther than this from its target is sent there again with a blocking move
#: (the controller had not started yet when polled, or stopped short: the driver reports why)
STAGE_TOLERANCE_DEG = 0.05


def heater_range_for(kelvin: float, bath_k: float, conductance_w_k: float,
                     full_scale_w: list[float]) -> tuple[int, float]:
    """(heater range, heater power in W) to hold ``kelvin`` on a cold finger coupled to a bath at
    ``bath_k`` by ``conductance_w_k``: the lowest range whose full scale covers the power with
    HEATER_HEADROOM, else the highest (which may not hold it: the caller checks the power)."""
    needed_w = max(kelvin - bath_k, 0.0) * conductance_w_k
    for index, full_w in enumerate(full_scale_w):
        if needed_w <= HEATER_HEADROOM * full_w:
            return index + 1, needed_w
    return len(full_scale_w), needed_w


class _PolledStage:
    """A rotation stage whose waiting moves go through ``PlanContext.move_stage_polled``: the move
    starts without waiting and is polled through checkpoints (abort, pause, interlocks)."""

    def __init__(self, ctx: "PlanContext", role: str, stage: Any) -> None:
        self._ctx, self._role, self._stage = ctx, role, stage

    def move_to(self, angle_deg: float, wait: bool = True) -> None:
        if wait:
            self._ctx.move_stage_polled(self._role, self._stage, angle_deg)
        else:
            self._stage.move_to(angle_deg, wait=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stage, name)


@dataclass(frozen=True)
class PowerReading:
    """A pick-off reading and what it means at the sample."""

    pickoff_w: float
    sample_w: float
    density_w_m2: float


@dataclass(frozen=True)
class CountResult:
    counts: int
    dwell_s: float

    @property
    def rate_cps(self) -> float:
        return self.counts / self.dwell_s


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


class PlanContext:
    """Facade handed to a plan. ``stream_prefix`` namespaces the streams of a nested plan."""

    def __init__(self, session: RunSession, params: dict[str, Any], stream_prefix: str = "") -> None:
        self._s = session
        self.params = params
        self.stream_prefix = stream_prefix
        self.log = logging.getLogger(f"acquisition.run.{session.control.run_id}")

    # ---- identity / plumbing ---------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._s.control.run_id

    @property
    def clock(self) -> Any:
        return self._s.rig.clock

    @property
    def limits(self) -> InterlockLimits:
        return self._s.limits

    @property
    def beam_radius_m(self) -> float:
        return float(self._s.rig.config.beam.beam_radius_m)

    @property
    def beam_area_m2(self) -> float:
        return math.pi * self.beam_radius_m ** 2

    @property
    def rig_config(self) -> Any:
        return self._s.rig.config

    @property
    def calibrated_in_run(self) -> bool:
        return self._s.calibrated_in_run

    @property
    def calibration(self) -> PowerCalibration | None:
        return self._s.calibration

    def has_instrument(self, role: str) -> bool:
        return getattr(self._s.rig, role, None) is not None

    def _instrument(self, role: str) -> Any:
        instrument = getattr(self._s.rig, role, None)
        if instrument is None:
            raise InstrumentError(role, "-", role, f"this rig has no {role}; add it to the rig file")
        return instrument

    def run_plan(self, experiment: str, params: dict[str, Any], stream_prefix: str = "") -> dict[str, Any]:
        """Run another experiment's plan inside this run (its streams get ``stream_prefix``)."""
        child = PlanContext(self._s, params, self.stream_prefix + stream_prefix)
        return self._s.run_plan(child, experiment, params)

    def emit(self, stream: str, data: PointData) -> int:
        """Send one measured point to every subscriber now; returns its index in the stream."""
        name = self.stream_prefix + stream
        index = self._s.stream_indices.get(name, 0)
        self._s.stream_indices[name] = index + 1
        self._s.publish(PointTaken(self.run_id, name, index, dict(data)))
        return index

    def progress(self, done: int, total: int | None, message: str = "") -> None:
        # the ETA extrapolates from the first progress report, not from the run start, so a
        # long temperature stabilisation before the first point does not inflate it
        now = self.clock.now()
        if self._s.progress_origin is None or done <= self._s.progress_origin[1]:
            self._s.progress_origin = (now, done)
        t0, done0 = self._s.progress_origin
        eta = (now - t0) / (done - done0) * (total - done) if total and done > done0 else None
        self._s.publish(Progress(self.run_id, done, total, message, eta))

    def note(self, message: str) -> None:
        """Say something to the operator (CLI progress line, GUI status bar) and the log."""
        self.log.info(message)
        self._s.publish(Progress(self.run_id, 0, None, message, None))

    # ---- checkpoints and waiting -----------------------------------------------------------
    def checkpoint(self) -> None:
        """Honour abort, operator pause and the temperature interlock."""
        self._honour_operator()
        self._check_temperature()

    def _honour_operator(self) -> bool:
        """Raise on abort; hold while the operator pauses. True if it held (the run was paused)."""
        control = self._s.control
        control.raise_if_aborted()
        if control.pause_requested:
            # on top of an interlock pause too: the new reason is published (run_control)
            self.log.info("pausing at a safe point on operator request")
            control.hold_until_resumed("paused by operator", already_requested=True)
            return True
        return False

    def sleep(self, seconds: float) -> None:
        """Wait on the rig clock, checking interlocks every INTERLOCK_POLL_S."""
        self.checkpoint()
        remaining = float(seconds)
        while remaining > 1e-12:
            chunk = min(remaining, INTERLOCK_POLL_S)
            probe = RATE_PROBE_S if self._s.beam_on and chunk > 2 * RATE_PROBE_S else 0.0
            if not self.clock.sleep(chunk - probe, self._s.control.stop_event):
                self._s.control.raise_if_aborted()
            if probe:
                self._guarded_count(probe)
            remaining -= chunk
            self.checkpoint()

    def _interlock(self, name: str, detail: str) -> None:
        # the CLI prints its own "avalab: INTERLOCK ..." line from the event (REPORTED_BY_CLI)
        self.log.warning("interlock %s: %s", name, detail, extra={"reported_by_cli": True})
        self._s.publish(InterlockTripped(self.run_id, name, detail))

    # ---- temperature -----------------------------------------------------------------------
    def read_temperature(self) -> float:
        if not self.has_instrument("cryostat"):
            return math.nan
        return float(self._s.rig.cryostat.get_temperature())

    def _check_temperature(self) -> None:
        target = self._s.target_temperature_k
        if target is None or not self.has_instrument("cryostat"):
            return
        temperature = self.read_temperature()
        if temperature_in_band(temperature, target, self.limits):
            return
        self._interlock("temperature", f"temperature={temperature:.3f} K is outside the band "
                                       f"{target:g} +- {self.limits.temperature_band_k:g} K")
        reason = f"temperature {temperature:.2f} K out of band"
        self._s.control.set_state(RunState.PAUSED, reason)
        self._wait_temperature_stable(target, timeout_s=TEMPERATURE_TIMEOUT_S, paused_reason=reason)
        self._s.control.set_state(RunState.RUNNING, "temperature back in band")

    def _wait_temperature_stable(self, target: float, timeout_s: float, escalate: bool = False,
                                 paused_reason: str | None = None) -> None:
        """Wait (rig clock) until the temperature has stayed in band for the stability time.

        Outside the band with the heater saturated (or idle), the temperature must keep
        approaching the band: if it levels off short of it, the next heater range is tried
        (``escalate``) or the run ends at once with what was set, what was reached and what to do.

        Every poll is a checkpoint: abort ends the wait, an operator pause holds it. While paused
        the cryostat keeps regulating (setpoint and heater range untouched); after resume the wait
        goes on, with the stability time counted afresh (the temperature was not watched while
        paused) and the timeout moved on by the time spent paused. ``paused_reason``: the wait is
        itself a pause (temperature interlock); the run goes back to PAUSED after an operator
        resume until the temperature is stable.
        """
        clock, control = self.clock, self._s.control
        cryostat = self._s.rig.cryostat
        deadline = clock.now() + timeout_s
        in_band_since: float | None = None
        # a cryostat moves on a scale of minutes: a coarser poll keeps long waits cheap
        poll_s = max(INTERLOCK_POLL_S, self.limits.temperature_stable_s / 30.0)
        trend: list[tuple[float, float]] = []  # (time, reading) while the heater is pinned
        trend_kind: str | None = None
        while True:
            held_from = clock.now()
            if self._honour_operator():
                deadline += clock.now() - held_from
                in_band_since, trend, trend_kind = None, [], None
                self.log.info("resumed while waiting for %.3f K: waiting for stability again", target)
                if paused_reason is not None:
                    control.set_state(RunState.PAUSED, paused_reason)
            now = clock.now()
            temperature = self.read_temperature()
            if temperature_in_band(temperature, target, self.limits):
                in_band_since = now if in_band_since is None else in_band_since
                if now - in_band_since >= self.limits.temperature_stable_s:
                    return
                trend, trend_kind = [], None
            else:
                in_band_since = None
                kind = self._heater_pinned(cryostat, target, temperature)
                if kind != trend_kind:
                    trend, trend_kind = [], kind
                if kind is not None:
                    trend.append((now, temperature))
                    levels_off_k = self._levels_off_short(trend, target, kind)
                    if levels_off_k is not None:
                        heater_range = int(cryostat.get_heater_range())
                        if escalate and kind == "heating" and heater_range < len(HEATER_RANGE_NAMES) - 1:
                            self.note(f"cryostat: heater {HEATER_RANGE_NAMES[heater_range]} range at "
                                      f"{cryostat.get_heater_output():.0f} % levels off at ~{levels_off_k:.1f} K, "
                                      f"short of the {target:g} K setpoint: switching to the "
                                      f"{HEATER_RANGE_NAMES[heater_range + 1]} range")
                            cryostat.set_heater_range(heater_range + 1)
                            trend, trend_kind = [], None
                        else:
                            raise InstrumentError("cryostat", "-", f"SETP {target:g}", self._unreachable_reason(
                                cryostat, target, temperature, kind, levels_off_k))
            if now > deadline:
                raise InstrumentError("cryostat", "-", f"SETP {target:g}",
                                      f"temperature_k={target:g} K not stable within {timeout_s:g} s: reading "
                                      f"{temperature:.2f} K, heater {self._heater_state(cryostat)}; check the "
                                      "cryostat (LN2, heater, PID) or widen limits.temperature_band_k")
            clock.sleep(poll_s, control.stop_event)

    @staticmethod
    def _heater_state(cryostat: Any) -> str:
        heater_range = int(cryostat.get_heater_range())
        if heater_range == 0:
            return "off"
        return f"{HEATER_RANGE_NAMES[heater_range]} range at {float(cryostat.get_heater_output()):.0f} %"

    def _heater_pinned(self, cryostat: Any, target: float, temperature: float) -> str | None:
        """"heating" when below the band with no heater power left, "cooling" when above it with
        the heater doing nothing: the temperature then follows the cryostat, not the loop."""
        heater_range = int(cryostat.get_heater_range())
        output = float(cryostat.get_heater_output()) if heater_range > 0 else 0.0
        if temperature < target - self.limits.temperature_band_k and (
                heater_range == 0 or output >= HEATER_SATURATED_PCT):
            return "heating"
        if temperature > target + self.limits.temperature_band_k and output <= HEATER_IDLE_PCT:
            return "cooling"
        return None

    def _levels_off_short(self, trend: list[tuple[float, float]], target: float, kind: str) -> float | None:
        """Where the temperature is heading if that is short of the band, else None.

        Judged over the last STALL_WINDOW_S: stalled when the progress over the window is below
        STALL_PROGRESS_FRACTION of the gap left to the band; and, for a first-order approach
        (steps over the two halves of the window shrinking), when the extrapolated level
        (geometric series of the half-window steps) stays outside the band.
        """
        now = trend[-1][0]
        while len(trend) > 2 and trend[1][0] <= now - STALL_WINDOW_S:
            del trend[0]
        t0, temp0 = trend[0]
        if now - t0 < STALL_WINDOW_S:
            return None
        sign = 1.0 if kind == "heating" else -1.0
        band = self.limits.temperature_band_k
        temp2 = trend[-1][1]
        temp1 = min(trend, key=lambda item: abs(item[0] - (t0 + now) / 2.0))[1]
        gap = sign * (target - temp2) - band
        step1, step2 = sign * (temp1 - temp0), sign * (temp2 - temp1)
        if step1 + step2 < STALL_PROGRESS_FRACTION * gap:
            return temp2
        if step1 > 0.0 and 0.0 < step2 < step1 and step1 - step2 > 0.05:
            ratio = step2 / step1
            level = temp2 + sign * step2 * ratio / (1.0 - ratio)
            if sign * (target - level) > band:
                return level
        return None

    def _unreachable_reason(self, cryostat: Any, target: float, temperature: float, kind: str,
                            levels_off_k: float) -> str:
        reached = f"it levels off at ~{levels_off_k:.1f} K (reading {temperature:.2f} K)"
        if kind == "heating":
            return (f"temperature_k={target:g} K cannot be reached: {reached} with the heater "
                    f"{self._heater_state(cryostat)}; set a lower temperature_k, or check the heater "
                    "(wiring, resistance, range) and the rig's max_temperature_k")
        return (f"temperature_k={target:g} K cannot be reached: {reached} with the heater "
                f"{self._heater_state(cryostat)}, held there by the coolant; set a higher temperature_k, "
                "or check the LN2 level and the rig's min_temperature_k")

    def _cryostat_model(self) -> Any | None:
        """The simulated cryostat's parameters when the cryostat role is on this rig's bench
        (``sim`` or an emulated Lake Shore); None for real hardware."""
        from acquisition.rig import EMULATOR_ADDRESS, SIM_DRIVER

        rig = self._s.rig
        role = getattr(getattr(rig, "config", None), "roles", {}).get("cryostat")
        if getattr(rig, "bench", None) is None or role is None:
            return None
        if role.driver != SIM_DRIVER and role.address != EMULATOR_ADDRESS:
            return None
        return rig.config.sim.cryostat

    def _choose_heater_range(self, cryostat: Any, kelvin: float) -> tuple[int | None, str]:
        """(range to set or None to keep the present one, why) for a new setpoint."""
        current = int(cryostat.get_heater_range())
        model = self._cryostat_model()
        if model is not None:
            conductance = model.heat_capacity_j_k / model.time_constant_s
            full_scale = [float(w) for w in model.heater_full_scale_w]
            heater_range, needed_w = heater_range_for(kelvin, model.bath_temperature_k, conductance, full_scale)
            if needed_w > full_scale[-1]:
                reach = model.bath_temperature_k + full_scale[-1] / conductance
                raise InstrumentError("cryostat", "-", f"SETP {kelvin:g}",
                                      f"temperature_k={kelvin:g} K cannot be reached: holding it needs "
                                      f"~{needed_w:.3g} W, the heater's high range gives {full_scale[-1]:g} W "
                                      f"(reach ~{reach:.0f} K); set a lower temperature_k")
            return heater_range, (f"holding {kelvin:g} K against the {model.bath_temperature_k:g} K bath needs "
                                  f"~{needed_w:.2g} W of the {HEATER_RANGE_NAMES[heater_range]} range's "
                                  f"{full_scale[heater_range - 1]:g} W")
        if kelvin > float(cryostat.get_temperature()) + self.limits.temperature_band_k or current == 0:
            # LN2 holds the cold end; regulating above it needs the heater. The low range
            # (0.5 W on the ST-500) cannot hold much above the bath, medium can; a range that
            # turns out too weak is raised while waiting (never lowered here: it may have been)
            wanted = 3 if kelvin > HIGH_RANGE_ABOVE_K else 2
            return max(wanted, current), ("no heater model for this cryostat: medium range, high above "
                                          f"{HIGH_RANGE_ABOVE_K:g} K, raised if the heater saturates short of the band")
        return None, "keeping the present range"

    def set_temperature(self, kelvin: float) -> None:
        """New cryostat setpoint; returns when the temperature has been stable in band.

        A setpoint outside the rig's [min_temperature_k, max_temperature_k] is refused before
        anything moves (InterlockError). The heater range is the lowest that holds the setpoint
        (from the cryostat model when there is one), raised while waiting if the heater saturates
        and the temperature levels off short of the band.
        """
        self.checkpoint()
        refused = temperature_limit_error("temperature_k", kelvin, self.limits.min_temperature_k,
                                          self.limits.max_temperature_k)
        if refused is not None:
            self._interlock("temperature", refused)
            raise InterlockError(refused)
        cryostat = self._instrument("cryostat")
        heater_range, why = self._choose_heater_range(cryostat, kelvin)
        self.log.info("cryostat setpoint -> %.3f K; waiting for stability", kelvin)
        cryostat.set_setpoint(kelvin)
        if heater_range is not None and heater_range != int(cryostat.get_heater_range()):
            self.log.info("heater range -> %s: %s", HEATER_RANGE_NAMES[heater_range], why)
            cryostat.set_heater_range(heater_range)
        self._s.target_temperature_k = None  # no interlock trips while we are getting there
        started = self.clock.now()
        self._wait_temperature_stable(kelvin, timeout_s=TEMPERATURE_TIMEOUT_S, escalate=True)
        self._s.target_temperature_k = kelvin
        self.log.info("temperature stable at %.3f K after %.0f s (heater %s)", self.read_temperature(),
                      self.clock.now() - started, self._heater_state(cryostat))

    def set_cryostat_ramp(self, rate_k_per_min: float) -> None:
        """Ramp later setpoint changes at ``rate_k_per_min`` instead of stepping them."""
        self.checkpoint()
        self.log.info("cryostat ramp %.3g K/min", rate_k_per_min)
        self._instrument("cryostat").set_ramp(True, rate_k_per_min / 60.0)

    def hold_current_temperature(self) -> None:
        """No temperature asked for: the interlock guards the present setpoint while the heater
        regulates. With the heater off the cryostat runs free towards its bath (after a
        temperature series' safe state, say): nothing holds a band there, so there is no band
        and the temperature is recorded with every point."""
        if not self.has_instrument("cryostat"):
            return
        cryostat = self._s.rig.cryostat
        if cryostat.get_heater_range() > 0:
            target = float(cryostat.get_setpoint())
            self._s.target_temperature_k = target
            self.log.info("temperature interlock band: %.3f +- %g K", target, self.limits.temperature_band_k)
        else:
            self._s.target_temperature_k = None
            self.note(f"heater off: the cryostat runs free (now {self.read_temperature():.2f} K); no "
                      "temperature band, the temperature is recorded with every point")

    # ---- pump power ------------------------------------------------------------------------
    def laser_power_w(self) -> float:
        """The fixed pump setpoint the calibration was made at (power control is by the optics)."""
        return self.ensure_calibration().laser_power_w

    def objective_power_from_pickoff(self, pickoff_w: float) -> float:
        """Power entering the objective: the pick-off reading over the pick-off ratio.

        Reported densities are this power over the 1/e2 beam area (physics.md convention); the
        objective transmission is part of the rig's beam calibration, not of the figure.
        """
        return pickoff_w / float(self._s.rig.config.beam.pickoff_ratio)

    def ensure_calibration(self) -> PowerCalibration:
        """The rig's stored calibration, or a fresh one measured now (and said so)."""
        if self._s.calibration is None:
            rig_name = self._s.rig.config.name
            stored, stale = self._s.calibration_store.load_for_rig(self._s.rig)
            if stored is None:
                self._s.stale_calibration = stale
                if stale:
                    self.log.warning("%s", stale)
                self.note(f"{stale or f'no stored power calibration for rig {rig_name!r}'}: calibrating first")
                self.run_plan("calibrate", {}, stream_prefix="")
                stored = self._s.calibration
                self._s.calibrated_in_run = True
            assert stored is not None
            self.use_calibration(stored)
        assert self._s.calibration is not None
        return self._s.calibration

    @property
    def rig_name(self) -> str:
        return str(self._s.rig.config.name)

    def move_stage(self, role: str, angle_deg: float) -> None:
        """Move a rotation stage directly (calibration only: it maps the stages it moves)."""
        self.checkpoint()
        self.move_stage_polled(role, self._instrument(role), angle_deg)

    def move_stage_polled(self, role: str, stage: Any, angle_deg: float) -> None:
        """Start a move without waiting and poll it through checkpoints until it has ended.

        Abort and operator pause are honoured at every poll, the temperature interlock every
        INTERLOCK_POLL_S, and while the pump beam is on the count-rate interlock too (a
        RATE_PROBE_S count, as in ``sleep``); on abort (or any error) the stage is stopped before
        the exception goes on to the engine, which then puts the whole rig in its safe state. The
        poll follows the
        move: first after STAGE_FIRST_POLL_S, then at the end estimated from the speed seen so
        far, at least every INTERLOCK_POLL_S.
        """
        self._follow_move(role, f"move_to {angle_deg:g}", stage.stop,
                          lambda: stage.move_to(angle_deg, wait=False), stage.is_moving,
                          lambda: abs(angle_deg - float(stage.get_position())),
                          lambda: f"{float(stage.get_position()):.3f} deg")
        if abs(float(stage.get_position()) - angle_deg) > STAGE_TOLERANCE_DEG:
            stage.move_to(angle_deg, wait=True)

    def move_xy_stage(self, x_m: float, y_m: float) -> None:
        """Move the sample stage to (x, y) (m, stage coordinates) as an abortable checkpoint.

        The target is checked against the stage's limits before anything moves; the move is
        followed like ``move_stage_polled`` (abort stops the stage where it is)."""
        stage = self._instrument("xy_stage")
        x_m, y_m = stage.limits.check("xy_stage", x_m, y_m)
        self.checkpoint()

        def remaining() -> float:
            x, y = stage.get_position()
            return math.hypot(x_m - x, y_m - y)

        self._follow_move("xy_stage", f"move_to ({x_m * 1e3:g}, {y_m * 1e3:g}) mm", stage.stop,
                          lambda: stage.move_to(x_m, y_m, wait=False), stage.is_moving, remaining,
                          lambda: "({:.4f}, {:.4f}) mm".format(*(1e3 * v for v in stage.get_position())))

    def _follow_move(self, role: str, command: str, stop: Callable[[], None],
                     start: Callable[[], None], is_moving: Callable[[], bool],
                     remaining: Callable[[], float], where: Callable[[], str]) -> None:
        """Start a move and poll it through checkpoints until it has ended (see
        ``move_stage_polled``); ``remaining`` is the distance still to go, in any unit."""
        clock, control = self.clock, self._s.control
        started = last_check = clock.now()
        try:
            distance = remaining()
            start()
            wait_s = STAGE_FIRST_POLL_S
            while True:
                if not clock.sleep(wait_s, control.stop_event):
                    control.raise_if_aborted()
                now = clock.now()
                if now - last_check >= INTERLOCK_POLL_S:
                    if self._s.beam_on:
                        # the move can raise the APD rate (brighter setting, the sample
                        # switching on): the same probe as ctx.sleep, so the count-rate interlock
                        # trips mid-move (shutters closed, paused; the move goes on behind the
                        # closed shutters and the point is measured after resume)
                        self._guarded_count(RATE_PROBE_S)
                    self.checkpoint()
                    last_check = now = clock.now()
                else:
                    self._honour_operator()
                if not is_moving():
                    break
                if now - started > STAGE_MOVE_TIMEOUT_S:
                    raise InstrumentError(role, "-", command,
                                          f"still moving after {STAGE_MOVE_TIMEOUT_S:g} s")
                left = remaining()
                travelled = distance - left
                if travelled > 0.0:
                    remaining_s = left * (now - started) / travelled
                    wait_s = min(max(remaining_s + 1e-6, STAGE_MIN_POLL_S), INTERLOCK_POLL_S)
                else:
                    wait_s = min(2.0 * wait_s, INTERLOCK_POLL_S)
        except BaseException:
            with contextlib.suppress(Exception):
                stop()
                self.log.warning("%s stopped at %s (%s interrupted)", role, where(), command)
            raise

    def set_power_meter_wavelength(self, wavelength_m: float) -> None:
        self._instrument("power_meter").set_wavelength(wavelength_m)

    def use_calibration(self, calibration: PowerCalibration, store: bool = False) -> None:
        """Use ``calibration`` for the rest of the run (and make it the rig's current one)."""
        if store:
            self._s.calibration_store.save(calibration)
        self._s.calibration = calibration
        wheel = getattr(self._s.rig, "nd_wheel", None)
        self._s.attenuator = PowerAttenuator(_PolledStage(self, "hwp", self._instrument("hwp")),
                                             None if wheel is None else _PolledStage(self, "nd_wheel", wheel),
                                             calibration, self.laser_power_w())
        self._s.attenuator.sync_from_stages()

    def _attenuator(self) -> PowerAttenuator:
        self.ensure_calibration()
        assert self._s.attenuator is not None
        return self._s.attenuator

    def check_density(self, density_w_m2: float, field_name: str = "power_density") -> None:
        try:
            check_power_density(density_w_m2, self.limits, field_name)
        except InterlockError as exc:
            self._interlock("power_density", str(exc))
            raise

    def check_reachable(self, density_w_m2: float) -> None:
        """ValueError (one line, kW/cm2) if the calibrated optics cannot deliver the density."""
        attenuator = self._attenuator()
        low, high = attenuator.min_power_w / self.beam_area_m2, attenuator.max_power_w / self.beam_area_m2
        if not low <= density_w_m2 <= high:
            raise ValueError(f"power_density={density_w_m2 / 1e7:g} kW/cm2 is outside what the calibrated "
                             f"optics deliver; allowed range [{low / 1e7:.3g}, {high / 1e7:.3g}] kW/cm2 "
                             "(recalibrate with another laser_power_w to move it)")

    def prepare_power_range(self, max_density_w_m2: float) -> None:
        """Fix the ND wheel for a scan up to ``max_density_w_m2`` (before the scan starts)."""
        self.checkpoint()
        self.check_density(max_density_w_m2)
        self.check_reachable(max_density_w_m2)
        self._attenuator().select_range(max_density_w_m2 * self.beam_area_m2)

    def set_power_density(self, density_w_m2: float) -> AttenuatorSetting:
        """Set the pump density at the sample (refused above the rig limit) and open the beam."""
        self.checkpoint()
        self.check_density(density_w_m2)
        self.check_reachable(density_w_m2)
        setting = self._attenuator().set_power(density_w_m2 * self.beam_area_m2)
        self.log.debug("density -> %.4g W/m2 (plate %.3f deg, wheel %.3f deg)",
                       density_w_m2, setting.plate_deg, setting.wheel_deg)
        self.beam_on()
        self._verify_density(density_w_m2, setting.predicted_power_w / self.beam_area_m2)
        return setting

    def _verify_density(self, setpoint_w_m2: float, predicted_w_m2: float | None = None) -> None:
        """Read the pick-off once the beam is on: a wrong calibration or a stage that did not
        move must not keep the sample above the limit (beam blocked, InterlockError)."""
        measured = self.objective_power_from_pickoff(float(self._instrument("power_meter").read_power()))
        density = measured / self.beam_area_m2
        if density > self.limits.max_power_density_w_m2 * (1 + READBACK_TOLERANCE):
            self.beam_off()
            self.check_density(density, "measured_density")
        # with the chopper running the meter (after the chopper) reads the average
        duty = self._s.chopper_duty if self._s.chopper_duty is not None else 1.0
        expected = (predicted_w_m2 if predicted_w_m2 is not None else setpoint_w_m2) * duty
        self._s.readback_checked += 1
        if expected > 0:
            self._s.readback_max_deviation = max(self._s.readback_max_deviation, abs(density / expected - 1.0))
        if abs(density - expected) > READBACK_TOLERANCE * expected:
            self._s.readback_deviations.append({"setpoint_w_m2": setpoint_w_m2, "predicted_w_m2": expected,
                                                "measured_w_m2": density})
            self.log.warning("measured density %.4g W/m2 differs from the calibrated prediction %.4g W/m2 "
                             "by more than %.0f %%; recalibrate", density, expected, 100 * READBACK_TOLERANCE)

    def beam_on(self, laser_power_w: float | None = None) -> None:
        """Pump emission on at its fixed setpoint (the calibration's unless given) and shutter open."""
        if self._s.beam_on:
            return
        pump = self._instrument("pump")
        power_w = self.laser_power_w() if laser_power_w is None else float(laser_power_w)
        pump.set_power(power_w)
        self._s.pump_setpoint_w = power_w
        if not pump.get_emission():
            if self.has_instrument("pump_shutter"):
                self._s.rig.pump_shutter.close_shutter()
            pump.set_emission(True)
            self.log.info("pump emission on; %g s warm-up behind the closed shutter", PUMP_WARMUP_S)
            self.sleep(PUMP_WARMUP_S)
        if self.has_instrument("emission_shutter") and not self._s.rig.emission_shutter.is_open():
            self._s.rig.emission_shutter.open()  # detection path: closed only around control pulses
        if self.has_instrument("pump_shutter"):
            self._s.rig.pump_shutter.open()
        self._s.beam_on = True
        self.log.info("pump beam on")

    def beam_off(self) -> None:
        """Block the pump (shutter closed; emission off when there is no shutter)."""
        if self.has_instrument("pump_shutter"):
            self._s.rig.pump_shutter.close_shutter()
        else:
            self._instrument("pump").set_emission(False)
        self._s.beam_on = False
        self.log.info("pump beam blocked")

    def measure_power(self) -> PowerReading:
        """Read the pick-off power meter; what it means at the sample and as a density."""
        self.checkpoint()
        pickoff = float(self._instrument("power_meter").read_power())
        sample = self.objective_power_from_pickoff(pickoff)
        return PowerReading(pickoff, sample, sample / self.beam_area_m2)

    # ---- photon counting -------------------------------------------------------------------
    def _guarded_count(self, dwell_s: float) -> CountResult:
        while True:
            counts = int(self._instrument("counter").count(dwell_s))
            result = CountResult(counts, dwell_s)
            if not count_rate_exceeded(result.rate_cps, self.limits):
                return result
            self._count_rate_trip(result.rate_cps)

    def _count_rate_trip(self, rate_cps: float) -> None:
        # the excitation goes (pump shutter) and the detector is shielded (emission shutter),
        # whatever the light source was; beam_on reopens both on resume
        self.beam_off()
        if self.has_instrument("emission_shutter"):
            self._s.rig.emission_shutter.close_shutter()
        self._interlock("count_rate", f"count_rate={rate_cps:.4g} cps is above the rig limit "
                                      f"{self.limits.max_count_rate_cps:.4g} cps; pump and emission "
                                      "shutters closed")
        self._s.control.hold_until_resumed(f"count rate {rate_cps:.3g} cps above limit")
        # reopen at the power the beam had (calibration runs set their own, not the stored one's)
        self.beam_on(self._s.pump_setpoint_w)

    def count(self, dwell_s: float) -> CountResult:
        """APD counts over ``dwell_s`` (re-measured after a count-rate trip and resume)."""
        self.checkpoint()
        return self._guarded_count(dwell_s)

    def count_trace(self, dwell_s: float, bin_s: float) -> np.ndarray:
        """Counts in bins of ``bin_s`` over ``dwell_s``; a bin above the rate limit trips."""
        self.checkpoint()
        while True:
            trace = np.asarray(self._instrument("counter").count_trace(dwell_s, bin_s))
            peak_rate = float(trace.max()) / bin_s if trace.size else 0.0
            if not count_rate_exceeded(peak_rate, self.limits):
                return trace
            self._count_rate_trip(peak_rate)

    def histogram(self, acquisition_s: float, bin_width_s: float, n_bins: int) -> np.ndarray:
        """TCSPC histogram of arrival times after each sync/marker (chopper) edge."""
        self.checkpoint()
        return np.asarray(self._instrument("tagger").histogram(acquisition_s, bin_width_s, n_bins))

    # ---- chopper ---------------------------------------------------------------------------
    def set_chopper(self, frequency_hz: float, duty_cycle: float) -> str:
        """Choose the blade, spin up, wait until the blade runs at the frequency; returns the blade."""
        self.checkpoint()
        chopper = self._instrument("chopper")
        blade = blade_for(frequency_hz, duty_cycle)
        chopper.set_enabled(False)
        if chopper.get_blade() != blade.name:
            chopper.set_blade(blade.name)
        chopper.set_frequency(frequency_hz)
        if blade.variable_duty:
            chopper.set_duty_cycle(duty_cycle)
        chopper.set_enabled(True)
        deadline = self.clock.now() + CHOPPER_SPINUP_TIMEOUT_S
        while abs(chopper.get_actual_frequency() - frequency_hz) > max(0.01 * frequency_hz, 0.5):
            if self.clock.now() > deadline:
                raise InstrumentError("chopper", "-", f"freq={frequency_hz:g}",
                                      f"blade did not reach the frequency within {CHOPPER_SPINUP_TIMEOUT_S:g} s")
            self.sleep(0.2)
        self._s.chopper_duty = duty_cycle
        self.log.info("chopper: blade %s at %g Hz, duty %g", blade.name, frequency_hz, duty_cycle)
        return blade.name

    def stop_chopper(self) -> None:
        if self.has_instrument("chopper"):
            self._s.rig.chopper.set_enabled(False)
            self._s.chopper_duty = None
            self.log.info("chopper stopped (beam continuous)")

    # ---- control laser ---------------------------------------------------------------------
    def prepare_control_laser(self, wavelength_m: float, density_w_m2: float,
                              angles_deg: np.ndarray | None = None) -> float:
        """Tune the control laser and set its attenuator for ``density_w_m2`` at the sample.

        The control path (fixed ND + rotating polariser) is measured first through the pick-off,
        with the pump blocked and the emission shutter closed: polariser angle -> control
        density, fitted with cos^2(theta - theta0). Returns the density the fit predicts.
        """
        self.checkpoint()
        laser = self._instrument("control_laser")
        attenuator = self._instrument("control_attenuator")
        laser.set_shutter(False)
        if not laser.get_emission():
            laser.set_emission(True)
        laser.set_wavelength(wavelength_m)
        laser.wait_tuned()
        self.beam_off()
        area = float(self._s.rig.config.beam.control_beam_area_m2)
        meter = self._instrument("power_meter")
        meter.set_wavelength(wavelength_m)
        angles = np.linspace(0.0, 180.0, 13) if angles_deg is None else np.asarray(angles_deg)
        densities = []
        for angle in angles:
            # move in the dark, then a short exposure per reading: the sample sees steps, not ramps
            self.checkpoint()
            self.move_stage_polled("control_attenuator", attenuator, float(angle))
            with self._control_beam_open():
                densities.append(self.objective_power_from_pickoff(float(meter.read_power())) / area)
        meter.set_wavelength(float(self._s.rig.config.beam.pump_wavelength_m))
        fit = fit_malus(angles, np.asarray(densities), harmonic=1)
        self._s.calibration_store.save_control_range(self._s.rig.config, wavelength_m, fit.lowest, fit.highest)
        if not fit.lowest <= density_w_m2 <= fit.highest:
            raise ValueError(f"control_density={density_w_m2 / 1e4:g} W/cm2 is outside what the control "
                             f"path delivers at {wavelength_m * 1e9:.0f} nm; allowed range "
                             f"[{fit.lowest / 1e4:.3g}, {fit.highest / 1e4:.3g}] W/cm2")
        self.move_stage_polled("control_attenuator", attenuator, fit.angle_for(density_w_m2))
        self.log.info("control laser %.1f nm: polariser %.2f deg for %.3g W/cm2 (path max %.3g W/cm2)",
                      wavelength_m * 1e9, fit.angle_for(density_w_m2), density_w_m2 / 1e4, fit.highest / 1e4)
        return fit.transmission(fit.angle_for(density_w_m2))

    @contextlib.contextmanager
    def _control_beam_open(self) -> Iterator[None]:
        """Control beam on the sample with the APD path blocked; everything closed afterwards."""
        laser = self._instrument("control_laser")
        emission_shutter = getattr(self._s.rig, "emission_shutter", None)
        control_shutter = getattr(self._s.rig, "control_shutter", None)
        if emission_shutter is not None:
            emission_shutter.close_shutter()
        try:
            laser.set_shutter(True)
            if control_shutter is not None:
                control_shutter.open()
            yield
        finally:
            if control_shutter is not None:
                control_shutter.close_shutter()
            laser.set_shutter(False)
            if emission_shutter is not None:
                emission_shutter.open()

    def control_pulse(self, duration_s: float) -> None:
        """Open the control beam for ``duration_s`` with the emission path blocked meanwhile."""
        self.checkpoint()
        with self._control_beam_open():
            self.log.info("control pulse: %.3g s", duration_s)
            if not self.clock.sleep(duration_s, self._s.control.stop_event):
                self._s.control.raise_if_aborted()

    def wall_time(self) -> float:
        """Unix time for records (the rig clock may be virtual)."""
        return time.time()
