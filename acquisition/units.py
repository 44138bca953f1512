"""Units and reference constants, in one place: SI inside, operator units at the edges.

Densities are W/m2 in code and kW/cm2 (pump) or W/cm2 (control laser) in parameters, JSON,
plots and reports.
"""
from __future__ import annotations

#: 1 kW/cm2 = 1e3 W / 1e-4 m2 = 1e7 W/m2
W_M2_PER_KW_CM2 = 1e7
#: 1 W/cm2 = 1e4 W/m2 (control-laser densities)
W_M2_PER_W_CM2 = 1e4
#: I_noise of the contrast figure: the reference setup's APD noise level (counts/s); experiments
#: use it as the default of their ``noise_cps`` parameter and store the value a run used
REFERENCE_NOISE_CPS = 82.0


def w_m2_to_kw_cm2(density_w_m2: float) -> float:
    return density_w_m2 / W_M2_PER_KW_CM2


def kw_cm2_to_w_m2(density_kw_cm2: float) -> float:
    return density_kw_cm2 * W_M2_PER_KW_CM2
