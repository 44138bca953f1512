"""Synthetic I-P curves with known A-D points for the analysis tests (densities in W/m2)."""
from __future__ import annotations

import numpy as np

KW = 1e7  # W/m2 per kW/cm2
BACKGROUND_CPS = 300.0
STEP_KW = 0.1


def densities(start_kw: float = 1.0, stop_kw: float = 9.0, step_kw: float = STEP_KW) -> np.ndarray:
    count = int(round((stop_kw - start_kw) / step_kw)) + 1
    return np.round(np.linspace(start_kw, stop_kw, count), 10) * KW


def dark_rate(density: np.ndarray) -> np.ndarray:
    return BACKGROUND_CPS + 20.0 * (density / (6.7 * KW)) ** 2


def bright_rate(density: np.ndarray) -> np.ndarray:
    return BACKGROUND_CPS + 2500.0 * density / (6.7 * KW)


def bistable_branches(on_kw: float = 6.7, off_kw: float = 4.2, step_kw: float = STEP_KW,
                      start_kw: float = 1.0, stop_kw: float = 9.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(density, up rate, down rate) on one grid: up bright from on_kw, down bright down to off_kw."""
    density = densities(start_kw, stop_kw, step_kw)
    tolerance = 1e-6 * KW
    up = np.where(density >= on_kw * KW - tolerance, bright_rate(density), dark_rate(density))
    down = np.where(density >= off_kw * KW - tolerance, bright_rate(density), dark_rate(density))
    return density, up, down


def poisson_rates(rate_cps: np.ndarray, dwell_s: float, rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(rate_cps * dwell_s) / dwell_s
