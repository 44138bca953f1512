"""The ``prepare`` experiment: cryostat setpoint (optionally ramped), then a wait.

Campaign steps that change temperature or wait without measuring run this through the engine,
so the temperature interlock, pause/abort and safe state apply to them like to any run. It is
an internal experiment (``listed=False``): no CLI command, no GUI form.
"""
from __future__ import annotations

from typing import Any

from acquisition.experiments.base import Experiment, Figure
from acquisition.interlocks import check_rig_temperature
from acquisition.plan_context import PlanContext
from acquisition.schema import Parameter, ParameterSchema

SCHEMA = ParameterSchema([
    Parameter("target_k", "Cryostat setpoint", "K", "float", None, minimum=1.0, maximum=400.0,
              optional=True, help="new setpoint; the run ends once it is stable in band"),
    Parameter("ramp_k_per_min", "Ramp rate", "K/min", "float", None, minimum=0.01, maximum=50.0,
              optional=True, help="ramp the setpoint at this rate instead of stepping it"),
    Parameter("wait_s", "Wait", "s", "float", 0.0, minimum=0.0, maximum=86_400.0),
])


def prepare_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
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


def prepare_duration_s(params: dict[str, Any]) -> float:
    return float(params["wait_s"])


def prepare_roles(params: dict[str, Any]) -> list[str]:
    return ["cryostat"] if params.get("target_k") is not None else []


def prepare_queue_label(params: dict[str, Any]) -> str:
    target, wait = params.get("target_k"), params.get("wait_s") or 0.0
    return ", ".join(part for part in (f"-> {target:g} K" if target is not None else "",
                                       f"wait {wait:g} s" if wait else "") if part)


PREPARE_EXPERIMENT = Experiment(
    name="prepare", title="Prepare (temperature, wait)", schema=SCHEMA, plan=prepare_plan,
    duration=prepare_duration_s, rig_check=_rig_check, needs_roles=prepare_roles,
    figures=(Figure("temperature_k", "temperature reached", "K"),), queue_label=prepare_queue_label,
    example={"target_k": 90.0, "wait_s": 1.0}, listed=False)
