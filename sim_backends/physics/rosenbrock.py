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

The steps run in compiled loops (ros2_kernels.py); this module holds the method's constants and
its interface.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import ros2_kernels
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


#: error-controlled attempts one segment may take before the integration is declared stuck
MAX_ATTEMPTS = 10_000_000


def adaptive_grid(equations: RateEquations, y0: np.ndarray, matrix: np.ndarray,
                  length_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Step end points in (0, length] chosen by local error control from ``y0``, and the states
    there ((m, levels), the last row is the end state)."""
    stoich_k, donor, acceptor = equations.pair_structure
    status, ends, states = ros2_kernels.adaptive_grid_kernel(
        np.ascontiguousarray(y0, dtype=float), np.ascontiguousarray(matrix, dtype=float), stoich_k, donor, acceptor,
        float(length_s), FIRST_STEP_S, GAMMA, RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE, MAX_GROWTH, MIN_SHRINK,
        MAX_ATTEMPTS)
    _check(status, f"adaptive ROS2 over {length_s:g} s")
    return ends, states


def run_segment(equations: RateEquations, y0: np.ndarray, matrix: np.ndarray, grid: np.ndarray,
                with_jacobian: bool) -> SegmentRun:
    """Advance ``y0`` over the step end points ``grid`` (from 0) under constant ``matrix``; with
    ``with_jacobian`` also the exact derivative of the discrete map (each step's W depends on y
    through J(y), whose derivative contracted with a stage vector k is pair_jacobian(k), the pair
    term being bilinear)."""
    stoich_k, donor, acceptor = equations.pair_structure
    status, states, phi = ros2_kernels.run_segment_kernel(
        np.ascontiguousarray(y0, dtype=float), np.ascontiguousarray(matrix, dtype=float), stoich_k, donor, acceptor,
        np.ascontiguousarray(grid, dtype=float), GAMMA, bool(with_jacobian))
    _check(status, f"ROS2 segment of {len(grid)} steps")
    return SegmentRun(np.concatenate([[0.0], grid]), states, phi if with_jacobian else None)


def _check(status: int, what: str) -> None:
    if status == ros2_kernels.SINGULAR:
        raise np.linalg.LinAlgError(f"singular Rosenbrock matrix in the {what}")
    if status == ros2_kernels.TOO_MANY_STEPS:
        raise RuntimeError(f"the {what} took more than {MAX_ATTEMPTS} step attempts (a stiff transient "
                           "the error control cannot resolve)")
