"""Experiment parameter schemas: what an experiment accepts, in the units operators use.

One schema drives three things, so they can never disagree: validation before anything moves
(engine), the CLI options (``avalab sweep --dwell-s 0.2``) and the GUI form (one field per
parameter, each error marked on its field). Values at this edge are in operator units (kW/cm2,
s, Hz, nm, K) and the parameter names carry the unit; experiments convert to SI inside.

Error messages are one line: ``field=value ... allowed ...`` (same style as drivers.validation).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from drivers.validation import check_choice, check_int_range, check_range

ParameterKind = Literal["float", "int", "str", "bool", "float_list"]

#: a check on several fields at once (or on the rig); raises ValueError with a one-line message
CrossCheck = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Parameter:
    """One experiment parameter.

    ``default=None`` with ``optional=True`` means "not set" (e.g. no temperature change).
    ``minimum``/``maximum`` bound every element of a ``float_list``.
    """

    name: str
    label: str
    unit: str
    kind: ParameterKind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    help: str = ""
    optional: bool = False
    min_items: int = 0
    max_items: int = 10_000
    #: the value when not given, from the parameters that were given (None: ``default``); e.g.
    #: a sweep's spacing is "list" when only densities are given
    implied: Callable[[dict[str, Any]], Any] | None = field(default=None, compare=False)

    def value_in(self, given: dict[str, Any]) -> Any:
        """This parameter's raw value in ``given``, else its implied value, else its default."""
        if self.name in given:
            return given[self.name]
        if self.implied is not None:
            implied = self.implied(given)
            if implied is not None:
                return implied
        return self.default

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's kind, or raise a one-line ValueError."""
        if value is None:
            if self.optional:
                return None
            raise ValueError(f"{self.name}=None is not allowed; a value is required{self._allowed()}")
        if self.kind == "float":
            return self._check_number(value)
        if self.kind == "int":
            low = -2**62 if self.minimum is None else int(self.minimum)
            high = 2**62 if self.maximum is None else int(self.maximum)
            number = _parse_number(self.name, value, self._allowed())
            if not math.isfinite(number):
                raise ValueError(f"{self.name}={number} is not an integer{self._allowed()}")
            return check_int_range(self.name, number, low, high)
        if self.kind == "bool":
            return _parse_bool(self.name, value)
        if self.kind == "str":
            text = str(value)
            if self.choices is not None:
                check_choice(self.name, text, self.choices)
            return text
        if self.kind == "float_list":
            return self._check_list(value)
        raise ValueError(f"{self.name}: unknown parameter kind {self.kind!r}")

    def check_json_type(self, value: Any) -> None:
        """ValueError (one line) unless ``value`` has this parameter's JSON type: typed input
        (JSON, Python) is not converted from text (``"30"`` is a string, not an integer); only
        command-line text goes through :meth:`validate`'s conversion."""
        if value is None:
            return  # validate() says whether it may be left out
        expected = {"float": "number", "int": "integer", "bool": "boolean (true or false)",
                    "str": "string", "float_list": "array of numbers"}[self.kind]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind == "float":
            ok = number
        elif self.kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool) or (
                isinstance(value, float) and value.is_integer())
        elif self.kind == "bool":
            ok = isinstance(value, bool)
        elif self.kind == "str":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, (list, tuple)) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if not ok:
            self.validate(value)  # a value no conversion accepts keeps its usual message
            import json
            try:
                text = json.dumps(value)
            except (TypeError, ValueError):
                text = repr(value)
            text = text if len(text) <= 40 else text[:37] + "..."
            kind = ("string" if isinstance(value, str) else "boolean" if isinstance(value, bool)
                    else "array" if isinstance(value, (list, tuple)) else "object" if isinstance(value, dict)
                    else "number" if number else type(value).__name__)
            raise ValueError(f"{self.name}={text} is a JSON {kind}, not a JSON {expected}{self._allowed()}")

    def _check_number(self, value: Any, field_name: str | None = None) -> float:
        name = field_name or self.name
        number = _parse_number(name, value, self._allowed())
        if math.isnan(number) or math.isinf(number):
            raise ValueError(f"{name}={number} is not a finite number{self._allowed()}")
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        return check_range(name, number, low, high, self.unit)

    def _check_list(self, value: Any) -> list[float]:
        if isinstance(value, str):
            items: Sequence[Any] = [v for v in value.replace(";", ",").split(",")] if value.strip() else []
            if any(not item.strip() for item in items):
                position = next(i for i, item in enumerate(items) if not item.strip()) + 1
                raise ValueError(f"{self.name}={_short(value)} has an empty value at position {position}; "
                                 f"allowed: numbers separated by commas{self._allowed()}")
        elif isinstance(value, Iterable):
            items = list(value)
        else:
            items = [value]
        if not self.min_items <= len(items) <= self.max_items:
            raise ValueError(f"{self.name}={_short(value)} has {len(items)} values; allowed "
                             f"{self.min_items} to {self.max_items} values{self._allowed()}")
        return [self._check_number(item, self.name) for item in items]

    def _allowed(self) -> str:
        if self.choices is not None:
            return f"; allowed values: {', '.join(repr(c) for c in self.choices)}"
        if self.minimum is not None or self.maximum is not None:
            low = "-inf" if self.minimum is None else f"{self.minimum:g}"
            high = "inf" if self.maximum is None else f"{self.maximum:g}"
            unit = f" {self.unit}" if self.unit else ""
            return f"; allowed range [{low}, {high}]{unit}"
        return ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_number(name: str, value: Any, allowed: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r} is not a number{allowed}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name}={_short(value)} is too large{allowed}") from None
    except (TypeError, ValueError):
        raise ValueError(f"{name}={_short(value)} is not a number{allowed}") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={_short(value)} is not a boolean; allowed values: true, false")


@dataclass(frozen=True)
class ParameterSchema:
    """An ordered list of parameters plus checks that involve several of them."""

    parameters: list[Parameter]
    cross_checks: tuple[CrossCheck, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [p.name for p in self.parameters]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate parameter names in schema: {names}")

    def get(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def validate(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Return a complete, converted parameter dict; raise ValueError on the first problem."""
        errors = self._collect(params or {}, stop_at_first=True)
        if errors:
            raise ValueError(errors[0])
        return self._convert(params or {})

    def check_json_types(self, params: dict[str, Any]) -> None:
        """Typed input (a JSON object): every known field must already have its JSON type
        (ValueError, one line, on the first that does not); unknown fields are left to validate."""
        for parameter in self.parameters:
            if parameter.name in params:
                parameter.check_json_type(params[parameter.name])

    def validate_all(self, params: dict[str, Any] | None) -> list[str]:
        """Every problem at once (one line each), so a form can mark each field."""
        return self._collect(params or {}, stop_at_first=False)

    def _convert(self, params: dict[str, Any]) -> dict[str, Any]:
        values = {p.name: p.validate(p.value_in(params)) for p in self.parameters}
        for check in self.cross_checks:
            check(values)
        return values

    def _collect(self, params: dict[str, Any], stop_at_first: bool) -> list[str]:
        errors: list[str] = []
        known = set(self.names)
        for key in params:
            if key not in known:
                errors.append(f"{key}={_short(params[key])} is not a parameter of this experiment; "
                              f"allowed values: {', '.join(self.names)}")
                if stop_at_first:
                    return errors
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            try:
                values[parameter.name] = parameter.validate(parameter.value_in(params))
            except ValueError as exc:
                errors.append(str(exc))
                if stop_at_first:
                    return errors
        if errors:
            return errors  # cross checks need every field valid
        for check in self.cross_checks:
            try:
                check(values)
            except ValueError as exc:
                errors.append(str(exc))
                if stop_at_first:
                    return errors
        return errors


#: the temperature parameter every experiment shares (``avalab ... --temperature 77``)
TEMPERATURE_PARAMETER = Parameter(
    "temperature_k", "Cryostat temperature", "K", "float", None, minimum=4.0, maximum=350.0,
    optional=True,
    help="Setpoint to reach and hold (stable for the rig's stability time) before measuring; "
         "empty: leave the cryostat as it is.")
