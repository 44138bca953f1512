"""The ``prepare`` experiment: cryostat setpoint (optionally ramped), then a wait.

Campaign steps that change temperature or wait without measuring run this through the engine,
so the temperature interlock, pause/abort and safe state apply to them like to any run.
"""
from __future__ import annotations

from typing import Any

from acquisition.experiments.base import Experiment
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
            ctx.set_cryostat_ramp(params["ramp_k_per_min"])
        ctx.set_temperature(params["target_k"])
        summary["temperature_k"] = ctx.read_temperature()
    if params["wait_s"] > 0:
        ctx.note(f"waiting {params['wait_s']:g} s")
        ctx.sleep(params["wait_s"])
    return summary


def _rig_check(params: dict[str, Any], rig: Any) -> None:
    if params["target_k"] is not None:
        check_rig_temperature("target_k", params["target_k"], rig)


def prepare_duration_s(params: dict[str, Any]) -> float:
    return float(params["wait_s"])


PREPARE_EXPERIMENT = Experiment(name="prepare", title="Prepare (temperature, wait)", schema=SCHEMA,
                                plan=prepare_plan, duration=prepare_duration_s, rig_check=_rig_check)


def ensure_registered() -> None:
    """Make ``prepare`` startable by name on the engine (idempotent)."""
    from acquisition.experiments import EXPERIMENTS
    EXPERIMENTS.setdefault(PREPARE_EXPERIMENT.name, PREPARE_EXPERIMENT)
