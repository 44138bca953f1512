"""Pseudo-arclength continuation of the steady-state curve y*(I): the S-curve and its folds.

The unknowns are u = (ln y, ln I). Following the curve by arclength passes the folds (where the
dark branch ends and where the bright branch ends) and walks the unstable middle branch between
them, so the switch-on and switch-off intensities come out independent of any sweep step.
Logarithmic populations matter: near a fold at low temperature the dark and the unstable branch
differ by 1e-4 in absolute population, and a linear norm lets the corrector hop between them.
Steps are also rejected when the tangent turns by more than MAX_TURN_COS allows.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .equations import RateEquations
from .steady import constrained_system, is_stable, reduced_basis

log = logging.getLogger(__name__)

INITIAL_STEP = 0.02
MAX_STEP = 0.3
MIN_STEP = 1e-9
MAX_POINTS = 20000
MAX_TURN_COS = 0.98         # cosine of the largest tangent turn accepted in one step
BELOW_START_LOG = 1.0       # stop if the curve comes back more than e-fold below the start
CORRECTOR_ITERATIONS = 12
CORRECTOR_TOLERANCE = 1e-12
FOLD_REFINEMENTS = 30
FOLD_TANGENT_TOLERANCE = 1e-7


@dataclass(frozen=True)
class SCurve:
    pump_w_m2: np.ndarray       # (n,) along the curve (not monotonic past a fold)
    y: np.ndarray               # (n, levels)
    stable: np.ndarray          # (n,) bool
    fold_pumps_w_m2: tuple[float, ...]

    @property
    def is_bistable(self) -> bool:
        return len(self.fold_pumps_w_m2) >= 2

    @property
    def switch_on_w_m2(self) -> float:
        """The first fold (end of the dark branch), nan without bistability."""
        return self.fold_pumps_w_m2[0] if self.is_bistable else math.nan

    @property
    def switch_off_w_m2(self) -> float:
        """The second fold (end of the bright branch going down), nan without bistability."""
        return self.fold_pumps_w_m2[1] if self.is_bistable else math.nan


class _Curve:
    """F(u) = 0 with u = (ln y, ln I) and its derivative."""

    def __init__(self, equations: RateEquations, pump_wavelength_m: float) -> None:
        self.equations = equations
        self.absorption = equations.absorption_matrix(pump_wavelength_m)
        self.base = equations.base_matrix

    def matrix(self, log_pump: float) -> np.ndarray:
        return self.base + math.exp(log_pump) * self.absorption

    def system(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y, log_pump = np.exp(u[:-1]), u[-1]
        residual, jac_y = constrained_system(self.equations, y, self.matrix(log_pump))
        d_log_pump = math.exp(log_pump) * (self.absorption @ y)
        d_log_pump[0] = 0.0
        return residual, np.hstack([jac_y * y[None, :], d_log_pump[:, None]])

    def tangent(self, u: np.ndarray, previous: np.ndarray) -> np.ndarray:
        _, jac = self.system(u)
        rhs = np.zeros(len(u))
        rhs[-1] = 1.0
        tangent = np.linalg.solve(np.vstack([jac, previous]), rhs)
        tangent /= np.linalg.norm(tangent)
        return tangent if tangent @ previous > 0 else -tangent

    def correct(self, predicted: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
        """Newton on F(u) = 0 within the hyperplane through ``predicted`` normal to ``direction``."""
        u = predicted.copy()
        for _ in range(CORRECTOR_ITERATIONS):
            residual, jac = self.system(u)
            full_residual = np.append(residual, direction @ (u - predicted))
            try:
                step = np.linalg.solve(np.vstack([jac, direction]), -full_residual)
            except np.linalg.LinAlgError:
                return None
            step = np.clip(step, -2.0, 2.0)   # log units: at most a factor e^2 per iteration
            u = u + step
            if not np.all(np.isfinite(u)):
                return None
            if np.max(np.abs(step)) < CORRECTOR_TOLERANCE:
                return u
        return None


def trace_s_curve(equations: RateEquations, pump_wavelength_m: float, start: np.ndarray,
                  pump_min_w_m2: float, pump_max_w_m2: float) -> SCurve:
    curve = _Curve(equations, pump_wavelength_m)
    basis = reduced_basis(equations.n_levels)
    floor = np.finfo(float).tiny
    u = np.append(np.log(np.maximum(start, floor)), math.log(pump_min_w_m2))
    log_min, log_max = math.log(pump_min_w_m2), math.log(pump_max_w_m2)
    direction = np.zeros(len(u))
    direction[-1] = 1.0
    tangent = curve.tangent(u, direction)
    points, folds = [u], []
    step = INITIAL_STEP
    while log_min - BELOW_START_LOG < u[-1] < log_max and len(points) < MAX_POINTS:
        candidate = curve.correct(u + step * tangent, tangent)
        new_tangent = None if candidate is None else curve.tangent(candidate, tangent)
        if new_tangent is None or new_tangent @ tangent < MAX_TURN_COS:
            step *= 0.5
            if step < MIN_STEP:
                log.warning("continuation stalled at %.4g kW/cm2", math.exp(u[-1]) / 1e7)
                break
            continue
        if np.sign(new_tangent[-1]) != np.sign(tangent[-1]):
            folds.append(_refine_fold(curve, u, tangent, step))
        u, tangent = candidate, new_tangent
        points.append(u)
        step = min(step * 1.5, MAX_STEP)
    pts = np.array(points)
    populations = np.exp(pts[:, :-1])
    stable = np.array([is_stable(equations, y, curve.matrix(p[-1]), basis) for y, p in zip(populations, pts)])
    return SCurve(np.exp(pts[:, -1]), populations, stable, tuple(folds))


def _refine_fold(curve: _Curve, u: np.ndarray, tangent: np.ndarray, step: float) -> float:
    """Pump at the fold between u (tangent_lambda of one sign) and the point ``step`` further (other sign)."""
    def tangent_lambda(ds: float) -> tuple[float, np.ndarray | None]:
        point = curve.correct(u + ds * tangent, tangent)
        if point is None:
            return math.nan, None
        return curve.tangent(point, tangent)[-1], point

    low, high = 0.0, step
    f_low = tangent[-1]
    best = u
    for _ in range(FOLD_REFINEMENTS):
        middle = 0.5 * (low + high)
        f_mid, point = tangent_lambda(middle)
        if point is None:
            break
        best = point
        if abs(f_mid) < FOLD_TANGENT_TOLERANCE:
            break
        if np.sign(f_mid) == np.sign(f_low):
            low, f_low = middle, f_mid
        else:
            high = middle
    return math.exp(best[-1])
