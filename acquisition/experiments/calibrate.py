"""Power calibration: plate and ND wheel angles -> power at the sample, through the pick-off.

0. Laser power: the plate scan runs at the wheel's dense end, where a less dense wheel (or a
   tighter density limit) can put more than the rig's maximum density on the sample at the
   requested ``laser_power_w``. So the plate is first probed at PROBE_POINTS angles with the
   pump at 1 mW, then (if that shows it is safe) at PROBE_FRACTION of the requested power; the
   probe predicts the scan's maximum (Malus fit, never below what the angular step can miss),
   and the laser power is lowered (never raised) until that maximum is at most
   DENSITY_MARGIN of the limit. The choice is logged and said; the calibration records the laser
   power it was measured at (the pump runs at it whenever the calibration is used).
1. Wheel at its dense end (``wheel_dense_deg``), plate stepped over ``plate_start_deg ..
   plate_stop_deg``: the power entering the objective per watt of laser setpoint is fitted with
   the Malus law.
2. Plate at WHEEL_SCAN_PLATE_FRACTION of its maximum, wheel stepped from the dense end toward
   the clear end: its transmission relative to the dense end is tabulated. The table stops before
   a level at which the plate at its maximum would pass the rig limit: settings beyond it are
   never used, and at a 1 W setpoint the clear wheel would put kW on a micron spot. (The plate is
   turned down because the wheel's first step is unknown until measured: with the plate at its
   maximum and the dense end already near the limit, that step alone could pass it.)
3. The result becomes the rig's current calibration (stored, and used by the rest of this run).

Every reading is also checked against the density limit as it comes (beam blocked, InterlockError).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from acquisition.calibration import MalusFit, PowerCalibration, WheelTable, fit_malus
from acquisition.experiments.base import (POWER_CALIBRATION, POWER_ROLES, Experiment, Figure, LivePlot, ReportSection, RunData,
                                          SeriesPlot, number, stream_columns)
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema
from acquisition.units import W_M2_PER_KW_CM2

PUMP_WAVELENGTH_M = 1064e-9
MOVE_OVERHEAD_S = 0.5
#: the probe before the plate scan: this many plate angles over the scan's span, at this fraction
#: of the requested laser power (a wheel 20x too clear for the limit still probes below it)
PROBE_POINTS = 9
PROBE_FRACTION = 0.01
#: the precise probe pass is made only if the coarse one says it stays below this of the limit
PROBE_SAFE_FRACTION = 0.5
#: the plate scan's predicted maximum is kept below this fraction of the density limit (pump
#: noise and drift, meter noise, probe fit error)
DENSITY_MARGIN = 0.9
#: the wheel is scanned with the plate at this fraction of its peak transmission
WHEEL_SCAN_PLATE_FRACTION = 0.1
#: the lowest laser power calibration uses (the schema's minimum); chosen powers are rounded
#: down to LASER_POWER_DIGITS significant digits (the Opus sets 0.1 mW steps: within the margin)
MIN_LASER_POWER_W = 0.001
LASER_POWER_DIGITS = 3

CALIBRATE_PARAMETERS: list[Parameter] = [
    Parameter("plate_start_deg", "Plate start", "deg", "float", 0.0, minimum=-360.0, maximum=360.0),
    Parameter("plate_stop_deg", "Plate stop", "deg", "float", 90.0, minimum=-360.0, maximum=360.0),
    Parameter("plate_points", "Plate points", "", "int", 37, minimum=5, maximum=721),
    Parameter("wheel_dense_deg", "Wheel dense end", "deg", "float", 270.0, minimum=0.0, maximum=360.0,
              help="ND wheel angle of the highest optical density (scan starts here)"),
    Parameter("wheel_clear_deg", "Wheel clear end", "deg", "float", 0.0, minimum=0.0, maximum=360.0),
    Parameter("wheel_points", "Wheel points", "", "int", 28, minimum=2, maximum=721),
    Parameter("laser_power_w", "Pump laser setpoint", "W", "float", 1.0, minimum=0.001, maximum=100.0,
              help="fixed pump setpoint; the optics set the power at the sample from it"),
    Parameter("settle_s", "Settle delay", "s", "float", 0.2, minimum=0.0, maximum=60.0),
    Parameter("save", "Store as the rig's calibration", "", "bool", True),
]


def _check_spans(params: dict[str, Any]) -> None:
    if params["plate_stop_deg"] - params["plate_start_deg"] < 45.0:
        raise ValueError(f"plate_stop_deg={params['plate_stop_deg']:g} must be at least 45 deg above "
                         f"plate_start_deg={params['plate_start_deg']:g} (one full Malus swing); "
                         f"allowed range [{params['plate_start_deg'] + 45:g}, 360] deg")
    if params["wheel_clear_deg"] == params["wheel_dense_deg"]:
        raise ValueError(f"wheel_clear_deg={params['wheel_clear_deg']:g} must differ from wheel_dense_deg="
                         f"{params['wheel_dense_deg']:g}; allowed range [0, 360] deg except that angle")


def calibrate_duration_s(params: dict[str, Any]) -> float:
    per_point = params["settle_s"] + MOVE_OVERHEAD_S
    return (2 * PROBE_POINTS + params["plate_points"] + params["wheel_points"]) * per_point


def _read_objective_power(ctx: PlanContext) -> float:
    # a reading above the density limit blocks the beam and ends the run (beam.measure)
    return ctx.beam.measure().sample_w


def _check_laser_power(params: dict[str, Any], rig: Any) -> None:
    maximum = float(rig.pump.max_power)
    if params["laser_power_w"] > maximum:
        raise ValueError(f"laser_power_w={params['laser_power_w']:g} W is above the pump laser's maximum; "
                         f"allowed range [0.001, {maximum:g}] W")


def _predicted_peak_per_w(angles: np.ndarray, transmissions: np.ndarray) -> float:
    """The highest plate transmission (power into the objective per W of laser) the probe points
    predict: the Malus fit's peak, and never less than what the sampling can miss (the largest
    reading over cos^2 of the probe's angular step, harmonic 2)."""
    step_deg = float(abs(angles[1] - angles[0])) if len(angles) > 1 else 90.0
    undersampled = float(transmissions.max()) / max(math.cos(math.radians(min(step_deg, 45.0))) ** 2, 0.5)
    try:
        fit: MalusFit | None = fit_malus(angles, transmissions)
    except (RuntimeError, ValueError):  # curve_fit did not converge on noise: the bound alone
        fit = None
    return max(undersampled, fit.highest if fit is not None else 0.0)


def _probe_plate(ctx: PlanContext, probe_w: float, angles: np.ndarray, settle_s: float) -> float:
    """Plate transmission peak per W of laser predicted from readings at ``angles`` with the pump
    at ``probe_w`` (beam opened for the pass, blocked after it)."""
    ctx.beam.off()
    ctx.beam.on(probe_w)
    readings = []
    for angle in angles:
        ctx.stages.move("hwp", float(angle))
        ctx.sleep(settle_s)
        objective_w = _read_objective_power(ctx)
        readings.append(objective_w / probe_w)
        ctx.emit("calibration", {"stage": "probe", "angle_deg": float(angle), "objective_power_w": objective_w,
                                 "transmission": objective_w / probe_w, "laser_power_w": probe_w})
    ctx.beam.off()
    return _predicted_peak_per_w(angles, np.asarray(readings))


def _round_down(power_w: float) -> float:
    """``power_w`` rounded down to LASER_POWER_DIGITS significant digits (0 for 0)."""
    if power_w <= 0.0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(power_w)) - (LASER_POWER_DIGITS - 1))
    return round(math.floor(power_w / step + 1e-9) * step, 12)


def choose_laser_power(ctx: PlanContext, requested_w: float, plate_angles: np.ndarray,
                       settle_s: float) -> float:
    """The laser power for the plate scan: ``requested_w``, lowered (rounded down) so that the
    scan's predicted maximum density is at most DENSITY_MARGIN of the rig limit.

    The plate is probed at PROBE_POINTS angles over the scan's span with the wheel where the scan
    has it (its dense end): first at the lowest laser power (MIN_LASER_POWER_W), which tells what a
    second, more precise pass at PROBE_FRACTION of the requested power would put on the sample;
    that pass is made only if it stays below PROBE_SAFE_FRACTION of the limit. Expects the beam
    blocked and the plate at the scan's far end; leaves the beam blocked. ValueError (one line) if even the lowest laser power would pass the limit.
    """
    limit = ctx.limits.max_power_density_w_m2
    area = ctx.beam_area_m2
    far_to_near = np.linspace(float(plate_angles[-1]), float(plate_angles[0]), PROBE_POINTS)
    coarse_w = min(MIN_LASER_POWER_W, requested_w)
    peak_per_w = _probe_plate(ctx, coarse_w, far_to_near, settle_s)
    fine_w = _round_down(requested_w * PROBE_FRACTION)
    if fine_w > coarse_w and fine_w * peak_per_w / area <= PROBE_SAFE_FRACTION * limit:
        peak_per_w = _probe_plate(ctx, fine_w, far_to_near[::-1], settle_s)
    predicted = requested_w * peak_per_w / area
    if predicted <= DENSITY_MARGIN * limit:
        ctx.log.info("calibrate: laser_power_w=%g W keeps the plate scan at <= %.3g kW/cm2 (predicted), "
                     "limit %.3g kW/cm2", requested_w, predicted / W_M2_PER_KW_CM2, limit / W_M2_PER_KW_CM2)
        return float(requested_w)
    chosen = _round_down(DENSITY_MARGIN * limit * area / peak_per_w)
    if chosen < MIN_LASER_POWER_W:
        raise ValueError(
            f"laser_power_w={requested_w:g} W would put ~{predicted / W_M2_PER_KW_CM2:.3g} kW/cm2 on the "
            f"sample in the plate scan (ND wheel at its dense end) and no power in the allowed range "
            f"[{MIN_LASER_POWER_W:g}, {requested_w:g}] W stays below the rig limit {limit / W_M2_PER_KW_CM2:g} "
            "kW/cm2; set wheel_dense_deg to the wheel's densest angle or add attenuation to the pump path")
    ctx.note(f"calibrate: laser_power_w lowered from {requested_w:g} W to {chosen:.3g} W: at "
             f"{requested_w:g} W the plate scan (ND wheel at its dense end) would reach "
             f"~{predicted / W_M2_PER_KW_CM2:.3g} kW/cm2, above the rig limit {limit / W_M2_PER_KW_CM2:g} kW/cm2; "
             f"now ~{chosen * peak_per_w / area / W_M2_PER_KW_CM2:.3g} kW/cm2 at most")
    return float(chosen)


def calibrate_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    has_wheel = ctx.has_instrument("nd_wheel")
    requested_w = float(params["laser_power_w"])
    ctx.chopper.stop()  # a stopped blade is parked open: the meter sees the CW beam
    ctx.beam.set_meter_wavelength(PUMP_WAVELENGTH_M)
    plate_angles = np.linspace(params["plate_start_deg"], params["plate_stop_deg"], params["plate_points"])
    wheel_angles = np.linspace(params["wheel_dense_deg"], params["wheel_clear_deg"], params["wheel_points"])
    total = len(plate_angles) + (len(wheel_angles) if has_wheel else 0)
    ctx.beam.off()
    if has_wheel:
        ctx.stages.move("nd_wheel", float(wheel_angles[0]))
    ctx.stages.move("hwp", float(plate_angles[-1]))  # the probe runs from the far end back
    laser_w = choose_laser_power(ctx, requested_w, plate_angles, params["settle_s"])
    ctx.stages.move("hwp", float(plate_angles[0]))
    ctx.beam.on(laser_w)
    plate_t = []
    for i, angle in enumerate(plate_angles):
        ctx.stages.move("hwp", float(angle))
        ctx.sleep(params["settle_s"])
        objective_w = _read_objective_power(ctx)
        plate_t.append(objective_w / laser_w)
        ctx.emit("calibration", {"stage": "plate", "angle_deg": float(angle), "objective_power_w": objective_w,
                                 "transmission": objective_w / laser_w, "laser_power_w": laser_w})
        ctx.progress(i + 1, total, f"calibrate plate {angle:.1f} deg")
    fit = fit_malus(plate_angles, np.asarray(plate_t))
    ctx.log.info("Malus fit: T_max=%.4g T_min=%.4g theta0=%.3f deg rms=%.3g",
                 fit.t_max, fit.t_min, fit.theta0_deg, fit.rms_residual)
    angles_used, relative = [float(wheel_angles[0])], [1.0]
    if has_wheel:
        # the wheel's steps are unknown until measured: scan it with the plate turned down, so
        # that a first step of up to 1 / WHEEL_SCAN_PLATE_FRACTION stays far below the limit;
        # the table keeps the levels at which the plate at its maximum stays within the limit
        plate_t_scan = max(fit.highest * WHEEL_SCAN_PLATE_FRACTION, fit.lowest)
        ctx.stages.move("hwp", fit.angle_for(plate_t_scan))
        to_plate_max = fit.highest / plate_t_scan
        limit_w = ctx.limits.max_power_density_w_m2 * ctx.beam_area_m2
        reference_w = None
        for j, angle in enumerate(wheel_angles):
            ctx.stages.move("nd_wheel", float(angle))
            ctx.sleep(params["settle_s"])
            objective_w = _read_objective_power(ctx)
            reference_w = objective_w if reference_w is None else reference_w
            ratio = objective_w / reference_w if reference_w > 0 else 0.0
            ctx.emit("calibration", {"stage": "wheel", "angle_deg": float(angle), "objective_power_w": objective_w,
                                     "transmission": ratio, "laser_power_w": laser_w})
            ctx.progress(len(plate_angles) + j + 1, total, f"calibrate wheel {angle:.1f} deg")
            at_plate_max_w = objective_w * to_plate_max
            if j > 0 and at_plate_max_w > limit_w:
                ctx.log.info("wheel scan stopped at %.1f deg: with the plate at its maximum this level "
                             "would pass the density limit", angle)
                break
            if j > 0:
                angles_used.append(float(angle))
                relative.append(ratio)
            step = relative[-1] / relative[-2] if len(relative) > 1 and relative[-2] > 0 else 1.0
            if at_plate_max_w * max(step, 1.0) > limit_w:
                ctx.log.info("wheel scan stopped at %.1f deg: the next step would pass the "
                             "density limit", angle)
                break
    ctx.beam.off()
    order = np.argsort(angles_used)
    table = WheelTable(tuple(float(angles_used[k]) for k in order), tuple(float(relative[k]) for k in order),
                       float(wheel_angles[0]))
    calibration = PowerCalibration.for_rig(ctx.rig_config, laser_w, fit, table, run_id=ctx.run_id)
    ctx.power.use(calibration, store=params["save"])
    area = ctx.beam_area_m2
    return {
        "plate_t_max": fit.t_max, "plate_t_min": fit.t_min, "plate_theta0_deg": fit.theta0_deg,
        "plate_fit_rms": fit.rms_residual, "extinction_ratio": fit.highest / fit.t_min if fit.t_min else None,
        "wheel_levels": len(relative), "wheel_max_relative_transmission": float(max(relative)),
        "laser_power_w": laser_w, "requested_laser_power_w": requested_w,
        "laser_power_lowered": bool(laser_w < requested_w),
        "max_density_kw_cm2": laser_w * fit.highest * max(relative) / area / W_M2_PER_KW_CM2,
        "min_density_kw_cm2": laser_w * fit.lowest * min(relative) / area / W_M2_PER_KW_CM2,
        "saved": bool(params["save"]),
    }


def analyze_calibration(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """The Malus fit of the stored plate scan; the wheel table and laser power as the run stored
    them (they are not recomputed)."""
    columns = stream_columns(run, "calibration")
    plate = np.array([str(v) == "plate" for v in columns["stage"]])
    fit = fit_malus(np.asarray(columns["angle_deg"])[plate], np.asarray(columns["transmission"])[plate])
    stored = {k: v for k, v in (run.summary or {}).items() if k not in ("calibration", "stream_prefix")}
    return {**stored, "plate_t_max": fit.t_max, "plate_t_min": fit.t_min,
            "plate_theta0_deg": fit.theta0_deg, "plate_fit_rms": fit.rms_residual}


def calibration_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """Power into the objective against the half-wave plate angle."""
    columns = stream_columns(run, "calibration")
    rows = np.array([str(v) == "plate" for v in columns["stage"]])
    ax = fig.subplots()
    ax.plot(np.asarray(columns["angle_deg"])[rows], np.asarray(columns["objective_power_w"])[rows] * 1e6, "o")
    ax.set_xlabel("half-wave plate angle (deg)")
    ax.set_ylabel("power into the objective (uW)")
    return ""


def _draw_series(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    from acquisition.plotting import plot_series_calibrate

    return plot_series_calibrate(fig, setpoints, figures)


def calibrate_queue_label(params: dict[str, Any]) -> str:
    power = params.get("laser_power_w")
    return f"{number(power)} W" if power is not None else ""


def calibrate_report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection:
    """How the pump path changed over the campaign: plate fit and the density range reached."""
    from acquisition.campaigns.report import statistics

    keys = ["plate_t_max", "plate_theta0_deg", "max_density_kw_cm2", "min_density_kw_cm2"]
    return ReportSection("power calibrations", [], statistics(runs, keys))


CALIBRATE = Experiment(
    name="calibrate", title="Pump power calibration (plate + ND wheel)",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *CALIBRATE_PARAMETERS], (_check_spans,)),
    plan=calibrate_plan, duration=calibrate_duration_s, rig_check=_check_laser_power, roles=POWER_ROLES,
    analyze=analyze_calibration,
    figures=(Figure("plate_theta0_deg", "plate theta0", "deg"),
             Figure("max_density_kw_cm2", "max density", "kW/cm2")),
    file_plot=calibration_file_plot,
    live=(LivePlot("curve", "calibration", x="angle_deg", y="objective_power_w", series="stage",
                   axis_labels=("stage angle", "°", "power at the objective", "W")),),
    queue_label=calibrate_queue_label,
    report=calibrate_report, series_plot=SeriesPlot(_draw_series, "calibration"),
    example={"plate_points": 19, "save": False}, provides=(POWER_CALIBRATION,))
