"""Every physical parameter of the simulated materials, in one place, each with its source.

A material is built from a table of named parameters (``material_parameters(name)``). Each entry
holds its value, unit, basis and source:

- "published": /work/shared/reference/physics.md (the reference model and the measurements);
- "JO": typical Judd-Ofelt branching / rates for Nd3+ or Tm3+ in low-phonon hosts;
- "calibrated": tuned so that the model reproduces a published figure (named in the source);
- "chosen": a physically reasonable value the results are not tuned on (why is given).

The names are stable: ``get_material(name, parameters={...})`` overrides any of them (model fits,
studies), and an unknown name is refused with the list of allowed ones. docs/physics_model.md
explains the model, the calibration and the trade-offs.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from drivers.validation import check_choice, check_range

from .material import (AbsorptionLine, EnergyTransfer, Host, Manifold, Material, PhononRelaxation, Quenching,
                       RadiativeBranch, RadiativeDecay)

HC_OVER_K_CM_K = 1.438777  # second radiation constant, cm K
CM2_TO_M2 = 1e-4
#: the published MPR table is for 77 K (the temperature of every calibrated figure)
TABLE_TEMPERATURE_K = 77.0


@dataclass(frozen=True)
class ModelParameter:
    value: float
    unit: str
    basis: str      # published | JO | calibrated | chosen
    source: str


def P(value: float, unit: str, basis: str, source: str) -> ModelParameter:  # noqa: N802 (table shorthand)
    return ModelParameter(value, unit, basis, source)


# ---------------------------------------------------------------------------------------------
# The energy-gap law
# ---------------------------------------------------------------------------------------------
def mpr_rate(host: Host, gap_cm: float, temperature_k: float) -> float:
    """Energy-gap law W0 exp(-beta dE) (1 - exp(-hbar omega / kB T))^-p, p = dE / hbar omega.

    The sign of the thermal exponent is the physical one (the published text prints +).
    """
    p = gap_cm / host.phonon_energy_cm
    x = HC_OVER_K_CM_K * host.phonon_energy_cm / temperature_k
    return host.mpr_w0_s * math.exp(-host.mpr_beta_cm * gap_cm) * (-math.expm1(-x)) ** (-p)


def effective_gap_for_rate(host: Host, rate_s: float, temperature_k: float) -> float:
    """Invert the energy-gap law: the gap that gives ``rate_s`` at ``temperature_k`` (bisection)."""
    low, high = 0.0, 20000.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        if mpr_rate(host, mid, temperature_k) > rate_s:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


# ---------------------------------------------------------------------------------------------
# Nd3+
# ---------------------------------------------------------------------------------------------
ND_MANIFOLDS = (
    Manifold("4I9/2", 0.0, 10),
    Manifold("4I11/2", 1900.0, 12),      # published gap
    Manifold("4I13/2", 3900.0, 14),      # barycentre (Dieke diagram)
    Manifold("4I15/2", 5900.0, 16),      # barycentre
    Manifold("4F3/2", 11400.0, 4),       # published
    Manifold("4F5/2", 12400.0, 6),       # published ("about 12400")
    Manifold("2H9/2", 12600.0, 10),      # barycentre, just above 4F5/2
    # Effective upper level standing for the 4G5/2 / 2G7/2 group near 17000 cm-1 that ETU between
    # two 4F3/2 ions reaches (modelling notes); g = 6 + 8.
    Manifold("4G5/2", 17000.0, 14),
)
ND_LINES_NM = {"810nm": 810.0, "880nm": 880.0}

#: Pair processes donor_from -> donor_to : acceptor_from -> acceptor_to, with the parameter that
#: holds the microparameter and the one (if any) that holds the energy released to phonons
#: (None: from the barycentres).
ND_PAIRS: dict[str, tuple[str, str, str, str, str | None]] = {
    "CR1": ("4I13/2", "4I11/2", "4I9/2", "4I11/2", "cr1_release_cm"),
    "CR2": ("4I15/2", "4I13/2", "4I9/2", "4I11/2", None),
    "CR3": ("4F3/2", "4I15/2", "4I9/2", "4I15/2", "cr3_release_cm"),
    "CR4": ("4F3/2", "4I13/2", "4I9/2", "4I15/2", None),
    "CR5": ("4F3/2", "4I15/2", "4I9/2", "4I13/2", None),
    # Upconversion between two 4F3/2 ions (modelling notes): one goes up to the 4G5/2 group,
    # the other down to 4I15/2 (ETU1, nearly resonant) or 4I13/2 (ETU2).
    "ETU1": ("4F3/2", "4G5/2", "4F3/2", "4I15/2", None),
    "ETU2": ("4F3/2", "4G5/2", "4F3/2", "4I13/2", None),
    # Cross-relaxation that empties the 4G5/2 group at high Nd content: 4G5/2 + 4I9/2 ->
    # 2H9/2 (-> 4F5/2, the 810 nm level) + 4I13/2, 500 cm-1 released.
    "CR6": ("4G5/2", "2H9/2", "4I9/2", "4I13/2", None),
}

ND_KPB2CL5_PARAMETERS: dict[str, ModelParameter] = {
    # host
    "phonon_energy_cm": P(250.0, "cm-1", "published", "KPb2Cl5 phonon cut-off"),
    "mpr_w0_s": P(0.5e7, "s-1", "published", "energy-gap law prefactor, KPb2Cl5"),
    "mpr_beta_cm": P(9.2e-3, "cm", "published", "energy-gap law exponent, KPb2Cl5"),
    "refractive_index": P(1.96, "", "published", "KPb2Cl5 (Judd-Ofelt analysis)"),
    "site_volume_nm3": P(0.1082, "nm3", "published", "volume per dopant site"),
    "min_dopant_distance_nm": P(0.4765, "nm", "published", "minimum dopant-dopant distance"),
    "particle_length_nm": P(61.0, "nm", "published", "nanocrystal length"),
    "particle_width_nm": P(20.0, "nm", "chosen", "rod width; only scales photons/s per particle"),
    "tail_phonon_cm": P(60.0, "cm-1", "chosen",
                        "phonons that broaden the absorption tail: the KPb2Cl5 phonon density of states "
                        "lies mostly well below its 250 cm-1 cut-off (lattice modes of the heavy Pb-Cl "
                        "framework)"),
    # multiphonon relaxation at 77 K (the energy-gap law supplies the temperature dependence)
    "mpr_4i11_s": P(185.85, "s-1", "published", "MPR 4I11/2 -> 4I9/2 at 77 K"),
    "mpr_4i13_s": P(98.39, "s-1", "published", "MPR 4I13/2 -> 4I11/2 at 77 K"),
    "mpr_4i15_s": P(4.92, "s-1", "published", "MPR 4I15/2 -> 4I13/2 at 77 K"),
    "mpr_4f32_s": P(2.78e-16, "s-1", "published", "MPR 4F3/2 -> 4I15/2 at 77 K"),
    "mpr_4f52_gap_cm": P(240.0, "cm-1", "calibrated",
                         "effective gap 4F5/2 -> 4F3/2 (smallest Stark-Stark gap, ~4 phonons)"),
    "mpr_2h92_gap_cm": P(200.0, "cm-1", "chosen", "2H9/2 -> 4F5/2, barycentre gap"),
    "mpr_4g52_gap_cm": P(523.0, "cm-1", "chosen",
                         "4G5/2 group -> 2H9/2 cascade through 2H11/2, 4F9/2, 4S3/2 lumped: its slowest step"),
    # quenching of the reservoir by migration to defects (dopant-density dependent)
    "quench_4i11_s": P(1890.0, "s-1", "chosen", "4I11/2 quenching at 18 % Nd"),
    "quench_4f32_s": P(0.0, "s-1", "chosen", "4F3/2 quenching at 18 % Nd"),
    "quench_power": P(1.0, "", "chosen",
                      "quenching ~ Nd fraction: an excitation hopping over the Nd sublattice meets one of a "
                      "fixed density of quenching sites at a rate that grows with the hop rate (~ N)"),
    # radiative rates (totals; branching below)
    "radiative_4i11_s": P(10.0, "s-1", "JO", "intra-4I rates are small (JO: 5-30 s-1)"),
    "radiative_4i13_s": P(20.0, "s-1", "JO", "intra-4I"),
    "radiative_4i15_s": P(15.0, "s-1", "JO", "intra-4I"),
    "radiative_4f32_s": P(4709.96, "s-1", "published", "4F3/2 radiative total (212 us); JO branching"),
    "radiative_4f52_s": P(6000.0, "s-1", "JO", "4F5/2, chloride hosts"),
    "radiative_2h92_s": P(1500.0, "s-1", "JO", "2H9/2 (weak, spin-forbidden)"),
    "radiative_4g52_s": P(2000.0, "s-1", "JO", "4G5/2 group (hypersensitive)"),
    # absorption
    "line_fwhm_cm": P(1000.0, "cm-1", "published", "Gaussian line width of every resonant line"),
    "esa_peak_cm2": P(2.74e-20, "cm2", "calibrated", "ESA 4I11/2 -> 4F3/2 (resonant at 1064 nm): "
                      "switch-on 6.7 kW/cm2 at 77 K"),
    "gsa_880_peak_cm2": P(1.5e-20, "cm2", "chosen", "4I9/2 -> 4F3/2 peak (Nd3+ in halides 1-3e-20 cm2); "
                          "1064 nm reaches it only through its phonon-assisted tail"),
    "gsa_808_peak_cm2": P(2.0e-20, "cm2", "chosen", "4I9/2 -> 4F5/2 peak (Nd3+ in chlorides 2-5e-20 cm2)"),
    "tail_amplitude": P(4.32, "", "calibrated",
                        "Urbach focus at the line centre (above the peak, as usual for an Urbach wing): "
                        "with the steepness it sets the 1064 nm GSA at 77 K (switch-on 6.7 kW/cm2)"),
    "tail_steepness": P(0.38, "", "calibrated",
                        "Urbach steepness of the phonon-assisted tail: sets how fast the 1064 nm GSA "
                        "grows with temperature (Fig. 2d: IOB still at 150 K, a 0.14 kW/cm2 window; "
                        "0.04 left at 160 K, where none is published; gone at 170 K)"),
    # pair processes, microparameters in cm6/s
    "cr1_cm6_s": P(363e-40, "cm6/s", "published", "CR1"),
    "cr2_cm6_s": P(351e-40, "cm6/s", "published", "CR2"),
    "cr3_cm6_s": P(0.291e-40, "cm6/s", "published", "CR3"),
    "cr4_cm6_s": P(0.564e-40, "cm6/s", "published", "CR4"),
    "cr5_cm6_s": P(0.812e-40, "cm6/s", "published", "CR5"),
    "cr345_scale": P(0.695, "", "chosen", "CR3-CR5 applied as published with the averaged-transfer formula"),
    "etu1_cm6_s": P(4250e-40, "cm6/s", "calibrated", "ETU1 4F3/2 + 4F3/2 -> 4G5/2 + 4I15/2: switch-off"),
    "etu2_cm6_s": P(1417e-40, "cm6/s", "calibrated", "ETU2 (-> 4I13/2), one third of ETU1 (less resonant)"),
    "cr6_cm6_s": P(274e-40, "cm6/s", "chosen", "4G5/2 + 4I9/2 -> 2H9/2 + 4I13/2"),
    "cr1_release_cm": P(430.0, "cm-1", "published",
                        "energy CR1 gives to phonons: the published ~3000x reverse/forward ratio at 77 K"),
    "cr3_release_cm": P(200.0, "cm-1", "chosen",
                        "barycentres make CR3 endothermic; transfer runs between the lowest Stark components"),
}


def _nd_radiative(p: Mapping[str, float]) -> tuple[RadiativeDecay, ...]:
    return (
        RadiativeDecay("4I11/2", p["radiative_4i11_s"], (RadiativeBranch("4I9/2", 1.0),), "JO order of magnitude"),
        RadiativeDecay("4I13/2", p["radiative_4i13_s"], (RadiativeBranch("4I11/2", 0.6), RadiativeBranch("4I9/2", 0.4)),
                       "JO order of magnitude"),
        RadiativeDecay("4I15/2", p["radiative_4i15_s"], (RadiativeBranch("4I13/2", 0.5), RadiativeBranch("4I11/2", 0.3),
                                                         RadiativeBranch("4I9/2", 0.2)), "JO order of magnitude"),
        # The published total lumps the 1064/1340 nm branches and misses most of 880 nm; we keep the
        # total, which sets the radiative lifetime, and distribute it as JO does.
        RadiativeDecay("4F3/2", p["radiative_4f32_s"], (RadiativeBranch("4I9/2", 0.44, "880nm"),
                                                        RadiativeBranch("4I11/2", 0.46),
                                                        RadiativeBranch("4I13/2", 0.095),
                                                        RadiativeBranch("4I15/2", 0.005)),
                       "published total, JO branching"),
        RadiativeDecay("4F5/2", p["radiative_4f52_s"], (RadiativeBranch("4I9/2", 0.55, "810nm"),
                                                        RadiativeBranch("4I11/2", 0.35),
                                                        RadiativeBranch("4I13/2", 0.10)), "JO (chloride hosts)"),
        RadiativeDecay("2H9/2", p["radiative_2h92_s"], (RadiativeBranch("4I9/2", 0.3), RadiativeBranch("4I11/2", 0.4),
                                                        RadiativeBranch("4I13/2", 0.3)), "JO (weak, spin-forbidden)"),
        RadiativeDecay("4G5/2", p["radiative_4g52_s"], (RadiativeBranch("4I9/2", 0.5), RadiativeBranch("4I11/2", 0.3),
                                                        RadiativeBranch("4I13/2", 0.2)), "JO (4G5/2 hypersensitive)"),
    )


def _host(name: str, p: Mapping[str, float]) -> Host:
    width = p["particle_width_nm"]
    return Host(name=name, phonon_energy_cm=p["phonon_energy_cm"], mpr_w0_s=p["mpr_w0_s"],
                mpr_beta_cm=p["mpr_beta_cm"], refractive_index=p["refractive_index"],
                tail_phonon_cm=p["tail_phonon_cm"], site_volume_nm3=p["site_volume_nm3"],
                min_dopant_distance_nm=p["min_dopant_distance_nm"],
                particle_volume_nm3=math.pi * (0.5 * width) ** 2 * p["particle_length_nm"],
                source="parameter table (materials.py)")


def _nd_phonon_relaxation(host: Host, p: Mapping[str, float]) -> tuple[PhononRelaxation, ...]:
    tabulated = {("4I11/2", "4I9/2"): "mpr_4i11_s", ("4I13/2", "4I11/2"): "mpr_4i13_s",
                 ("4I15/2", "4I13/2"): "mpr_4i15_s", ("4F3/2", "4I15/2"): "mpr_4f32_s"}
    # The published MPR table (77 K) is kept for the rates; the energy-gap law with the published
    # W0/beta and the barycentre gaps gives rates orders of magnitude lower, so each step uses the
    # effective gap that reproduces its rate at 77 K (1100-1500 cm-1, as the modelling notes
    # found), and the law with that gap supplies the temperature dependence.
    steps = [PhononRelaxation(u, l, effective_gap_for_rate(host, p[key], TABLE_TEMPERATURE_K),
                              f"{key} = {p[key]:g} s-1 at 77 K -> effective gap")
             for (u, l), key in tabulated.items()]
    steps += [
        PhononRelaxation("4F5/2", "4F3/2", p["mpr_4f52_gap_cm"], "mpr_4f52_gap_cm"),
        PhononRelaxation("2H9/2", "4F5/2", p["mpr_2h92_gap_cm"], "mpr_2h92_gap_cm"),
        PhononRelaxation("4G5/2", "2H9/2", p["mpr_4g52_gap_cm"], "mpr_4g52_gap_cm"),
    ]
    return tuple(steps)


def _nd_absorption(p: Mapping[str, float]) -> tuple[AbsorptionLine, ...]:
    def line(lower: str, upper: str, peak_cm2: float, center: float, source: str,
             stimulated: bool = True) -> AbsorptionLine:
        return AbsorptionLine(lower, upper, peak_cm2 * CM2_TO_M2, center, p["line_fwhm_cm"], p["tail_amplitude"],
                              p["tail_steepness"], source, stimulated)

    gsa808 = p["gsa_808_peak_cm2"]
    return (
        line("4I9/2", "4F3/2", p["gsa_880_peak_cm2"], 11400.0, "GSA 880/875 nm band; 1064 nm via its phonon tail"),
        line("4I11/2", "4F3/2", p["esa_peak_cm2"], 11400.0 - 1900.0, "ESA, resonant at 1064 nm"),
        line("4I9/2", "4F5/2", gsa808, 12400.0, "808 nm control GSA"),
        line("4I9/2", "2H9/2", 0.5 * gsa808, 12600.0, "808 nm band, 2H9/2 component"),
        # 745 nm absorbs into 4F7/2 + 4S3/2 (13400 cm-1), which relaxes to 2H9/2 in ns: lumped into
        # 2H9/2, so no stimulated emission from it.
        line("4I9/2", "2H9/2", gsa808, 13400.0, "745 nm band (4F7/2+4S3/2), lumped", False),
    )


def _pairs(table: Mapping[str, tuple[str, str, str, str, str | None]], p: Mapping[str, float],
           strengths: Mapping[str, float]) -> tuple[EnergyTransfer, ...]:
    return tuple(EnergyTransfer(name, df, dt, af, at, strengths[name], f"{name.lower()}_cm6_s",
                                None if release is None else p[release])
                 for name, (df, dt, af, at, release) in table.items() if strengths[name] > 0.0)


def _nd_strengths(p: Mapping[str, float]) -> dict[str, float]:
    scale = p["cr345_scale"]
    return {"CR1": p["cr1_cm6_s"], "CR2": p["cr2_cm6_s"], "CR3": p["cr3_cm6_s"] * scale,
            "CR4": p["cr4_cm6_s"] * scale, "CR5": p["cr5_cm6_s"] * scale, "ETU1": p["etu1_cm6_s"],
            "ETU2": p["etu2_cm6_s"], "CR6": p["cr6_cm6_s"]}


def _nd_material(name: str, host_name: str, p: Mapping[str, float]) -> Material:
    host = _host(host_name, p)
    quenching = tuple(Quenching(level, "4I9/2", p[key], 0.18, p["quench_power"], key)
                      for level, key in (("4I11/2", "quench_4i11_s"), ("4F3/2", "quench_4f32_s")) if p[key] > 0.0)
    return Material(name=name, dopant="Nd", host=host, dopant_fraction=0.18, manifolds=ND_MANIFOLDS,
                    radiative=_nd_radiative(p), phonon_relaxation=_nd_phonon_relaxation(host, p),
                    absorption=_nd_absorption(p), transfers=_pairs(ND_PAIRS, p, _nd_strengths(p)),
                    quenching=quenching, lines_nm=dict(ND_LINES_NM))


#: beta-NaYF4 as a host, whatever the dopant (published phonon and energy-gap-law columns;
#: 1.38e22 RE sites/cm3 -> 0.0725 nm3 per site, nearest RE-RE 0.35 nm, from crystallography)
NAYF4_HOST_PARAMETERS: dict[str, ModelParameter] = {
    "phonon_energy_cm": P(450.0, "cm-1", "published", "NaYF4 phonon cut-off"),
    "mpr_w0_s": P(1.0e7, "s-1", "published", "energy-gap law prefactor, NaYF4"),
    "mpr_beta_cm": P(2.0e-3, "cm", "published", "energy-gap law exponent, NaYF4"),
    "refractive_index": P(1.48, "", "chosen", "beta-NaYF4"),
    "site_volume_nm3": P(0.0725, "nm3", "chosen", "beta-NaYF4 structure"),
    "min_dopant_distance_nm": P(0.35, "nm", "chosen", "beta-NaYF4 nearest RE-RE"),
    "tail_phonon_cm": P(300.0, "cm-1", "chosen", "NaYF4 lattice modes"),
}

# Nd in NaYF4: the same ion in a 450 cm-1 host (published host and rate columns).
ND_NAYF4_PARAMETERS: dict[str, ModelParameter] = {
    **ND_KPB2CL5_PARAMETERS,
    **NAYF4_HOST_PARAMETERS,
    "mpr_4i11_s": P(654905.30, "s-1", "published", "MPR 4I11/2 -> 4I9/2, NaYF4"),
    "mpr_4i13_s": P(397131.51, "s-1", "published", "MPR 4I13/2 -> 4I11/2, NaYF4"),
    "mpr_4i15_s": P(236160.87, "s-1", "published", "MPR 4I15/2 -> 4I13/2, NaYF4"),
    "mpr_4f32_s": P(2.27, "s-1", "published", "MPR 4F3/2 -> 4I15/2, NaYF4"),
    "cr1_cm6_s": P(1598e-40, "cm6/s", "published", "CR1, NaYF4"),
    "cr2_cm6_s": P(1217e-40, "cm6/s", "published", "CR2, NaYF4"),
    "cr3_cm6_s": P(0.0, "cm6/s", "published", "CR3 n/a in NaYF4"),
    "cr4_cm6_s": P(1.75e-40, "cm6/s", "published", "CR4, NaYF4"),
    "cr5_cm6_s": P(2.49e-40, "cm6/s", "published", "CR5, NaYF4"),
}
# The published ESA rates of the two hosts (246.09 vs 125.23 s-1) scale the calibrated cross section.
ND_NAYF4_PARAMETERS["esa_peak_cm2"] = P(ND_KPB2CL5_PARAMETERS["esa_peak_cm2"].value * 246.09 / 125.23, "cm2",
                                        "published ratio", "KPb2Cl5 value x published ESA ratio NaYF4/KPb2Cl5")


# ---------------------------------------------------------------------------------------------
# Tm3+ in NaYF4 (room-temperature avalanching, 8 % Tm)
# ---------------------------------------------------------------------------------------------
TM_MANIFOLDS = (
    Manifold("3H6", 0.0, 13),
    Manifold("3F4", 5800.0, 9),
    Manifold("3H5", 8300.0, 11),
    Manifold("3H4", 12650.0, 9),
    Manifold("3F2,3", 15000.0, 12),  # 3F3 + 3F2 lumped (1064 nm ESA target from 3F4)
)

TM_NAYF4_PARAMETERS: dict[str, ModelParameter] = {
    **NAYF4_HOST_PARAMETERS,
    "particle_diameter_nm": P(25.0, "nm", "chosen", "typical ANP core"),
    "esa_peak_cm2": P(8.0e-20, "cm2", "calibrated", "ESA 3F4 -> 3F2,3: threshold of a few kW/cm2"),
    "gsa_peak_cm2": P(1.0e-20, "cm2", "chosen",
                      "3H6 -> 3H5 peak; at 1064 nm only the tail remains (ESA/GSA > 1e4, published)"),
    "line_fwhm_cm": P(600.0, "cm-1", "chosen", "1064 nm sits 1100 cm-1 below 3H5 -> Gaussian tail 1e-4"),
    "tail_amplitude": P(1e-4, "", "chosen", "weak phonon tail (the Gaussian tail dominates at 1064 nm)"),
    "tail_steepness": P(0.5, "", "chosen", "Urbach steepness"),
    "cr_cm6_s": P(0.3e-40, "cm6/s", "calibrated",
                  "3H4 + 3H6 -> 2 3F4: peak slope s ~ 40 at threshold, ~26 above (published)"),
    "cr_release_cm": P(1050.0, "cm-1", "chosen", "3H4 + 3H6 -> 2 3F4 mismatch"),
}


def _tm_nayf4(p: Mapping[str, float]) -> Material:
    radius = 0.5 * p["particle_diameter_nm"]
    host = Host(name="NaYF4", phonon_energy_cm=p["phonon_energy_cm"], mpr_w0_s=p["mpr_w0_s"],
                mpr_beta_cm=p["mpr_beta_cm"], refractive_index=p["refractive_index"],
                tail_phonon_cm=p["tail_phonon_cm"], site_volume_nm3=p["site_volume_nm3"],
                min_dopant_distance_nm=p["min_dopant_distance_nm"],
                particle_volume_nm3=4.0 / 3.0 * math.pi * radius**3, source="parameter table (materials.py)")

    def line(lower: str, upper: str, peak_cm2: float, center: float, source: str) -> AbsorptionLine:
        return AbsorptionLine(lower, upper, peak_cm2 * CM2_TO_M2, center, p["line_fwhm_cm"], p["tail_amplitude"],
                              p["tail_steepness"], source)

    return Material(
        name="Tm:NaYF4", dopant="Tm", host=host, dopant_fraction=0.08,
        manifolds=TM_MANIFOLDS,
        radiative=(
            RadiativeDecay("3F4", 100.0, (RadiativeBranch("3H6", 1.0),), "NaYF4:Tm 3F4 ~10 ms"),
            RadiativeDecay("3H5", 150.0, (RadiativeBranch("3H6", 0.9), RadiativeBranch("3F4", 0.1)), "JO"),
            RadiativeDecay("3H4", 1000.0, (RadiativeBranch("3H6", 0.89, "800nm"), RadiativeBranch("3F4", 0.08),
                                           RadiativeBranch("3H5", 0.03)), "NaYF4:Tm 3H4 ~1 ms, JO"),
            RadiativeDecay("3F2,3", 2000.0, (RadiativeBranch("3H6", 0.8), RadiativeBranch("3F4", 0.2)), "JO"),
        ),
        phonon_relaxation=(
            PhononRelaxation("3F4", "3H6", 5800.0, "energy-gap law"),
            PhononRelaxation("3H5", "3F4", 2500.0, "energy-gap law"),
            PhononRelaxation("3H4", "3H5", 4350.0, "energy-gap law"),
            PhononRelaxation("3F2,3", "3H4", 2350.0, "energy-gap law"),
        ),
        absorption=(
            line("3H6", "3H5", p["gsa_peak_cm2"], 8300.0, "GSA, non-resonant at 1064 nm"),
            line("3F4", "3F2,3", p["esa_peak_cm2"], 15000.0 - 5800.0, "ESA, resonant at 1064 nm"),
            line("3H6", "3H4", 3.0e-21, 12650.0, "800 nm band (control wavelengths)"),
        ),
        transfers=(EnergyTransfer("CR", "3H4", "3F4", "3H6", "3F4", p["cr_cm6_s"], "cr_cm6_s",
                                  p["cr_release_cm"]),),
        lines_nm={"800nm": 800.0})


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
_TABLES: dict[str, dict[str, ModelParameter]] = {
    "Nd:KPb2Cl5": ND_KPB2CL5_PARAMETERS, "Nd:NaYF4": ND_NAYF4_PARAMETERS, "Tm:NaYF4": TM_NAYF4_PARAMETERS}
_BUILDERS: dict[str, Callable[[Mapping[str, float]], Material]] = {
    "Nd:KPb2Cl5": lambda p: _nd_material("Nd:KPb2Cl5", "KPb2Cl5", p),
    "Nd:NaYF4": lambda p: _nd_material("Nd:NaYF4", "NaYF4", p),
    "Tm:NaYF4": _tm_nayf4,
}
MATERIALS: tuple[str, ...] = tuple(_BUILDERS)


def material_parameters(name: str) -> dict[str, ModelParameter]:
    """The named parameters of a built-in material: value, unit, basis and source of each."""
    check_choice("material", name, MATERIALS)
    return dict(_TABLES[name])


def build_material(name: str, overrides: Mapping[str, float] | None = None) -> Material:
    """A built-in material from its parameter table, with table entries replaced by name (for
    calibration and studies of the table's own quantities, e.g. ``cr345_scale``; a number of the
    built description is replaced by its structural name with ``parameters.with_parameters``)."""
    check_choice("material", name, MATERIALS)
    values = {key: entry.value for key, entry in _TABLES[name].items()}
    for key, value in (overrides or {}).items():
        check_choice("parameter", key, tuple(values))
        if not math.isfinite(float(value)) or float(value) < 0.0:
            raise ValueError(f"{key}={value!r} is outside the allowed range [0, inf) "
                             f"({_TABLES[name][key].unit or 'dimensionless'})")
        values[key] = float(value)
    return _BUILDERS[name](values)


def get_material(name: str, *, dopant_fraction: float | None = None,
                 knockouts: tuple[str, ...] | list[str] = ()) -> Material:
    """A built-in material, optionally at another dopant fraction and with named transfer pathways removed."""
    material = build_material(name)
    if dopant_fraction is not None:
        material = replace(material, dopant_fraction=check_range("dopant_fraction", dopant_fraction,
                                                                 0.0, 1.0, low_inclusive=False))
    names = tuple(t.name for t in material.transfers)
    for pathway in knockouts:
        check_choice("knockout", pathway, names)
    if knockouts:
        material = replace(material, transfers=tuple(t for t in material.transfers if t.name not in knockouts),
                           knocked_out=tuple(knockouts))
    return material
