"""The experiment interface: one module per experiment declares everything about it.

An experiment is one module under ``acquisition/experiments/`` that builds one :class:`Experiment`
and one line in the registry (``acquisition/experiments/__init__.py``). Nothing outside
``experiments/`` names an experiment: the engine, the CLI, the GUI, storage, re-analysis, plotting
and the campaign report look it up in the registry and use the parts below.

What a module declares (the fields of :class:`Experiment`):

==================  ==============================================================================
``name``, ``title``  CLI command (``avalab <name>``), GUI chooser entry, the run file's experiment
``schema``           parameters: CLI options, GUI form, validation (:mod:`acquisition.schema`)
``plan``             ``plan(ctx, params) -> summary``: the measurement, through the PlanContext
                     and its capabilities (``ctx.beam``, ``ctx.detection``, ``ctx.cryostat`` ...)
``duration``         ``duration(params) -> s``: rig-clock estimate (GUI ETA, queue, campaigns)
``roles``            rig roles the plan cannot do without; a ``temperature_k`` setpoint adds the
                     cryostat (``needs_roles`` adds more from the parameters, e.g. a series adds
                     its inner experiment's)
``analyze``          ``analyze(run, noise_cps) -> figures`` from the *stored* streams of a
                     :class:`RunData` (a run file, a setpoint of a series, a run's own points):
                     ``avalab analyze``, the GUI runs browser and campaign reports all call it,
                     and the plan computes its summary with the same functions
``figures``          the headline JSON figures (key, label, unit) the analysis returns; printed one
                     per line by ``summary_lines`` (``detail_lines`` adds lines of its own)
``file_plot``        ``file_plot(fig, run, figures) -> title suffix``: the PNG of ``--plot`` and
                     ``analyze --plot`` (matplotlib figure; it sizes the figure itself)
``live``             what the GUI draws live and in the runs browser: a tuple of declarative
                     :class:`LivePlot` descriptions (panel kind, stream, fields), rendered
                     generically by ``gui/live_plots.py`` (``live_for(params)``: panels that
                     depend on the parameters, e.g. a series shows its inner experiment's)
``queue_label``      ``queue_label(params) -> str``: the key parameters in a compact queue entry
``report``           ``report(runs, folder, campaign_folder) -> ReportSection``: this experiment's
                     section of a campaign report (figures, statistics), given its complete runs
``series_plot``      how a temperature series of this experiment is drawn (:class:`SeriesPlot`);
                     None: it cannot be the inner experiment of a series
``sub_runs``         ``sub_runs(run) -> [SubRun]``: parts of a run that are runs of another
                     experiment (a series' setpoints); the runs browser offers them for re-plot
``rig_check``,       checks against the rig (limits, laser range) and, at start, against what the
``preflight``        rig has stored (power calibration reach); one-line ValueError
``example``          short parameters that exercise every part on the simulated rig (the registry
                     test runs them; they make a quick rehearsal)
``listed``           False: an internal experiment (campaign ``prepare``): no CLI command, no form
``provides``         jobs other code looks the experiment up by, instead of its name
                     (``providing(POWER_CALIBRATION)``: the plan that measures and stores the power
                     calibration; ``STEP_PREPARATION``: a campaign step's stage move, setpoint and
                     wait, parameters ``stage_x_mm``, ``stage_y_mm``, ``target_k``,
                     ``ramp_k_per_min``, ``wait_s``); at most one experiment provides each
``demo``             :class:`Demo`: the GUI demonstration run (``python -m gui.screenshot``)
==================  ==============================================================================

Adding an experiment: write the module (copy the closest one), add its line to the registry,
run ``pytest tests/gui/test_experiment_registry.py`` (it runs every registered experiment's
``example`` on the simulated rig and checks each part). See docs/architecture.md, "How to add an
experiment"; ``scan_rate.py`` is a compact example built on the sweep.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from acquisition.schema import ParameterSchema
from acquisition.units import W_M2_PER_KW_CM2, W_M2_PER_W_CM2

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

Plan = Callable[["PlanContext", dict[str, Any]], dict[str, Any]]
RigCheck = Callable[[dict[str, Any], Any], None]
#: start-time check against what the rig has stored (power calibration, control-path reach):
#: ``preflight(validated_params, rig, calibration_store)`` raises ValueError (one line)
Preflight = Callable[[dict[str, Any], Any, Any], None]

#: power control (calibration, set_power_density, measure_power); a beam on the sample also
#: means count-rate probes during waits, so the counter too. nd_wheel and shutters are optional.
POWER_ROLES: tuple[str, ...] = ("pump", "hwp", "power_meter", "counter")

#: ``Experiment.provides`` values: the jobs code outside ``experiments/`` finds an experiment by
POWER_CALIBRATION = "power calibration"
STEP_PREPARATION = "campaign step preparation"
JOBS = (POWER_CALIBRATION, STEP_PREPARATION)

__all__ = ["Demo", "Experiment", "Figure", "LivePlot", "ReportSection", "RunData", "SeriesPlot", "SubRun",
           "JOBS", "POWER_CALIBRATION", "POWER_ROLES", "STEP_PREPARATION", "W_M2_PER_KW_CM2",
           "W_M2_PER_W_CM2"]


class RunData(Protocol):
    """What an analysis reads: a stored run (``acquisition.storage.RunFile``), a setpoint of a
    series (:class:`SubRun`), or a run's own points. ``streams``: stream name -> field -> column
    (``acquisition.storage.columns``), ``params``: the validated parameters the run used (with
    defaults), ``summary``: the summary the run stored at its end ({} while running)."""

    experiment: str
    params: dict[str, Any]
    streams: dict[str, dict[str, Any]]
    summary: dict[str, Any]


@dataclass
class SubRun:
    """A part of a run that is a run of another experiment (one setpoint of a temperature
    series): its streams without the part's prefix, that experiment's parameters (with
    defaults) and the summary the run stored for the part."""

    experiment: str
    label: str
    stream_prefix: str
    params: dict[str, Any]
    streams: dict[str, dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    #: e.g. {"temperature_k": 77.0}: what distinguishes this part from the others
    coordinates: dict[str, float] = field(default_factory=dict)

    @property
    def temperature_k(self) -> float:
        return float(self.coordinates.get("temperature_k", math.nan))


@dataclass(frozen=True)
class Figure:
    """A headline figure of an experiment's JSON result: ``key`` (with its unit in the name),
    the label operators read, and the unit shown."""

    key: str
    label: str
    unit: str = ""


@dataclass(frozen=True)
class LivePlot:
    """One live panel, declared by the experiment and drawn by ``gui/live_plots.py``.

    ``kind`` picks the panel: ``"loop"`` (log-log emission against density, a colour per
    ``series`` value: up red, down blue; vertical lines at the ``thresholds`` the run's summary
    reports), ``"trace"`` (a time trace rebuilt from the ``segments`` count arrays of a point in
    bins of ``bin_field``, with a shaded gap of ``gap_field`` seconds between them), ``"histogram"``
    (``y`` counts against ``x`` delays, both arrays in one point), ``"curve"`` (``y`` against ``x``,
    one curve per ``series`` value), ``"image"`` (a map over sample-stage positions: ``x`` and
    ``y`` name the position fields in m, ``series`` the mapped value; ``axis_labels`` = (title,
    unit, "", ""); one map per image panel, side by side). ``stream`` is the stream it reads; a run whose streams carry a
    prefix (a series' ``T77K_sweep``) matches when the name is ``prefix + stream`` with ``prefix``
    matching the regular expression ``prefix_pattern``, whose named groups fill ``prefix_title``.
    A change of ``group_by`` field values (or of the prefix) starts the panel afresh (one loop at
    a time); ``group_title`` formats those values for the panel's title, e.g.
    (("frequency_hz", "chopper {:g} Hz"),). ``caption`` (field, scale, format) and ``flag``
    (field, text if true, text if false) title a trace with the point it shows."""

    kind: str
    stream: str
    x: str = ""
    y: str = ""
    series: str = ""
    segments: tuple[str, ...] = ()
    bin_field: str = ""
    gap_field: str = ""
    thresholds: tuple[tuple[str, str], ...] = ()
    group_by: tuple[str, ...] = ()
    group_title: tuple[tuple[str, str], ...] = ()
    caption: tuple[str, float, str] | None = None
    flag: tuple[str, str, str] | None = None
    prefix_pattern: str = ""
    prefix_title: str = ""
    #: (x text, x unit, y text, y unit) of a "curve" panel's axes
    axis_labels: tuple[str, str, str, str] | tuple[()] = ()

    KINDS = ("loop", "trace", "histogram", "curve", "image")

    def with_prefix(self, pattern: str, title: str) -> "LivePlot":
        """The same panel for streams named ``<prefix><stream>`` (a nested experiment's)."""
        return replace(self, prefix_pattern=pattern, prefix_title=title)


@dataclass(frozen=True)
class SeriesPlot:
    """How a temperature series of an experiment is drawn: ``draw(fig, setpoints, figures)``
    (setpoints: :class:`SubRun` in temperature order, figures: each one's analysis) returns the
    axes; ``stream``: a setpoint without it is left out (aborted series); ``size(n, figures)``:
    the figure size in inches."""

    draw: Callable[[Any, list[SubRun], list[dict[str, Any]]], list[Any]]
    stream: str
    size: Callable[[int, list[dict[str, Any]]], tuple[float, float]] | None = None


@dataclass(frozen=True)
class Demo:
    """The GUI's demonstration run (``python -m gui.screenshot``, the README image): the form
    values, and how many points of the first live panel's stream to wait for, so the picture
    is taken mid-run with every series of that panel on screen."""

    params: Mapping[str, Any]
    points: int


@dataclass
class ReportSection:
    """An experiment's part of a campaign report: figures (PNG paths already written),
    statistics (name -> {"mean", "std" or "stderr", "n"}) and a heading for them."""

    title: str
    figures: list[Path] = field(default_factory=list)
    statistics: dict[str, dict[str, float]] = field(default_factory=dict)
    note: str = ""


def stored_summary(run: RunData, noise_cps: float | None) -> dict[str, Any]:
    """No stored-data analysis: the summary the run stored at its end."""
    return dict(run.summary or {})


def first_parameters(params: Mapping[str, Any]) -> str:
    """Queue label of an experiment without one: its first two set parameters."""
    shown = [(k, v) for k, v in params.items() if v is not None and k != "temperature_k"][:2]
    return ", ".join(f"{k}={short_value(v)}" for k, v in shown)


def short_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(short_value(v) for v in value[:4]) + (",…]" if len(value) > 4 else "]")
    return str(value)


def format_value(value: Any, unit: str = "") -> str:
    """A figure for operators: 4 significant digits, the unit, "not found" for None."""
    if value is None:
        return "not found"
    if isinstance(value, float):
        return f"{value:.4g}{(' ' + unit) if unit else ''}"
    return f"{value}{(' ' + unit) if unit else ''}"


@dataclass(frozen=True)
class Experiment:
    """One experiment: see the module docstring for what each part is and who uses it."""

    name: str
    title: str
    schema: ParameterSchema
    plan: Plan
    duration: Callable[[dict[str, Any]], float]
    rig_check: RigCheck | None = None
    preflight: Preflight | None = None
    roles: tuple[str, ...] = ()
    needs_roles: Callable[[dict[str, Any]], Iterable[str]] | None = None
    analyze: Callable[[RunData, float | None], dict[str, Any]] = stored_summary
    figures: tuple[Figure, ...] = ()
    detail_lines: Callable[[dict[str, Any], str], list[str]] | None = None
    file_plot: Callable[[Any, RunData, dict[str, Any]], str] | None = None
    live: tuple[LivePlot, ...] = ()
    queue_label: Callable[[dict[str, Any]], str] = first_parameters
    report: Callable[[list[Any], Path, Path], ReportSection | None] | None = None
    series_plot: SeriesPlot | None = None
    sub_runs: Callable[[RunData], list[SubRun]] | None = None
    live_for: Callable[[dict[str, Any]], tuple[LivePlot, ...]] | None = None
    example: Mapping[str, Any] = field(default_factory=dict)
    listed: bool = True
    provides: tuple[str, ...] = ()
    demo: Demo | None = None

    # ---- parameters ------------------------------------------------------------------------
    def validate(self, params: dict[str, Any] | None, rig: Any = None) -> dict[str, Any]:
        """Schema validation, then the checks that need the rig (limits, laser range)."""
        if rig is not None:
            from acquisition.interlocks import raw_temperature_errors

            for message in raw_temperature_errors(params or {}, rig).values():
                raise ValueError(message)
        values = self.schema.validate(params or {})
        if rig is not None:
            check_temperature_limit(values, rig)
            if self.rig_check is not None:
                self.rig_check(values, rig)
        return values

    def schema_errors(self, params: dict[str, Any] | None, rig: Any = None) -> list[str]:
        """Every schema problem; with a rig, a temperature's message states the rig's range
        instead of the schema's wider absolute bound."""
        errors = self.schema.validate_all(params or {})
        if rig is None:
            return errors
        from acquisition.interlocks import raw_temperature_errors

        temperature_errors = raw_temperature_errors(params or {}, rig)
        errors = [e for e in errors if e.split("=", 1)[0].strip() not in temperature_errors]
        return errors + list(temperature_errors.values())

    def validate_all(self, params: dict[str, Any] | None, rig: Any = None) -> list[str]:
        errors = self.schema_errors(params, rig)
        if not errors and rig is not None:
            values = self.schema.validate(params or {})
            checks = [check_temperature_limit] + ([self.rig_check] if self.rig_check is not None else [])
            for check in checks:
                try:
                    check(values, rig)
                except ValueError as exc:
                    errors.append(str(exc))
        return errors

    def preflight_check(self, params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
        """Checks of validated ``params`` against the rig's stored calibrations (the engine runs
        them at start, before anything moves; ValueError, one line)."""
        if self.preflight is not None:
            self.preflight(params, rig, calibration_store)

    def estimate_duration_s(self, params: dict[str, Any] | None) -> float:
        """Rig-clock seconds the run should take (settle + dwell + overheads), without moves."""
        return float(self.duration(self.schema.validate(params or {})))

    # ---- what the run needs and shows --------------------------------------------------------
    def required_roles(self, params: dict[str, Any]) -> list[str]:
        """The rig roles a run with validated ``params`` needs: the declared ones, the cryostat
        for a ``temperature_k`` setpoint, and what ``needs_roles`` adds."""
        roles = list(self.roles)
        if params.get("temperature_k") is not None:
            roles.append("cryostat")
        if self.needs_roles is not None:
            roles += list(self.needs_roles(params))
        return list(dict.fromkeys(roles))

    def live_plots(self, params: dict[str, Any] | None = None) -> tuple[LivePlot, ...]:
        """The live panels of a run with ``params`` (a series shows its inner experiment's)."""
        if self.live_for is not None and params is not None:
            try:
                return self.live_for(params)
            except (KeyError, ValueError):  # odd parameters: the declared panels
                return self.live
        return self.live

    def summary_lines(self, result: dict[str, Any], indent: str = "  ") -> list[str]:
        """The lines an operator reads at a glance: one per headline figure the result has,
        then the experiment's own detail lines."""
        lines = [f"{indent}{f.label:<20} {format_value(result[f.key], f.unit)}"
                 for f in self.figures if f.key in result]
        if self.detail_lines is not None:
            lines += self.detail_lines(result, indent)
        return lines

    def compact_figures(self, result: dict[str, Any], limit: int = 4) -> str:
        """``label value, ...`` of the first numeric headline figures (one line of a series)."""
        parts = [f"{f.label} {format_value(result[f.key], f.unit)}" for f in self.figures
                 if f.key in result and not isinstance(result[f.key], bool)]
        return ", ".join(parts[:limit])


def max_density_w_m2(rig: Any) -> float:
    return float(rig.config.limits.max_power_density_w_m2)


def check_temperature_limit(params: dict[str, Any], rig: Any) -> None:
    """A ``temperature_k`` setpoint outside the rig's [min_temperature_k, max_temperature_k]
    (ValueError, one line, nothing moved)."""
    from acquisition.interlocks import check_rig_temperature

    if params.get("temperature_k") is not None:
        check_rig_temperature("temperature_k", params["temperature_k"], rig)


def check_density_limit(field: str, value_kw_cm2: float, rig: Any) -> None:
    """Parameter-time check of a density against the rig limit less the power meter's stated
    uncertainty (ValueError, one line, nothing moved)."""
    from acquisition.interlocks import density_setpoint_error, meter_relative_uncertainty

    message = density_setpoint_error(field, value_kw_cm2 * W_M2_PER_KW_CM2, max_density_w_m2(rig),
                                     meter_relative_uncertainty(rig), low_bracket="(")
    if message is not None:
        raise ValueError(message)


def format_bound(value: float, round_up: bool) -> str:
    """``value`` to 4 significant figures, rounded towards the inside of a range (a bound shown
    is always one that holds)."""
    if value <= 0 or not math.isfinite(value):
        return f"{value:g}"
    scale = 10.0 ** (math.floor(math.log10(value)) - 3)
    steps = value / scale
    steps = math.ceil(steps - 1e-9) if round_up else math.floor(steps + 1e-9)
    return f"{steps * scale:.4g}"


def check_calibrated_reach(field: str, low_kw_cm2: float, high_kw_cm2: float, rig: Any,
                           calibration_store: Any, low_field: str | None = None) -> None:
    """Start-time check of a scan's densities against the stored power calibration, when one is
    valid for this rig (with none, or a stale one, the run calibrates first and checks then).

    The calibrated maximum at the sample is the plate at its highest transmission, the ND wheel
    at its clearest calibrated level and the pump at the calibration's laser power; the minimum
    the opposite (``PowerCalibration.power_range_w``)."""
    calibration, _ = calibration_store.load_for_rig(rig)
    if calibration is None:
        return
    area = math.pi * float(rig.config.beam.beam_radius_m) ** 2
    low_w, high_w = calibration.power_range_w(has_wheel=getattr(rig, "nd_wheel", None) is not None)
    low, high = low_w / area / W_M2_PER_KW_CM2, high_w / area / W_M2_PER_KW_CM2
    allowed = f"allowed range [{format_bound(low, True)}, {format_bound(high, False)}] kW/cm2"
    if high_kw_cm2 > high:
        raise ValueError(f"{field}={high_kw_cm2:g} kW/cm2 is above what the power calibration reaches; "
                         f"{allowed} (recalibrate with more laser power or a lower ND)")
    if low_kw_cm2 < low:
        raise ValueError(f"{low_field or field}={low_kw_cm2:g} kW/cm2 is below what the power calibration "
                         f"reaches; {allowed} (recalibrate with less laser power)")


def stream_columns(run: RunData, stream: str) -> dict[str, Any]:
    """The columns of ``stream`` (KeyError naming the streams the run has)."""
    if stream not in run.streams:
        known = ", ".join(sorted(run.streams)) or "none"
        raise KeyError(f"stream {stream!r} is not in this run; streams: {known}")
    return run.streams[stream]


def noise_of(run: RunData, noise_cps: float | None) -> float:
    """The APD noise level of an analysis: the one asked for, else the run's own ``noise_cps``,
    else the reference one (a run file from before the parameter existed)."""
    from acquisition.units import REFERENCE_NOISE_CPS

    if noise_cps is not None:
        return float(noise_cps)
    return float((run.params or {}).get("noise_cps") or REFERENCE_NOISE_CPS)


def kw_cm2_range(params: Mapping[str, Any], prefix: str = "") -> str | None:
    """"1–10 kW/cm² ×91" (or "5 densities") of a density scan's parameters, for queue labels."""
    listed = params.get(f"{prefix}densities_kw_cm2") or []
    if params.get("spacing") == "list" or listed:
        return f"{len(listed)} densities" if listed else None
    start, stop = params.get(f"{prefix}start_kw_cm2"), params.get(f"{prefix}stop_kw_cm2")
    if start is None or stop is None:
        return None
    points = params.get(f"{prefix}points")
    return f"{number(start)}–{number(stop)} kW/cm²" + (f" ×{number(points)}" if points is not None else "")


def number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def joined(parts: Sequence[str | None]) -> str:
    return ", ".join(part for part in parts if part)
