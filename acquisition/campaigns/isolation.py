"""Units of a campaign on a fully simulated rig are independent simulations.

Each unit runs on the rig restarted afresh (``Rig.restart_simulation``) at a start that is a pure
function of the campaign plan, never of which units ran before it or in which process:

- the virtual clock starts at the unit's planned time (the estimated durations of the units
  before it), so slow drifts (pump, focus) follow the campaign's time line;
- the cryostat starts at the temperature the units before it left (their setpoints), and the
  focus at the film position they left;
- the sample stage starts at the campaign's stage home (acquisition.campaigns.stage_home): a unit
  without its own ``stage_mm`` measures there, never where a map or a ``stage_mm`` before it
  left the stage (the serial runner on a real rig moves the stage back to the same home);
- the instrument noise is a stream of its own, drawn from the rig's seed and the unit's key.

So a serial run and a parallel run of the same campaign give identical figures, and a unit
re-run after a crash (``--resume``) or on another worker gives the figures it would have given.
A rig with a real or emulated role, or on the wall clock, keeps its one continuous history.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acquisition.campaigns.spec import Unit
from acquisition.events import RunStatus
from acquisition.rig import SimulationStart

log = logging.getLogger(__name__)

#: the noise stream of the power calibration measured before the first unit, when none is stored
CALIBRATION_STREAM = "campaign calibration"
UM = 1e-6


def noise_stream(name: str) -> int:
    """A stable 64-bit stream number for a unit key (or any name)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def isolation_problem(rig: Any) -> str | None:
    """Why ``rig``'s campaign units cannot run as independent simulations (None: they can)."""
    config = getattr(rig, "config", None)
    if config is None or not hasattr(config, "simulation_only_problem"):
        return "the rig has no configuration to re-create"
    return config.simulation_only_problem()


def simulation_starts(units: Sequence[Unit], estimates_s: Sequence[float], start_temperature_k: float,
                      stage_home_m: tuple[float, float] | None = None) -> list[SimulationStart]:
    """Each unit's start: planned time, temperature and film position left by the units before
    it (in plan order), the stage at ``stage_home_m`` (None: the simulated stage's reference
    position) and its own noise stream."""
    starts: list[SimulationStart] = []
    time_s = 0.0
    temperature_k = start_temperature_k
    position_m: tuple[float, float] | None = None
    for unit, estimate in zip(units, estimates_s):
        starts.append(SimulationStart(noise_stream=noise_stream(unit.key), time_s=time_s,
                                      temperature_k=temperature_k, film_position_m=position_m,
                                      stage_m=stage_home_m, sample=dict(unit.sample)))
        time_s += float(estimate)
        setpoint = unit.temperature_k if unit.temperature_k is not None else unit.params.get("temperature_k")
        if isinstance(setpoint, (int, float)) and not isinstance(setpoint, bool):
            temperature_k = float(setpoint)
        if unit.position_um is not None:
            position_m = (unit.position_um[0] * UM, unit.position_um[1] * UM)
    return starts


def needs_power_calibration(engine: Any, units: Sequence[Unit]) -> bool:
    """True when a unit's experiment sets power densities (the first unit of each step tells:
    a step runs one experiment)."""
    from acquisition.engine import required_roles
    from acquisition.experiments.base import POWER_ROLES
    from acquisition.experiments import get_experiment

    seen_steps: set[int] = set()
    for unit in units:
        if unit.experiment is None or unit.step_index in seen_steps:
            continue
        seen_steps.add(unit.step_index)
        params = dict(unit.params)
        if unit.temperature_k is not None:
            params["temperature_k"] = unit.temperature_k
        validated = get_experiment(unit.experiment).validate(params, engine.rig)
        if set(POWER_ROLES) & set(required_roles(unit.experiment, validated)):
            return True
    return False


def calibrate_before_units(engine: Any, units: Sequence[Unit], folder: Path) -> Path | None:
    """Measure the power calibration once, before any unit, when the units need one and none
    valid is stored (each unit would otherwise calibrate inside its own run, differently in each
    process). Returns the calibration run's file, or None when nothing had to be measured;
    RuntimeError (one line) if it did not complete."""
    stored, stale = engine.calibration_store.load_for_rig(engine.rig)
    if stored is not None or not needs_power_calibration(engine, units):
        return None
    from acquisition.experiments import POWER_CALIBRATION, providing
    from acquisition.storage.naming import new_run_path

    log.info("campaign: %s; calibrating before the first unit",
             stale or f"no stored power calibration for rig {engine.rig.config.name!r}")
    engine.rig.restart_simulation(SimulationStart(noise_stream=noise_stream(CALIBRATION_STREAM)))
    runs = folder / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    calibration = providing(POWER_CALIBRATION).name
    path = new_run_path(runs, calibration)
    finished = engine.start(calibration, {}, out_path=path).wait()
    if finished.status != RunStatus.COMPLETE:
        raise RuntimeError(f"the power calibration before the first unit ended {finished.status.value}: "
                           f"{finished.reason} (file {path})")
    return path
