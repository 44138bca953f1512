"""The hysteresis does not depend on the dwell time per point (physics.md line 35): the
``scan_rate`` experiment with its defaults (0.1, 1 and 10 s per point, 0.5 s settle, 3 repeats
each: the spread the dwell times are compared with) and its verdict."""
from __future__ import annotations

from pathlib import Path

from acquisition.reproduce.base import GroupRuns, Group, Row, files, fmt, is_, measured
from acquisition.reproduce.groups.common import SPOT_POSITION, figure, plot_run

NAME = "dwell"


def campaign(quick: bool) -> str:
    return f'''
[[step]]
label = "dwell times"
{SPOT_POSITION}
experiment = "scan_rate"
params = {{ temperature_k = 77.0, dwells_s = [0.1, 1.0, 10.0], settle_s = 0.5 }}
'''


def evaluate(runs: GroupRuns) -> list[Row]:
    run = runs.one("dwell times")
    same = figure(run, "window_independent_of_dwell")
    return [measured(NAME, "independent", "window independent of the dwell time (0.1-10 s)",
                     is_(True, "independent", "physics.md:35"), same, fmt(same), files([run]),
                     "switch-on and width agree within 2 combined standard errors across dwell times")]


def plot(runs: GroupRuns, folder: Path) -> list[Path]:
    return plot_run(runs.one("dwell times"), folder / "dwell_times.png")


GROUP = Group(NAME, "Hysteresis against dwell time", campaign, evaluate, plot)
