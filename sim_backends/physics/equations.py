"""Population-balance rate equations assembled from a Material, with their analytic Jacobian.

State: y[i] = fraction of the dopant ions in manifold i (sum y = 1). The equations are
dy/dt = M(I_pump, I_control) y + S (k * y[donor] * y[acceptor]),
with M linear (radiative decay, multiphonon relaxation with thermal up-pumping, absorption and
stimulated emission proportional to the photon flux) and the second term the pair processes (CR,
ETU and their detailed-balance reverses), whose rate constants already contain the dopant density.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivers.validation import check_positive, check_range

from .material import AbsorptionLine, EnergyTransfer, Material
from .materials import HC_OVER_K_CM_K, mpr_rate

PLANCK_J_S = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299792458.0
CM6_TO_NM6 = 1e42


@dataclass(frozen=True)
class PairProcess:
    name: str
    rate_constant_s: float
    donor_from: int
    donor_to: int
    acceptor_from: int
    acceptor_to: int


def tail_temperature_k(phonon_cm: float, temperature_k: float) -> float:
    """Toyozawa's effective temperature of a phonon-broadened tail: (hbar w / 2k) coth(hbar w / 2kT).

    It tends to the zero-point value hbar w / 2k at low temperature and to T at high temperature.
    """
    half = 0.5 * HC_OVER_K_CM_K * phonon_cm
    return half / math.tanh(half / temperature_k)


def line_cross_section(line: AbsorptionLine, wavenumber_cm: float, temperature_k: float,
                       tail_phonon_cm: float, emission: bool = False) -> float:
    """Absorption (or, ``emission=True``, stimulated-emission shape) cross section (m2) of ``line``
    at ``wavenumber_cm`` and ``temperature_k``. Emission below the line gives its energy excess
    to phonons, so its tail needs no thermal phonons (no temperature activation)."""
    detuning = wavenumber_cm - line.center_cm
    gaussian = math.exp(-4.0 * math.log(2.0) * (detuning / line.fwhm_cm) ** 2)
    if detuning < 0.0 and not emission:   # the photon lacks energy: thermal phonons supply it
        t_star = tail_temperature_k(tail_phonon_cm, temperature_k)
    else:                  # excess energy goes into phonons: no thermal population needed
        t_star = 0.5 * HC_OVER_K_CM_K * tail_phonon_cm
    tail = min(1.0, line.tail_amplitude * math.exp(-line.tail_steepness * abs(detuning) * HC_OVER_K_CM_K / t_star))
    # the phonon-assisted wing takes over where it exceeds the Gaussian core (never above the peak)
    return line.peak_cross_section_m2 * max(gaussian, tail)


def transfer_rate_constant(material: Material, transfer: EnergyTransfer) -> float:
    """Averaged dipole-dipole rate (s-1) at full occupancy: (4 pi / 3) N_dopant C_DA R_min^-3."""
    host = material.host
    return (4.0 * math.pi / 3.0 * material.dopant_density_nm3 * transfer.microparameter_cm6_s * CM6_TO_NM6
            / host.min_dopant_distance_nm ** 3)


class RateEquations:
    """The assembled equations of one material at one temperature."""

    def __init__(self, material: Material, temperature_k: float) -> None:
        self.material = material
        self.temperature_k = check_positive("temperature_k", temperature_k, "K")
        self.level_names = material.level_names
        self.n_levels = len(self.level_names)
        self._energy = np.array([m.energy_cm for m in material.manifolds])
        self._degeneracy = np.array([m.degeneracy for m in material.manifolds], dtype=float)
        self.base_matrix = self._radiative_matrix() + self._phonon_matrix() + self._quenching_matrix()
        self._absorption_cache: dict[float, np.ndarray] = {}
        self.pairs = self._pair_processes()
        n, p = self.n_levels, len(self.pairs)
        self._k = np.array([q.rate_constant_s for q in self.pairs])
        self._donor = np.array([q.donor_from for q in self.pairs], dtype=int)
        self._acceptor = np.array([q.acceptor_from for q in self.pairs], dtype=int)
        self._stoich = np.zeros((n, p))
        self._donor_onehot = np.zeros((p, n))
        self._acceptor_onehot = np.zeros((p, n))
        for j, q in enumerate(self.pairs):
            self._stoich[q.donor_from, j] -= 1.0
            self._stoich[q.acceptor_from, j] -= 1.0
            self._stoich[q.donor_to, j] += 1.0
            self._stoich[q.acceptor_to, j] += 1.0
            self._donor_onehot[j, q.donor_from] = 1.0
            self._acceptor_onehot[j, q.acceptor_from] = 1.0
        self._stoich_k = self._stoich * self._k

    @property
    def pair_structure(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(stoichiometry x rate constant (levels, processes), donor level, acceptor level) of the
        pair processes: what the compiled solver steps (ros2_kernels.py) evaluate the pair term from."""
        return self._stoich_k, self._donor, self._acceptor

    # -- assembly ------------------------------------------------------------------------------
    def _boltzmann_up(self, upper: int, lower: int) -> float:
        """Ratio up/down rate for a thermally coupled pair (detailed balance)."""
        gap = self._energy[upper] - self._energy[lower]
        return (self._degeneracy[upper] / self._degeneracy[lower]
                * math.exp(-HC_OVER_K_CM_K * gap / self.temperature_k))

    def _radiative_matrix(self) -> np.ndarray:
        matrix = np.zeros((self.n_levels, self.n_levels))
        for decay in self.material.radiative:
            u = self.material.index(decay.upper)
            for branch in decay.branches:
                rate = decay.rate_s * branch.fraction
                matrix[self.material.index(branch.lower), u] += rate
                matrix[u, u] -= rate
        return matrix

    def phonon_rates(self) -> list[tuple[int, int, float, float]]:
        """(upper, lower, down rate, up rate) for every multiphonon relaxation step."""
        out = []
        for step in self.material.phonon_relaxation:
            u, l = self.material.index(step.upper), self.material.index(step.lower)
            down = mpr_rate(self.material.host, step.effective_gap_cm, self.temperature_k)
            out.append((u, l, down, down * self._boltzmann_up(u, l)))
        return out

    def _phonon_matrix(self) -> np.ndarray:
        matrix = np.zeros((self.n_levels, self.n_levels))
        for u, l, down, up in self.phonon_rates():
            matrix[l, u] += down
            matrix[u, u] -= down
            matrix[u, l] += up
            matrix[l, l] -= up
        return matrix

    def quenching_rates(self) -> list[tuple[int, int, float]]:
        """(level, lower, rate) of every concentration-dependent quenching channel."""
        out = []
        for q in self.material.quenching:
            scale = (self.material.dopant_fraction / q.reference_fraction) ** q.concentration_power
            out.append((self.material.index(q.upper), self.material.index(q.lower), q.rate_s * scale))
        return out

    def _quenching_matrix(self) -> np.ndarray:
        matrix = np.zeros((self.n_levels, self.n_levels))
        for level, lower, rate in self.quenching_rates():
            matrix[lower, level] += rate
            matrix[level, level] -= rate
        return matrix

    def cross_section(self, line: AbsorptionLine, wavelength_m: float, emission: bool = False) -> float:
        """Absorption (or stimulated-emission shape) cross section (m2) of ``line`` at ``wavelength_m``."""
        return line_cross_section(line, 0.01 / wavelength_m, self.temperature_k, self.material.host.tail_phonon_cm,
                                  emission)

    def _pair_processes(self) -> tuple[PairProcess, ...]:
        kt_cm = self.temperature_k / HC_OVER_K_CM_K
        idx = self.material.index
        out: list[PairProcess] = []
        for t in self.material.transfers:
            k = transfer_rate_constant(self.material, t)
            df, dt, af, at = idx(t.donor_from), idx(t.donor_to), idx(t.acceptor_from), idx(t.acceptor_to)
            release = t.energy_release_cm
            if release is None:
                release = self._energy[df] + self._energy[af] - self._energy[dt] - self._energy[at]
            g = self._degeneracy
            reverse = k * (g[df] * g[af]) / (g[dt] * g[at]) * math.exp(-release / kt_cm)
            out.append(PairProcess(t.name, k, df, dt, af, at))
            out.append(PairProcess(t.name + "_reverse", reverse, dt, df, at, af))
        return tuple(out)

    def absorption_matrix(self, wavelength_m: float) -> np.ndarray:
        """dy/dt contribution per unit intensity (W/m2): sigma / (h nu) for absorption and stimulated emission.

        Cached per wavelength (the hot path asks for the same two or three); do not modify the result.
        """
        cached = self._absorption_cache.get(wavelength_m)
        if cached is None:
            cached = self._absorption_cache[wavelength_m] = self._assemble_absorption(wavelength_m)
        return cached

    def _assemble_absorption(self, wavelength_m: float) -> np.ndarray:
        check_range("wavelength_m", wavelength_m, 200e-9, 5e-6, "m")
        photon_energy = PLANCK_J_S * SPEED_OF_LIGHT_M_S / wavelength_m
        matrix = np.zeros((self.n_levels, self.n_levels))
        for line in self.material.absorption:
            lo, up = self.material.index(line.lower), self.material.index(line.upper)
            rate = self.cross_section(line, wavelength_m) / photon_energy
            matrix[up, lo] += rate
            matrix[lo, lo] -= rate
            if line.stimulated_emission:
                stim = (self.cross_section(line, wavelength_m, emission=True) / photon_energy
                        * self._degeneracy[lo] / self._degeneracy[up])
                matrix[lo, up] += stim
                matrix[up, up] -= stim
        return matrix

    # -- evaluation ----------------------------------------------------------------------------
    def linear_matrix(self, pump_w_m2: float, control_w_m2: float = 0.0,
                      control_wavelength_m: float = 808e-9, pump_wavelength_m: float = 1064e-9) -> np.ndarray:
        matrix = self.base_matrix + pump_w_m2 * self.absorption_matrix(pump_wavelength_m)
        if control_w_m2 > 0.0:
            matrix = matrix + control_w_m2 * self.absorption_matrix(control_wavelength_m)
        return matrix

    def pair_rates(self, y: np.ndarray) -> np.ndarray:
        """Events per second per ion (fraction units) of every pair process."""
        return self._k * y[self._donor] * y[self._acceptor]

    def rhs(self, y: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        return matrix @ y + self._stoich_k @ (y[self._donor] * y[self._acceptor])

    def jacobian(self, y: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        return matrix + self.pair_jacobian(y)

    def pair_jacobian(self, y: np.ndarray) -> np.ndarray:
        """Jacobian of the pair term at ``y``. The pair term is bilinear, so this is also the
        second derivative contracted with a vector: d/dy [J(y) v] = pair_jacobian(v)."""
        d_rate = (self._donor_onehot * y[self._acceptor][:, None]
                  + self._acceptor_onehot * y[self._donor][:, None])
        return self._stoich_k @ d_rate
