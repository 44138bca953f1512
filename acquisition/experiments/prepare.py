"""The ``prepare`` experiment: sample-stage move, cryostat setpoint (optionally ramped), a wait.

Campaign steps that change temperature or wait without measuring run this through the engine,
so the temperature interlock, pause/abort and safe state apply to them like to any run. It is
an internal experiment (``listed=False``): no CLI command, no GUI form.
"""
from __future__ import annotations

from typing import Any

from acquisition.experiments.base import STEP_PREPARATION, Experiment, Figure
from acquisition.interlocks import check_rig_temperature
from acquisition.plan_context import PlanContext
from acquisition.schema import Parameter, ParameterSchema

SCHEMA = ParameterSchema([
    Parameter("target_k", "Cryostat setpoint", "K", "float", None, minimum=1.0, maximum=400.0,
              optional=True, help="new setpoint; the run ends once it is stable in band"),
    Parameter("ramp_k_per_min", "Ramp rate", "K/min", "float", None, minimum=0.01, maximum=50.0,
              optional=True, help="ramp the setpoint at this rate instead of stepping it"),
    Parameter("wait_s", "Wait", "s", "float", 0.0, minimum=0.0, maximum=86_400.0),
    Parameter("stage_x_mm", "Stage x", "mm", "float", None, minimum=0.0, maximum=100.0, optional=True,
              help="move the sample stage here first (with stage_y_mm), an abortable checkpoint"),
    Parameter("stage_y_mm", "Stage y", "mm", "float", None, minimum=0.0, maximum=100.0, optional=True),
])


def _stage_target(params: dict[str, Any]) -> tuple[float, float] | None:
    x, y = params.get("stage_x_mm"), params.get("stage_y_mm")
    return None if x is None or y is None else (float(x) * 1e-3, float(y) * 1e-3)


def prepare_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    target = _stage_target(params)
    if target is not None:
        ctx.stages.move_xy(*target)
        summary["stage_mm"] = [target[0] * 1e3, target[1] * 1e3]
    if params["target_k"] is not None:
        if params["ramp_k_per_min"] is not None:
            ctx.cryostat.set_ramp(params["ramp_k_per_min"])
        ctx.cryostat.set(params["target_k"])
        summary["temperature_k"] = ctx.cryostat.read()
    if params["wait_s"] > 0:
        ctx.note(f"waiting {params['wait_s']:g} s")
        ctx.sleep(params["wait_s"])
    return summary


def _rig_check(params: dict[str, Any], rig: Any) -> None:
    if params["target_k"] is not None:
        check_rig_temperature("target_k", params["target_k"], rig)
    if (params.get("stage_x_mm") is None) != (params.get("stage_y_mm") is None):
        raise ValueError("stage_x_mm and stage_y_mm go together; allowed: both or neither")
    target = _stage_target(params)
    if target is not None:
        stage = getattr(rig, "xy_stage", None)
        if stage is None:
            raise ValueError("stage_mm: this rig has no sample stage; allowed: a rig file with a "
                             "[roles.xy_stage] entry")
        stage.limits.check("xy_stage", *target)


def prepare_duration_s(params: dict[str, Any]) -> float:
    return float(params["wait_s"])


def prepare_roles(params: dict[str, Any]) -> list[str]:
    roles = ["cryostat"] if params.get("target_k") is not None else []
    return roles + (["xy_stage"] if _stage_target(params) is not None else [])


def prepare_queue_label(params: dict[str, Any]) -> str:
    target, wait = params.get("target_k"), params.get("wait_s") or 0.0
    stage = _stage_target(params)
    return ", ".join(part for part in (f"-> {target:g} K" if target is not None else "",
                                       f"wait {wait:g} s" if wait else "",
                                       f"stage ({stage[0] * 1e3:g}, {stage[1] * 1e3:g}) mm" if stage else "")
                     if part)


PREPARE_EXPERIMENT = Experiment(
    name="prepare", title="Prepare (stage, temperature, wait)", schema=SCHEMA, plan=prepare_plan,
    duration=prepare_duration_s, rig_check=_rig_check, needs_roles=prepare_roles,
    figures=(Figure("temperature_k", "temperature reached", "K"),), queue_label=prepare_queue_label,
    example={"target_k": 90.0, "wait_s": 1.0}, listed=False, provides=(STEP_PREPARATION,))
