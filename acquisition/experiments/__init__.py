"""The registry of experiments: one line per experiment module (see ``base.Experiment`` for what
a module declares). Everything outside this package finds experiments here, never by name.

    from acquisition.experiments import EXPERIMENTS, get_experiment
    EXPERIMENTS["sweep"].schema.parameters      # what the GUI form and CLI options are built from
    get_experiment("sweep").estimate_duration_s({...})
    [e.name for e in listed_experiments()]     # CLI commands, GUI chooser (not campaign-internal)
    providing(POWER_CALIBRATION).name          # an experiment found by its job, not its name
"""
from __future__ import annotations

from acquisition.experiments.base import JOBS, POWER_CALIBRATION, STEP_PREPARATION, Experiment
from acquisition.experiments.calibrate import CALIBRATE
from acquisition.experiments.lifetime import LIFETIME
from acquisition.experiments.map import MAP
from acquisition.experiments.prepare import PREPARE_EXPERIMENT
from acquisition.experiments.pulsed import PULSED
from acquisition.experiments.scan_rate import SCAN_RATE
from acquisition.experiments.survey import SURVEY
from acquisition.experiments.sweep import SWEEP
from acquisition.experiments.switch import SWITCH
from acquisition.experiments.temperature_series import TEMPERATURE_SERIES

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    CALIBRATE,
    SWEEP,
    PULSED,
    SWITCH,
    LIFETIME,
    TEMPERATURE_SERIES,
    SCAN_RATE,
    MAP,
    SURVEY,
    PREPARE_EXPERIMENT,
)}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (ValueError listing the known ones otherwise)."""
    if name not in EXPERIMENTS:
        known = ", ".join(e.name for e in listed_experiments())
        raise ValueError(f"experiment={name!r} is not known; allowed values: {known}")
    return EXPERIMENTS[name]


def listed_experiments() -> list[Experiment]:
    """The experiments operators start by name (CLI commands, GUI forms, campaigns), in
    registry order; internal ones (``listed=False``) are left out."""
    return [e for e in EXPERIMENTS.values() if e.listed]


def providing(job: str) -> Experiment:
    """The experiment that does ``job`` (``base.JOBS``; LookupError unless exactly one does)."""
    found = [e for e in EXPERIMENTS.values() if job in e.provides]
    if len(found) != 1:
        names = ", ".join(e.name for e in found) or "none"
        raise LookupError(f"job={job!r}: {len(found)} experiments provide it ({names}); allowed: exactly one")
    return found[0]


def demo_experiment() -> Experiment:
    """The experiment the GUI demonstrates (the first one with a ``demo``)."""
    for experiment in EXPERIMENTS.values():
        if experiment.demo is not None:
            return experiment
    raise LookupError("no experiment declares a demo; allowed: one with Experiment.demo set")


__all__ = ["EXPERIMENTS", "Experiment", "JOBS", "POWER_CALIBRATION", "STEP_PREPARATION", "demo_experiment",
           "get_experiment", "listed_experiments", "providing"]
