"""Steady states of the rate equations: Newton from a nearby state, checked, with a time-integration fallback.

Newton on dy/dt = 0 with the first equation replaced by sum(y) = 1 converges in a few steps from
the previous point of a sweep. Near a fold it may fail, or converge to the unstable middle branch,
or leap to the other stable branch (which would be a silent, unphysical jump). A Newton result is
accepted only if it is physical, linearly stable and close to the starting state; otherwise the
equations are integrated in time from the starting state, which is what the particle physically
does, and the integrated state is polished with Newton. The fallback is logged. It integrates with
the error-controlled L-stable Rosenbrock steps of rosenbrock.py (an 8x8 solve per stage): the
polishing Newton makes the end state exact, the integration only has to decide which branch the
particle falls onto, and past a fold only one is left. ODEPACK took ~8000 right-hand sides per
jump (the slow passage past the fold at rtol 1e-6), which dominated a whole CW sweep.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgesv

from .simplex import onto_simplex
from .equations import RateEquations
from .rosenbrock import adaptive_grid
from .timedomain import PiecewiseIntegrator

log = logging.getLogger(__name__)

NEWTON_MAX_ITERATIONS = 15       # from a nearby state Newton needs 3-5; more means it is wandering
NEWTON_TOLERANCE = 1e-11          # on populations, absolute, plus the relative term below
NEWTON_RELATIVE_TOLERANCE = 1e-9
MAX_NEWTON_STEP = 0.3             # larger population steps are scaled down: keeps Newton local
# A Newton result further than this (max population change) from its start is not trusted to be
# on the same branch and is checked by time integration.
SAME_BRANCH_DISTANCE = 0.1
FALLBACK_CHUNKS_S = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
NEGATIVE_POPULATION_TOLERANCE = 1e-9


@dataclass(frozen=True)
class NewtonResult:
    y: np.ndarray
    converged: bool
    iterations: int


def reduced_basis(n_levels: int) -> np.ndarray:
    """Orthonormal basis (n, n-1) of the sum-zero subspace in which the dynamics lives."""
    ones = np.ones((n_levels, 1)) / np.sqrt(n_levels)
    q, _ = np.linalg.qr(np.hstack([ones, np.eye(n_levels)[:, : n_levels - 1]]))
    return q[:, 1:]


def constrained_system(equations: RateEquations, y: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residual and Jacobian of the steady-state problem with the conservation row."""
    residual = equations.rhs(y, matrix)
    jac = equations.jacobian(y, matrix)
    residual[0] = y.sum() - 1.0
    jac[0, :] = 1.0
    return residual, jac


def newton(equations: RateEquations, matrix: np.ndarray, y_start: np.ndarray) -> NewtonResult:
    y = np.array(y_start, dtype=float)
    for iteration in range(1, NEWTON_MAX_ITERATIONS + 1):
        residual, jac = constrained_system(equations, y, matrix)
        # LAPACK directly: numpy's solve wrapper costs more than the 8x8 solve itself (hot path)
        _, _, step, info = dgesv(jac, -residual)
        if info != 0:
            return NewtonResult(y, False, iteration)
        largest = np.abs(step).max()
        if largest > MAX_NEWTON_STEP:
            step *= MAX_NEWTON_STEP / largest
        y = y + step
        if not np.isfinite(y).all():
            return NewtonResult(y, False, iteration)
        if (np.abs(step) <= NEWTON_TOLERANCE + NEWTON_RELATIVE_TOLERANCE * np.abs(y)).all():
            return NewtonResult(y, True, iteration)
    return NewtonResult(y, False, NEWTON_MAX_ITERATIONS)


def relaxation_rates(equations: RateEquations, y: np.ndarray, matrix: np.ndarray,
                     basis: np.ndarray) -> np.ndarray:
    """Eigenvalues of the Jacobian restricted to the conserved subspace (s-1)."""
    jac = equations.jacobian(y, matrix)
    return np.linalg.eigvals(basis.T @ jac @ basis)


def is_physical(y: np.ndarray) -> bool:
    return bool(np.all(y >= -NEGATIVE_POPULATION_TOLERANCE))


def is_stable(equations: RateEquations, y: np.ndarray, matrix: np.ndarray, basis: np.ndarray) -> bool:
    return bool(np.max(relaxation_rates(equations, y, matrix, basis).real) < 0.0)




class SteadyStateSolver:
    """Steady state reached from a given state: what the particle settles to under constant drive."""

    def __init__(self, equations: RateEquations) -> None:
        self.equations = equations
        self.basis = reduced_basis(equations.n_levels)
        self.integrator = PiecewiseIntegrator(equations)
        self.fallbacks = 0

    def accept(self, result: NewtonResult, start: np.ndarray, matrix: np.ndarray) -> bool:
        return self.relaxation_time(result, start, matrix) is not None

    def relaxation_time(self, result: NewtonResult, start: np.ndarray, matrix: np.ndarray) -> float | None:
        """Slowest relaxation time (s) of an acceptable Newton result; None if it is not acceptable
        (not converged, unphysical, too far from ``start`` to be trusted on the same branch, or unstable)."""
        if not (result.converged and is_physical(result.y)
                and float(np.max(np.abs(result.y - start))) <= SAME_BRANCH_DISTANCE):
            return None
        slowest = float(np.max(relaxation_rates(self.equations, result.y, matrix, self.basis).real))
        return -1.0 / slowest if slowest < 0.0 else None

    def solve(self, matrix: np.ndarray, y_start: np.ndarray, context: str = "") -> np.ndarray:
        result = newton(self.equations, matrix, y_start)
        if self.accept(result, y_start, matrix):
            return onto_simplex(result.y)
        self.fallbacks += 1
        log.info("steady state %s: Newton %s after %d iterations; integrating in time instead",
                  context, "left the branch" if result.converged else "failed", result.iterations)
        y = np.array(y_start, dtype=float)
        elapsed = 0.0
        for chunk in FALLBACK_CHUNKS_S:
            y = onto_simplex(adaptive_grid(self.equations, y, matrix, chunk)[1][-1])
            elapsed += chunk
            polished = newton(self.equations, matrix, y)
            if self.accept(polished, y, matrix):
                log.info("steady state %s: reached by time integration over %.3g s", context, elapsed)
                return onto_simplex(polished.y)
        log.warning("steady state %s: not settled after %.3g s of integration; returning the integrated state",
                    context, elapsed)
        return onto_simplex(y)
