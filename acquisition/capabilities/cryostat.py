"""The cryostat: setpoints reached and held stable, the heater range, the temperature interlock.

The heater range for a setpoint is the controller's own choice (``TemperatureController.
choose_heater_range``: the simulated controller knows its cryostat, a Lake Shore follows its
manual); a range that turns out too weak is raised here while waiting, when the heater saturates
and the temperature levels off short of the band.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from acquisition.capabilities.waiting import INTERLOCK_POLL_S
from acquisition.events import RunState
from acquisition.interlocks import temperature_in_band, temperature_limit_error
from drivers.errors import InstrumentError, InterlockError
from drivers.interfaces import HEATER_RANGE_NAMES

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

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


class Cryostat:
    """The temperature controller (role ``cryostat``) as a plan sees it."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def read(self) -> float:
        if not self._ctx.has_instrument("cryostat"):
            return math.nan
        return float(self._ctx.instrument("cryostat").get_temperature())

    def check_band(self) -> None:
        target = self._ctx.session.target_temperature_k
        if target is None or not self._ctx.has_instrument("cryostat"):
            return
        temperature = self.read()
        if temperature_in_band(temperature, target, self._ctx.limits):
            return
        self._ctx.waiting.interlock("temperature", f"temperature={temperature:.3f} K is outside the band "
                                                   f"{target:g} +- {self._ctx.limits.temperature_band_k:g} K")
        reason = f"temperature {temperature:.2f} K out of band"
        self._ctx.session.control.set_state(RunState.PAUSED, reason)
        self.wait_stable(target, timeout_s=TEMPERATURE_TIMEOUT_S, paused_reason=reason)
        self._ctx.session.control.set_state(RunState.RUNNING, "temperature back in band")

    def wait_stable(self, target: float, timeout_s: float, escalate: bool = False,
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
        clock, control = self._ctx.clock, self._ctx.session.control
        cryostat = self._ctx.instrument("cryostat")
        deadline = clock.now() + timeout_s
        in_band_since: float | None = None
        # a cryostat moves on a scale of minutes: a coarser poll keeps long waits cheap
        poll_s = max(INTERLOCK_POLL_S, self._ctx.limits.temperature_stable_s / 30.0)
        trend: list[tuple[float, float]] = []  # (time, reading) while the heater is pinned
        trend_kind: str | None = None
        while True:
            held_from = clock.now()
            if self._ctx.waiting.honour_operator():
                deadline += clock.now() - held_from
                in_band_since, trend, trend_kind = None, [], None
                self._ctx.log.info("resumed while waiting for %.3f K: waiting for stability again", target)
                if paused_reason is not None:
                    control.set_state(RunState.PAUSED, paused_reason)
            now = clock.now()
            temperature = self.read()
            if temperature_in_band(temperature, target, self._ctx.limits):
                in_band_since = now if in_band_since is None else in_band_since
                if now - in_band_since >= self._ctx.limits.temperature_stable_s:
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
                            self._ctx.note(f"cryostat: heater {HEATER_RANGE_NAMES[heater_range]} range at "
                                           f"{cryostat.get_heater_output():.0f} % levels off at "
                                           f"~{levels_off_k:.1f} K, short of the {target:g} K setpoint: "
                                           f"switching to the {HEATER_RANGE_NAMES[heater_range + 1]} range")
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
        if temperature < target - self._ctx.limits.temperature_band_k and (
                heater_range == 0 or output >= HEATER_SATURATED_PCT):
            return "heating"
        if temperature > target + self._ctx.limits.temperature_band_k and output <= HEATER_IDLE_PCT:
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
        band = self._ctx.limits.temperature_band_k
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

    def set(self, kelvin: float) -> None:
        """New cryostat setpoint; returns when the temperature has been stable in band.

        A setpoint outside the rig's [min_temperature_k, max_temperature_k] is refused before
        anything moves (InterlockError). The heater range is the controller's choice
        (``choose_heater_range``), raised while waiting if the heater saturates and the
        temperature levels off short of the band.
        """
        self._ctx.checkpoint()
        refused = temperature_limit_error("temperature_k", kelvin, self._ctx.limits.min_temperature_k,
                                          self._ctx.limits.max_temperature_k)
        if refused is not None:
            self._ctx.waiting.interlock("temperature", refused)
            raise InterlockError(refused)
        cryostat = self._ctx.instrument("cryostat")
        choice = cryostat.choose_heater_range(kelvin, tolerance_k=self._ctx.limits.temperature_band_k)
        heater_range, why = choice.heater_range, choice.reason
        self._ctx.log.info("cryostat setpoint -> %.3f K; waiting for stability", kelvin)
        cryostat.set_setpoint(kelvin)
        if heater_range is not None and heater_range != int(cryostat.get_heater_range()):
            self._ctx.log.info("heater range -> %s: %s", HEATER_RANGE_NAMES[heater_range], why)
            cryostat.set_heater_range(heater_range)
        self._ctx.session.target_temperature_k = None  # no interlock trips while we are getting there
        started = self._ctx.clock.now()
        self.wait_stable(kelvin, timeout_s=TEMPERATURE_TIMEOUT_S, escalate=True)
        self._ctx.session.target_temperature_k = kelvin
        self._ctx.log.info("temperature stable at %.3f K after %.0f s (heater %s)", self.read(),
                           self._ctx.clock.now() - started, self._heater_state(cryostat))

    def set_ramp(self, rate_k_per_min: float) -> None:
        """Ramp later setpoint changes at ``rate_k_per_min`` instead of stepping them."""
        self._ctx.checkpoint()
        self._ctx.log.info("cryostat ramp %.3g K/min", rate_k_per_min)
        self._ctx.instrument("cryostat").set_ramp(True, rate_k_per_min / 60.0)

    def hold_current(self) -> None:
        """No temperature asked for: the interlock guards the present setpoint while the heater
        regulates. With the heater off the cryostat runs free towards its bath (after a
        temperature series' safe state, say): nothing holds a band there, so there is no band
        and the temperature is recorded with every point."""
        if not self._ctx.has_instrument("cryostat"):
            return
        cryostat = self._ctx.instrument("cryostat")
        if cryostat.get_heater_range() > 0:
            target = float(cryostat.get_setpoint())
            self._ctx.session.target_temperature_k = target
            self._ctx.log.info("temperature interlock band: %.3f +- %g K", target,
                               self._ctx.limits.temperature_band_k)
        else:
            self._ctx.session.target_temperature_k = None
            self._ctx.note(f"heater off: the cryostat runs free (now {self.read():.2f} K); no "
                           "temperature band, the temperature is recorded with every point")
