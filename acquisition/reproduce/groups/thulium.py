"""The second material, Tm3+:NaYF4 at room temperature (physics.md lines 132-135): a classic
avalanche with s about 26 and a threshold of a few kW/cm2, no bistability. The rig's sample is
set to Tm:NaYF4 and the cryostat to 295 K."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from acquisition.reproduce.base import GroupRuns, Group, Measured, Row, between, files, fmt, measured, within
from acquisition.reproduce.groups.common import SPOT_POSITION, figure, plot_run

NAME = "thulium"


def campaign(quick: bool) -> str:
    return f'''
[[step]]
label = "Tm sweep"
{SPOT_POSITION}
experiment = "sweep"
params = {{ temperature_k = 295.0, start_kw_cm2 = 0.5, stop_kw_cm2 = 30.0, points = 91, spacing = "log", settle_s = 0.5, dwell_s = 0.1 }}
'''


def steepest_density(run: Measured | None, noise_cps: float = 82.0) -> float | None:
    """The density (kW/cm2) at the middle of the steepest 3-point log-log window of the up
    branch: where the avalanche turns on."""
    if run is None:
        return None
    s = run.run.streams["sweep"]
    up = np.array([d.decode() if isinstance(d, bytes) else str(d) for d in s["direction"]]) == "up"
    density = np.asarray(s["density_w_m2"], float)[up] / 1e7
    order = np.argsort(density)
    x = np.log(density[order])
    y = np.log(np.asarray(s["rate_cps"], float)[up][order] + noise_cps)
    if x.size < 3:
        return None
    slopes = (y[2:] - y[:-2]) / (x[2:] - x[:-2])
    return float(np.exp(x[1:-1][int(np.argmax(slopes))]))


def evaluate(runs: GroupRuns) -> list[Row]:
    run = runs.one("Tm sweep")
    s = figure(run, "nonlinearity_s")
    threshold = steepest_density(run)
    return [
        measured(NAME, "s", "Tm:NaYF4 nonlinearity above threshold (295 K)", within(26.0, 0.5, "s ≈ 26", "physics.md:134"),
                 s, fmt(s), files([run]), "steepest 3-point slope of the up branch"),
        measured(NAME, "threshold", "Tm:NaYF4 avalanche threshold",
                 between(1.0, 10.0, "a few kW/cm2", "physics.md:134", "1-10 kW/cm2"), threshold,
                 fmt(threshold, "kW/cm2"), files([run]), "middle of the steepest 3-point log-log window of the up branch"),
    ]


def plot(runs: GroupRuns, folder: Path) -> list[Path]:
    return plot_run(runs.one("Tm sweep"), folder / "thulium_ip_curve.png")


GROUP = Group(NAME, "Tm:NaYF4 avalanche at room temperature", campaign, evaluate, plot,
              rig={"sample.material": "Tm:NaYF4"})
