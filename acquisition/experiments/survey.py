"""Film survey: an up/down power sweep at every point of a grid or a list of stage positions.

At each point the stage moves there (an abortable checkpoint) and the ``sweep`` experiment's own
plan runs with the survey's sweep parameters (its points go to the stream ``P<i>_sweep``); the
point's figures (switch-on, switch-off, width, contrast, nonlinearity s, bistable) go to the
``survey`` stream with the position. The summary gives the film statistics (mean and sample
standard deviation of each figure over the bistable spots, the bistable fraction), as the
published 71-spot statistics (Fig. 2c); plots and reports draw maps and histograms of them.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from acquisition.experiments.base import (POWER_ROLES, Experiment, Figure, LivePlot, ReportSection, RunData,
                                          check_calibrated_reach, stream_columns)
from acquisition.experiments.stage_points import (GRID_PARAMETERS, POSITIONS_PARAMETER, check_stage_points,
                                                  count_points, points_for)
from acquisition.experiments.sweep import SWEEP_PARAMETERS, check_sweep_range, sweep_duration_s, sweep_rig_check
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema

SURVEY_STREAM = "survey"
#: the figures of each point, as the sweep summary names them
FIGURES = ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db", "nonlinearity_s")
#: the sweep parameters a survey passes on (repeats and refinement stay with single sweeps)
_SWEEP_FIELDS = ("spacing", "start_kw_cm2", "stop_kw_cm2", "points", "densities_kw_cm2", "settle_s",
                 "dwell_s", "noise_cps")
#: survey defaults: the published film survey's sweep (log, 1.5-12 kW/cm2, 36 points)
_SURVEY_DEFAULTS = {"spacing": "log", "start_kw_cm2": 1.5, "stop_kw_cm2": 12.0, "points": 36,
                    "dwell_s": 0.2, "settle_s": 0.3}


def _survey_parameter(parameter: Parameter) -> Parameter:
    if parameter.name in _SURVEY_DEFAULTS:
        return dataclasses.replace(parameter, default=_SURVEY_DEFAULTS[parameter.name])
    return parameter


SURVEY_PARAMETERS: list[Parameter] = [
    *GRID_PARAMETERS,
    POSITIONS_PARAMETER,
    *(_survey_parameter(p) for p in SWEEP_PARAMETERS if p.name in _SWEEP_FIELDS),
]

SCHEMA_PARAMETERS = [TEMPERATURE_PARAMETER, *SURVEY_PARAMETERS]


def sweep_params(params: dict[str, Any]) -> dict[str, Any]:
    """The sweep each point runs."""
    return {name: params[name] for name in _SWEEP_FIELDS} | {"repeats": 1, "refine": False,
                                                              "resolution_kw_cm2": 0.05}


def check_survey_sweep(params: dict[str, Any]) -> None:
    check_sweep_range(sweep_params(params))


def survey_rig_check(params: dict[str, Any], rig: Any) -> None:
    check_stage_points(params, rig)
    sweep_rig_check(sweep_params(params), rig)


def survey_preflight(params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
    if params["spacing"] == "list":
        low, high = min(params["densities_kw_cm2"]), max(params["densities_kw_cm2"])
        check_calibrated_reach("densities_kw_cm2", low, high, rig, calibration_store)
    else:
        check_calibrated_reach("stop_kw_cm2", params["start_kw_cm2"], params["stop_kw_cm2"], rig,
                               calibration_store, low_field="start_kw_cm2")


def survey_duration_s(params: dict[str, Any]) -> float:
    return count_points(params) * (sweep_duration_s(sweep_params(params)) + 1.0)


def point_prefix(index: int) -> str:
    return f"P{index:04d}_"


def survey_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    points = points_for(params)
    ctx.power.ensure()
    rows: list[dict[str, Any]] = []
    for index, (x_m, y_m) in enumerate(points):
        ctx.progress(index, len(points), f"survey point {index + 1}/{len(points)} "
                                         f"({x_m * 1e3:.4f}, {y_m * 1e3:.4f}) mm")
        ctx.stages.move_xy(x_m, y_m)
        summary = ctx.run_plan("sweep", sweep_params(params), stream_prefix=point_prefix(index))
        row: dict[str, Any] = {"x_m": x_m, "y_m": y_m, "index": index,
                               "bistable": bool(summary.get("bistable", False))}
        for name in FIGURES:
            value = summary.get(name)
            row[name] = math.nan if value is None else float(value)
        ctx.emit(SURVEY_STREAM, row)
        rows.append(row)
    ctx.progress(len(points), len(points), "survey done")
    columns = {key: np.asarray([row[key] for row in rows]) for key in rows[0]} if rows else {}
    return summarize_survey(columns)


def summarize_survey(columns: dict[str, np.ndarray]) -> dict[str, Any]:
    """Film statistics from the survey's point columns: each figure's mean and sample standard
    deviation over the bistable points where it was found, and the bistable fraction."""
    n = int(len(columns.get("x_m", [])))
    summary: dict[str, Any] = {"points": n}
    if not n:
        return summary
    bistable = np.asarray(columns["bistable"], dtype=bool)
    summary["bistable_points"] = int(bistable.sum())
    summary["bistable_fraction"] = float(bistable.mean())
    for name in FIGURES:
        values = np.asarray(columns[name], dtype=float)[bistable]
        values = values[np.isfinite(values)]
        summary[f"mean_{name}"] = float(values.mean()) if values.size else None
        summary[f"std_{name}"] = float(values.std(ddof=1)) if values.size > 1 else None
    return summary


def analyze_survey(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """The film statistics from the stored ``survey`` stream."""
    return summarize_survey(stream_columns(run, SURVEY_STREAM))


#: (figure key, label, unit) of each point: the maps and histograms
POINT_FIGURES = (("switch_on_kw_cm2", "switch-on", "kW/cm²"), ("hysteresis_width_kw_cm2", "width", "kW/cm²"),
                 ("contrast_db", "contrast", "dB"), ("nonlinearity_s", "nonlinearity s", ""))
SURVEY_FIGURES = (
    Figure("points", "points"),
    Figure("bistable_fraction", "bistable fraction"),
    Figure("mean_switch_on_kw_cm2", "mean switch-on", "kW/cm2"),
    Figure("std_switch_on_kw_cm2", "switch-on spread", "kW/cm2"),
    Figure("mean_hysteresis_width_kw_cm2", "mean width", "kW/cm2"),
    Figure("std_hysteresis_width_kw_cm2", "width spread", "kW/cm2"),
    Figure("mean_contrast_db", "mean contrast", "dB"),
    Figure("std_contrast_db", "contrast spread", "dB"),
    Figure("mean_nonlinearity_s", "mean s"),
)
SURVEY_MAPS = tuple(LivePlot("image", SURVEY_STREAM, x="x_m", y="y_m", series=key, axis_labels=(label, unit, "", ""))
                    for key, label, unit in POINT_FIGURES)
#: each point's own loop while it is swept (streams P0000_sweep, P0001_sweep, ...)
SURVEY_LOOP = LivePlot("loop", "sweep", x="density_w_m2", y="rate_cps", series="direction",
                       thresholds=(("switch_on_kw_cm2", "switch-on"), ("switch_off_kw_cm2", "switch-off")),
                       prefix_pattern=r"P(?P<point>\d+)_", prefix_title="point {point}")


def survey_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """Maps (top) and histograms (bottom) of switch-on, width, contrast and s."""
    from acquisition.experiments.map_figures import draw_histogram, draw_map

    columns = stream_columns(run, SURVEY_STREAM)
    fig.set_size_inches(18.0, 8.5)
    axes = fig.subplots(2, len(POINT_FIGURES))
    bistable = np.asarray(columns["bistable"], dtype=bool)
    for k, (key, label, unit) in enumerate(POINT_FIGURES):
        values = np.where(bistable, np.asarray(columns[key], dtype=float), np.nan)
        draw_map(fig, axes[0][k], columns["x_m"], columns["y_m"], values, label, unit)
        draw_histogram(axes[1][k], values, label, unit)
    return f"{figures.get('points', 0)} points, bistable fraction {figures.get('bistable_fraction', 0):.2f}"


def survey_queue_label(params: dict[str, Any]) -> str:
    return f"{count_points(params)} pts x {params['points']}-pt sweep"


def _report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection | None:
    """Each survey's maps and histograms, and the film statistics over the surveys."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from acquisition.campaigns.report import figure_statistics
    from acquisition.storage import open_run

    if not runs:
        return None
    figures = []
    for k, run in enumerate(runs):
        stored = open_run(Path(campaign_folder) / run.path)
        if SURVEY_STREAM not in stored.streams:
            continue
        fig = plt.figure()
        title = survey_file_plot(fig, stored, analyze_survey(stored))
        fig.suptitle(f"{run.label or run.unit_key}: {title}")
        fig.tight_layout()
        path = Path(folder) / f"survey_{k:03d}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        figures.append(path)
    stats = figure_statistics(runs, tuple(f for f in SURVEY_FIGURES if f.key.startswith("mean_")))
    return ReportSection("Film surveys", figures, stats)


SURVEY = Experiment(
    name="survey", title="Film survey (sweep at each stage position)",
    schema=ParameterSchema(SCHEMA_PARAMETERS, (check_survey_sweep,)),
    plan=survey_plan, duration=survey_duration_s, rig_check=survey_rig_check,
    preflight=survey_preflight, roles=(*POWER_ROLES, "xy_stage"), analyze=analyze_survey,
    figures=SURVEY_FIGURES, file_plot=survey_file_plot, live=(*SURVEY_MAPS, SURVEY_LOOP),
    queue_label=survey_queue_label, report=_report,
    example={"positions_mm": [12.5, 12.5, 12.504, 12.5, 12.5, 12.504], "points": 12,
             "dwell_s": 0.1, "settle_s": 0.1, "start_kw_cm2": 2.0, "stop_kw_cm2": 10.0})
