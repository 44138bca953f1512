"""Hysteresis figures of a sweep stream, shared by the sweep plan and ``avalab analyze``.

Both call :func:`summarize_sweep` on the same columns (the run's points, live or from the file),
so a run's own summary and a later re-analysis of its file give the same numbers.
Only the main scan (``pass == 0``) enters the figures; refinement passes are reported as the
brackets they found.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from acquisition.units import REFERENCE_NOISE_CPS, W_M2_PER_KW_CM2

log = logging.getLogger(__name__)

#: keys averaged over repeats (the CLI JSON keys of acquisition.analysis)
FIGURE_KEYS = ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db",
               "nonlinearity_s")


def _column(columns: dict[str, np.ndarray], name: str, n: int, fill: Any) -> np.ndarray:
    return np.asarray(columns[name]) if name in columns else np.full(n, fill)


def _text(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def analyze_repeat(columns: dict[str, np.ndarray], mask: np.ndarray, noise_cps: float) -> dict[str, Any]:
    """Hysteresis figures of the main up + down scan selected by ``mask``."""
    from acquisition.analysis import analyze_hysteresis

    direction = _text(np.asarray(columns["direction"]))
    order = np.asarray(columns["index"])
    density = np.asarray(columns["density_w_m2"], dtype=float)
    rate = np.asarray(columns["rate_cps"], dtype=float)
    up = mask & (direction == "up")
    down = mask & (direction == "down")
    up_idx = np.flatnonzero(up)[np.argsort(order[up], kind="stable")]
    down_idx = np.flatnonzero(down)[np.argsort(order[down], kind="stable")]
    result = analyze_hysteresis(density[up_idx], rate[up_idx], density[down_idx], rate[down_idx],
                                noise_cps=noise_cps)
    return dict(result.to_json_dict())


def summarize_sweep(columns: dict[str, np.ndarray], noise_cps: float = REFERENCE_NOISE_CPS,
                    group: dict[str, float] | None = None,
                    refinement: Any = None) -> dict[str, Any]:
    """Figures of every repeat and their mean; ``group`` selects rows by field values
    (e.g. one chopper frequency x duty cycle of a pulsed run); ``refinement``: the final
    brackets of adaptive refinement (list of records or the stored stream's columns)."""
    n = len(np.asarray(columns["density_w_m2"]))
    mask = np.ones(n, dtype=bool)
    for name, value in (group or {}).items():
        mask &= np.isclose(np.asarray(columns[name], dtype=float), value)
    main = mask & (_column(columns, "pass", n, 0) == 0)
    repeats = _column(columns, "repeat", n, 0)
    per_repeat = [analyze_repeat(columns, main & (repeats == r), noise_cps)
                  for r in sorted(set(repeats[main].tolist()))]
    if not per_repeat:
        raise ValueError(f"sweep points={n} selected none of the main scan; allowed: a run with "
                         "'sweep' points in both directions")
    summary: dict[str, Any] = {}
    for key in FIGURE_KEYS:
        values = [r[key] for r in per_repeat if r.get(key) is not None and np.isfinite(r[key])]
        summary[key] = float(np.mean(values)) if values else None
        if len(per_repeat) > 1 and len(values) > 1:
            summary[key.replace("_kw_cm2", "") + "_std" + ("_kw_cm2" if key.endswith("_kw_cm2") else "")] = \
                float(np.std(values, ddof=1))
    if summary["nonlinearity_s"] is None:  # say why (e.g. no emission above the noise floor)
        reasons = [n for r in per_repeat for n in r.get("notes", []) if n.startswith("nonlinearity s")]
        if reasons:
            summary["nonlinearity_s_problem"] = reasons[0]
    notes = [n for r in per_repeat for n in r.get("notes", [])]
    summary["notes"] = list(dict.fromkeys(notes))
    summary["bistable"] = bool(all(r.get("bistable") for r in per_repeat))
    summary["repeats"] = len(per_repeat)
    if len(per_repeat) > 1:
        summary["per_repeat"] = per_repeat
    summary.update(refinement_brackets(refinement))
    summary.update(refined_thresholds(refinement, summary))
    return summary


def _records(refinement: Any) -> list[dict[str, Any]]:
    if isinstance(refinement, dict):  # stored columns -> records
        n = len(np.asarray(refinement.get("direction", [])))
        return [{key: np.asarray(values)[k] for key, values in refinement.items()} for k in range(n)]
    return list(refinement or [])


def refined_thresholds(refinement: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """Headline thresholds from verified refinement brackets (A-D conventions at the refined
    points): switch-on = the bracket's high end, the first bright point of the last switch-on pass
    (refined B; its low end, measured dark just before in the same pass, is refined A);
    switch-off = the bracket's high end, the last bright point of the last switch-off pass
    (refined C; its low end, measured dark next, is refined D); width = (A + B)/2 - (C + D)/2.
    Setpoints (through the power calibration), not the pick-off readbacks: at a fine resolution
    the readbacks scatter (~0.5 %) by more than the bracket and can be out of order. Means over
    repeats. Each is one cycle's threshold to the resolution: cycle-to-cycle jitter (focus drift,
    ~3 % rms) is larger than a fine resolution, so repeats, not resolution, give its spread.
    The main scan's values stay as ``*_scan_kw_cm2``; an unverified bracket leaves them headline."""
    rows = [r for r in _records(refinement) if bool(r.get("verified", False))]
    found: dict[str, Any] = {}
    pairs: dict[str, dict[int, tuple[float, float]]] = {"up": {}, "down": {}}
    for r in rows:
        dark, bright = r["low_w_m2"], r["high_w_m2"]  # A, B (up) or D, C (down): dark end below
        pairs[str(r["direction"])][int(r["repeat"])] = (float(dark) / W_M2_PER_KW_CM2,
                                                        float(bright) / W_M2_PER_KW_CM2)
    for direction, key in (("up", "switch_on_kw_cm2"), ("down", "switch_off_kw_cm2")):
        if pairs[direction]:
            found[key.replace("_kw_cm2", "_scan_kw_cm2")] = summary.get(key)
            found[key] = _tidy(float(np.mean([bright for _, bright in pairs[direction].values()])))
    both = sorted(set(pairs["up"]) & set(pairs["down"]))
    if both:
        found["hysteresis_width_scan_kw_cm2"] = summary.get("hysteresis_width_kw_cm2")
        found["hysteresis_width_kw_cm2"] = _tidy(float(np.mean(
            [0.5 * sum(pairs["up"][r]) - 0.5 * sum(pairs["down"][r]) for r in both])))
    if found:
        found["thresholds_from"] = "refinement"
    return found


def _tidy(kw_cm2: float) -> float:
    """Setpoint arithmetic to 12 significant digits (4.78, not 4.780000000000001)."""
    return float(f"{kw_cm2:.12g}")


def refinement_brackets(refinement: Any) -> dict[str, Any]:
    """Final refinement brackets [low, high] in kW/cm2 (setpoints, mean over repeats)."""
    if refinement is None:
        return {}
    refinement = _records(refinement)
    found: dict[str, Any] = {}
    for direction, key in (("up", "switch_on_bracket_kw_cm2"), ("down", "switch_off_bracket_kw_cm2")):
        rows = [r for r in refinement if str(r["direction"]) == direction]
        if rows:
            found[key] = [_tidy(float(np.mean([r["low_w_m2"] for r in rows])) / W_M2_PER_KW_CM2),
                          _tidy(float(np.mean([r["high_w_m2"] for r in rows])) / W_M2_PER_KW_CM2)]
    return found
