"""Prepare I-P branches for analysis and split multi-cycle sweeps into up and down branches."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

logger = logging.getLogger(__name__)

#: two densities closer than this (relative) are the same setpoint measured twice
SAME_DENSITY_RTOL = 1e-9


@dataclass(frozen=True)
class Branch:
    """One sweep direction, sorted by density, repeated setpoints merged (mean rate).

    ``source_index[k]`` is the position in the caller's arrays of the first sample merged into
    point k, so results can point back at the raw data.
    """

    density_w_m2: np.ndarray
    rate_cps: np.ndarray
    source_index: np.ndarray

    def __len__(self) -> int:
        return len(self.density_w_m2)


def prepare_branch(density_w_m2: ArrayLike, rate_cps: ArrayLike) -> Branch:
    """Sort by density, drop non-finite samples and negative densities, merge repeated setpoints."""
    density = np.asarray(density_w_m2, dtype=float).ravel()
    rate = np.asarray(rate_cps, dtype=float).ravel()
    if density.shape != rate.shape:
        raise ValueError(f"density and rate differ in length: {density.size} vs {rate.size}")
    keep = np.isfinite(density) & np.isfinite(rate) & (density >= 0)
    if not keep.all():
        logger.debug("dropping %d non-finite or negative samples", int((~keep).sum()))
    original = np.flatnonzero(keep)
    order = np.argsort(density[keep], kind="stable")
    density, rate, original = density[keep][order], rate[keep][order], original[order]
    if density.size == 0:
        return Branch(density, rate, original.astype(np.int64))
    # a new group starts wherever the density moves by more than the tolerance
    new_group = np.empty(density.size, dtype=bool)
    new_group[0] = True
    new_group[1:] = np.diff(density) > SAME_DENSITY_RTOL * np.maximum(np.abs(density[1:]), 1e-300)
    group = np.cumsum(new_group) - 1
    counts = np.bincount(group)
    merged_density = np.bincount(group, weights=density) / counts
    merged_rate = np.bincount(group, weights=rate) / counts
    first_source = np.full(counts.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_source, group, original)
    return Branch(merged_density, merged_rate, first_source)


@dataclass(frozen=True)
class SweepCycle:
    """One up branch and the down branch that followed it (either may be empty)."""

    density_up_w_m2: np.ndarray
    rate_up_cps: np.ndarray
    density_down_w_m2: np.ndarray
    rate_down_cps: np.ndarray
    #: positions of these samples in the caller's arrays
    up_index: np.ndarray
    down_index: np.ndarray


def _direction_signs(density: np.ndarray, direction: Sequence[object] | np.ndarray | None) -> np.ndarray:
    if direction is None:
        steps = np.sign(np.diff(density))
        signs = np.zeros(density.size)
        signs[1:] = steps
        # a repeated setpoint (step 0) keeps the direction it was reached in
        for k in range(1, signs.size):
            if signs[k] == 0:
                signs[k] = signs[k - 1]
        first_move = signs[np.flatnonzero(signs)[0]] if np.any(signs) else 1.0
        signs[signs == 0] = first_move
        signs[0] = signs[1] if signs.size > 1 else first_move
        return signs
    values = np.asarray(direction)
    if values.shape != density.shape:
        raise ValueError(f"direction has {values.size} entries for {density.size} samples")
    if values.dtype.kind in "US" or values.dtype == object:
        text = np.char.lower(np.char.strip(values.astype(str)))
        unknown = set(np.unique(text)) - {"up", "down"}
        if unknown:
            raise ValueError(f"direction values {sorted(unknown)} are not allowed; allowed values: 'up', 'down'")
        return np.where(text == "up", 1.0, -1.0)
    signs = np.sign(values.astype(float))
    if np.any(signs == 0) or not np.all(np.isfinite(signs)):
        raise ValueError("numeric direction must be > 0 (up) or < 0 (down) for every sample")
    return signs


def split_sweep(density_w_m2: ArrayLike, rate_cps: ArrayLike,
                direction: Sequence[object] | np.ndarray | None = None) -> list[SweepCycle]:
    """Split a sweep in acquisition order into up/down cycles.

    ``direction``: per-sample "up"/"down" (any case) or numbers (> 0 up, < 0 down); None infers it
    from the order of the densities (rising = up; a repeated setpoint keeps the direction it was
    reached in). Each up run is paired with the down run that follows it; a down run with no up
    run before it becomes a cycle with an empty up branch.
    """
    density = np.asarray(density_w_m2, dtype=float).ravel()
    rate = np.asarray(rate_cps, dtype=float).ravel()
    if density.shape != rate.shape:
        raise ValueError(f"density and rate differ in length: {density.size} vs {rate.size}")
    if density.size == 0:
        return []
    signs = _direction_signs(density, direction)
    boundaries = np.flatnonzero(np.diff(signs) != 0) + 1
    runs = np.split(np.arange(density.size), boundaries)
    empty = np.array([], dtype=np.int64)
    cycles: list[SweepCycle] = []
    position = 0
    while position < len(runs):
        run = runs[position]
        if signs[run[0]] > 0:
            down = runs[position + 1] if position + 1 < len(runs) else empty
            position += 2
            up = run
        else:
            up, down = empty, run
            position += 1
        cycles.append(SweepCycle(density[up], rate[up], density[down], rate[down], up, down))
    return cycles
