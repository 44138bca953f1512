"""Time-domain response to arbitrary pump and control waveforms.

LSODA and VODE-BDF (ODEPACK) with the analytic Jacobian, see PiecewiseIntegrator; VODE is handed
the Jacobian transposed (with SciPy's wrapper the untransposed one makes it stall, while LSODA takes
it as is). Both are several times faster than solve_ivp's pure-Python BDF on these 8-level systems.
Piecewise-constant waveforms (those with
``breakpoints``) are integrated segment by segment with the linear matrix frozen per segment and
the integrator restarted exactly at every edge; any other callable is evaluated inside the
right-hand side (it should then be smooth).
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import ode

from .simplex import onto_simplex
from .equations import RateEquations
from .orbit import Orbit, has_converged, segment_samples
from .waveforms import ChopperWaveform, Constant, Scaled, Waveform

Drive = Waveform | Callable[[float], float] | float

log = logging.getLogger(__name__)

RTOL = 1e-6
ATOL = 1e-12
SEGMENT_EPSILON_S = 1e-12   # relative; shorter segments are rounding artefacts of edge times


@dataclass(frozen=True)
class Trajectory:
    t: np.ndarray          # (n,) s
    y: np.ndarray          # (n, levels) population fractions
    # Under a chopped pump: the periodic orbit, if it was reached (the outputs after that are read off it).
    orbit: Orbit | None = None


def as_waveform(drive: Drive) -> Waveform | Callable[[float], float]:
    if isinstance(drive, int | float):
        return Constant(float(drive))
    return drive


def has_breakpoints(drive: object) -> bool:
    return isinstance(drive, Waveform)


def _rhs(_t: float, y: np.ndarray, equations: RateEquations, matrix: np.ndarray) -> np.ndarray:
    return equations.rhs(y, matrix)


def _jac(_t: float, y: np.ndarray, equations: RateEquations, matrix: np.ndarray) -> np.ndarray:
    return equations.jacobian(y, matrix)


def _jac_transposed(_t: float, y: np.ndarray, equations: RateEquations, matrix: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(equations.jacobian(y, matrix).T)


class IntegrationError(RuntimeError):
    pass


class PiecewiseIntegrator:
    """Integrates one RateEquations under piecewise-constant drive, restarting at every edge.

    Long constant stretches go to LSODA (a few dozen steps per second of simulated time); short
    segments between chopper edges go to VODE-BDF, which restarts about twice as cheaply. If one
    fails on a segment, the segment is redone with the other.
    """

    SHORT_SEGMENT_S = 5e-3

    def __init__(self, equations: RateEquations) -> None:
        self.equations = equations
        self._lsoda = ode(_rhs, _jac).set_integrator("lsoda", rtol=RTOL, atol=ATOL, nsteps=100000)
        self._vode = ode(_rhs, _jac_transposed).set_integrator(
            "vode", method="bdf", with_jacobian=True, rtol=RTOL, atol=ATOL, nsteps=100000)

    def segment(self, y0: np.ndarray, t0: float, matrix: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        """States at ``outputs`` (ascending, > t0) under constant ``matrix``; last row is the end state."""
        short = outputs[-1] - t0 < self.SHORT_SEGMENT_S
        first, second = (self._vode, self._lsoda) if short else (self._lsoda, self._vode)
        try:
            return self._run(first, y0, t0, matrix, outputs)
        except IntegrationError as error:
            log.info("%s; retrying the segment with the other integrator", error)
            return self._run(second, y0, t0, matrix, outputs)

    def _run(self, solver: ode, y0: np.ndarray, t0: float, matrix: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        solver.set_initial_value(y0, t0).set_f_params(self.equations, matrix).set_jac_params(self.equations, matrix)
        out = np.empty((len(outputs), len(y0)))
        tiny = SEGMENT_EPSILON_S * max(1.0, abs(t0))
        for i, t in enumerate(outputs):
            if t - t0 <= tiny:      # an output on the edge itself, up to rounding
                out[i] = y0
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)   # failures are reported through successful()
                out[i] = solver.integrate(t)
            if not solver.successful():
                raise IntegrationError(f"integrator failed at t={t:g} s (return code {solver.get_return_code()})")
        return onto_simplex(out)


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
    orbit = None
    if has_breakpoints(pump_w) and has_breakpoints(control_w):
        orbit = _piecewise(equations, t, pump_w, control_w, control_wavelength_m, pump_wavelength_m, state, out,
                           integrator or PiecewiseIntegrator(equations))
    else:
        _continuous(equations, t, pump_w, control_w, control_wavelength_m, pump_wavelength_m, state, out)
    return Trajectory(t, out, orbit)


def chopper_of(pump: object) -> ChopperWaveform | None:
    """The chopper that makes ``pump`` periodic, if it is one (alone or scaled)."""
    if isinstance(pump, ChopperWaveform):
        return pump
    if isinstance(pump, Scaled) and isinstance(pump.shape, ChopperWaveform):
        return pump.shape
    return None


def build_orbit(integrator: PiecewiseIntegrator, y_open: np.ndarray, t_open: float, chopper: ChopperWaveform,
                matrix_on: np.ndarray, matrix_off: np.ndarray) -> Orbit:
    """Integrate one period from the opening edge at ``t_open`` densely and store it."""
    on_length = chopper.duty * chopper.period_s
    off_length = chopper.period_s - on_length
    on_offsets = segment_samples(on_length)
    on_states = integrator.segment(y_open, t_open, matrix_on, t_open + on_offsets)
    off_offsets = segment_samples(off_length)
    off_states = integrator.segment(on_states[-1], t_open + on_length, matrix_off, t_open + on_length + off_offsets)
    phases = np.concatenate([[0.0], on_offsets, on_length + off_offsets])
    states = np.vstack([y_open, on_states, off_states])
    return Orbit(chopper, phases, states)


def _piecewise(equations: RateEquations, t: np.ndarray, pump: Waveform, control: Waveform,
               control_wavelength_m: float, pump_wavelength_m: float, state: np.ndarray, out: np.ndarray,
               integrator: PiecewiseIntegrator) -> Orbit | None:
    """Fill ``out`` segment by segment; under a chopper, switch to the periodic orbit once it is reached."""
    edges = np.union1d(pump.breakpoints(t[0], t[-1]), control.breakpoints(t[0], t[-1]))
    chopper = chopper_of(pump) if len(control.breakpoints(t[0], t[-1])) == 0 else None
    bounds = np.concatenate([[t[0]], edges, [t[-1]]])
    next_output = 1
    previous_opening: np.ndarray | None = None
    matrices: dict[float, np.ndarray] = {}
    for start, end in zip(bounds[:-1], bounds[1:]):
        middle = 0.5 * (start + end)
        drive_now = (_intensity(pump(middle)), _intensity(control(middle)))
        if drive_now not in matrices:
            matrices[drive_now] = equations.linear_matrix(*drive_now, control_wavelength_m, pump_wavelength_m)
        matrix = matrices[drive_now]
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
        if chopper is not None and end < t[-1] and chopper(middle) == 0.0 and chopper.duty < 1.0:
            # ``end`` is an opening edge: compare with the previous opening
            if previous_opening is not None and has_converged(previous_opening, state):
                on_drive = (_intensity(pump(end + 0.5 * chopper.duty * chopper.period_s)), drive_now[1])
                matrix_on = matrices.get(on_drive)
                if matrix_on is None:
                    matrix_on = equations.linear_matrix(*on_drive, control_wavelength_m, pump_wavelength_m)
                orbit = build_orbit(integrator, state, end, chopper, matrix_on, matrix)
                out[next_output:] = orbit.states_at(t[next_output:])
                return orbit
            previous_opening = state
    return None


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # failures are reported through successful()
            out[i] = onto_simplex(solver.integrate(t[i]))
        if not solver.successful():
            raise RuntimeError(f"LSODA failed at t={t[i]:g} s (return code {solver.get_return_code()})")


def _intensity(value: float) -> float:
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"intensity={value!r} W/m2 (pump or control waveform) is outside the allowed range "
                         f"[0, inf] W/m2")
    return float(value)
