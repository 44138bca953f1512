"""Declarative description of a lanthanide-doped material: the vocabulary the rate model is built from.

These dataclasses hold numbers only; every actual value (and where it comes from) lives in
``materials.py``. Units follow spectroscopy habit where the literature does (energies in cm-1,
transfer microparameters in cm6/s) and SI everywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Manifold:
    """One 4f manifold (J multiplet) treated as a single population."""

    name: str
    energy_cm: float
    degeneracy: int


@dataclass(frozen=True)
class RadiativeBranch:
    """A share of an upper manifold's radiative decay ending in ``lower``; ``line`` names an observed line."""

    lower: str
    fraction: float
    line: str | None = None


@dataclass(frozen=True)
class RadiativeDecay:
    upper: str
    rate_s: float
    branches: tuple[RadiativeBranch, ...]
    source: str


@dataclass(frozen=True)
class PhononRelaxation:
    """Multiphonon relaxation ``upper -> lower`` from the host energy-gap law.

    ``effective_gap_cm`` is the gap fed to the energy-gap law (it may differ from the barycentre
    spacing, see materials.py); the Boltzmann factor of the reverse (thermal up-pumping) uses the
    barycentre spacing so that detailed balance holds exactly.
    """

    upper: str
    lower: str
    effective_gap_cm: float
    source: str


@dataclass(frozen=True)
class AbsorptionLine:
    """Absorption ``lower -> upper``: a Gaussian resonant line plus its phonon-assisted tail.

    sigma(nu, T) = peak * max(exp(-4 ln2 (d/fwhm)^2), min(1, tail_amplitude * exp(-tail_steepness |d| / (k T*)))),
    d = nu_laser - center, with T* = (hbar w_t / 2k) coth(hbar w_t / 2kT) on the low-energy side
    (d < 0: the photon lacks energy that thermal phonons of the host must supply, so the tail
    grows with temperature: the Urbach rule with the Toyozawa effective temperature, hbar w_t =
    ``Host.tail_phonon_cm``) and T* = hbar w_t / 2k on the high-energy side (phonons are emitted,
    no thermal population needed). The wing takes over from the Gaussian core where it is larger
    and never exceeds the peak; ``tail_amplitude`` is the Urbach focus, which generally lies above
    the band's peak (the wing is a different physical process from the resonant line). Stimulated emission ``upper -> lower`` uses the resonant shape
    scaled by g_lower / g_upper (Fuchtbauer-Ladenburg with a common line shape).
    """

    lower: str
    upper: str
    peak_cross_section_m2: float
    center_cm: float
    fwhm_cm: float
    tail_amplitude: float
    tail_steepness: float
    source: str
    stimulated_emission: bool = True


@dataclass(frozen=True)
class Quenching:
    """Temperature-independent first-order loss ``upper -> lower`` (energy migration over the
    dopant sublattice to quenching sites: defects, the surface). Migration-assisted quenching
    grows with the dopant density: rate = rate_s * (fraction / reference_fraction)^concentration_power."""

    upper: str
    lower: str
    rate_s: float
    reference_fraction: float
    concentration_power: float
    source: str


@dataclass(frozen=True)
class EnergyTransfer:
    """Pair process donor_from + acceptor_from -> donor_to + acceptor_to (cross-relaxation or ETU).

    ``microparameter_cm6_s`` is the dipole-dipole C_DA; the averaged rate constant is
    (4 pi / 3) N_dopant C_DA R_min^-3. ``energy_release_cm`` (to phonons) sets the detailed-balance
    reverse rate; ``None`` means: use the barycentre energies.
    """

    name: str
    donor_from: str
    donor_to: str
    acceptor_from: str
    acceptor_to: str
    microparameter_cm6_s: float
    source: str
    energy_release_cm: float | None = None


@dataclass(frozen=True)
class Host:
    name: str
    phonon_energy_cm: float
    mpr_w0_s: float
    mpr_beta_cm: float
    refractive_index: float
    #: effective phonon energy of the absorption tail's temperature dependence (AbsorptionLine)
    tail_phonon_cm: float
    site_volume_nm3: float
    min_dopant_distance_nm: float
    particle_volume_nm3: float
    source: str


@dataclass(frozen=True)
class Material:
    name: str
    dopant: str
    host: Host
    dopant_fraction: float
    manifolds: tuple[Manifold, ...]
    radiative: tuple[RadiativeDecay, ...]
    phonon_relaxation: tuple[PhononRelaxation, ...]
    absorption: tuple[AbsorptionLine, ...]
    transfers: tuple[EnergyTransfer, ...]
    quenching: tuple[Quenching, ...] = ()
    lines_nm: dict[str, float] = field(default_factory=dict)
    knocked_out: tuple[str, ...] = ()

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.manifolds)

    def index(self, level: str) -> int:
        return self.level_names.index(level)

    @property
    def dopant_density_nm3(self) -> float:
        return self.dopant_fraction / self.host.site_volume_nm3

    @property
    def ions_per_particle(self) -> float:
        return self.dopant_density_nm3 * self.host.particle_volume_nm3
