"""One chopper period on a fixed grid with a Rosenbrock method, with the period map's derivative.

The shooting solver (shooting.py) needs the stroboscopic map P: y(opening edge) -> y(next opening
edge) and its Jacobian (the monodromy matrix) many times per sweep point. An adaptive ODEPACK run
restarts at every edge and cannot hand back the derivative; a fixed grid with a linearly implicit
method can, and costs a handful of 8x8 solves per step.

Method: ROS2 of Verwer, Spee, Blom and Hundsdorfer (SIAM J. Sci. Comput. 20, 1456 (1999)),
gamma = 1 + 1/sqrt(2): second order, L-stable (the sub-microsecond cross-relaxation modes are
damped, not resolved), and a W-method, so it stays second order with the Jacobian frozen at the
start of each step. Every stage increment sums to zero because every column of the Jacobian
does, so the step conserves the ion number to rounding. The variational equation
dPhi/dt = J(y(t)) Phi is advanced by the same stages, which makes the monodromy consistent with
the discrete map to the order of the method.

The grid starts small after every edge (the 4F3/2 and upper levels follow an edge within
microseconds to ~100 us) and grows geometrically up to the largest step (see MAX_STEP_S).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgetrf, dgetri

from .equations import RateEquations

GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
FIRST_STEP_S = 0.5e-6
GROWTH = 1.35
# Largest step: this fraction of the segment, and never more than MAX_STEP_S (the slow reservoir
# drains by a few 1e-3 of its population per step: the period map is then within ~0.1 % of an
# adaptive LSODA run at rtol 1e-6, from 20 Hz to 6 kHz).
MAX_STEP_FRACTION = 0.04
MAX_STEP_S = 150e-6


def segment_grid(length_s: float) -> np.ndarray:
    """Step end points in (0, length]: geometric from FIRST_STEP_S after the edge, then uniform."""
    largest = min(length_s * MAX_STEP_FRACTION, MAX_STEP_S)
    first = min(FIRST_STEP_S, largest)
    steps = []
    h, total = first, 0.0
    while total + h < length_s and h < largest:
        steps.append(h)
        total += h
        h *= GROWTH
    remaining = length_s - total
    n_uniform = max(1, math.ceil(remaining / largest - 1e-9))
    steps.extend([remaining / n_uniform] * n_uniform)
    return np.cumsum(steps)


@dataclass(frozen=True)
class SegmentRun:
    offsets_s: np.ndarray        # (m + 1,) from 0 to the segment length
    states: np.ndarray           # (m + 1, levels)
    monodromy: np.ndarray | None  # d y_end / d y_start, (levels, levels)


def run_segment(equations: RateEquations, y0: np.ndarray, matrix: np.ndarray, grid: np.ndarray,
                with_jacobian: bool) -> SegmentRun:
    """Advance ``y0`` over the step end points ``grid`` (from 0) under constant ``matrix``."""
    n = len(y0)
    identity = np.eye(n)
    states = np.empty((len(grid) + 1, n))
    states[0] = y0
    phi = identity.copy() if with_jacobian else None
    y = np.array(y0, dtype=float)
    t_prev = 0.0
    for i, t in enumerate(grid):
        h = t - t_prev
        t_prev = t
        jac = equations.jacobian(y, matrix)
        w = _inverse(identity - GAMMA * h * jac)
        k1 = w @ equations.rhs(y, matrix)
        mid = y + h * k1
        k2 = w @ (equations.rhs(mid, matrix) - 2.0 * k1)
        if phi is not None:
            d1 = w @ (jac @ phi)
            d2 = w @ (equations.jacobian(mid, matrix) @ (phi + h * d1) - 2.0 * d1)
            phi = phi + h * (1.5 * d1 + 0.5 * d2)
        y = y + h * (1.5 * k1 + 0.5 * k2)
        states[i + 1] = y
    return SegmentRun(np.concatenate([[0.0], grid]), states, phi)


def _inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a small well-conditioned matrix (LAPACK directly: numpy's wrappers cost more
    than the 8x8 factorisation itself on this hot path)."""
    lu, piv, info = dgetrf(a)
    if info == 0:
        inverse, info = dgetri(lu, piv)
    if info != 0:
        raise np.linalg.LinAlgError(f"singular Rosenbrock matrix (LAPACK info {info})")
    return inverse
