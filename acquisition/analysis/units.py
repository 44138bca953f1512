"""Unit conversions at the analysis edges (SI inside; kW/cm2 in JSON and reports)."""
from __future__ import annotations

#: 1 kW/cm2 = 1e3 W / 1e-4 m2 = 1e7 W/m2
W_M2_PER_KW_CM2 = 1e7


def w_m2_to_kw_cm2(density_w_m2: float) -> float:
    return density_w_m2 / W_M2_PER_KW_CM2


def kw_cm2_to_w_m2(density_kw_cm2: float) -> float:
    return density_kw_cm2 * W_M2_PER_KW_CM2
