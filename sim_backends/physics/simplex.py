"""Populations are fractions of the ions: non-negative and summing to 1 (the simplex).

Every solver conserves the ion number only to its tolerance, and clipping tiny negative values
(which stiff integrators, extrapolation and Newton steps produce in nearly empty levels) adds mass.
Over thousands of chopped periods and dwells the error accumulates until a state is rejected, so
every solver step that can leave the simplex ends with ``onto_simplex``.
"""
from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)

#: a state whose populations drift further than this from summing to 1 is logged when corrected
ION_DRIFT_LOGGED = 1e-6


def onto_simplex(y: np.ndarray) -> np.ndarray:
    """``y`` (one state (n,) or states (m, n)) with negatives clipped and each state renormalised."""
    clipped = np.clip(np.asarray(y, dtype=float), 0.0, None)
    total = clipped.sum(axis=-1, keepdims=True)
    if not np.all(np.isfinite(total)) or np.any(total <= 0.0):
        raise ValueError(f"particle state={y!r} has no ions left; allowed: populations summing to 1")
    drift = float(np.max(np.abs(total - 1.0)))
    if drift > ION_DRIFT_LOGGED and math.isfinite(drift):
        log.debug("populations summed to 1 %+.3g; renormalised", drift)
    return clipped / total
