"""Unit conversions at the analysis edges (SI inside; kW/cm2 in JSON and reports); the constants
live in :mod:`acquisition.units`."""
from __future__ import annotations

from acquisition.units import W_M2_PER_KW_CM2, kw_cm2_to_w_m2, w_m2_to_kw_cm2

__all__ = ["W_M2_PER_KW_CM2", "kw_cm2_to_w_m2", "w_m2_to_kw_cm2"]
