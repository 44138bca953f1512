"""One spot at 77 K under CW pumping (physics.md lines 29-30): switch-on, switch-off, the
nonlinearity at switch-on, and no emission between the two states at the smallest step (a
refined sweep brackets the switch-on jump to 0.02 kW/cm2)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from acquisition.reproduce.base import (GroupRuns, Measured, Row, Group, at_least, files, fmt, measured,
                                        within)
from acquisition.reproduce.groups.common import figure, plot_run

NAME = "cw_spot"
RESOLUTION_KW_CM2 = 0.02
#: the jump across the refined bracket (I_B / I_A) that counts as "no emission in between"
MIN_JUMP_RATIO = 10.0


def campaign(quick: bool) -> str:
    return f'''
[[step]]
label = "spot sweep"
position_um = [0.0, 0.0]
experiment = "sweep"
params = {{ temperature_k = 77.0, start_kw_cm2 = 1.0, stop_kw_cm2 = 10.0, points = 91, dwell_s = 0.1, refine = true, resolution_kw_cm2 = {RESOLUTION_KW_CM2} }}
'''


def refined_jump_ratio(run: Measured | None) -> float | None:
    """I_B / I_A of the last refinement pass of the switch-on: the first bright and the last dark
    point it measured, RESOLUTION_KW_CM2 apart."""
    if run is None or "sweep" not in run.run.streams:
        return None
    s = run.run.streams["sweep"]
    bracket = np.array([b.decode() if isinstance(b, bytes) else str(b) for b in s["bracket"]])
    passes = np.asarray(s["pass"])
    on = bracket == "on"
    if not on.any():
        return None
    last = on & (passes == passes[on].max())
    bright = np.asarray(s["bright"], bool)[last]
    rate = np.asarray(s["rate_cps"], float)[last]
    if not bright.any() or bright.all():
        return None
    first_bright = int(np.flatnonzero(bright)[0])
    if first_bright == 0:
        return None
    noise = 82.0
    return float((rate[first_bright] + noise) / (rate[first_bright - 1] + noise))


def evaluate(runs: GroupRuns) -> list[Row]:
    run = runs.one("spot sweep")
    src = files([run])
    on, off, s = figure(run, "switch_on_kw_cm2"), figure(run, "switch_off_kw_cm2"), figure(run, "nonlinearity_s")
    ratio = refined_jump_ratio(run)
    return [
        measured(NAME, "switch_on", "switch-on, one spot (77 K, CW)", within(6.7, 0.15, "6.7 kW/cm2", "physics.md:29"),
                 on, fmt(on, "kW/cm2"), src),
        measured(NAME, "switch_off", "switch-off, one spot (77 K, CW)",
                 within(4.2, 0.15, "4.2 kW/cm2", "physics.md:29"), off, fmt(off, "kW/cm2"), src),
        measured(NAME, "nonlinearity", "nonlinearity s at switch-on (instrument-limited)",
                 at_least(200.0, "s ≥ 200", "physics.md:30"), s, fmt(s), src,
                 "slope of log I vs log P over the points A, B of the main scan (0.1 kW/cm2 steps)"),
        measured(NAME, "no_intermediate", "no emission between dark and bright at the smallest step",
                 at_least(MIN_JUMP_RATIO, "no intermediate emission", "physics.md:29",
                          f"I_B/I_A ≥ {MIN_JUMP_RATIO:g} across {RESOLUTION_KW_CM2} kW/cm2"),
                 ratio, fmt(ratio) + "x" if ratio is not None else "—", src,
                 "jump across the last refinement bracket of the switch-on"),
    ]


def plot(runs: GroupRuns, folder: Path) -> list[Path]:
    return plot_run(runs.one("spot sweep"), folder / "cw_spot_ip_curve.png")


GROUP = Group(NAME, "One spot at 77 K, CW: thresholds, nonlinearity, sharp jump", campaign, evaluate, plot,
              quick=True)
