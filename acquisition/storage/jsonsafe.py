"""Turn arbitrary run metadata (params, rig config, summaries) into strict JSON values.

Metadata comes from many places (TOML configs, dataclasses, numpy results, enums, paths). The run
file stores it as JSON text so that any reader, in any language, can parse it; strict JSON has no
NaN or infinity, so those become ``null``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from enum import Enum
from pathlib import PurePath
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as nested dicts/lists of str, int, float (finite), bool and None."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    return repr(value)


def dumps_strict(value: Any) -> str:
    """JSON text of ``value`` after :func:`to_jsonable` (never contains NaN)."""
    return json.dumps(to_jsonable(value), allow_nan=False, sort_keys=False)
