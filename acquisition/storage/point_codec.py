"""Split a point's data into journal-friendly parts and join them back.

A point (``PointTaken.data``) mixes scalars, strings and numpy arrays. Scalars and text travel in
the record's JSON header; numeric arrays travel as raw bytes in the record's blob (no text
round-trip, so a 65k-bin TCSPC histogram costs a memcpy, not a float formatter).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_NUMERIC_KINDS = frozenset("biufc")
Scalar = float | int | bool | str | None


def _as_scalar(name: str, value: Any) -> Scalar:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    logger.warning("point field %r has unsupported type %s; stored as its repr", name,
                   type(value).__name__)
    return repr(value)


def split_point_data(data: dict[str, Any]) -> tuple[dict[str, Scalar], dict[str, np.ndarray],
                                                     dict[str, list[Any]]]:
    """Return (scalars, numeric arrays, text arrays as nested lists) of one point's data."""
    scalars: dict[str, Scalar] = {}
    numeric: dict[str, np.ndarray] = {}
    text: dict[str, list[Any]] = {}
    for name, value in data.items():
        if isinstance(value, list | tuple):
            value = np.asarray(value)
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                scalars[name] = _as_scalar(name, value.item())
            elif value.dtype.kind in _NUMERIC_KINDS:
                numeric[name] = value
            elif value.dtype.kind in "US":
                text[name] = value.astype(str).tolist()
            else:
                logger.warning("point field %r is an array of %s; stored as text", name, value.dtype)
                text[name] = np.vectorize(repr, otypes=[str])(value).tolist()
        else:
            scalars[name] = _as_scalar(name, value)
    return scalars, numeric, text


def join_point_data(scalars: dict[str, Scalar], numeric: dict[str, np.ndarray],
                    text: dict[str, list[Any]], order: list[str] | None = None) -> dict[str, Any]:
    """Inverse of :func:`split_point_data`, in the field ``order`` the engine sent (if given)."""
    values: dict[str, Any] = dict(scalars)
    values.update(numeric)
    values.update({name: np.array(items, dtype=str) for name, items in text.items()})
    if order:
        ordered = {name: values[name] for name in order if name in values}
        ordered.update(values)
        return ordered
    return values
