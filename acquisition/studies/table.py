"""A study's result table: one row per map point (and per chopper condition of a run), with
the axes' values and the hysteresis figures, from the campaign index of the study folder."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from acquisition.campaigns.index import IndexedRun

#: the figures a study row carries (CW sweeps report them directly; chopped runs per condition,
#: as average densities, which is how the published pulse-modulation figures are given)
FIGURES = ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db",
           "nonlinearity_s", "bistable")
#: a summary with a list of condition groups (chopper frequency x duty): one row per group
CONDITIONS_KEY = "conditions"
AVERAGE_PREFIX = "average_"


def study_rows(runs: list[IndexedRun], axes: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for run in runs:
        base = {"unit": run.unit_key, "file": run.path or ""}
        base.update({axis: run.variables.get(axis) for axis in axes})
        if "repeat" in run.variables:
            base["repeat"] = run.variables["repeat"]
        groups = run.metrics.get(CONDITIONS_KEY)
        if isinstance(groups, list) and groups:
            for group in groups:
                row = dict(base)
                row.update({k: v for k, v in group.items() if k in ("frequency_hz", "duty_cycle")})
                row.update({f: group.get(AVERAGE_PREFIX + f, group.get(f)) for f in FIGURES})
                rows.append(row)
        else:
            rows.append({**base, **{f: run.metrics.get(f) for f in FIGURES}})
    return rows


def write_table(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or ["unit"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return path


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return "" if value is None else value


def numeric(value: Any) -> float | None:
    """A figure as a number (bistable as 0/1); None when missing."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None
