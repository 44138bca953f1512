"""100 up/down cycles on one spot over 12 h at 77 K (physics.md lines 33-34): mean and spread
of switch-on and width, and no photodarkening (the bright emission at the top of the scan does
not fall over the cycles). Same plan as examples/cycles_100.toml."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from acquisition.reproduce.base import (GroupRuns, Group, Row, between, files, fmt, mean_std, measured,
                                        within)
from acquisition.reproduce.groups.common import SPOT_POSITION, new_axes, save

NAME = "cycles"
CYCLES = 100


def campaign(quick: bool) -> str:
    return f'''
[vars]
cycles = {10 if quick else CYCLES}
period_s = 432.0
sweep_s = 120.0

[[step]]
label = "go to the spot"
{SPOT_POSITION}
temperature_k = 77.0
wait_s = 1.0

[[step]]
label = "cycle"
loop = {{ cycle = "${{range(cycles)}}" }}
experiment = "sweep"
params = {{ temperature_k = 77.0, start_kw_cm2 = 2.0, stop_kw_cm2 = 10.0, points = 81, settle_s = 0.5, dwell_s = 0.1 }}
wait_s = "${{max(period_s - sweep_s, 0)}}"
'''


def top_rates(runs: GroupRuns) -> list[float]:
    """The emission at the top of each cycle's up scan, in cycle order (photodarkening probe)."""
    out = []
    for run in sorted(runs.select("cycle"), key=lambda r: r.variables.get("cycle", 0)):
        s = run.run.streams["sweep"]
        direction = np.array([d.decode() if isinstance(d, bytes) else str(d) for d in s["direction"]])
        up = direction == "up"
        out.append(float(np.asarray(s["rate_cps"], float)[up][np.argmax(np.asarray(s["density_w_m2"])[up])]))
    return out


def evaluate(runs: GroupRuns) -> list[Row]:
    cycles = runs.select("cycle")
    src = files(cycles)
    on, on_sd = mean_std([r.figures.get("switch_on_kw_cm2") for r in cycles])
    width, width_sd = mean_std([r.figures.get("hysteresis_width_kw_cm2") for r in cycles])
    tops = top_rates(runs) if cycles else []
    k = max(1, len(tops) // 10)
    drift = float(np.mean(tops[-k:]) / np.mean(tops[:k])) if tops else None
    note = f"over {len(cycles)} cycles"
    return [
        measured(NAME, "switch_on_mean", "100 cycles: mean switch-on", within(6.52, 0.1, "6.52 kW/cm2", "physics.md:33"),
                 on, fmt(on, "kW/cm2"), src, note),
        measured(NAME, "switch_on_sd", "100 cycles: switch-on spread (sd)",
                 between(0.105, 0.42, "0.21 kW/cm2", "physics.md:33", "0.5x-2x"), on_sd, fmt(on_sd, "kW/cm2"), src, note),
        measured(NAME, "width_mean", "100 cycles: mean width", within(2.20, 0.15, "2.20 kW/cm2", "physics.md:33"),
                 width, fmt(width, "kW/cm2"), src, note),
        measured(NAME, "width_sd", "100 cycles: width spread (sd)",
                 between(0.075, 0.30, "0.15 kW/cm2", "physics.md:33", "0.5x-2x"), width_sd, fmt(width_sd, "kW/cm2"),
                 src, note),
        measured(NAME, "no_photodarkening", "no photodarkening over the cycles",
                 between(0.9, 1.1, "no photodarkening", "physics.md:34", "last/first 10 % of cycles 0.9-1.1"),
                 drift, fmt(drift) + "x" if drift is not None else "—", src,
                 "bright emission at the top of the up scan, last tenth of the cycles / first tenth"),
    ]


def plot(runs: GroupRuns, folder: Path) -> list[Path]:
    cycles = sorted(runs.select("cycle"), key=lambda r: r.variables.get("cycle", 0))
    if not cycles:
        return []
    fig, axes = new_axes(1, 1, (7.5, 4.2))
    ax = axes[0][0]
    n = [r.variables.get("cycle", i) for i, r in enumerate(cycles)]
    for key, colour, label, published in (("switch_on_kw_cm2", "tab:red", "switch-on", 6.52),
                                          ("switch_off_kw_cm2", "tab:blue", "switch-off", None)):
        ax.plot(n, [r.figures.get(key) for r in cycles], "o", ms=3, color=colour, label=label)
        if published is not None:
            ax.axhline(published, color=colour, ls="--", lw=0.8, label=f"published {label} {published:g}")
    ax.set_xlabel("cycle")
    ax.set_ylabel("threshold (kW/cm²)")
    ax.legend(fontsize=8)
    ax.set_title("Repeated cycles on one spot, 77 K")
    return [save(fig, folder / "cycles_thresholds.png")]


GROUP = Group(NAME, "100 cycles on one spot at 77 K", campaign, evaluate, plot)
