"""Emission map: a raster (or a list of points) of the sample stage at one 1064 nm density.

At each point the stage moves there (an abortable checkpoint), optionally a set/reset protocol
runs, then the pump sits at the bias density and the APD counts: the map of counts/s shows where
the film emits. With a protocol the map is a memory map: ``reset_s`` of blocked pump puts every
particle dark; ``pump_pulse`` then takes the spot above switch-on (``set_kw_cm2`` for ``set_s``),
``control_pulse`` fires the control laser (e.g. 808 nm) at the bias; back at the bias, a spot
that holds the bright state is bistable there. ``bright_cps`` classifies each point.

The map's resolution is the focal spot's: points closer than the spot see the same particles
(the summary reports the spot diameter and whether the step over- or under-samples it).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from acquisition.experiments.base import (POWER_ROLES, Experiment, Figure, LivePlot, ReportSection, RunData,
                                          check_calibrated_reach, check_density_limit, stream_columns)
from acquisition.experiments.stage_points import (GRID_PARAMETERS, POSITIONS_PARAMETER, check_stage_points,
                                                  count_points, points_for)
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema
from acquisition.units import W_M2_PER_KW_CM2, W_M2_PER_W_CM2

MAP_STREAM = "map"
PROTOCOLS = ("none", "pump_pulse", "control_pulse")
#: rig-clock seconds per point besides settle, dwell and the protocol (stage move of one step)
POINT_OVERHEAD_S = 0.3

MAP_PARAMETERS: list[Parameter] = [
    *GRID_PARAMETERS,
    POSITIONS_PARAMETER,
    Parameter("density_kw_cm2", "1064 nm density (bias)", "kW/cm2", "float", 5.0, minimum=0.001,
              maximum=1000.0, help="the pump density every point is measured at"),
    Parameter("settle_s", "Settle delay", "s", "float", 0.2, minimum=0.0, maximum=60.0),
    Parameter("dwell_s", "Dwell time", "s", "float", 0.1, minimum=0.01, maximum=10.0),
    Parameter("protocol", "Set/reset protocol", "", "str", "none", choices=PROTOCOLS,
              help="none: just the bias; pump_pulse: dark, above switch-on, back to the bias; "
                   "control_pulse: dark, the bias, a control-laser pulse (memory map)"),
    Parameter("reset_s", "Reset (pump blocked)", "s", "float", 1.0, minimum=0.0, maximum=60.0,
              help="with a protocol: the pump is blocked this long first, so every spot starts dark"),
    Parameter("set_kw_cm2", "Set pulse density", "kW/cm2", "float", 10.0, minimum=0.001, maximum=1000.0,
              help="pump_pulse: above the film's switch-on"),
    Parameter("set_s", "Set pulse duration", "s", "float", 0.5, minimum=0.001, maximum=60.0),
    Parameter("control_wavelength_nm", "Control wavelength", "nm", "float", 808.0, minimum=300.0,
              maximum=2000.0),
    Parameter("control_density_w_cm2", "Control density", "W/cm2", "float", 7.0, minimum=0.001, maximum=1e5),
    Parameter("pulse_s", "Control pulse duration", "s", "float", 1.0, minimum=0.001, maximum=60.0),
    Parameter("bright_cps", "Bright above", "cps", "float", 1000.0, minimum=1.0, maximum=1e9,
              help="a point counting above this holds the bright state"),
]

SCHEMA_PARAMETERS = [TEMPERATURE_PARAMETER, *MAP_PARAMETERS]


def map_rig_check(params: dict[str, Any], rig: Any) -> None:
    """Stage points, densities and the control laser against the rig, before anything moves."""
    check_stage_points(params, rig)
    check_density_limit("density_kw_cm2", params["density_kw_cm2"], rig)
    if params["protocol"] == "pump_pulse":
        check_density_limit("set_kw_cm2", params["set_kw_cm2"], rig)
        if params["set_kw_cm2"] <= params["density_kw_cm2"]:
            raise ValueError(f"set_kw_cm2={params['set_kw_cm2']:g} kW/cm2 must be above the bias "
                             f"density_kw_cm2={params['density_kw_cm2']:g}; allowed range "
                             f"({params['density_kw_cm2']:g}, 1000] kW/cm2")
    if params["protocol"] == "control_pulse":
        laser = getattr(rig, "control_laser", None)
        if laser is None:
            raise ValueError("protocol='control_pulse' needs a control laser; this rig has none; "
                             "allowed: protocol none or pump_pulse")
        low, high = laser.wavelength_range
        wavelength_m = params["control_wavelength_nm"] * 1e-9
        if not low - 1e-12 <= wavelength_m <= high + 1e-12:
            raise ValueError(f"control_wavelength_nm={params['control_wavelength_nm']:g} nm is outside the "
                             f"control laser's range; allowed range [{low * 1e9:g}, {high * 1e9:g}] nm")


def map_preflight(params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
    high = params["set_kw_cm2"] if params["protocol"] == "pump_pulse" else params["density_kw_cm2"]
    check_calibrated_reach("set_kw_cm2" if params["protocol"] == "pump_pulse" else "density_kw_cm2",
                           params["density_kw_cm2"], high, rig, calibration_store,
                           low_field="density_kw_cm2")


def protocol_s(params: dict[str, Any]) -> float:
    if params["protocol"] == "none":
        return 0.0
    pulse = params["set_s"] if params["protocol"] == "pump_pulse" else params["pulse_s"]
    return params["reset_s"] + pulse + params["settle_s"]


def map_duration_s(params: dict[str, Any]) -> float:
    per_point = params["settle_s"] + params["dwell_s"] + POINT_OVERHEAD_S + protocol_s(params)
    return count_points(params) * per_point + (10.0 if params["protocol"] == "control_pulse" else 0.0)


def _run_protocol(ctx: PlanContext, params: dict[str, Any], bias_w_m2: float) -> None:
    """Dark first, then the set step: a pump pulse above switch-on or a control pulse at the bias."""
    ctx.beam.off()
    ctx.sleep(params["reset_s"])
    if params["protocol"] == "pump_pulse":
        ctx.beam.set_density(params["set_kw_cm2"] * W_M2_PER_KW_CM2)
        ctx.beam.on()
        ctx.sleep(params["set_s"])
        ctx.beam.set_density(bias_w_m2)
    else:
        ctx.beam.set_density(bias_w_m2)
        ctx.beam.on()
        ctx.sleep(params["settle_s"])
        ctx.control.pulse(params["pulse_s"])


def map_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    points = points_for(params)
    bias = params["density_kw_cm2"] * W_M2_PER_KW_CM2
    ctx.power.ensure()
    ctx.chopper.stop()
    high = params["set_kw_cm2"] if params["protocol"] == "pump_pulse" else params["density_kw_cm2"]
    ctx.beam.prepare_range(high * W_M2_PER_KW_CM2)
    if params["protocol"] == "control_pulse":
        ctx.control.prepare(params["control_wavelength_nm"] * 1e-9,
                                  params["control_density_w_cm2"] * W_M2_PER_W_CM2)
    rows: list[dict[str, Any]] = []
    for index, (x_m, y_m) in enumerate(points):
        ctx.stages.move_xy(x_m, y_m)
        if params["protocol"] != "none":
            _run_protocol(ctx, params, bias)
        else:
            ctx.beam.set_density(bias)
            ctx.beam.on()
        ctx.sleep(params["settle_s"])
        power = ctx.beam.measure()
        counted = ctx.detection.count(params["dwell_s"])
        row = {"x_m": x_m, "y_m": y_m, "index": index, "density_w_m2": power.density_w_m2,
               "counts": counted.counts, "dwell_s": counted.dwell_s, "rate_cps": counted.rate_cps,
               "bright": bool(counted.rate_cps > params["bright_cps"]),
               "temperature_k": ctx.cryostat.read(), "timestamp_s": ctx.clock.now(),
               "unix_time": ctx.wall_time()}
        ctx.emit(MAP_STREAM, row)
        rows.append(row)
        ctx.progress(index + 1, len(points), f"map ({x_m * 1e3:.4f}, {y_m * 1e3:.4f}) mm")
    ctx.beam.off()
    columns = {key: np.asarray([row[key] for row in rows]) for key in rows[0]} if rows else {}
    return summarize_map(columns, params, float(ctx.rig_config.beam.beam_radius_m))


def summarize_map(columns: dict[str, np.ndarray], params: dict[str, Any],
                  beam_radius_m: float | None) -> dict[str, Any]:
    """Headline figures of a map from its point columns (the run's own or a stored run's)."""
    rates = np.asarray(columns.get("rate_cps", []), dtype=float)
    summary: dict[str, Any] = {"points": int(rates.size), "protocol": params["protocol"],
                               "density_kw_cm2": params["density_kw_cm2"]}
    if rates.size:
        bright = rates > params["bright_cps"]
        summary.update(mean_rate_cps=float(rates.mean()), max_rate_cps=float(rates.max()),
                       min_rate_cps=float(rates.min()), bright_fraction=float(bright.mean()))
    if beam_radius_m is not None and not params.get("positions_mm"):
        spot_um = 2.0 * beam_radius_m * 1e6
        summary["spot_diameter_um"] = spot_um
        step = params["step_um"]
        # the beams of points closer than the spot overlap; whether they also detect the same
        # particles depends on the confocal field (the pinhole), which is the optics', not ours
        summary["sampling"] = ("finer than the focal spot: neighbouring points overlap in the beam"
                               if step < spot_um else "coarser than the focal spot: neighbouring points "
                               "do not overlap")
    return summary


def map_grid(columns: dict[str, np.ndarray], value: str = "rate_cps"
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x values, y values, image rows=y cols=x) from point columns; NaN where not measured."""
    x = np.asarray(columns["x_m"], dtype=float)
    y = np.asarray(columns["y_m"], dtype=float)
    v = np.asarray(columns[value], dtype=float)
    xs, ys = np.unique(np.round(x, 9)), np.unique(np.round(y, 9))
    image = np.full((ys.size, xs.size), math.nan)
    image[np.searchsorted(ys, np.round(y, 9)), np.searchsorted(xs, np.round(x, 9))] = v
    return xs, ys, image


def analyze_map(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """The map's figures from its stored ``map`` stream (the spot size from the stored summary)."""
    columns = stream_columns(run, MAP_STREAM)
    spot_um = (run.summary or {}).get("spot_diameter_um")
    beam_radius_m = None if spot_um is None else float(spot_um) * 0.5e-6
    return summarize_map(columns, run.params, beam_radius_m)


MAP_FIGURES = (
    Figure("points", "points"),
    Figure("mean_rate_cps", "mean emission", "cps"),
    Figure("max_rate_cps", "max emission", "cps"),
    Figure("bright_fraction", "bright fraction"),
    Figure("spot_diameter_um", "focal spot", "um"),
)
MAP_IMAGE = LivePlot("image", MAP_STREAM, x="x_m", y="y_m", series="rate_cps",
                     axis_labels=("emission", "counts/s", "", ""))


def map_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """The emission map (counts/s) in stage coordinates."""
    from acquisition.experiments.map_figures import draw_map

    columns = stream_columns(run, MAP_STREAM)
    fig.set_size_inches(7.5, 6.0)
    ax = fig.subplots()
    draw_map(fig, ax, columns["x_m"], columns["y_m"], columns["rate_cps"],
             f"emission at {run.params['density_kw_cm2']:g} kW/cm² ({run.params['protocol']})", "counts/s")
    bright = figures.get("bright_fraction")
    return "" if bright is None else f"bright fraction {bright:.2f}"


def map_queue_label(params: dict[str, Any]) -> str:
    protocol = "" if params["protocol"] == "none" else f", {params['protocol']}"
    return f"{count_points(params)} pts @ {params['density_kw_cm2']:g} kW/cm2{protocol}"


def _report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection | None:
    """Each map of the campaign as a figure, and the mean emission / bright fraction over them."""
    from pathlib import Path

    from acquisition.campaigns.report import figure, figure_statistics, save
    from acquisition.experiments.map_figures import draw_map
    from acquisition.storage import open_run

    if not runs:
        return None
    figures = []
    for k, run in enumerate(runs):
        columns = open_run(Path(campaign_folder) / run.path).streams.get(MAP_STREAM)
        if not columns:
            continue
        fig, axes = figure(1)
        draw_map(fig, axes[0], columns["x_m"], columns["y_m"], columns["rate_cps"],
                 f"{run.label or run.unit_key}: emission", "counts/s")
        figures.append(save(fig, Path(folder) / f"map_{k:03d}.png"))
    stats = figure_statistics(runs, tuple(f for f in MAP_FIGURES if f.key in ("mean_rate_cps", "bright_fraction")))
    return ReportSection("Emission maps", figures, stats)


MAP = Experiment(
    name="map", title="Emission map (XY stage raster)",
    schema=ParameterSchema(SCHEMA_PARAMETERS),
    plan=map_plan, duration=map_duration_s, rig_check=map_rig_check, preflight=map_preflight,
    roles=(*POWER_ROLES, "xy_stage"), analyze=analyze_map, figures=MAP_FIGURES, file_plot=map_file_plot,
    live=(MAP_IMAGE,), queue_label=map_queue_label, report=_report,
    example={"x_mm": [12.497, 12.503], "y_mm": [12.497, 12.503], "step_um": 2.0, "dwell_s": 0.05,
             "settle_s": 0.05, "density_kw_cm2": 5.5})
