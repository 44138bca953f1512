"""RateModel: the public face of the rate equations of one particle (steady state, sweeps, folds, time domain).

Intensities are local intensities in W/m2 (1 kW/cm2 = 1e7 W/m2), wavelengths in m, temperature in
K, time in s. Populations are fractions of the dopant ions (sum 1), in ``level_names`` order.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from drivers.validation import check_positive, check_range

from .continuation import SCurve, trace_s_curve
from .equations import RateEquations
from .material import Material
from .materials import get_material
from .steady import SteadyStateSolver, relaxation_rates
from .timedomain import Drive, Trajectory, simulate
from .orbit import Orbit
from .shooting import PeriodMap, is_nearby_pump, settle_onto_orbit
from .waveforms import ChopperWaveform, Waveform

PUMP_WAVELENGTH_M = 1064e-9


def check_intensity(field: str, value: float) -> float:
    return check_range(field, value, 0.0, math.inf, "W/m2")


def check_wavelength(field: str, value: float) -> float:
    return check_range(field, value, 200e-9, 5e-6, "m")


class RateModel:
    """Rate equations of one particle of ``material`` at ``temperature_k``."""

    def __init__(self, material: Material | str, temperature_k: float = 77.0) -> None:
        self.material = get_material(material) if isinstance(material, str) else material
        self._set_temperature(temperature_k)

    def _set_temperature(self, temperature_k: float) -> None:
        self.equations = RateEquations(self.material, check_positive("temperature_k", temperature_k, "K"))
        self.solver = SteadyStateSolver(self.equations)
        self.integrator = self.solver.integrator
        self._s_curve: SCurve | None = None

    @property
    def temperature_k(self) -> float:
        return self.equations.temperature_k

    @temperature_k.setter
    def temperature_k(self, value: float) -> None:
        check_positive("temperature_k", value, "K")
        if value != self.temperature_k:
            self._set_temperature(value)

    @property
    def level_names(self) -> tuple[str, ...]:
        return self.equations.level_names

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.material.lines_nm)

    def dark_state(self) -> np.ndarray:
        """Every ion in the ground manifold: the state of a particle that has never been pumped."""
        y = np.zeros(self.equations.n_levels)
        y[0] = 1.0
        return y

    def matrix(self, pump_w_m2: float, control_w_m2: float = 0.0,
               control_wavelength_m: float = 808e-9) -> np.ndarray:
        check_intensity("pump_w_m2", pump_w_m2)
        check_intensity("control_w_m2", control_w_m2)
        check_wavelength("control_wavelength_m", control_wavelength_m)
        return self.equations.linear_matrix(pump_w_m2, control_w_m2, control_wavelength_m, PUMP_WAVELENGTH_M)

    # -- steady state --------------------------------------------------------------------------
    def steady_state(self, pump_w_m2: float, control_w_m2: float = 0.0, control_wavelength_m: float = 808e-9,
                     y0: np.ndarray | None = None) -> np.ndarray:
        """The steady state the particle settles to from ``y0`` (default: dark) under constant drive."""
        matrix = self.matrix(pump_w_m2, control_w_m2, control_wavelength_m)
        start = self.dark_state() if y0 is None else self._check_state(y0)
        return self.solver.solve(matrix, start, context=f"at pump {pump_w_m2 / 1e7:.4g} kW/cm2")

    def sweep(self, pump_w_m2: np.ndarray, y0: np.ndarray | None = None, control_w_m2: float = 0.0,
              control_wavelength_m: float = 808e-9) -> np.ndarray:
        """Steady states along ``pump_w_m2`` (n,), each started from the previous one: (n, levels)."""
        pumps = np.atleast_1d(np.asarray(pump_w_m2, dtype=float))
        state = self.dark_state() if y0 is None else self._check_state(y0)
        out = np.empty((len(pumps), self.equations.n_levels))
        for i, pump in enumerate(pumps):
            state = self.steady_state(float(pump), control_w_m2, control_wavelength_m, state)
            out[i] = state
        return out

    def relaxation_time_s(self, y: np.ndarray, pump_w_m2: float, control_w_m2: float = 0.0,
                          control_wavelength_m: float = 808e-9) -> float:
        """Slowest relaxation time of the linearised dynamics around ``y`` (inf if not stable)."""
        rates = relaxation_rates(self.equations, y, self.matrix(pump_w_m2, control_w_m2, control_wavelength_m),
                                 self.solver.basis)
        slowest = np.max(rates.real)
        return math.inf if slowest >= 0.0 else -1.0 / slowest

    # -- continuation --------------------------------------------------------------------------
    def s_curve(self, pump_min_w_m2: float = 1e6, pump_max_w_m2: float = 1e9) -> SCurve:
        """The whole steady-state curve (stable and unstable branches) by pseudo-arclength continuation."""
        check_positive("pump_min_w_m2", pump_min_w_m2, "W/m2")
        check_range("pump_max_w_m2", pump_max_w_m2, pump_min_w_m2, math.inf, "W/m2", low_inclusive=False)
        start = self.steady_state(pump_min_w_m2)
        return trace_s_curve(self.equations, PUMP_WAVELENGTH_M, start, pump_min_w_m2, pump_max_w_m2)

    def folds(self) -> tuple[float, float]:
        """(switch_on, switch_off) local intensities in W/m2: the folds of the S-curve.

        (nan, nan) when the curve has no fold (no bistability, e.g. with the ETU channel knocked out).
        """
        if self._s_curve is None:
            self._s_curve = self.s_curve()
        return self._s_curve.switch_on_w_m2, self._s_curve.switch_off_w_m2

    # -- time domain ---------------------------------------------------------------------------
    def simulate(self, t: np.ndarray, pump: Waveform | Callable[[float], float] | float,
                 control: Drive = 0.0, control_wavelength_m: float = 808e-9,
                 y0: np.ndarray | None = None, temperature_k: float | None = None) -> Trajectory:
        """Populations at times ``t`` under pump/control waveforms (W/m2) starting from ``y0`` (default dark).

        ``temperature_k``, if given, becomes the model temperature (the equations are reassembled).
        """
        check_wavelength("control_wavelength_m", control_wavelength_m)
        if temperature_k is not None:
            self.temperature_k = temperature_k
        start = None if y0 is None else self._check_state(y0)
        return simulate(self.equations, t, pump, control, control_wavelength_m, start, PUMP_WAVELENGTH_M,
                        self.integrator)

    def period_map(self, pump_peak_w_m2: float, chopper: ChopperWaveform, control_w_m2: float = 0.0,
                   control_wavelength_m: float = 808e-9) -> PeriodMap:
        """The stroboscopic map of one chopped drive (pump chopped, control continuous)."""
        check_intensity("pump_peak_w_m2", pump_peak_w_m2)
        return PeriodMap(self.equations, chopper, self.matrix(pump_peak_w_m2, control_w_m2, control_wavelength_m),
                         self.matrix(0.0, control_w_m2, control_wavelength_m))

    def periodic_steady_state(self, pump_peak_w_m2: float, chopper: ChopperWaveform, control_w_m2: float = 0.0,
                              control_wavelength_m: float = 808e-9, y0: np.ndarray | None = None,
                              max_time_s: float = 100.0) -> Orbit:
        """The periodic orbit reached from ``y0`` (default dark, at a blade opening edge) under a chopped pump.

        Found directly (Newton on the period map, shooting.py); where Newton is not accepted the
        periods are integrated as the particle lives them until it is. ``Orbit.states_at(t)`` gives
        the populations at any time (on the simplex), ``Orbit.mean(weights)`` the phase-averaged
        value of weights @ y (e.g. ``emission_weights()["810nm"]``). Raises RuntimeError if no
        orbit is reached within ``max_time_s`` of simulated time.
        """
        check_positive("max_time_s", max_time_s, "s")
        state = self.dark_state() if y0 is None else self._check_state(y0)
        period_map = self.period_map(pump_peak_w_m2, chopper, control_w_m2, control_wavelength_m)
        max_periods = max(1, math.ceil(max_time_s / chopper.period_s))
        settled = settle_onto_orbit(period_map, state, self.solver.basis, max_periods,
                                    np.zeros((0, self.equations.n_levels)))
        if settled.result.orbit is None:
            raise RuntimeError(f"no periodic orbit within {max_time_s:g} s at {pump_peak_w_m2 / 1e7:g} kW/cm2 "
                               f"peak, {chopper.frequency_hz:g} Hz, duty {chopper.duty:g}")
        return settled.result.orbit

    def periodic_sweep(self, pump_peak_w_m2: np.ndarray, chopper: ChopperWaveform, y0: np.ndarray | None = None,
                       control_w_m2: float = 0.0, control_wavelength_m: float = 808e-9) -> list[Orbit]:
        """Periodic orbits along ``pump_peak_w_m2``, each reached from the previous one (a chopped
        hysteresis sweep: the up and down branches differ where the orbit is bistable)."""
        pumps = np.atleast_1d(np.asarray(pump_peak_w_m2, dtype=float))
        state = self.dark_state() if y0 is None else self._check_state(y0)
        orbits = []
        memory, previous = None, math.nan
        empty = np.zeros((0, self.equations.n_levels))
        for pump in pumps:
            period_map = self.period_map(float(pump), chopper, control_w_m2, control_wavelength_m)
            nearby = memory if is_nearby_pump(previous, float(pump)) else None
            settled = settle_onto_orbit(period_map, state, self.solver.basis,
                                        max(1, math.ceil(100.0 / chopper.period_s)), empty, nearby)
            previous = float(pump)
            if settled.result.orbit is None:
                raise RuntimeError(f"no periodic orbit within 100 s at {pump / 1e7:g} kW/cm2 peak, "
                                   f"{chopper.frequency_hz:g} Hz, duty {chopper.duty:g}")
            orbits.append(settled.result.orbit)
            memory = settled.result.memory
            state = settled.result.orbit.states[0]
        return orbits

    # -- outputs -------------------------------------------------------------------------------
    def emission_rates(self, y: np.ndarray) -> dict[str, float]:
        """Photons/s emitted per particle into each named line (e.g. "810nm", "880nm")."""
        y = np.asarray(y, dtype=float)
        ions = self.material.ions_per_particle
        rates = {line: 0.0 for line in self.material.lines_nm}
        for decay in self.material.radiative:
            population = y[..., self.material.index(decay.upper)]
            for branch in decay.branches:
                if branch.line is not None:
                    rates[branch.line] = rates[branch.line] + decay.rate_s * branch.fraction * population * ions
        return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in rates.items()}

    def emission_weights(self) -> dict[str, np.ndarray]:
        """Per line, the vector w with photons/s per particle = w @ y (for fast traces)."""
        ions = self.material.ions_per_particle
        weights = {line: np.zeros(self.equations.n_levels) for line in self.material.lines_nm}
        for decay in self.material.radiative:
            for branch in decay.branches:
                if branch.line is not None:
                    weights[branch.line][self.material.index(decay.upper)] += decay.rate_s * branch.fraction * ions
        return weights

    def process_rates(self, y: np.ndarray, pump_w_m2: float, control_w_m2: float = 0.0,
                      control_wavelength_m: float = 808e-9) -> dict[str, float]:
        """Events per second per particle of every process (absorption, emission, MPR, CR/ETU and reverses)."""
        check_intensity("pump_w_m2", pump_w_m2)
        check_intensity("control_w_m2", control_w_m2)
        check_wavelength("control_wavelength_m", control_wavelength_m)
        y = self._check_state(y, normalise=False)
        material, eq = self.material, self.equations
        ions = material.ions_per_particle
        g = {m.name: m.degeneracy for m in material.manifolds}
        out: dict[str, float] = {}
        for decay in material.radiative:
            for branch in decay.branches:
                out[f"radiative {decay.upper}->{branch.lower}"] = (
                    decay.rate_s * branch.fraction * y[material.index(decay.upper)] * ions)
        names = self.level_names
        for u, l, down, up in eq.phonon_rates():
            out[f"MPR {names[u]}->{names[l]}"] = down * y[u] * ions
            out[f"thermal {names[l]}->{names[u]}"] = up * y[l] * ions
        for level, lower, rate in eq.quenching_rates():
            out[f"quenching {names[level]}->{names[lower]}"] = rate * y[level] * ions
        beams = [("pump", pump_w_m2, PUMP_WAVELENGTH_M), ("control", control_w_m2, control_wavelength_m)]
        for label, intensity, wavelength in beams:
            photon_energy = 6.62607015e-34 * 299792458.0 / wavelength
            for line in material.absorption:
                rate = eq.cross_section(line, wavelength) * intensity / photon_energy
                key = f"{label} absorption {line.lower}->{line.upper} ({line.center_cm:.0f} cm-1)"
                out[key] = out.get(key, 0.0) + rate * y[material.index(line.lower)] * ions
                if line.stimulated_emission:
                    stim = (eq.cross_section(line, wavelength, emission=True) * intensity / photon_energy
                            * g[line.lower] / g[line.upper])
                    key = f"{label} stimulated emission {line.upper}->{line.lower} ({line.center_cm:.0f} cm-1)"
                    out[key] = out.get(key, 0.0) + stim * y[material.index(line.upper)] * ions
        for process, rate in zip(eq.pairs, eq.pair_rates(y)):
            out[process.name] = float(rate) * ions
        return {k: float(v) for k, v in out.items()}

    def _check_state(self, y: np.ndarray, normalise: bool = True) -> np.ndarray:
        y = np.array(y, dtype=float)
        n = self.equations.n_levels
        if y.shape != (n,) or not np.all(np.isfinite(y)) or np.any(y < -1e-9):
            raise ValueError(f"y0 has shape {y.shape}; allowed: {n} finite non-negative populations "
                             f"({', '.join(self.level_names)})")
        total = y.sum()
        if normalise and not 0.99 < total < 1.01:
            raise ValueError(f"y0 sums to {total:g}; allowed: populations summing to 1 (fractions of the ions)")
        return y
