"""Turn a stream's points (one dict per point) into columns (one numpy array per field).

The same function builds the columns that the finalised HDF5 file stores and the columns that a
reader rebuilds from the journal of a run still in progress, so both views of a run agree.

Column rules (documented in docs/run_file_format.md):
- scalars: all bool -> bool; all int -> int64; numbers (mixed, or some points missing the field)
  -> float64 with NaN where missing; all text -> str ("" where missing); text mixed with numbers
  -> str of each value.
- arrays present in every point with one shape -> an (n_points, *shape) array ("fixed").
- arrays missing in some points or with varying shape -> a 1-D object array holding one array
  (or None) per point ("ragged").
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: columns added by the writer to every stream (not taken from the point's data)
POINT_INDEX = "point_index"
WRITTEN_AT = "written_at"
RESERVED_COLUMNS = (POINT_INDEX, WRITTEN_AT)


@dataclass(frozen=True)
class PointRow:
    """One point as stored: the engine's index, the unix time it was written, and its values."""

    index: int
    written_at: float
    values: dict[str, Any] = field(default_factory=dict)


def is_ragged(column: np.ndarray) -> bool:
    """True for a ragged array column (1-D object array of per-point arrays or None)."""
    return column.dtype == object


def _scalar_column(values: list[Any]) -> np.ndarray:
    present = [v for v in values if v is not None]
    complete = len(present) == len(values)
    if present and all(isinstance(v, str) for v in present):
        return np.array(["" if v is None else v for v in values], dtype=str)
    if any(isinstance(v, str) for v in present):
        return np.array(["" if v is None else str(v) for v in values], dtype=str)
    if complete and present and all(isinstance(v, bool | np.bool_) for v in present):
        return np.array(values, dtype=bool)
    if complete and present and all(isinstance(v, int | np.integer) and not isinstance(v, bool)
                                    for v in present):
        return np.array(values, dtype=np.int64)
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def _array_column(values: list[np.ndarray | None]) -> np.ndarray:
    present = [v for v in values if v is not None]
    shapes = {v.shape for v in present}
    if len(present) == len(values) and len(shapes) == 1:
        kinds = {v.dtype.kind for v in present}
        if kinds <= {"U", "S"} or not (kinds & {"U", "S"}):
            return np.stack(present) if present else np.empty((0,))
    ragged = np.empty(len(values), dtype=object)
    for row, value in enumerate(values):
        ragged[row] = value
    return ragged


def build_columns(rows: Sequence[PointRow]) -> dict[str, np.ndarray]:
    """Columns of one stream, in first-appearance order of the fields, reserved columns first."""
    columns: dict[str, np.ndarray] = {
        POINT_INDEX: np.array([row.index for row in rows], dtype=np.int64),
        WRITTEN_AT: np.array([row.written_at for row in rows], dtype=np.float64),
    }
    names: dict[str, None] = {}
    for row in rows:
        for name in row.values:
            names.setdefault(name, None)
    for name in names:
        values = [row.values.get(name) for row in rows]
        if name in RESERVED_COLUMNS:
            # keep the engine's value under another name rather than dropping data
            logger.warning("point field %r clashes with a reserved column; stored as %r",
                           name, f"{name}_field")
            name = f"{name}_field"
        if any(isinstance(v, np.ndarray) for v in values):
            arrays = [None if v is None else (v if isinstance(v, np.ndarray) else np.asarray(v))
                      for v in values]
            columns[name] = _array_column(arrays)
        else:
            columns[name] = _scalar_column(values)
    return columns


def row_dicts(columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Inverse view of :func:`build_columns`: one dict per point with Python scalars.

    Ragged fields missing in a point, and NaN fill of numeric fields that a point did not send,
    cannot be told apart from real values after storage, so NaN stays NaN and missing ragged
    entries are left out of that point's dict.
    """
    n_points = len(columns[POINT_INDEX]) if POINT_INDEX in columns else 0
    points: list[dict[str, Any]] = [{} for _ in range(n_points)]
    for name, column in columns.items():
        for row in range(n_points):
            value = column[row]
            if is_ragged(column):
                if value is not None:
                    points[row][name] = value
            elif column.ndim > 1:
                points[row][name] = value
            else:
                points[row][name] = value.item() if isinstance(value, np.generic) else value
    return points
