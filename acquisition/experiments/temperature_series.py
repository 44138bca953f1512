"""Any experiment at a list of cryostat setpoints, each after the temperature is stable.

The inner experiment's parameters are given as JSON (``params_json``) and validated, against
the inner schema and the rig, before anything moves. Each setpoint's streams are prefixed
``T<kelvin>K_`` (e.g. ``T77K_sweep``) so that one run file holds the whole series.
"""
from __future__ import annotations

import json
import re
from typing import Any

from acquisition.experiments.base import Experiment
from acquisition.interlocks import check_rig_temperature
from acquisition.plan_context import PlanContext
from acquisition.schema import Parameter, ParameterSchema

INNER_EXPERIMENTS = ("sweep", "pulsed", "switch", "lifetime", "calibrate")
#: typical time for the cryostat to move and settle between setpoints, for estimates
SETPOINT_CHANGE_ESTIMATE_S = 300.0
INNER_FIELD = "params_json"
#: the inner parameters are a handful of fields; anything this long is not a parameter set
MAX_PARAMS_JSON_CHARS = 100_000
#: a one-line error that starts with the field it is about (``dwell_s=-1 s is ...``)
FIELD_FIRST = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

SERIES_PARAMETERS: list[Parameter] = [
    Parameter("experiment", "Experiment at each temperature", "", "str", "sweep", choices=INNER_EXPERIMENTS),
    Parameter("temperatures_k", "Setpoints", "K", "float_list", [77.0, 100.0, 125.0], minimum=4.0,
              maximum=350.0, min_items=1),
    Parameter("params_json", "Experiment parameters (JSON)", "", "str", "{}",
              help='e.g. {"dwell_s": 0.2, "points": 30}; temperature_k is set by the series'),
]


def inner_error(exc: ValueError) -> ValueError:
    """An inner experiment's one-line error with its field named as ``params_json.<field>``."""
    message = str(exc)
    if FIELD_FIRST.match(message):
        return ValueError(f"{INNER_FIELD}.{message}")
    return ValueError(f"{INNER_FIELD}: {message}")


def inner_params(params: dict[str, Any]) -> dict[str, Any]:
    """The inner experiment's parameters from ``params_json`` as given (ValueError, one line)."""
    text = params["params_json"] or "{}"
    if len(text) > MAX_PARAMS_JSON_CHARS:
        raise ValueError(f"params_json={text[:40]!r}... has {len(text)} characters; allowed: a JSON "
                         f"object of at most {MAX_PARAMS_JSON_CHARS} characters")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"params_json={text[:40]!r} is not valid JSON ({exc.msg}); "
                         'allowed: a JSON object such as {"dwell_s": 0.2}') from None
    except (RecursionError, ValueError) as exc:  # nesting too deep; an integer of > 4300 digits
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        raise ValueError(f"params_json={text[:40]!r} cannot be read ({detail}); "
                         'allowed: a JSON object such as {"dwell_s": 0.2}') from None
    if not isinstance(value, dict):
        raise ValueError(f"params_json={params['params_json'][:40]!r} is not a JSON object; "
                         'allowed: a JSON object such as {"dwell_s": 0.2}')
    if "temperature_k" in value:
        raise ValueError(f"params_json.temperature_k={value['temperature_k']!r} is not allowed; "
                         "allowed: setpoints go in temperatures_k")
    return value


def validated_inner_params(params: dict[str, Any], rig: Any = None) -> dict[str, Any]:
    """The inner experiment's parameters checked against its schema (and the rig, if given),
    complete with defaults; every error names its field as ``params_json.<field>``."""
    from acquisition.experiments import get_experiment

    experiment = get_experiment(params["experiment"])
    given = inner_params(params)
    allowed = [name for name in experiment.schema.names if name != "temperature_k"]
    for key, value in given.items():
        if key not in allowed:
            text = json.dumps(value)
            text = text if len(text) <= 40 else text[:37] + "..."
            raise ValueError(f"{INNER_FIELD}.{key}={text} is not a parameter of {experiment.name}; "
                             f"allowed keys: {', '.join(allowed)}")
    try:
        experiment.schema.check_json_types(given)  # JSON has types: "30" is not an integer
        return experiment.validate(given, rig)
    except ValueError as exc:
        raise inner_error(ValueError(json_spelled(str(exc), given))) from None


def json_spelled(message: str, given: dict[str, Any]) -> str:
    """``message`` (``field=<value> ...``) with the value as the JSON the user wrote (``true``,
    ``null``, ``[true, 2]``), not as Python shows it (``True``, ``None``, ``[True, 2]``); the
    value may be the field's or, for a list, one of its items."""
    field_name, sep, rest = message.partition("=")
    if not sep or field_name not in given:
        return message
    value = given[field_name]
    candidates = [value] + (list(value) if isinstance(value, list) else [])
    for item in sorted(candidates, key=lambda v: -len(repr(v))):
        python = repr(item)
        if rest.startswith(python):
            try:
                text = json.dumps(item)
            except (TypeError, ValueError):
                return message
            return f"{field_name}={text}{rest[len(python):]}"
    return message


def _check_inner(params: dict[str, Any]) -> None:
    validated_inner_params(params)


def _check_distinct(params: dict[str, Any]) -> None:
    """Each setpoint has its own streams (``T77K_...``): two setpoints with the same prefix would
    mix two measurements in one stream."""
    seen: dict[str, float] = {}
    for kelvin in params["temperatures_k"]:
        prefix = stream_prefix(kelvin)
        if prefix in seen:
            raise ValueError(f"temperatures_k={kelvin:g} K repeats the setpoint {seen[prefix]:g} K; allowed: "
                             "distinct setpoints (repeat a temperature with a campaign, one run per visit)")
        seen[prefix] = kelvin


def _rig_check(params: dict[str, Any], rig: Any) -> None:
    for kelvin in params["temperatures_k"]:
        check_rig_temperature("temperatures_k", kelvin, rig)
    validated_inner_params(params, rig)


def series_preflight(params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
    """At start: the inner experiment's own preflight (densities within the stored power
    calibration, control density within the control path's reach) on its parameters."""
    from acquisition.experiments import get_experiment

    inner = validated_inner_params(params)
    try:
        get_experiment(params["experiment"]).preflight_check(inner, rig, calibration_store)
    except ValueError as exc:
        raise inner_error(exc) from None


def series_duration_s(params: dict[str, Any]) -> float:
    from acquisition.experiments import get_experiment

    inner = get_experiment(params["experiment"]).estimate_duration_s(inner_params(params))
    return len(params["temperatures_k"]) * (inner + SETPOINT_CHANGE_ESTIMATE_S)


def stream_prefix(kelvin: float) -> str:
    return f"T{kelvin:g}K_"


def series_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    inner = inner_params(params)
    results = []
    temperatures = params["temperatures_k"]
    for i, kelvin in enumerate(temperatures):
        ctx.note(f"temperature series: {kelvin:g} K ({i + 1}/{len(temperatures)})")
        ctx.set_temperature(kelvin)
        summary = ctx.run_plan(params["experiment"], dict(inner), stream_prefix=stream_prefix(kelvin))
        results.append({"temperature_k": kelvin, "stream_prefix": stream_prefix(kelvin), **summary})
        ctx.progress(i + 1, len(temperatures), f"{kelvin:g} K done")
    return {"inner_experiment": params["experiment"], "by_temperature": results}


TEMPERATURE_SERIES = Experiment(
    name="temperature_series", title="Experiment at a series of temperatures",
    schema=ParameterSchema(SERIES_PARAMETERS, (_check_distinct, _check_inner)),
    plan=series_plan, duration=series_duration_s, rig_check=_rig_check,
    preflight=series_preflight)
