"""What the bench applies to a focal spot during one dwell, and what the spot emits back."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from drivers.validation import check_positive, check_range

from .waveforms import ChopperWaveform


@dataclass(frozen=True)
class Drive:
    """Peak (on-axis) intensities in W/m2; the pump is multiplied by the chopper transmission if any."""

    pump_peak_w_m2: float
    chopper: ChopperWaveform | None = None
    control_peak_w_m2: float = 0.0
    control_wavelength_m: float = 808e-9
    temperature_k: float = 77.0

    def __post_init__(self) -> None:
        check_range("pump_peak_w_m2", self.pump_peak_w_m2, 0.0, math.inf, "W/m2")
        check_range("control_peak_w_m2", self.control_peak_w_m2, 0.0, math.inf, "W/m2")
        check_range("control_wavelength_m", self.control_wavelength_m, 200e-9, 5e-6, "m")
        check_positive("temperature_k", self.temperature_k, "K")
        if self.chopper is not None and not isinstance(self.chopper, ChopperWaveform):
            raise ValueError(f"chopper={self.chopper!r} is not allowed; allowed values: None or a ChopperWaveform")


@dataclass(frozen=True)
class SpotEmission:
    """Collection-weighted photons/s emitted by the spot, per line.

    ``mean_rate`` is averaged over the interval. When a trace was requested, ``rate`` holds the
    rate averaged over consecutive bins of ``trace_resolution_s`` (what a photon counter reports; no
    aliasing of a chopped signal) and ``times_s`` the bin centres on the spot's own clock
    (``FocalSpot.time_s``, which starts at 0 and advances with every dwell).
    """

    duration_s: float
    mean_rate: dict[str, float]
    bright_fraction: float          # share of the particles on their bright branch at the end
    times_s: np.ndarray | None = None
    rate: dict[str, np.ndarray] | None = field(default=None)
