"""Power calibration: plate and ND wheel angles -> power at the sample, through the pick-off.

1. Wheel at its dense end (``wheel_dense_deg``), plate stepped over ``plate_start_deg ..
   plate_stop_deg``: the power entering the objective per watt of laser setpoint is fitted with
   the Malus law.
2. Plate at its maximum (theta0), wheel stepped from the dense end toward the clear end: its
   transmission relative to the dense end is tabulated. The wheel scan stops before the density
   would pass the rig limit: settings beyond it are never used, and at a 1 W setpoint the clear
   wheel would put kW on a micron spot.
3. The result becomes the rig's current calibration (stored, and used by the rest of this run).

Every reading is also checked against the density limit as it comes (beam blocked, InterlockError).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from acquisition.calibration import PowerCalibration, WheelTable, fit_malus
from acquisition.experiments.base import W_M2_PER_KW_CM2, Experiment
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema

PUMP_WAVELENGTH_M = 1064e-9
MOVE_OVERHEAD_S = 0.5

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
    return (params["plate_points"] + params["wheel_points"]) * per_point


def _read_objective_power(ctx: PlanContext) -> float:
    reading = ctx.measure_power()
    if reading.density_w_m2 > ctx.limits.max_power_density_w_m2:
        ctx.beam_off()
    ctx.check_density(reading.density_w_m2, "measured_density")
    return reading.sample_w


def _check_laser_power(params: dict[str, Any], rig: Any) -> None:
    maximum = float(rig.pump.max_power)
    if params["laser_power_w"] > maximum:
        raise ValueError(f"laser_power_w={params['laser_power_w']:g} W is above the pump laser's maximum; "
                         f"allowed range [0.001, {maximum:g}] W")


def calibrate_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    has_wheel = ctx.has_instrument("nd_wheel")
    laser_w = params["laser_power_w"]
    ctx.stop_chopper()  # a stopped blade is parked open: the meter sees the CW beam
    ctx.set_power_meter_wavelength(PUMP_WAVELENGTH_M)
    plate_angles = np.linspace(params["plate_start_deg"], params["plate_stop_deg"], params["plate_points"])
    wheel_angles = np.linspace(params["wheel_dense_deg"], params["wheel_clear_deg"], params["wheel_points"])
    total = len(plate_angles) + (len(wheel_angles) if has_wheel else 0)
    ctx.beam_off()
    if has_wheel:
        ctx.move_stage("nd_wheel", float(wheel_angles[0]))
    ctx.move_stage("hwp", float(plate_angles[0]))
    ctx.beam_on(laser_w)
    plate_t = []
    for i, angle in enumerate(plate_angles):
        ctx.move_stage("hwp", float(angle))
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
        ctx.move_stage("hwp", fit.theta0_deg)
        reference_w = None
        for j, angle in enumerate(wheel_angles):
            ctx.move_stage("nd_wheel", float(angle))
            ctx.sleep(params["settle_s"])
            objective_w = _read_objective_power(ctx)
            reference_w = objective_w if reference_w is None else reference_w
            ratio = objective_w / reference_w if reference_w > 0 else 0.0
            if j > 0:
                angles_used.append(float(angle))
                relative.append(ratio)
            ctx.emit("calibration", {"stage": "wheel", "angle_deg": float(angle), "objective_power_w": objective_w,
                                     "transmission": ratio, "laser_power_w": laser_w})
            ctx.progress(len(plate_angles) + j + 1, total, f"calibrate wheel {angle:.1f} deg")
            step = relative[-1] / relative[-2] if len(relative) > 1 and relative[-2] > 0 else 1.0
            next_density = objective_w * max(step, 1.0) / ctx.beam_area_m2
            if next_density > ctx.limits.max_power_density_w_m2:
                ctx.log.info("wheel scan stopped at %.1f deg: the next step would pass the "
                             "density limit", angle)
                break
    ctx.beam_off()
    order = np.argsort(angles_used)
    table = WheelTable(tuple(float(angles_used[k]) for k in order), tuple(float(relative[k]) for k in order),
                       float(wheel_angles[0]))
    calibration = PowerCalibration.for_rig(ctx.rig_config, laser_w, fit, table, run_id=ctx.run_id)
    ctx.use_calibration(calibration, store=params["save"])
    area = ctx.beam_area_m2
    return {
        "plate_t_max": fit.t_max, "plate_t_min": fit.t_min, "plate_theta0_deg": fit.theta0_deg,
        "plate_fit_rms": fit.rms_residual, "extinction_ratio": fit.highest / fit.t_min if fit.t_min else None,
        "wheel_levels": len(relative), "wheel_max_relative_transmission": float(max(relative)),
        "laser_power_w": laser_w,
        "max_density_kw_cm2": laser_w * fit.highest * max(relative) / area / W_M2_PER_KW_CM2,
        "min_density_kw_cm2": laser_w * fit.lowest * min(relative) / area / W_M2_PER_KW_CM2,
        "saved": bool(params["save"]),
    }


CALIBRATE = Experiment(
    name="calibrate", title="Pump power calibration (plate + ND wheel)",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *CALIBRATE_PARAMETERS], (_check_spans,)),
    plan=calibrate_plan, duration=calibrate_duration_s,
    rig_check=_check_laser_power)
