"""Named numeric parameters of a material, read from its declarative description.

Every number of a ``Material`` (material.py) has a name built from where it sits in the
description, so whatever the description holds (and whatever is added to it later) can be
listed, read and replaced by name, e.g. by a rig file's ``[sample] parameters`` table or by
``avalab fit --free``:

- ``dopant_fraction``                                    a number of the material itself
- ``host.mpr_w0_s``                                      a number of a nested description
- ``transfers.CR1.microparameter_cm6_s``                 an element with a ``name``
- ``radiative.4F3/2.rate_s``                             an element with an ``upper`` level
- ``absorption.4I11/2->4F3/2.peak_cross_section_m2``     an element with ``lower`` and ``upper``
  (``@<center_cm>`` is appended where two elements share the same levels)

The unit is the field's own (its suffix says it: m2, cm6_s, s, cm).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

from .material import Material


def _element_keys(elements: tuple[Any, ...]) -> list[str]:
    """A key per element of a tuple of descriptions: its name, its upper level, or lower->upper."""
    keys: list[str] = []
    for element in elements:
        if isinstance(getattr(element, "name", None), str):
            keys.append(element.name)
        elif hasattr(element, "lower") and hasattr(element, "upper"):
            keys.append(f"{element.lower}->{element.upper}")
        elif isinstance(getattr(element, "upper", None), str):
            keys.append(element.upper)
        else:
            keys.append(str(len(keys)))
    plain = list(keys)
    for i, key in enumerate(plain):
        if plain.count(key) > 1 and hasattr(elements[i], "center_cm"):
            keys[i] = f"{key}@{elements[i].center_cm:g}"
    return keys


def _numbers(obj: Any, prefix: str) -> Iterator[tuple[str, Any, str]]:
    """(name, owner, field) of every number inside a description dataclass."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            yield name, obj, f.name
        elif dataclasses.is_dataclass(value):
            yield from _numbers(value, name + ".")
        elif isinstance(value, tuple) and value and all(dataclasses.is_dataclass(v) for v in value):
            for key, element in zip(_element_keys(value), value):
                yield from _numbers(element, f"{name}.{key}.")


def parameter_names(material: Material) -> list[str]:
    """Every named number of ``material``, in description order."""
    return [name for name, _, _ in _numbers(material, "")]


def parameter_values(material: Material) -> dict[str, float]:
    return {name: float(getattr(owner, field)) for name, owner, field in _numbers(material, "")}


def check_parameter_names(material: Material, names: list[str] | tuple[str, ...]) -> None:
    """KeyError (one line) naming the first unknown name and listing the allowed ones."""
    known = parameter_names(material)
    for name in names:
        if name not in known:
            raise KeyError(f"parameter={name!r} is not a parameter of {material.name}; "
                           f"allowed: {', '.join(known)}")


def with_parameters(material: Material, values: Mapping[str, float]) -> Material:
    """``material`` with the named numbers replaced (KeyError for an unknown name, ValueError for
    a value that is not a finite number)."""
    if not values:
        return material
    check_parameter_names(material, list(values))
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"parameter {name}={value!r} is not allowed; allowed: a finite number")
    return _replace(material, "", dict(values))


def _replace(obj: Any, prefix: str, values: dict[str, float]) -> Any:
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and name in values:
            changes[f.name] = type(value)(values[name]) if isinstance(value, float) else values[name]
        elif dataclasses.is_dataclass(value) and any(k.startswith(name + ".") for k in values):
            changes[f.name] = _replace(value, name + ".", values)
        elif isinstance(value, tuple) and value and all(dataclasses.is_dataclass(v) for v in value) \
                and any(k.startswith(name + ".") for k in values):
            changes[f.name] = tuple(_replace(element, f"{name}.{key}.", values)
                                    for key, element in zip(_element_keys(value), value))
    return dataclasses.replace(obj, **changes) if changes else obj
