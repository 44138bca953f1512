"""Settling onto the periodic orbit of a chopped pump, period by period, with geometric extrapolation.

The approach to the orbit is dominated by one slow mode (the 4I11/2 reservoir, slower still near a
fold), so the states at successive opening edges converge geometrically: x_{k+1} - x_k ~ mu^k.
When two consecutive estimates of mu agree and the steps keep their direction, the periods in
between are skipped by summing the geometric series (for the state and for the emitted photons),
then integration resumes and confirms convergence. Jumps are capped so they cannot carry the state
across to the other branch.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .simplex import onto_simplex
from .orbit import Orbit, has_converged, segment_samples
from .timedomain import PiecewiseIntegrator, build_orbit
from .waveforms import ChopperWaveform

log = logging.getLogger(__name__)

MU_AGREEMENT = 0.01          # consecutive contraction estimates must agree this well
AGREEING_ESTIMATES = 3
MU_MAX = 0.998               # slower than this: too close to a fold to extrapolate safely
DIRECTION_COSINE = 0.999     # successive period-to-period steps must be this parallel
MAX_JUMP = 0.05              # largest population change one extrapolation may make
RESIDUAL_TARGET = 1e-4       # skip until the slow mode has decayed to this fraction


#: one period from the state at an opening edge and that edge's time (the dense orbit of it)
PeriodBuilder = Callable[[np.ndarray, float], Orbit]
#: a stretch shorter than a period: (state, t_start, t_stop) -> (end state, emission integrals)
StretchRunner = Callable[[np.ndarray, float, float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ChoppedDwell:
    integrals: np.ndarray        # (n_weights,) integral of weights @ y over the dwell
    end_state: np.ndarray
    orbit: Orbit | None          # set if the orbit was reached


def run_chopped(integrator: PiecewiseIntegrator, y0: np.ndarray, t0: float, duration_s: float,
                chopper: ChopperWaveform, matrix_on: np.ndarray, matrix_off: np.ndarray,
                weights: np.ndarray, build_period: PeriodBuilder | None = None,
                run_stretch: StretchRunner | None = None) -> ChoppedDwell:
    """Advance ``y0`` from ``t0`` for ``duration_s`` under the chopped drive; ``weights`` is (n_weights, levels).

    The whole periods are integrated by ``build_period``, the partial periods at either end by
    ``run_stretch`` (defaults: ODEPACK segments, ``build_orbit`` and ``free_run``)."""
    if build_period is None:
        def build_period(y: np.ndarray, t_open: float) -> Orbit:
            return build_orbit(integrator, y, t_open, chopper, matrix_on, matrix_off)
    if run_stretch is None:
        def run_stretch(y: np.ndarray, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
            return free_run(integrator, y, start, stop, chopper, matrix_on, matrix_off, weights)
    period = chopper.period_s
    t_end = t0 + duration_s
    total = np.zeros(weights.shape[0])
    first_opening = chopper.offset_s + math.ceil((t0 - chopper.offset_s) / period) * period
    if first_opening - t0 > 1e-12 * max(1.0, abs(t0)):
        stop = min(first_opening, t_end)
        y0, integral = run_stretch(y0, t0, stop)
        total += integral
        if stop >= t_end:
            return ChoppedDwell(total, y0, None)
    t = first_opening
    openings = [y0]
    period_integrals: list[np.ndarray] = []
    mu_estimates: list[float] = []
    while t + period <= t_end:
        orbit = build_period(openings[-1], t)
        period_integral = np.array([orbit.integral(w, t, t + period) for w in weights])
        total += period_integral
        t += period
        end = orbit.states[-1]
        if has_converged(openings[-1], end):
            total += np.array([orbit.integral(w, t, t_end) for w in weights])
            return ChoppedDwell(total, orbit.state_at(t_end), orbit)
        openings.append(end)
        period_integrals.append(period_integral)
        skipped = _extrapolate(openings, period_integrals, mu_estimates, int((t_end - t) // period) - 1)
        if skipped is not None:
            n, state, integral = skipped
            openings.append(state)
            total += integral
            t += n * period
            log.debug("chopped settling: skipped %d periods by geometric extrapolation", n)
    y, integral = run_stretch(openings[-1], t, t_end)
    return ChoppedDwell(total + integral, y, None)


def _extrapolate(openings: list[np.ndarray], integrals: list[np.ndarray], mu_estimates: list[float],
                 periods_available: int) -> tuple[int, np.ndarray, np.ndarray] | None:
    if len(openings) < 3 or len(integrals) < 3 or periods_available < 2:
        return None
    step_old = openings[-2] - openings[-3]
    step_new = openings[-1] - openings[-2]
    norm_old = float(step_old @ step_old)
    if norm_old == 0.0:
        return None
    mu = float(step_new @ step_old) / norm_old
    mu_estimates.append(mu)
    cosine = float(step_new @ step_old) / math.sqrt(norm_old * float(step_new @ step_new) + 1e-300)
    recent = mu_estimates[-AGREEING_ESTIMATES:]
    if (len(recent) < AGREEING_ESTIMATES or max(recent) - min(recent) > MU_AGREEMENT
            or not 0.0 < mu < MU_MAX or cosine < DIRECTION_COSINE):
        return None
    # The observable must contract at the same rate (it does not while a particle is switching).
    d_old, d_new = integrals[-2] - integrals[-3], integrals[-1] - integrals[-2]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(np.abs(d_old) > 0.0, d_new / d_old, mu)
    if np.any(np.abs(ratios - mu) > MU_AGREEMENT):
        return None
    n = min(periods_available, math.ceil(math.log(RESIDUAL_TARGET) / math.log(mu)))
    series = mu * (1.0 - mu**n) / (1.0 - mu)                 # sum_{j=1..n} mu^j
    jump = step_new * series
    if np.max(np.abs(jump)) > MAX_JUMP:
        return None
    # I_{k+j} = I_k + d (mu + ... + mu^j); summed over j = 1..n
    skipped_integral = n * integrals[-1] + d_new * mu / (1.0 - mu) * (n - series)
    mu_estimates.clear()
    return n, onto_simplex(openings[-1] + jump), skipped_integral


#: one constant piece of a stretch: (state, start, end, matrix) -> (sample times from ``start``,
#: states at them, the state the next piece starts from)
PieceSolver = Callable[[np.ndarray, float, float, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def run_pieces(y: np.ndarray, t_start: float, t_stop: float, chopper: ChopperWaveform,
               matrix_on: np.ndarray, matrix_off: np.ndarray, weights: np.ndarray,
               solve_piece: PieceSolver) -> tuple[np.ndarray, np.ndarray]:
    """A partial stretch cut at the blade's edges into constant pieces, each solved by
    ``solve_piece``; returns the end state and the emission integrals (trapezoid on the samples)."""
    edges = chopper.breakpoints(t_start, t_stop)
    bounds = np.concatenate([[t_start], edges, [t_stop]])
    integral = np.zeros(weights.shape[0])
    for start, end in zip(bounds[:-1], bounds[1:]):
        if end - start <= 1e-12 * max(1.0, abs(start)):
            continue
        matrix = matrix_on if chopper(0.5 * (start + end)) > 0.0 else matrix_off
        offsets, states, y_next = solve_piece(y, start, end, matrix)
        signal = np.vstack([y, states]) @ weights.T
        integral += np.trapezoid(signal, np.concatenate([[0.0], offsets]), axis=0)
        y = y_next
    return y, integral


def free_run(integrator: PiecewiseIntegrator, y: np.ndarray, t_start: float, t_stop: float,
             chopper: ChopperWaveform, matrix_on: np.ndarray, matrix_off: np.ndarray,
             weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integrate a partial stretch edge by edge (ODEPACK); returns the end state and the emission integrals."""
    def solve_piece(y_from: np.ndarray, start: float, end: float,
                    matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        offsets = segment_samples(end - start)
        states = integrator.segment(y_from, start, matrix, start + offsets)
        return offsets, states, states[-1]

    return run_pieces(y, t_start, t_stop, chopper, matrix_on, matrix_off, weights, solve_piece)
