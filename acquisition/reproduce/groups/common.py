"""Helpers the groups share: run-file plots and the sweep figures of a stored run."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from acquisition.reproduce.base import Measured
from sim_backends.physics.film import DEFAULT_SPOT_M

#: the campaign line that puts the focus on the simulated rig's default spot, where every
#: single-spot figure of the paper is measured (the spot the published single-spot experiments
#: resemble: sim_backends.physics.film.DEFAULT_SPOT_M)
SPOT_POSITION = f"position_um = [{DEFAULT_SPOT_M[0] * 1e6:.2f}, {DEFAULT_SPOT_M[1] * 1e6:.2f}]"


def plot_run(run: Measured | None, path: Path) -> list[Path]:
    """The run's own plot (the one ``avalab analyze --plot`` draws), if the run exists."""
    if run is None:
        return []
    from acquisition.plotting import plot_run_file

    return [plot_run_file(run.path, path)]


def figure(run: Measured | None, key: str) -> Any:
    return None if run is None else run.figures.get(key)


def new_axes(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (6.4, 4.4)) -> tuple[Any, Any]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=size, dpi=110, squeeze=False)
    return fig, axes


def save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
