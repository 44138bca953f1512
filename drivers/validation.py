"""Validators used by every settable value, in every driver, before anything is sent.

Errors are one line: the field, the value, and what is allowed, so that the CLI can print them
as they are and an operator knows what to change.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from typing import TypeVar

T = TypeVar("T")


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_range(field: str, value: float, low: float, high: float, unit: str = "",
                *, low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    """Return ``value`` as float if ``low <= value <= high`` (bounds as flagged), else raise ValueError."""
    suffix = f" {unit}" if unit else ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field}={value!r} is not a number; allowed range "
                         f"{'[' if low_inclusive else '('}{_fmt(low)}, {_fmt(high)}"
                         f"{']' if high_inclusive else ')'}{suffix}") from None
    ok_low = number >= low if low_inclusive else number > low
    ok_high = number <= high if high_inclusive else number < high
    if math.isnan(number) or not (ok_low and ok_high):
        raise ValueError(f"{field}={_fmt(number)}{suffix} is outside the allowed range "
                         f"{'[' if low_inclusive else '('}{_fmt(low)}, {_fmt(high)}"
                         f"{']' if high_inclusive else ')'}{suffix}")
    return number


def check_choice(field: str, value: T, allowed: Collection[T]) -> T:
    """Return ``value`` if it is one of ``allowed``, else raise ValueError listing them."""
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{field}={value!r} is not allowed; allowed values: {listed}")
    return value


def check_positive(field: str, value: float, unit: str = "") -> float:
    """Return ``value`` if it is a finite number > 0."""
    return check_range(field, value, 0.0, math.inf, unit, low_inclusive=False)


def check_int_range(field: str, value: int, low: int, high: int) -> int:
    """Return ``value`` as int if it is an integer within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or int(value) != value:
        raise ValueError(f"{field}={value!r} is not an integer; allowed range [{low}, {high}]")
    return int(check_range(field, value, low, high))
