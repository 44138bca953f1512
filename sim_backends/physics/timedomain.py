"""Time-domain response to arbitrary pump and control waveforms.

LSODA (ODEPACK; switches to BDF when the problem is stiff, which it always is here) with the
analytic Jacobian. (SciPy's VODE wrapper was tried and stalls with a user Jacobian; LSODA is also
about 10x faster than solve_ivp's pure-Python BDF on these 8-level systems.) Piecewise-constant waveforms (those with
``breakpoints``) are integrated segment by segment with the linear matrix frozen per segment and
the integrator restarted exactly at every edge; any other callable is evaluated inside the
right-hand side (it should then be smooth).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import ode

from .equations import RateEquations
from .waveforms import Constant, Waveform

Drive = Waveform | Callable[[float], float] | float

RTOL = 1e-6
ATOL = 1e-13
SEGMENT_EPSILON_S = 1e-12   # relative; shorter segments are rounding artefacts of edge times


@dataclass(frozen=True)
class Trajectory:
    t: np.ndarray          # (n,) s
    y: np.ndarray          # (n, levels) population fractions


def as_waveform(drive: Drive) -> Waveform | Callable[[float], float]:
    if isinstance(drive, int | float):
        return Constant(float(drive))
    return drive


def has_breakpoints(drive: object) -> bool:
    return isinstance(drive, Waveform)


def _lsoda_rhs(_t: float, y: np.ndarray, equations: RateEquations, matrix: np.ndarray) -> np.ndarray:
    return equations.rhs(y, matrix)


def _lsoda_jac(_t: float, y: np.ndarray, equations: RateEquations, matrix: np.ndarray) -> np.ndarray:
    return equations.jacobian(y, matrix)


class PiecewiseIntegrator:
    """Integrates one RateEquations under piecewise-constant drive; reuses one LSODA instance."""

    def __init__(self, equations: RateEquations) -> None:
        self.equations = equations
        self._solver = ode(_lsoda_rhs, _lsoda_jac).set_integrator(
            "lsoda", rtol=RTOL, atol=ATOL, nsteps=100000)

    def segment(self, y0: np.ndarray, t0: float, matrix: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        """States at ``outputs`` (ascending, > t0) under constant ``matrix``; last row is the end state."""
        solver = self._solver
        solver.set_initial_value(y0, t0).set_f_params(self.equations, matrix).set_jac_params(self.equations, matrix)
        out = np.empty((len(outputs), len(y0)))
        tiny = SEGMENT_EPSILON_S * max(1.0, abs(t0))
        for i, t in enumerate(outputs):
            if t - t0 <= tiny:      # an output on the edge itself, up to rounding
                out[i] = y0
                continue
            out[i] = solver.integrate(t)
            if not solver.successful():
                raise RuntimeError(f"LSODA failed at t={t:g} s (return code {solver.get_return_code()})")
        return np.clip(out, 0.0, None)


def simulate(equations: RateEquations, t: np.ndarray, pump: Drive, control: Drive = 0.0,
             control_wavelength_m: float = 808e-9, y0: np.ndarray | None = None,
             pump_wavelength_m: float = 1064e-9, integrator: PiecewiseIntegrator | None = None) -> Trajectory:
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or len(t) < 1 or np.any(np.diff(t) <= 0):
        raise ValueError(f"t has shape {t.shape}; allowed: a 1-D strictly increasing array of times in s")
    pump_w, control_w = as_waveform(pump), as_waveform(control)
    state = np.zeros(equations.n_levels) if y0 is None else np.array(y0, dtype=float)
    if y0 is None:
        state[0] = 1.0
    out = np.empty((len(t), equations.n_levels))
    out[0] = state
    if len(t) == 1:
        return Trajectory(t, out)
    if has_breakpoints(pump_w) and has_breakpoints(control_w):
        _piecewise(equations, t, pump_w, control_w, control_wavelength_m, pump_wavelength_m, state, out,
                   integrator or PiecewiseIntegrator(equations))
    else:
        _continuous(equations, t, pump_w, control_w, control_wavelength_m, pump_wavelength_m, state, out)
    return Trajectory(t, out)


def _piecewise(equations: RateEquations, t: np.ndarray, pump: Waveform, control: Waveform,
               control_wavelength_m: float, pump_wavelength_m: float, state: np.ndarray, out: np.ndarray,
               integrator: PiecewiseIntegrator) -> None:
    edges = np.union1d(pump.breakpoints(t[0], t[-1]), control.breakpoints(t[0], t[-1]))
    bounds = np.concatenate([[t[0]], edges, [t[-1]]])
    next_output = 1
    for start, end in zip(bounds[:-1], bounds[1:]):
        middle = 0.5 * (start + end)
        matrix = equations.linear_matrix(_intensity(pump(middle)), _intensity(control(middle)),
                                         control_wavelength_m, pump_wavelength_m)
        stop = np.searchsorted(t, end, side="right")
        if end - start <= SEGMENT_EPSILON_S * max(1.0, abs(start)):
            # an edge that coincides with an output time up to rounding: nothing happens in between
            out[next_output:stop] = state
            next_output = stop
            continue
        targets = t[next_output:stop]
        if len(targets) == 0 or targets[-1] < end:
            targets = np.append(targets, end)
        states = integrator.segment(state, start, matrix, targets)
        n_out = stop - next_output
        out[next_output:stop] = states[:n_out]
        next_output = stop
        state = states[-1]


def _continuous(equations: RateEquations, t: np.ndarray, pump: Callable[[float], float],
                control: Callable[[float], float], control_wavelength_m: float, pump_wavelength_m: float,
                state: np.ndarray, out: np.ndarray) -> None:
    def rhs(time: float, y: np.ndarray) -> np.ndarray:
        return equations.rhs(y, equations.linear_matrix(_intensity(pump(time)), _intensity(control(time)),
                                                        control_wavelength_m, pump_wavelength_m))

    def jac(time: float, y: np.ndarray) -> np.ndarray:
        return equations.jacobian(y, equations.linear_matrix(_intensity(pump(time)), _intensity(control(time)),
                                                             control_wavelength_m, pump_wavelength_m))

    solver = ode(rhs, jac).set_integrator("lsoda", rtol=RTOL, atol=ATOL, nsteps=100000)
    solver.set_initial_value(state, t[0])
    for i in range(1, len(t)):
        out[i] = np.clip(solver.integrate(t[i]), 0.0, None)
        if not solver.successful():
            raise RuntimeError(f"LSODA failed at t={t[i]:g} s (return code {solver.get_return_code()})")


def _intensity(value: float) -> float:
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"intensity={value!r} W/m2 is outside the allowed range [0, inf) W/m2")
    return float(value)
