"""Periodic steady state under a chopped pump, computed directly: Newton on the stroboscopic map.

The state at a blade opening edge, y, is mapped by one period of the dynamics to P(y). The
periodic orbit is the fixed point P(y*) = y*. Newton with the monodromy matrix dP/dy
(rosenbrock.py) finds it in 2-4 periods from a nearby orbit (the previous point of a sweep),
where integrating until the slow 4I11/2 reservoir has forgotten its start takes hundreds.

As for the CW steady states (steady.py) a Newton result is accepted only if it is physical, close
to the start (so it is on the same branch, not the unstable middle orbit or the other branch) and
stable: every Floquet multiplier (eigenvalue of the monodromy on the sum-zero subspace) inside
the unit circle. The slowest multiplier gives the relaxation time onto the orbit.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dgesv

from .chopped import run_pieces
from .equations import RateEquations
from .orbit import ORBIT_ABSOLUTE_TOLERANCE, ORBIT_RELATIVE_TOLERANCE, Orbit
from .rosenbrock import adaptive_grid, run_segment
from .simplex import onto_simplex
from .waveforms import ChopperWaveform

log = logging.getLogger(__name__)

MAX_ITERATIONS = 8
# A fixed point of the discrete map to half the orbit-detection tolerance (orbit.has_converged):
# the map itself is accurate to ~1e-3 (rosenbrock.RELATIVE_TOLERANCE), so solving it further only
# costs chord periods (each a whole period run) without making the orbit any truer.
ABSOLUTE_TOLERANCE = 0.5 * ORBIT_ABSOLUTE_TOLERANCE
RELATIVE_TOLERANCE = 0.5 * ORBIT_RELATIVE_TOLERANCE
MAX_STEP = 0.3                  # largest population change of one Newton step (keeps it local)
SAME_BRANCH_DISTANCE = 0.1      # as steady.SAME_BRANCH_DISTANCE
OUT_OF_SIMPLEX = 1e-3           # a Newton iterate this negative has left the basin
NEGATIVE_TOLERANCE = 1e-7      # discretisation noise of nearly empty levels (the orbit is then put on the simplex)


@dataclass(frozen=True)
class PeriodRun:
    """One period from an opening edge: the samples, the end state and the monodromy."""

    phases_s: np.ndarray
    states: np.ndarray
    monodromy: np.ndarray | None

    @property
    def end(self) -> np.ndarray:
        return self.states[-1]


@dataclass(frozen=True)
class ShootingResult:
    orbit: Orbit | None          # the accepted periodic orbit, phase 0 at an opening edge
    relaxation_time_s: float     # slowest approach onto it (inf if not accepted)
    iterations: int
    reason: str                  # why it was not accepted ("" if it was)
    multiplier: float = math.nan  # largest |Floquet multiplier| of an accepted orbit
    memory: ShootingMemory | None = None      # for the next point of a sweep
    first_run: PeriodRun | None = None        # the period run from the start state


class PeriodMap:
    """The stroboscopic map of one chopped drive (on / off linear matrices of one equation set)."""

    def __init__(self, equations: RateEquations, chopper: ChopperWaveform, matrix_on: np.ndarray,
                 matrix_off: np.ndarray) -> None:
        self.equations = equations
        self.chopper = chopper
        self.on, self.off = matrix_on, matrix_off
        self.on_length = chopper.duty * chopper.period_s
        self.off_length = chopper.period_s - self.on_length
        self._grids: tuple[np.ndarray, np.ndarray] | None = None

    def adapt(self, y_open: np.ndarray) -> None:
        """Choose the step grids by error control from ``y_open``; they stay frozen until the
        next call, so that every Newton iteration differentiates the same discrete map."""
        self.run_adaptive(y_open)

    def run_adaptive(self, y_open: np.ndarray) -> PeriodRun:
        """One period with step grids chosen by error control on the way (they become the
        frozen grids); no monodromy. This is also the cheapest way to integrate a period."""
        on_grid, on_states = adaptive_grid(self.equations, y_open, self.on, self.on_length)
        off_grid, off_states = adaptive_grid(self.equations, on_states[-1], self.off, self.off_length)
        self._grids = (on_grid, off_grid)
        phases = np.concatenate([[0.0], on_grid, self.on_length + off_grid])
        return PeriodRun(phases, np.vstack([y_open, on_states, off_states]), None)

    def use_grids(self, grids: tuple[np.ndarray, np.ndarray]) -> None:
        self._grids = grids

    def grids(self, y_open: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The frozen step grids (adapted to ``y_open`` if none are chosen yet)."""
        if self._grids is None:
            self.adapt(y_open)
        assert self._grids is not None
        return self._grids

    def run(self, y_open: np.ndarray, with_jacobian: bool = True) -> PeriodRun:
        on_grid, off_grid = self.grids(y_open)
        first = run_segment(self.equations, y_open, self.on, on_grid, with_jacobian)
        second = run_segment(self.equations, first.states[-1], self.off, off_grid, with_jacobian)
        phases = np.concatenate([first.offsets_s, self.on_length + second.offsets_s[1:]])
        states = np.vstack([first.states, second.states[1:]])
        monodromy = None
        if with_jacobian and first.monodromy is not None and second.monodromy is not None:
            monodromy = second.monodromy @ first.monodromy
        return PeriodRun(phases, states, monodromy)

    def orbit(self, run: PeriodRun) -> Orbit:
        return Orbit(self.chopper, run.phases_s, run.states)


def floquet_multipliers(monodromy: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Eigenvalues of the monodromy restricted to the sum-zero subspace (the dynamics lives there)."""
    return np.linalg.eigvals(basis.T @ monodromy @ basis)


@dataclass(frozen=True)
class ShootingMemory:
    """What an accepted orbit leaves for the next point of a sweep: the step grids and the
    monodromy on the sum-zero subspace. Along a branch both change slowly, so the next point
    starts with chord steps (one plain period each) instead of Jacobian runs."""

    lengths_s: tuple[float, float]
    grids: tuple[np.ndarray, np.ndarray]
    reduced_monodromy: np.ndarray


#: a remembered orbit's grids and monodromy serve a drive whose peak is within this fraction of
#: its own. Further away the remembered step grid can miss the avalanche of the new drive (a
#: spurious fixed point of the coarse discrete map: a dark orbit accepted above its fold) and the
#: remembered monodromy says nothing about the new orbit's stability.
NEARBY_PUMP = 0.05


def is_nearby_pump(remembered_w_m2: float, pump_w_m2: float) -> bool:
    return abs(remembered_w_m2 - pump_w_m2) <= NEARBY_PUMP * abs(pump_w_m2)


#: chord steps (with the remembered monodromy) must shrink the residual by at least this factor
CHORD_CONTRACTION = 0.25
#: the remembered monodromy decides stability only well inside the unit circle
TRUSTED_MULTIPLIER = 0.95


def find_orbit(period_map: PeriodMap, y_start: np.ndarray, basis: np.ndarray,
               memory: ShootingMemory | None = None) -> ShootingResult:
    """Newton on P(y) = y from ``y_start`` (a state at an opening edge).

    With ``memory`` of a nearby orbit its grids are reused and the steps are chord steps with
    its monodromy (one plain period each). When they do not contract fast enough (near a fold,
    or far from the orbit) the grids are re-adapted to the current iterate and every further
    step is a full Newton step (the monodromy is exact for the discrete map: quadratic
    convergence)."""
    y = np.array(y_start, dtype=float)
    lengths = (period_map.on_length, period_map.off_length)
    chord: np.ndarray | None = None
    if memory is not None and memory.lengths_s == lengths:
        period_map.use_grids(memory.grids)
        chord = memory.reduced_monodromy
    else:
        period_map.adapt(y)
    reduced_identity = np.eye(basis.shape[1])
    first_run: PeriodRun | None = None
    previous_norm = best_norm = math.inf
    # the chord steps' matrix (I - monodromy on the sum-zero subspace), improved by Broyden's rank-one
    # update after every chord step (the remembered monodromy is of a nearby drive: each update
    # corrects it along the direction just stepped, which is the slow mode that limits convergence)
    broyden: np.ndarray | None = None if chord is None else reduced_identity - chord
    last: tuple[np.ndarray, np.ndarray] | None = None     # (reduced step, reduced residual before it)
    for iteration in range(1, MAX_ITERATIONS + 1):
        run = period_map.run(y, with_jacobian=chord is None)
        first_run = first_run or run
        residual = run.end - y
        if np.all(np.abs(residual) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * np.abs(y)):
            return _accept(period_map, run, y_start, basis, iteration, chord, first_run)
        norm = float(np.max(np.abs(residual)))
        log.debug("shooting iteration %d (%s): residual %.3g", iteration, "chord" if chord is not None else "Newton",
                  norm)
        if chord is not None and norm > CHORD_CONTRACTION * previous_norm:
            chord = broyden = None          # not contracting: fresh grids, Newton from here on
            period_map.adapt(y)
            previous_norm = math.inf
            continue
        previous_norm = norm
        reduced_residual = basis.T @ residual
        if broyden is not None:
            if last is not None:
                # G(y) = P(y) - y changes by -(I - M) s over a step s: secant condition on the matrix
                step_before, residual_before = last
                change = residual_before - reduced_residual
                broyden = broyden + np.outer(change - broyden @ step_before, step_before) / float(
                    step_before @ step_before)
            newton_matrix = broyden
        else:
            newton_matrix = reduced_identity - basis.T @ run.monodromy @ basis
        _, _, z, info = dgesv(newton_matrix, reduced_residual)
        if info != 0:
            return ShootingResult(None, math.inf, iteration, "singular Newton matrix (a fold of the orbit)")
        z = z.ravel()
        largest = float(np.max(np.abs(basis @ z)))
        if largest > MAX_STEP:
            z *= MAX_STEP / largest
        last = (z, reduced_residual)
        y = y + basis @ z
        # Far from a fixed point the period map is strongly nonlinear (a particle in transit
        # between branches): a step out of the simplex or a growing residual means Newton is not
        # going to land; give up at once and let the caller integrate instead.
        if not np.all(np.isfinite(y)) or float(np.min(y)) < -OUT_OF_SIMPLEX:
            return ShootingResult(None, math.inf, iteration, "Newton left the simplex")
        if norm > 2.0 * best_norm:
            return ShootingResult(None, math.inf, iteration, "Newton diverged")
        best_norm = min(best_norm, norm)
    return ShootingResult(None, math.inf, MAX_ITERATIONS, "Newton did not converge")


def _accept(period_map: PeriodMap, run: PeriodRun, y_start: np.ndarray, basis: np.ndarray, iteration: int,
            reduced: np.ndarray | None, first_run: PeriodRun) -> ShootingResult:
    y = run.states[0]
    if np.any(run.states < -NEGATIVE_TOLERANCE):
        return ShootingResult(None, math.inf, iteration, "unphysical (negative populations)")
    if float(np.max(np.abs(y - y_start))) > SAME_BRANCH_DISTANCE:
        return ShootingResult(None, math.inf, iteration, "left the branch")
    if run.monodromy is not None:
        reduced = basis.T @ run.monodromy @ basis
    multipliers = None if reduced is None else np.abs(np.linalg.eigvals(reduced))
    if multipliers is None or float(np.max(multipliers)) > TRUSTED_MULTIPLIER:
        # near the unit circle the remembered monodromy may misjudge stability: a fresh one
        run = period_map.run(y, with_jacobian=True)
        assert run.monodromy is not None
        reduced = basis.T @ run.monodromy @ basis
        multipliers = np.abs(np.linalg.eigvals(reduced))
    largest = float(np.max(multipliers))
    if largest >= 1.0:
        return ShootingResult(None, math.inf, iteration, "unstable orbit")
    relaxation = 0.0 if largest <= 0.0 else -period_map.chopper.period_s / math.log(largest)
    settled = PeriodRun(run.phases_s, onto_simplex(run.states), None)
    memory = ShootingMemory((period_map.on_length, period_map.off_length), period_map.grids(y), reduced)
    return ShootingResult(period_map.orbit(settled), relaxation, iteration, "", largest, memory, first_run)


@dataclass(frozen=True)
class Settled:
    """Where integration handed over to an accepted orbit."""

    result: ShootingResult
    periods_integrated: int
    integrals: np.ndarray        # emission integrals (per weight row) over the integrated periods
    y_start: np.ndarray          # the state (at an opening edge) Newton started from


#: periods integrated between shooting attempts while no orbit is accepted (then doubled)
FIRST_INTEGRATION_PERIODS = 4
MAX_INTEGRATION_CHUNK = 512


def settle_onto_orbit(period_map: PeriodMap, y_open: np.ndarray, basis: np.ndarray, max_periods: int,
                      weights: np.ndarray, memory: ShootingMemory | None = None) -> Settled:
    """The orbit a state at an opening edge settles on: shooting first; if Newton is not
    accepted (the start is far from any stable orbit, e.g. a particle switching branch), the
    periods are integrated as the particle lives them (error-controlled Rosenbrock steps) and
    shooting is retried, with growing chunks, until accepted or ``max_periods`` are used (then
    ``result.orbit`` is None)."""
    y = np.array(y_open, dtype=float)
    integrals = np.zeros(weights.shape[0])
    done = 0
    chunk = FIRST_INTEGRATION_PERIODS
    while True:
        result = find_orbit(period_map, y, basis, memory)
        if result.orbit is not None or done >= max_periods:
            return Settled(result, done, integrals, y)
        for _ in range(min(chunk, max_periods - done)):
            run = period_map.run_adaptive(y)
            integrals += period_integrals(run, weights)
            y = onto_simplex(run.end)
            done += 1
        chunk = min(2 * chunk, MAX_INTEGRATION_CHUNK)
        memory = None        # far from where the memory came from: fresh grids and monodromy


def period_integrals(run: PeriodRun, weights: np.ndarray) -> np.ndarray:
    """Integral of each weight row @ y over one period run (trapezoid on the run's samples)."""
    signal = run.states @ weights.T
    return np.trapezoid(signal, run.phases_s, axis=0)


def ros2_stretch(period_map: PeriodMap, y: np.ndarray, t_start: float, t_stop: float,
                 weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stretch shorter than a period (from ``t_start`` to ``t_stop``, the blade's edges in
    between): error-controlled ROS2 steps on each constant piece, the emission integrals by the
    trapezoid on the steps (as period_integrals). Returns the end state and the integrals."""
    def solve_piece(y_from: np.ndarray, start: float, end: float,
                    matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        grid, states = adaptive_grid(period_map.equations, y_from, matrix, end - start)
        return grid, states, onto_simplex(states[-1])

    return run_pieces(np.array(y, dtype=float), t_start, t_stop, period_map.chopper, period_map.on,
                      period_map.off, weights, solve_piece)
