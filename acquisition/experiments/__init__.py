"""The experiments avalab runs: each a parameter schema plus a plan (see ``base.Experiment``).

    from acquisition.experiments import EXPERIMENTS
    EXPERIMENTS["sweep"].schema.parameters      # what the GUI form and CLI options are built from
    EXPERIMENTS["sweep"].estimate_duration_s({...})
"""
from __future__ import annotations

from acquisition.experiments.base import Experiment
from acquisition.experiments.calibrate import CALIBRATE
from acquisition.experiments.lifetime import LIFETIME
from acquisition.experiments.pulsed import PULSED
from acquisition.experiments.sweep import SWEEP
from acquisition.experiments.switch import SWITCH
from acquisition.experiments.temperature_series import TEMPERATURE_SERIES

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e for e in (CALIBRATE, SWEEP, PULSED, SWITCH, LIFETIME, TEMPERATURE_SERIES)
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (ValueError listing the known ones otherwise)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment={name!r} is not known; allowed values: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


__all__ = ["EXPERIMENTS", "Experiment", "get_experiment"]
