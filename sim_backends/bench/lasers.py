"""Pump and control lasers: output power versus time (no read noise here; devices add it)."""
from __future__ import annotations

import math

from sim_backends.bench.config import ControlLaserParams, PumpParams


class PumpLaserModel:
    """CW 1064 nm laser in power regulation: setpoint, emission, warm-up after turn-on, slow drift."""

    def __init__(self, params: PumpParams, drift_phase_rad: float) -> None:
        self.params = params
        self.setpoint_w = 0.0
        self.emission = False
        self._on_t = -math.inf
        self._drift_phase = drift_phase_rad

    def set_emission(self, t: float, on: bool) -> None:
        if on and not self.emission:
            self._on_t = t
        self.emission = on

    def warmup_end_t(self) -> float:
        return self._on_t + 5.0 * self.params.warmup_time_constant_s

    def power_at(self, t: float) -> float:
        if not self.emission:
            return 0.0
        p = self.params
        drift = 1.0 + p.drift_rel * math.sin(2.0 * math.pi * t / p.drift_period_s + self._drift_phase)
        warm = 1.0
        if p.warmup_time_constant_s > 0:
            warm = 1.0 - math.exp(-max(t - self._on_t, 0.0) / p.warmup_time_constant_s)
        return self.setpoint_w * drift * warm


class ControlLaserModel:
    """Tunable Ti:Sapphire: Gaussian tuning curve, no output while it tunes, internal shutter."""

    def __init__(self, params: ControlLaserParams) -> None:
        self.params = params
        self.wavelength_m = params.start_wavelength_m
        self.emission = False
        self.shutter_open = False
        self._tuned_t = -math.inf

    def start_tuning(self, t: float, wavelength_m: float) -> float:
        """Begin tuning to ``wavelength_m``; return the time the laser is ready again."""
        p = self.params
        duration = abs(wavelength_m - self.wavelength_m) / p.tuning_rate_m_s + p.tuning_overhead_s
        self.wavelength_m = wavelength_m
        self._tuned_t = t + duration
        return self._tuned_t

    @property
    def tuned_t(self) -> float:
        return self._tuned_t

    def tuning_at(self, t: float) -> bool:
        return t < self._tuned_t

    def power_at(self, t: float) -> float:
        """Output power at the laser head (before its shutter)."""
        if not self.emission or self.tuning_at(t):
            return 0.0
        p = self.params
        x = (self.wavelength_m - p.peak_wavelength_m) / p.gain_width_m
        return p.peak_power_w * math.exp(-x * x)

    def delivered_at(self, t: float) -> float:
        """Power leaving the laser through its internal shutter."""
        return self.power_at(t) if self.shutter_open else 0.0
