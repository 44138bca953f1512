"""The bistable window of a multi-particle spot, read from the switch experiment's window sweep.

A spot holds several particles, each with its own window: the up branch rises in several
switch-on steps (one particle after another) and the down branch falls in several switch-off
steps. The spot is bistable exactly where the two branches differ: below the lowest switch-off
step both are dark, above the highest switch-on step both are bright. A bias is outside every
particle's window only below the first or above the last of those points, so the switch
experiment places its "below" and "above" biases there (not around the single largest jump).

Two rates "differ" when the down branch (interpolated to the up branch's density, or the other
way round) is above the up branch by more than the larger of: ``min_noise_multiple`` x I_noise,
``n_sigma`` Poisson standard deviations of the difference (counts over the dwell time), and
``same_state_rel`` of the bright rate. The last term absorbs the slow focus drift between the
up and the down scan (~3 % rms on the simulated rig), which changes both states alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from acquisition.units import W_M2_PER_KW_CM2

#: the relative difference two scans of one state may have (focus drift between the scans)
SAME_STATE_REL = 0.05
MIN_NOISE_MULTIPLE = 3.0
N_SIGMA = 5.0


@dataclass(frozen=True)
class SpotWindow:
    """Where the spot of the window sweep is bistable (densities as measured, kW/cm2)."""

    #: the last dark point of the down branch, just below its lowest switch-off step (D)
    lowest_off_kw_cm2: float
    #: the first point of the up branch above its highest switch-on step (B)
    highest_on_kw_cm2: float
    #: emission with every particle dark (up branch below the lowest switch-off step), cps
    dark_cps: float
    #: the down (bright) branch, sorted by density, for the bright reference at any bias
    down_kw_cm2: tuple[float, ...]
    down_cps: tuple[float, ...]

    @property
    def top_kw_cm2(self) -> float:
        """The highest density of the sweep (both branches in one state there)."""
        return max(self.down_kw_cm2)

    def bright_cps(self, bias_kw_cm2: float) -> float:
        """The down-branch emission at ``bias_kw_cm2``: every particle that can be bright there is."""
        return float(np.interp(bias_kw_cm2, self.down_kw_cm2, self.down_cps))

    def to_json_dict(self) -> dict[str, float]:
        return {"lowest_switch_off_kw_cm2": self.lowest_off_kw_cm2,
                "highest_switch_on_kw_cm2": self.highest_on_kw_cm2, "dark_cps": self.dark_cps}


def _text(values: Any) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values)])


def _branch(columns: dict[str, Any], direction: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(density kW/cm2, rate cps, dwell s) of the first repeat's main scan, sorted by density."""
    n = len(np.asarray(columns["density_w_m2"]))
    keep = _text(columns["direction"]) == direction
    if "pass" in columns:
        keep &= np.asarray(columns["pass"]) == 0
    if "repeat" in columns:
        keep &= np.asarray(columns["repeat"]) == 0
    dwell = np.asarray(columns["dwell_s"], float) if "dwell_s" in columns else np.ones(n)
    density = np.asarray(columns["density_w_m2"], float)[keep] / W_M2_PER_KW_CM2
    order = np.argsort(density, kind="stable")
    return (density[order], np.asarray(columns["rate_cps"], float)[keep][order], dwell[keep][order])


def _differs(bright: np.ndarray, dark: np.ndarray, dwell: np.ndarray, noise_cps: float) -> np.ndarray:
    poisson = np.sqrt((np.clip(bright, 0, None) + np.clip(dark, 0, None)) / np.maximum(dwell, 1e-9))
    tolerance = np.maximum.reduce([np.full(bright.shape, MIN_NOISE_MULTIPLE * noise_cps),
                                   N_SIGMA * poisson, SAME_STATE_REL * np.abs(bright)])
    return bright - dark > tolerance


def spot_window(columns: dict[str, Any], noise_cps: float) -> SpotWindow | None:
    """The spot's bistable region from a sweep stream's columns; None when the two branches
    never differ, or differ at either end of the scan (the region is not inside it)."""
    up_d, up_r, up_dwell = _branch(columns, "up")
    down_d, down_r, down_dwell = _branch(columns, "down")
    if up_d.size < 3 or down_d.size < 3:
        return None
    open_up = _differs(np.interp(up_d, down_d, down_r), up_r, up_dwell, noise_cps)
    open_down = _differs(down_r, np.interp(down_d, up_d, up_r), down_dwell, noise_cps)
    if not open_up.any() or not open_down.any():
        return None
    last_open_up = int(np.flatnonzero(open_up)[-1])
    first_open_down = int(np.flatnonzero(open_down)[0])
    if last_open_up + 1 >= up_d.size or first_open_down == 0:
        return None
    lowest_off = float(down_d[first_open_down - 1])
    dark = up_r[up_d <= lowest_off]
    dark_cps = float(np.median(dark)) if dark.size else float(np.min(up_r))
    return SpotWindow(lowest_off_kw_cm2=lowest_off, highest_on_kw_cm2=float(up_d[last_open_up + 1]),
                      dark_cps=dark_cps, down_kw_cm2=tuple(map(float, down_d)),
                      down_cps=tuple(map(float, down_r)))


def latched_fraction(before_cps: float, after_cps: float, bias_kw_cm2: float,
                     window: SpotWindow | None, noise_cps: float) -> float | None:
    """The pulse's emission change as a fraction of the spot's whole dark -> bright change at the
    bias (the window sweep's down branch minus its all-dark level): 1 when every particle that
    can be bright there was dark and latched, less when some were already bright or stayed dark.
    None without a window sweep, or where the spot's bright state is not above the noise."""
    if window is None:
        return None
    span = window.bright_cps(bias_kw_cm2) - window.dark_cps
    if not math.isfinite(span) or span <= MIN_NOISE_MULTIPLE * noise_cps:
        return None
    return float((after_cps - before_cps) / span)
