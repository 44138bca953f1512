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
dPhi/dt = J(y(t)) Phi is advanced by the exact derivative of the same stages (the W matrix depends on the state through
the Jacobian, whose derivative is cheap because the pair term is bilinear), so Newton on the
period map converges quadratically.

The step grid is chosen once per drive by an error-controlled run (the embedded first-order
solution y + h k1 gives the local error estimate h (k1 + k2) / 2) and then frozen, so the Newton
iterations of the shooting method differentiate one and the same discrete map.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgetrf, dgetri

from .equations import RateEquations

GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
FIRST_STEP_S = 0.5e-6           # after an edge: the 4F3/2 and upper levels move within microseconds
# Tolerance on the embedded first-order error estimate h (k1 + k2) / 2, which is O(h^2) while the
# second-order solution errs by O(h^3). The global error grows about linearly with this tolerance,
# most where a pulse re-seeds the avalanche (exponential amplification of any rate error): the mean
# emission of a 100 Hz / 40 % orbit is off by 4.7 x tolerance against LSODA at rtol 1e-6, a 1 kHz one by
# less. 2e-3 keeps every orbit within ~1 % (tests/physics/test_physics_periodic.py), far below the
# photon-counting noise of a dwell, at about 1.6x the cost of 1e-2.
RELATIVE_TOLERANCE = 2e-3       # relative to each population ...
ABSOLUTE_TOLERANCE = 1e-9       # ... with this floor (1e-9 of the ions: ~0.1 photons/s per line)
MAX_GROWTH, MIN_SHRINK = 3.0, 0.2


@dataclass(frozen=True)
class SegmentRun:
    offsets_s: np.ndarray        # (m + 1,) from 0 to the segment length
    states: np.ndarray           # (m + 1, levels)
    monodromy: np.ndarray | None  # d y_end / d y_start, (levels, levels)


def adaptive_grid(equations: RateEquations, y0: np.ndarray, matrix: np.ndarray,
                  length_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Step end points in (0, length] chosen by local error control from ``y0``, and the states
    there ((m, levels), the last row is the end state)."""
    n = len(y0)
    identity = np.eye(n)
    y = np.array(y0, dtype=float)
    t, h = 0.0, min(FIRST_STEP_S, length_s)
    ends: list[float] = []
    states: list[np.ndarray] = []
    while length_s - t > 1e-12 * length_s:
        h = min(h, length_s - t)
        w = _inverse(identity - GAMMA * h * equations.jacobian(y, matrix))
        k1 = w @ equations.rhs(y, matrix)
        with np.errstate(over="ignore", invalid="ignore"):
            k2 = w @ (equations.rhs(y + h * k1, matrix) - 2.0 * k1)
        error = float(np.max(np.abs(0.5 * h * (k1 + k2)) / (ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * np.abs(y))))
        if not math.isfinite(error):        # a step far too long for a fast transient
            h *= MIN_SHRINK
            continue
        factor = 0.9 / math.sqrt(max(error, 1e-12))
        if error > 1.0 and h > 1e-9:
            h *= max(MIN_SHRINK, factor)
            continue
        y = y + h * (1.5 * k1 + 0.5 * k2)
        t += h
        ends.append(t)
        states.append(y)
        h *= min(MAX_GROWTH, max(MIN_SHRINK, factor))
    ends[-1] = length_s
    return np.array(ends), np.array(states)


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
            # exact derivative of this step: W depends on y through J(y), whose derivative
            # contracted with a stage vector k is pair_jacobian(k) (the pair term is bilinear)
            d1 = w @ ((jac + GAMMA * h * equations.pair_jacobian(k1)) @ phi)
            d2 = w @ (GAMMA * h * equations.pair_jacobian(k2) @ phi
                      + equations.jacobian(mid, matrix) @ (phi + h * d1) - 2.0 * d1)
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
