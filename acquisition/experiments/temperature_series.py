"""Any experiment at a list of cryostat setpoints, each after the temperature is stable.

The inner experiment's parameters are given as JSON (``params_json``) and validated, against
the inner schema and the rig, before anything moves. Each setpoint's streams are prefixed
``T<kelvin>K_`` (e.g. ``T77K_sweep``) so that one run file holds the whole series.

The series composes its inner experiment through the experiment interface only: the inner
one's roles, analysis (setpoint by setpoint), summary lines, live panels and series plot
(``Experiment.series_plot``); any registered experiment that declares a series plot can be
the inner one.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any


from acquisition.experiments.base import (Experiment, LivePlot, ReportSection, RunData, SubRun, joined,
                                          number)
from acquisition.interlocks import check_rig_temperature
from acquisition.plan_context import PlanContext
from acquisition.schema import Parameter, ParameterSchema



class InnerExperiments(Sequence[str]):
    """The experiments a series can run at each setpoint, read from the registry when asked (so
    a newly registered experiment with a series plot is a choice without an edit here)."""

    def _names(self) -> list[str]:
        from acquisition.experiments import EXPERIMENTS

        return [name for name, e in EXPERIMENTS.items() if e.listed and e.series_plot is not None]

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __repr__(self) -> str:
        return repr(tuple(self._names()))


INNER_EXPERIMENTS = InnerExperiments()
#: typical time for the cryostat to move and settle between setpoints, for estimates
SETPOINT_CHANGE_ESTIMATE_S = 300.0
INNER_FIELD = "params_json"
#: the inner parameters are a handful of fields; anything this long is not a parameter set
MAX_PARAMS_JSON_CHARS = 100_000
#: a one-line error that starts with the field it is about (``dwell_s=-1 s is ...``)
FIELD_FIRST = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

SERIES_PARAMETERS: list[Parameter] = [
    Parameter("experiment", "Experiment at each temperature", "", "str", "sweep",
              choices=INNER_EXPERIMENTS),  # type: ignore[arg-type]  # a live view of the registry
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
        ctx.cryostat.set(kelvin)
        summary = ctx.run_plan(params["experiment"], dict(inner), stream_prefix=stream_prefix(kelvin))
        results.append({"temperature_k": kelvin, "stream_prefix": stream_prefix(kelvin), **summary})
        ctx.progress(i + 1, len(temperatures), f"{kelvin:g} K done")
    return {"inner_experiment": params["experiment"], "by_temperature": results}


#: a series' stream name: ``T<kelvin>K_<inner stream>`` (``T77K_sweep``)
SERIES_STREAM = re.compile(r"^T(?P<kelvin>[0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?)K_(?P<stream>.+)$")
#: the prefix part of SERIES_STREAM, for live panels of the inner experiment's streams
SERIES_PREFIX = r"T(?P<kelvin>[0-9.eE+-]+)K_"


def _inner_name(run: RunData) -> str:
    return str((run.params or {}).get("experiment") or (run.summary or {}).get("inner_experiment") or "")


def _stored_inner_params(params: dict[str, Any]) -> dict[str, Any]:
    """The inner experiment's parameters with its defaults (as the run used them); a file whose
    stored parameters no longer validate gives them as stored."""
    try:
        return validated_inner_params(params)
    except (KeyError, ValueError):
        try:
            given = json.loads(params.get("params_json") or "{}")
        except (TypeError, ValueError):
            given = {}
        return given if isinstance(given, dict) else {}


def series_runs(run: RunData) -> list[SubRun]:
    """The setpoints of a temperature series run (in the order they were measured), each as a
    run of its inner experiment; found from the stream names, so an aborted series gives the
    setpoints it reached."""
    params = dict(run.params or {})
    inner = _inner_name(run)
    inner_params = _stored_inner_params(params) if inner else {}
    stored = {entry.get("stream_prefix"): entry for entry in (run.summary or {}).get("by_temperature", [])
              if isinstance(entry, dict)}
    by_prefix: dict[str, SubRun] = {}
    for name, columns in run.streams.items():
        match = SERIES_STREAM.match(name)
        if match is None:
            continue
        prefix = name[:match.start("stream")]
        if prefix not in by_prefix:
            kelvin = float(match.group("kelvin"))
            by_prefix[prefix] = SubRun(inner, f"{kelvin:g} K", prefix, inner_params, {},
                                       dict(stored.get(prefix, {})), {"temperature_k": kelvin})
        by_prefix[prefix].streams[match.group("stream")] = columns
    return list(by_prefix.values())


def analyze_series(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """Each setpoint re-analysed as a run of the inner experiment; what the inner experiment has
    no stored-data analysis for (e.g. a lifetime's blade, counts) comes from the stored summary."""
    from acquisition.experiments import EXPERIMENTS

    by_temperature = []
    for setpoint in series_runs(run):
        stored = {k: v for k, v in setpoint.summary.items() if k not in ("temperature_k", "stream_prefix")}
        inner = EXPERIMENTS.get(setpoint.experiment)
        try:
            figures = inner.analyze(setpoint, noise_cps) if inner is not None else {}
        except (KeyError, ValueError, IndexError) as exc:  # too few points at this setpoint
            figures = {"analysis_problem": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        by_temperature.append({"temperature_k": setpoint.temperature_k, "stream_prefix": setpoint.stream_prefix,
                               **stored, **figures})
    return {"inner_experiment": _inner_name(run), "by_temperature": by_temperature}


def temperature_lines(result: dict[str, Any], indent: str) -> list[str]:
    """A line per setpoint with the inner experiment's headline figures and its detail lines."""
    from acquisition.experiments import EXPERIMENTS

    inner = EXPERIMENTS.get(str(result.get("inner_experiment") or ""))
    lines = []
    for entry in result.get("by_temperature", []) or []:
        figures = inner.compact_figures(entry) if inner is not None else ""
        lines.append(f"{indent}{entry.get('temperature_k'):g} K:" + (" " + figures if figures else ""))
        if inner is not None and inner.detail_lines is not None:
            lines += inner.detail_lines(entry, indent + "  ")
    return lines


def plot_temperature_series(fig: Any, run: RunData, result: dict[str, Any] | None = None) -> list[Any]:
    """The figure of a temperature series, drawn by its inner experiment's series plot
    (``Experiment.series_plot``), setpoints in temperature order; sizes ``fig`` and returns the
    axes drawn. Setpoints without the inner experiment's data (an aborted series) are left out."""
    from acquisition.experiments import get_experiment

    series_plot = get_experiment(_inner_name(run)).series_plot
    if series_plot is None:
        raise ValueError(f"experiment={_inner_name(run)!r} has no series plot; allowed: an experiment "
                         f"with one ({', '.join(INNER_EXPERIMENTS)})")
    result = analyze_series(run) if result is None else result
    by_prefix = {entry.get("stream_prefix"): entry for entry in result.get("by_temperature", [])}
    kept = sorted((s for s in series_runs(run) if series_plot.stream in s.streams), key=lambda s: s.temperature_k)
    figures = [by_prefix.get(s.stream_prefix, {}) for s in kept]
    fig.set_layout_engine("constrained")
    if series_plot.size is not None:
        fig.set_size_inches(*series_plot.size(len(kept), figures))
    return series_plot.draw(fig, kept, figures)


def series_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """The inner experiment's series plot; a series with no setpoint measured says so."""
    from acquisition.experiments import EXPERIMENTS

    inner = EXPERIMENTS.get(_inner_name(run))
    series_plot = inner.series_plot if inner is not None else None
    if series_plot is None or not any(series_plot.stream in s.streams for s in series_runs(run)):
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no setpoint of this series has data to plot", ha="center", va="center")
        ax.set_axis_off()
        return ""
    plot_temperature_series(fig, run, figures)
    return f"{_inner_name(run)} at each temperature"


def series_roles(params: dict[str, Any]) -> list[str]:
    """The inner experiment's roles (with its parameters) besides the cryostat."""
    from acquisition.experiments import get_experiment

    return get_experiment(params["experiment"]).required_roles(validated_inner_params(params))


def series_live(params: dict[str, Any]) -> tuple[LivePlot, ...]:
    """The inner experiment's live panels, for its streams under each setpoint's prefix."""
    from acquisition.experiments import get_experiment

    inner = str(params.get("experiment") or SERIES_PARAMETERS[0].default)
    return tuple(panel.with_prefix(SERIES_PREFIX, "T = {kelvin} K") for panel in get_experiment(inner).live)


def series_queue_label(params: dict[str, Any]) -> str:
    temperatures = params.get("temperatures_k") or []
    return joined([str(params.get("experiment") or "") or None,
                   f"{len(temperatures)} T {number(min(temperatures))}–{number(max(temperatures))} K"
                   if temperatures else None])


def series_report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection | None:
    """Each series' numeric headline figures against temperature (one line per series run)."""
    from acquisition.campaigns.report import figure, save
    from acquisition.experiments import EXPERIMENTS

    lines: dict[str, list[tuple[str, list[float], list[float]]]] = {}
    for run in runs:
        inner = EXPERIMENTS.get(str(run.metrics.get("inner_experiment") or ""))
        entries = [e for e in run.metrics.get("by_temperature", []) if isinstance(e, dict)]
        if inner is None or not entries:
            continue
        for f in inner.figures:
            points = sorted((float(e["temperature_k"]), float(e[f.key])) for e in entries
                            if isinstance(e.get(f.key), (int, float)) and not isinstance(e.get(f.key), bool))
            if len(points) >= 2:
                t, v = zip(*points)
                lines.setdefault(f"{f.label} ({f.unit})" if f.unit else f.label, []).append(
                    (run.unit_key, list(t), list(v)))
    if not lines:
        return None
    fig, axes = figure(len(lines))
    for ax, (label, series) in zip(axes, lines.items()):
        for unit, t, v in series:
            ax.plot(t, v, "o-", label=unit)
        ax.set_xlabel("temperature (K)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if len(series) <= 8:
            ax.legend(fontsize=7)
    fig.suptitle("Temperature series: figures against temperature")
    return ReportSection("temperature series", [save(fig, folder / "series_vs_temperature.png")])


TEMPERATURE_SERIES = Experiment(
    name="temperature_series", title="Experiment at a series of temperatures",
    schema=ParameterSchema(SERIES_PARAMETERS, (_check_distinct, _check_inner)),
    plan=series_plan, duration=series_duration_s, rig_check=_rig_check,
    preflight=series_preflight, roles=("cryostat",), needs_roles=series_roles, analyze=analyze_series,
    detail_lines=temperature_lines, file_plot=series_file_plot, live_for=series_live,
    queue_label=series_queue_label, report=series_report, sub_runs=series_runs,
    example={"experiment": "sweep", "temperatures_k": [77.0, 90.0],
             "params_json": '{"start_kw_cm2": 2.0, "stop_kw_cm2": 9.0, "points": 12, "dwell_s": 0.2}'})
