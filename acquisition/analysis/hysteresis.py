"""Hysteresis figures of an I-P sweep: thresholds, width, contrast and nonlinearity.

Labels (reference setup): on the up branch A is the last dark point and B the first bright point
of the switch-on jump; on the down branch C is the last bright point and D the first dark point of
the switch-off jump (P_D < P_C). Jumps are found by :mod:`acquisition.analysis.jumps`.

- switch-on threshold = P_B; switch-off threshold = P_C.
- hysteresis width = (P_A + P_B)/2 - (P_C + P_D)/2, the distance between the midpoints of the two
  jumps. This is the published (P_C - P_B)/2 - (P_A - P_D)/2 with the sign flipped: with the
  labels above the published expression is negative for every real loop, so we report
  w = -[(P_C - P_B)/2 - (P_A - P_D)/2] > 0 when switch-off lies below switch-on.
- switch-on contrast (dB) = 10 log10((I_B - I_A) / I_noise): the height of the switch-on jump
  over the detector noise. The published formula writes I_C - I_B; with the labels above that is
  the bright level at switch-off minus the bright level at switch-on, negative whenever the bright
  branch rises with pump power, so we use the switch-on step itself.
- nonlinearity s = slope of the log I vs log P fit over A and B (``fit_neighbours`` = 0), i.e. the
  two points at the switch-on threshold; with ``fit_neighbours`` = n the n points on each side are
  included as well, which mixes in the branch slopes and lowers s. Without a switch-on jump, s is
  the steepest slope over any three consecutive points of the up branch (a plain avalanche) whose
  emission rises by at least 3 x I_noise across the three points; with no such window there is
  no signal above the noise floor and s is None with a note.
Data are analysed as measured (no background subtraction).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from acquisition.analysis.branches import Branch, prepare_branch, split_sweep
from acquisition.analysis.jumps import (JumpCriteria, find_jump, find_largest_drop, is_bright_like,
                                        log_rate)
from acquisition.analysis.nonlinearity import nonlinearity_slope, steepest_window
from acquisition.analysis.units import w_m2_to_kw_cm2
from acquisition.units import REFERENCE_NOISE_CPS
from drivers.validation import check_positive

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IPPoint:
    """A labelled point: density (W/m2), rate (cps) and its position in the caller's arrays."""

    density_w_m2: float
    rate_cps: float
    index: int

    def as_tuple(self) -> tuple[float, float]:
        return (self.density_w_m2, self.rate_cps)


@dataclass(frozen=True)
class HysteresisResult:
    switch_on_w_m2: float | None
    switch_off_w_m2: float | None
    width_w_m2: float | None
    contrast_db: float | None
    nonlinearity_s: float | None
    fit_range_w_m2: tuple[float, float] | None
    bistable: bool
    point_a: IPPoint | None = None
    point_b: IPPoint | None = None
    point_c: IPPoint | None = None
    point_d: IPPoint | None = None
    #: the down branch is still bright at its lowest density (switch-off below the swept range)
    switch_off_below_range: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def points(self) -> dict[str, tuple[float, float] | None]:
        """{"A": (density_w_m2, rate_cps) or None, ... "D": ...}."""
        return {label: None if point is None else point.as_tuple()
                for label, point in (("A", self.point_a), ("B", self.point_b),
                                     ("C", self.point_c), ("D", self.point_d))}

    @property
    def index_a(self) -> int | None:
        return None if self.point_a is None else self.point_a.index

    @property
    def index_b(self) -> int | None:
        return None if self.point_b is None else self.point_b.index

    @property
    def index_c(self) -> int | None:
        return None if self.point_c is None else self.point_c.index

    @property
    def index_d(self) -> int | None:
        return None if self.point_d is None else self.point_d.index

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-safe summary in lab units (kW/cm2, cps, dB); missing or non-finite -> None."""
        def kw(value: float | None) -> float | None:
            return _finite(None if value is None else w_m2_to_kw_cm2(value))

        points = {}
        for label, point in (("A", self.point_a), ("B", self.point_b), ("C", self.point_c),
                             ("D", self.point_d)):
            points[label] = None if point is None else {
                "density_kw_cm2": kw(point.density_w_m2), "rate_cps": _finite(point.rate_cps),
                "index": int(point.index)}
        return {
            "switch_on_kw_cm2": kw(self.switch_on_w_m2),
            "switch_off_kw_cm2": kw(self.switch_off_w_m2),
            "hysteresis_width_kw_cm2": kw(self.width_w_m2),
            "contrast_db": _finite(self.contrast_db),
            "nonlinearity_s": _finite(self.nonlinearity_s),
            "fit_range_kw_cm2": None if self.fit_range_w_m2 is None
            else [kw(self.fit_range_w_m2[0]), kw(self.fit_range_w_m2[1])],
            "bistable": bool(self.bistable),
            "switch_off_below_range": bool(self.switch_off_below_range),
            "points": points,
            "notes": list(self.notes),
        }


def open_loop_densities(up: Branch, down: Branch, noise_cps: float,
                        criteria: JumpCriteria = JumpCriteria()) -> np.ndarray:
    """Up-branch densities (W/m2) at which the loop is clearly open: two states at one power.

    At such a density the up branch is dark (its level L = ln(I + I_noise) below the middle of the
    darkest and brightest levels of both branches) and the down branch, interpolated to the same
    density, is brighter by at least the jump's ``min_ratio`` (factor 2 in I + I_noise) and
    ``min_noise_multiple`` x I_noise (3 x 82 cps): the same ratio and height tests a jump has to
    pass, so Poisson scatter of a dark spot never opens a loop, nor does a smooth avalanche (up =
    down) or a bright branch that is merely brighter on the way down.
    """
    if len(up) < 2 or len(down) < 2:
        return np.array([], dtype=float)
    up_levels = log_rate(up.rate_cps, noise_cps)
    down_rate = np.interp(up.density_w_m2, down.density_w_m2, down.rate_cps)
    down_at_up = log_rate(down_rate, noise_cps)
    inside = (up.density_w_m2 >= down.density_w_m2[0]) & (up.density_w_m2 <= down.density_w_m2[-1])
    dark_level = float(min(up_levels.min(), down_at_up.min()))
    bright_level = float(max(up_levels.max(), down_at_up.max()))
    if bright_level - dark_level < math.log(criteria.min_ratio):
        return np.array([], dtype=float)
    middle = 0.5 * (dark_level + bright_level)
    open_ = (inside & (up_levels < middle)
             & (down_at_up - up_levels >= math.log(criteria.min_ratio))
             & (down_rate - up.rate_cps >= criteria.min_noise_multiple * noise_cps))
    return up.density_w_m2[open_]


def loop_is_open(up: Branch, down: Branch, noise_cps: float,
                 criteria: JumpCriteria = JumpCriteria()) -> bool:
    """True if at some density the down branch is clearly bright while the up branch is dark
    (:func:`open_loop_densities`): what ``bistable`` means."""
    return bool(open_loop_densities(up, down, noise_cps, criteria).size)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _labelled(branch: Branch, position: int) -> IPPoint:
    return IPPoint(float(branch.density_w_m2[position]), float(branch.rate_cps[position]),
                   int(branch.source_index[position]))


def _width(a: IPPoint, b: IPPoint, c: IPPoint, d: IPPoint) -> float:
    """(P_A + P_B)/2 - (P_C + P_D)/2, positive for a normal loop."""
    return 0.5 * (a.density_w_m2 + b.density_w_m2) - 0.5 * (c.density_w_m2 + d.density_w_m2)


def _switch_on_fit(up: Branch, low: int, fit_neighbours: int) -> tuple[float | None, tuple[float, float]]:
    first = max(0, low - fit_neighbours)
    last = min(len(up) - 1, low + 1 + fit_neighbours)
    slope = nonlinearity_slope(up.density_w_m2[first:last + 1], up.rate_cps[first:last + 1])
    return slope, (float(up.density_w_m2[first]), float(up.density_w_m2[last]))


def analyze_hysteresis(density_up_w_m2: ArrayLike, rate_up_cps: ArrayLike,
                       density_down_w_m2: ArrayLike, rate_down_cps: ArrayLike,
                       noise_cps: float = REFERENCE_NOISE_CPS, *, fit_neighbours: int = 0,
                       criteria: JumpCriteria = JumpCriteria()) -> HysteresisResult:
    """Analyse one up branch and one down branch (any order; repeated setpoints are averaged)."""
    noise = check_positive("noise_cps", noise_cps, "cps")
    if fit_neighbours < 0:
        raise ValueError(f"fit_neighbours={fit_neighbours} is outside the allowed range [0, inf)")
    up = prepare_branch(density_up_w_m2, rate_up_cps)
    down = prepare_branch(density_down_w_m2, rate_down_cps)
    notes: list[str] = []
    open_at = open_loop_densities(up, down, noise, criteria)
    is_open = bool(open_at.size)
    on = find_jump(up.rate_cps, noise, criteria)
    off = find_jump(down.rate_cps, noise, criteria)
    if on is None and is_open:
        # a spot of several particles can also turn bright over a few consecutive steps; with
        # two states at one power (the loop is open) the largest rise is the switch-on
        on = find_largest_drop(up.rate_cps, noise, criteria)
        if on is not None:
            notes.append("switch-on spread over several steps (particles of the spot turning "
                         "bright one after another): A, B at the largest rise")

    point_a = point_b = point_c = point_d = None
    contrast = slope = None
    fit_range: tuple[float, float] | None = None
    if on is not None:
        point_a, point_b = _labelled(up, on.low), _labelled(up, on.high)
        contrast = 10.0 * math.log10((point_b.rate_cps - point_a.rate_cps) / noise)
        slope, fit_range = _switch_on_fit(up, on.low, fit_neighbours)
        if slope is None:
            notes.append("nonlinearity s undefined: a rate of 0 at the switch-on threshold "
                         "has no logarithm (instrument-limited jump)")
    else:
        notes.append("no switch-on jump on the up branch")
        min_rise = criteria.min_noise_multiple * noise
        steepest = steepest_window(up.density_w_m2, up.rate_cps, min_rise_cps=min_rise)
        if steepest is not None:
            slope = steepest[0]
            fit_range = (float(up.density_w_m2[steepest[1]]), float(up.density_w_m2[steepest[2]]))
            notes.append("nonlinearity s is the steepest 3-point slope of the up branch")
        elif len(up) >= 3:
            notes.append(f"nonlinearity s undefined: no emission above the noise floor (no 3 "
                         f"consecutive up-branch points rise by {criteria.min_noise_multiple:g} x "
                         f"I_noise = {min_rise:.0f} cps)")
    if off is not None:
        point_d, point_c = _labelled(down, off.low), _labelled(down, off.high)

    width = None
    below_range = False
    if point_a is not None and point_b is not None:
        if point_c is not None and point_d is not None:
            width = _width(point_a, point_b, point_c, point_d)
            if width <= 0:
                notes.append("switch-off is not below switch-on: a jump without hysteresis")
        elif len(down) > 0:
            dark_level, bright_level = log_rate(np.array([point_a.rate_cps, point_b.rate_cps]), noise)
            lowest_level = float(log_rate(down.rate_cps[:1], noise)[0])
            lowest_density = float(down.density_w_m2[0])
            top_level = float(log_rate(down.rate_cps[-1:], noise)[0])
            bottom_bright = is_bright_like(lowest_level, dark_level, bright_level)
            below_range = bottom_bright and lowest_density < point_b.density_w_m2
            staircase = (find_largest_drop(down.rate_cps, noise, criteria)
                         if (is_open or is_bright_like(top_level, dark_level, bright_level))
                         and not bottom_bright else None)
            if staircase is not None:
                point_d, point_c = _labelled(down, staircase.low), _labelled(down, staircase.high)
                width = _width(point_a, point_b, point_c, point_d)
                notes.append("switch-off spread over several steps (particles of the spot turning "
                             "dark one after another): C, D at the largest drop")
            elif below_range:
                notes.append("down branch stays bright down to its lowest density: "
                             "switch-off lies below the swept range")
            else:
                notes.append("no switch-off jump on the down branch")
        else:
            notes.append("no down branch")
    elif point_c is not None:
        notes.append("switch-off jump found but no switch-on jump (up branch started bright?)")

    # bistable means two states at one power, judged on the data themselves, so that it cannot
    # disagree with the curves when a jump is spread over several points or not located
    bistable = is_open
    if is_open:
        if point_b is None or (point_c is None and not below_range):
            notes.append(f"loop open (down branch bright, up branch dark) between "
                         f"{w_m2_to_kw_cm2(float(open_at.min())):.4g} and "
                         f"{w_m2_to_kw_cm2(float(open_at.max())):.4g} kW/cm2, but a jump could "
                         "not be located: bistable without the missing threshold")
    elif width is not None and width > 0:
        notes.append("jumps give a positive width but no density has two clearly different "
                     "states (factor 2 and 3 x I_noise): not bistable")

    return HysteresisResult(
        switch_on_w_m2=None if point_b is None else point_b.density_w_m2,
        switch_off_w_m2=None if point_c is None else point_c.density_w_m2,
        width_w_m2=width, contrast_db=contrast, nonlinearity_s=slope, fit_range_w_m2=fit_range,
        bistable=bistable, point_a=point_a, point_b=point_b, point_c=point_c, point_d=point_d,
        switch_off_below_range=below_range, notes=tuple(notes))


def analyze_sweep(density_w_m2: ArrayLike, rate_cps: ArrayLike,
                  direction: ArrayLike | None = None, noise_cps: float = REFERENCE_NOISE_CPS,
                  **options: Any) -> list[HysteresisResult]:
    """Analyse every up/down cycle of a sweep given in acquisition order (see ``split_sweep``).

    Point indices in the results refer to positions in the arrays passed here.
    """
    results: list[HysteresisResult] = []
    for cycle in split_sweep(density_w_m2, rate_cps, direction):
        result = analyze_hysteresis(cycle.density_up_w_m2, cycle.rate_up_cps,
                                    cycle.density_down_w_m2, cycle.rate_down_cps, noise_cps,
                                    **options)
        results.append(_reindexed(result, cycle.up_index, cycle.down_index))
    return results


def _reindexed(result: HysteresisResult, up_index: np.ndarray, down_index: np.ndarray) -> HysteresisResult:
    def move(point: IPPoint | None, positions: np.ndarray) -> IPPoint | None:
        return None if point is None else replace(point, index=int(positions[point.index]))

    return replace(result, point_a=move(result.point_a, up_index), point_b=move(result.point_b, up_index),
                   point_c=move(result.point_c, down_index), point_d=move(result.point_d, down_index))
