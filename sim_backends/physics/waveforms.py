"""Pump and control waveforms: piecewise-constant shapes that know where their edges are.

Knowing the edges lets the integrator restart exactly at each discontinuity instead of stepping
blindly across it. A waveform's value is a dimensionless factor (0..1) for the chopper, or an
intensity in W/m2 for the others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from drivers.validation import check_range


@runtime_checkable
class Waveform(Protocol):
    def __call__(self, t: float) -> float: ...

    def breakpoints(self, t_start: float, t_end: float) -> np.ndarray:
        """Times strictly inside (t_start, t_end) where the value jumps."""
        ...


@dataclass(frozen=True)
class ChopperWaveform:
    """Square transmission 0/1 of a chopper blade: open for ``duty`` of each period.

    ``phase_deg`` shifts the opening edge: the blade opens at t = (phase_deg / 360) / f + k / f.
    """

    frequency_hz: float
    duty: float = 0.5
    phase_deg: float = 0.0

    def __post_init__(self) -> None:
        check_range("frequency_hz", self.frequency_hz, 0.0, 1e6, "Hz", low_inclusive=False)
        check_range("duty", self.duty, 0.0, 1.0, low_inclusive=False)
        check_range("phase_deg", self.phase_deg, -360.0, 360.0, "deg")

    @property
    def period_s(self) -> float:
        return 1.0 / self.frequency_hz

    @property
    def offset_s(self) -> float:
        return (self.phase_deg / 360.0) * self.period_s

    def __call__(self, t: float) -> float:
        position = ((t - self.offset_s) / self.period_s) % 1.0
        return 1.0 if position < self.duty else 0.0

    def breakpoints(self, t_start: float, t_end: float) -> np.ndarray:
        if self.duty >= 1.0:
            return np.empty(0)
        first = math.floor((t_start - self.offset_s) / self.period_s) - 1
        last = math.ceil((t_end - self.offset_s) / self.period_s) + 1
        k = np.arange(first, last + 1)
        opens = self.offset_s + k * self.period_s
        edges = np.sort(np.concatenate([opens, opens + self.duty * self.period_s]))
        return edges[(edges > t_start) & (edges < t_end)]


@dataclass(frozen=True)
class Constant:
    value: float

    def __call__(self, t: float) -> float:
        return self.value

    def breakpoints(self, t_start: float, t_end: float) -> np.ndarray:
        return np.empty(0)


@dataclass(frozen=True)
class Pulse:
    """``level`` from ``start_s`` for ``duration_s``, ``base`` otherwise (a control pulse)."""

    start_s: float
    duration_s: float
    level: float
    base: float = 0.0

    def __call__(self, t: float) -> float:
        return self.level if self.start_s <= t < self.start_s + self.duration_s else self.base

    def breakpoints(self, t_start: float, t_end: float) -> np.ndarray:
        edges = np.array([self.start_s, self.start_s + self.duration_s])
        return edges[(edges > t_start) & (edges < t_end)]


@dataclass(frozen=True)
class Step:
    """``before`` until ``at_s``, ``after`` from then on."""

    at_s: float
    before: float
    after: float

    def __call__(self, t: float) -> float:
        return self.after if t >= self.at_s else self.before

    def breakpoints(self, t_start: float, t_end: float) -> np.ndarray:
        return np.array([self.at_s]) if t_start < self.at_s < t_end else np.empty(0)


@dataclass(frozen=True)
class Scaled:
    """``amplitude * shape(t)``: a chopped pump is Scaled(peak, ChopperWaveform(...))."""

    amplitude: float
    shape: Waveform

    def __call__(self, t: float) -> float:
        return self.amplitude * self.shape(t)

    def breakpoints(self, t_start: float, t_end: float) -> np.ndarray:
        return self.shape.breakpoints(t_start, t_end)
