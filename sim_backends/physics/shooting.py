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

from .equations import RateEquations
from .orbit import Orbit
from .rosenbrock import run_segment, segment_grid
from .simplex import onto_simplex
from .waveforms import ChopperWaveform

log = logging.getLogger(__name__)

MAX_ITERATIONS = 8
ABSOLUTE_TOLERANCE = 1e-12
RELATIVE_TOLERANCE = 1e-8
MAX_STEP = 0.3                  # largest population change of one Newton step (keeps it local)
SAME_BRANCH_DISTANCE = 0.1      # as steady.SAME_BRANCH_DISTANCE
NEGATIVE_TOLERANCE = 1e-9


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


class PeriodMap:
    """The stroboscopic map of one chopped drive (on / off linear matrices of one equation set)."""

    def __init__(self, equations: RateEquations, chopper: ChopperWaveform, matrix_on: np.ndarray,
                 matrix_off: np.ndarray) -> None:
        self.equations = equations
        self.chopper = chopper
        self.on, self.off = matrix_on, matrix_off
        on_length = chopper.duty * chopper.period_s
        self.on_length = on_length
        self.on_grid = segment_grid(on_length)
        self.off_grid = segment_grid(chopper.period_s - on_length)

    def run(self, y_open: np.ndarray, with_jacobian: bool = True) -> PeriodRun:
        first = run_segment(self.equations, y_open, self.on, self.on_grid, with_jacobian)
        second = run_segment(self.equations, first.states[-1], self.off, self.off_grid, with_jacobian)
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


def find_orbit(period_map: PeriodMap, y_start: np.ndarray, basis: np.ndarray) -> ShootingResult:
    """Newton on P(y) = y from ``y_start`` (a state at an opening edge)."""
    y = np.array(y_start, dtype=float)
    reduced_identity = np.eye(basis.shape[1])
    for iteration in range(1, MAX_ITERATIONS + 1):
        run = period_map.run(y)
        residual = run.end - y
        if np.all(np.abs(residual) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * np.abs(y)):
            return _accept(period_map, run, y_start, basis, iteration)
        assert run.monodromy is not None
        reduced = basis.T @ run.monodromy @ basis
        _, _, z, info = dgesv(reduced_identity - reduced, basis.T @ residual)
        if info != 0:
            return ShootingResult(None, math.inf, iteration, "singular Newton matrix (a fold of the orbit)")
        step = basis @ z
        largest = float(np.max(np.abs(step)))
        if largest > MAX_STEP:
            step *= MAX_STEP / largest
        y = y + step
        if not np.all(np.isfinite(y)):
            return ShootingResult(None, math.inf, iteration, "Newton diverged")
    return ShootingResult(None, math.inf, MAX_ITERATIONS, "Newton did not converge")


def _accept(period_map: PeriodMap, run: PeriodRun, y_start: np.ndarray, basis: np.ndarray,
            iteration: int) -> ShootingResult:
    y = run.states[0]
    if np.any(run.states < -NEGATIVE_TOLERANCE):
        return ShootingResult(None, math.inf, iteration, "unphysical (negative populations)")
    if float(np.max(np.abs(y - y_start))) > SAME_BRANCH_DISTANCE:
        return ShootingResult(None, math.inf, iteration, "left the branch")
    assert run.monodromy is not None
    largest = float(np.max(np.abs(floquet_multipliers(run.monodromy, basis))))
    if largest >= 1.0:
        return ShootingResult(None, math.inf, iteration, "unstable orbit")
    relaxation = 0.0 if largest <= 0.0 else -period_map.chopper.period_s / math.log(largest)
    settled = PeriodRun(run.phases_s, onto_simplex(run.states), run.monodromy)
    return ShootingResult(period_map.orbit(settled), relaxation, iteration, "", largest)


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
                      weights: np.ndarray) -> Settled:
    """The orbit a state at an opening edge settles on: shooting first; if Newton is not
    accepted (the start is far from any stable orbit, e.g. a particle switching branch), the
    period map is iterated (what the particle physically does) and shooting retried, with
    growing chunks, until accepted or ``max_periods`` are used (then ``result.orbit`` is None)."""
    y = np.array(y_open, dtype=float)
    integrals = np.zeros(weights.shape[0])
    done = 0
    chunk = FIRST_INTEGRATION_PERIODS
    while True:
        result = find_orbit(period_map, y, basis)
        if result.orbit is not None or done >= max_periods:
            return Settled(result, done, integrals, y)
        for _ in range(min(chunk, max_periods - done)):
            run = period_map.run(y, with_jacobian=False)
            integrals += period_integrals(run, weights)
            y = onto_simplex(run.end)
            done += 1
        chunk = min(2 * chunk, MAX_INTEGRATION_CHUNK)


def period_integrals(run: PeriodRun, weights: np.ndarray) -> np.ndarray:
    """Integral of each weight row @ y over one period run (trapezoid on the run's samples)."""
    signal = run.states @ weights.T
    return np.trapezoid(signal, run.phases_s, axis=0)
