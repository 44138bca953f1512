"""Passive optics of the bench as pure functions: attenuators, filters, detector spectral response.

Kept free of state so they can be tested on their own and reused by calibration code.
"""
from __future__ import annotations

import math

import numpy as np

PLANCK_J_S = 6.62607015e-34
LIGHT_SPEED_M_S = 299_792_458.0


def photon_energy_j(wavelength_m: float) -> float:
    return PLANCK_J_S * LIGHT_SPEED_M_S / wavelength_m


def nd_wheel_transmission(angle_deg: float, max_od: float, span_deg: float) -> float:
    """Continuously variable ND wheel: OD rises linearly from 0 at 0 deg to ``max_od`` at ``span_deg``;
    the uncoated sector beyond the span is the dense end's mount (held at max OD)."""
    wrapped = angle_deg % 360.0
    od = max_od * min(wrapped / span_deg, 1.0)
    return 10.0 ** (-od)


def malus_pair(max_transmission: float, extinction_ratio: float) -> tuple[float, float]:
    """(T_max, T_min) of an attenuator from its peak transmission and (T_max + T_min) / T_min."""
    t_min = max_transmission / (extinction_ratio - 1.0)
    return max_transmission, t_min


def half_wave_plate_transmission(angle_deg: float, offset_deg: float, t_max: float,
                                 t_min: float) -> float:
    """Half-wave plate before a fixed polariser: T = T_max cos^2(2 (theta - theta0)) + T_min."""
    return t_max * math.cos(math.radians(2.0 * (angle_deg - offset_deg))) ** 2 + t_min


def rotating_polariser_transmission(angle_deg: float, offset_deg: float, t_max: float,
                                    t_min: float) -> float:
    """Rotating polariser in a polarised beam: T = T_max cos^2(theta - theta0) + T_min."""
    return t_max * math.cos(math.radians(angle_deg - offset_deg)) ** 2 + t_min


#: APD band-pass filters (centre, full width), m: 809/81 nm and 935/170 nm (physics.md)
EMISSION_FILTERS: dict[str, tuple[float, float]] = {
    "810nm": (809e-9, 81e-9),
    "880nm": (935e-9, 170e-9),
}

#: wavelength above which the 950 nm short-pass dichroic adds its own blocking
SHORT_PASS_EDGE_M = 950e-9


def emission_filter_transmission(wavelength_m: float, filter_name: str, in_band: float,
                                 blocking_od: float, short_pass_od: float) -> float:
    """Transmission of band-pass plus 950 nm short-pass at ``wavelength_m`` (hard-edged bands)."""
    centre, width = EMISSION_FILTERS[filter_name]
    inside = abs(wavelength_m - centre) <= width / 2.0
    transmission = in_band if inside else 10.0 ** (-blocking_od)
    if wavelength_m > SHORT_PASS_EDGE_M:
        transmission *= 10.0 ** (-short_pass_od)
    return transmission


# Photon detection efficiency of a thick-junction silicon SPAD (SPCM-AQRH class datasheet shape).
_APD_PDE_WAVELENGTH_M = np.array([400, 500, 600, 700, 800, 900, 1000, 1064, 1100]) * 1e-9
_APD_PDE = np.array([0.25, 0.55, 0.65, 0.65, 0.55, 0.38, 0.12, 0.02, 0.01])


def apd_detection_efficiency(wavelength_m: float) -> float:
    return float(np.interp(wavelength_m, _APD_PDE_WAVELENGTH_M, _APD_PDE))


# Responsivity of a silicon photodiode power sensor (S120C class), A/W.
_SI_RESPONSIVITY_WAVELENGTH_M = np.array([400, 500, 600, 700, 800, 900, 960, 1000, 1064, 1100]) * 1e-9
_SI_RESPONSIVITY_A_W = np.array([0.12, 0.25, 0.35, 0.45, 0.53, 0.60, 0.62, 0.55, 0.30, 0.18])


def silicon_responsivity(wavelength_m: float) -> float:
    return float(np.interp(wavelength_m, _SI_RESPONSIVITY_WAVELENGTH_M, _SI_RESPONSIVITY_A_W))


def registered_rate(true_rate_cps: np.ndarray | float, dead_time_s: float) -> np.ndarray | float:
    """Non-paralysable dead time: the detector registers r / (1 + r tau)."""
    return true_rate_cps / (1.0 + true_rate_cps * dead_time_s)


#: periods of the focus-drift components relative to the configured period (incommensurate, so
#: the drift does not repeat over a campaign) and their weights: the rms of sum(w sin) is
#: sqrt(sum(w^2) / 2), so sum(w^2) = 2 gives rms 1
FOCUS_DRIFT_PERIODS = (0.61, 1.0, 2.73)
FOCUS_DRIFT_WEIGHTS = (0.64, 0.89, 0.89)


def focus_drift_factor(t: float, rms_rel: float, period_s: float, phases_rad: tuple[float, ...]) -> float:
    """Multiplier of the intensity at the focus at time ``t``: 1 + a slow drift with rms ``rms_rel``.

    A sum of three sinusoids with seeded phases: smooth, deterministic for a seed (so virtual
    and real clocks see the same drift), and evaluable at any time without state.
    """
    total = sum(w * math.sin(2.0 * math.pi * t / (k * period_s) + phase)
                for k, w, phase in zip(FOCUS_DRIFT_PERIODS, FOCUS_DRIFT_WEIGHTS, phases_rad))
    return max(0.0, 1.0 + rms_rel * total)
