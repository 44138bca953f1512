"""Re-analyse a stored run from its points (``avalab analyze``, the GUI runs browser, campaign
reports), with the analysis its experiment declares (``Experiment.analyze``), the same functions
the run used live, so a file and the run that wrote it report the same numbers."""
from __future__ import annotations

from typing import Any


def reanalyze(run: Any, noise_cps: float | None = None) -> dict[str, Any]:
    """Figures recomputed from ``run.streams`` by ``run.experiment``'s own analysis, with the
    run's own ``noise_cps`` unless ``noise_cps`` is given; an experiment this installation does
    not know reports the summary stored at the end of the run."""
    from acquisition.experiments import EXPERIMENTS

    experiment = EXPERIMENTS.get(str(run.experiment))
    if experiment is None:
        return dict(run.summary or {})
    return experiment.analyze(run, noise_cps)
