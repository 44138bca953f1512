"""Optical chopper: blade frequency with spin-up, duty cycle, phase, and its reference edges.

The reference output (the TCSPC marker) ticks at integer values of the reference phase; the blade
opens ``phase_deg`` later (as a fraction of a period) and stays open for ``duty`` of the period.
When disabled the controller brakes the blade and parks it in the open position, so CW
measurements need no blade removal (documented in docs/rig_config.md).
"""
from __future__ import annotations

import math

import numpy as np

from drivers.interfaces import BLADES

#: the blade frequency counts as spun up within this many time constants
SETTLE_TIME_CONSTANTS = 5.0


class ChopperModel:
    def __init__(self, spinup_time_constant_s: float) -> None:
        self.tau_s = spinup_time_constant_s
        self.blade = "MC1F10A"
        self.frequency_setpoint_hz = 100.0
        self.duty = 0.5
        self.phase_deg = 0.0
        self.enabled = False
        self._f_start = 0.0
        self._f_target = 0.0
        self._change_t = 0.0
        self._cycles_at_change = 0.0

    # --- state changes -------------------------------------------------------------------------
    def _retarget(self, t: float, target_hz: float) -> None:
        self._cycles_at_change = self.reference_cycles_at(t)
        self._f_start = self.frequency_at(t)
        self._f_target = target_hz
        self._change_t = t

    def set_enabled(self, t: float, on: bool) -> None:
        if on and not self.enabled:
            self._cycles_at_change = 0.0
            self._f_start = 0.0
            self._f_target = self.frequency_setpoint_hz
            self._change_t = t
        self.enabled = on

    def set_frequency(self, t: float, hz: float) -> None:
        self.frequency_setpoint_hz = hz
        if self.enabled:
            self._retarget(t, hz)

    def spun_up_t(self) -> float:
        return self._change_t + SETTLE_TIME_CONSTANTS * self.tau_s

    # --- kinematics ----------------------------------------------------------------------------
    def frequency_at(self, t: float) -> float:
        if not self.enabled:
            return 0.0
        if self.tau_s <= 0:
            return self._f_target
        dt = max(t - self._change_t, 0.0)
        return self._f_target + (self._f_start - self._f_target) * math.exp(-dt / self.tau_s)

    def reference_cycles_at(self, t: float) -> float:
        """Reference phase in cycles (integral of the blade frequency since the last change)."""
        if not self.enabled:
            return 0.0
        dt = max(t - self._change_t, 0.0)
        transient = 0.0
        if self.tau_s > 0:
            transient = (self._f_start - self._f_target) * self.tau_s * (1.0 - math.exp(-dt / self.tau_s))
        return self._cycles_at_change + self._f_target * dt + transient

    def blade_phase_deg_at(self, t: float) -> float:
        """Where the open window is at ``t``: 0 deg = the blade just started to open."""
        cycles = self.reference_cycles_at(t) - self.phase_deg / 360.0
        return (cycles % 1.0) * 360.0

    def is_chopping_at(self, t: float) -> bool:
        return self.enabled and self.frequency_at(t) > 0.0

    def mean_transmission_at(self, t: float) -> float:
        return self.duty if self.is_chopping_at(t) else 1.0

    def open_at(self, times_s: np.ndarray) -> np.ndarray:
        """Blade transmission (0/1) at each time (for stray-light traces)."""
        if not self.enabled:
            return np.ones_like(times_s)
        cycles = np.array([self.reference_cycles_at(float(t)) for t in times_s]) - self.phase_deg / 360.0
        return (np.mod(cycles, 1.0) < self.duty).astype(float)

    def reference_edges(self, t0: float, t1: float) -> np.ndarray:
        """Times of reference (marker) edges in [t0, t1)."""
        if not self.enabled or t1 <= t0:
            return np.empty(0)
        transient_end = self._change_t + 10.0 * max(self.tau_s, 0.0)
        grid = [t0, t1]
        if t0 < transient_end and self.tau_s > 0:
            grid.extend(np.linspace(max(t0, self._change_t), min(t1, transient_end), 4000))
        t_grid = np.unique(np.clip(np.array(grid), t0, t1))
        c_grid = np.array([self.reference_cycles_at(float(t)) for t in t_grid])
        first, last = math.floor(c_grid[0]) + 1, math.ceil(c_grid[-1]) - 1
        if c_grid[0] == math.floor(c_grid[0]):
            first = int(c_grid[0])
        if last < first:
            return np.empty(0)
        targets = np.arange(first, last + 1, dtype=float)
        return np.interp(targets, c_grid, t_grid)


def blade_limits(blade: str) -> tuple[float, float, float, float]:
    spec = BLADES[blade]
    return spec.min_hz, spec.max_hz, spec.min_duty, spec.max_duty
