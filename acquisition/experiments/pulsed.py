"""Pulsed (chopped) power sweeps: the CW sweep at each chopper frequency x duty cycle.

The blade follows from the frequency (MC1F10A 20-1000 Hz with variable duty, MC1F60 above).
Setpoints are the density while the blade is open (the CW-equivalent peak); the chopper sits
before the pick-off, so the meter, and therefore ``density_w_m2``, reads the average. Each
point also records ``peak_density_w_m2`` (average / duty) and the figures are reported both
ways: ``average_*`` (the published convention for chopped excitation) and the peak values.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from acquisition.blades import CHOPPER_MAX_HZ, CHOPPER_MIN_HZ, blade_for
from acquisition.experiments.base import Experiment
from acquisition.experiments.sweep import (SWEEP_PARAMETERS, check_sweep_range, run_sweep,
                                           sweep_duration_s, sweep_preflight, sweep_rig_check)
from acquisition.experiments.sweep_summary import summarize_sweep
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema

#: time for the blade to reach a new frequency (5 spin-up time constants of the bench's MC2000B)
SPINUP_ESTIMATE_S = 4.0

PULSED_PARAMETERS: list[Parameter] = [
    Parameter("frequencies_hz", "Chopper frequencies", "Hz", "float_list", [100.0, 1000.0],
              minimum=CHOPPER_MIN_HZ, maximum=CHOPPER_MAX_HZ, min_items=1,
              help="MC1F10A blade 20-1000 Hz (variable duty), MC1F60 120-6000 Hz (50 %)"),
    Parameter("duty_cycles", "Duty cycles", "", "float_list", [0.5], minimum=0.01, maximum=1.0,
              min_items=1, help="open fraction of the period; only the MC1F10A varies it (0.1-0.9)"),
]


def check_blades(params: dict[str, Any]) -> None:
    for frequency in params["frequencies_hz"]:
        for duty in params["duty_cycles"]:
            blade_for(frequency, duty, "frequencies_hz", "duty_cycles")


def pulsed_duration_s(params: dict[str, Any]) -> float:
    combos = len(params["frequencies_hz"]) * len(params["duty_cycles"])
    return combos * (sweep_duration_s(params) + SPINUP_ESTIMATE_S)


def pulsed_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for frequency in params["frequencies_hz"]:
        for duty in params["duty_cycles"]:
            blade = ctx.set_chopper(frequency, duty)
            ctx.note(f"pulsed sweep at {frequency:g} Hz, duty {duty:g} ({blade})")
            recorder = run_sweep(ctx, params, "sweep",
                                 {"frequency_hz": float(frequency), "duty_cycle": float(duty), "blade": blade},
                                 duty_cycle=duty)
            results.append(summarize_group(recorder.columns(), frequency, duty, blade, params["noise_cps"]))
    ctx.stop_chopper()
    return {"conditions": results, "bistable_any": any(r.get("bistable") for r in results)}


def summarize_group(columns: dict[str, np.ndarray], frequency: float, duty: float, blade: str,
                    noise_cps: float) -> dict[str, Any]:
    """Figures of one frequency x duty group, average (as measured) and peak densities."""
    figures = summarize_sweep(columns, noise_cps, {"frequency_hz": frequency, "duty_cycle": duty})
    result: dict[str, Any] = {"frequency_hz": frequency, "duty_cycle": duty, "blade": blade}
    for key, value in figures.items():
        if key in ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2"):
            result["average_" + key] = value
            result["peak_" + key] = value / duty if value is not None else None
        else:
            result[key] = value
    return result


PULSED = Experiment(
    name="pulsed", title="Chopped-excitation power sweeps",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *SWEEP_PARAMETERS, *PULSED_PARAMETERS],
                           (check_sweep_range, check_blades)),
    plan=pulsed_plan, duration=pulsed_duration_s, rig_check=sweep_rig_check, preflight=sweep_preflight)
