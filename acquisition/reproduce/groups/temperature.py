"""Temperature trend under CW pumping, 77-170 K (physics.md lines 42-48): the switch-on moves to
lower density and the window narrows as T rises, IOB still at 150 K, none at 160 K although s is
still ~70, and none at 170 K. One sweep per cryostat setpoint on the same spot."""
from __future__ import annotations

from pathlib import Path

from acquisition.reproduce.base import (GroupRuns, Group, Published, Row, at_least, files, fmt, is_, measured,
                                        within)
from acquisition.reproduce.groups.common import SPOT_POSITION, figure, new_axes, plot_run, save

NAME = "temperature"
TEMPERATURES_K = (77.0, 110.0, 130.0, 150.0, 160.0, 170.0)
QUICK_TEMPERATURES_K = (77.0, 150.0)


def campaign(quick: bool) -> str:
    temperatures = ", ".join(f"{t:g}" for t in (QUICK_TEMPERATURES_K if quick else TEMPERATURES_K))
    return f'''
[[step]]
label = "sweep at temperature"
{SPOT_POSITION}
loop = {{ T = [{temperatures}] }}
temperature_k = "${{T}}"
experiment = "sweep"
params = {{ start_kw_cm2 = 1.0, stop_kw_cm2 = 12.5, points = 116, settle_s = 0.5, dwell_s = 0.1 }}
'''


def _lower(reference: float | None, text: str, source: str) -> Published:
    return Published(text, source, "below the 77 K value",
                     lambda v: reference is not None and float(v) < reference)


def evaluate(runs: GroupRuns) -> list[Row]:
    at = {t: runs.one("sweep at temperature", T=t) for t in TEMPERATURES_K}
    on77, on150 = figure(at[77.0], "switch_on_kw_cm2"), figure(at[150.0], "switch_on_kw_cm2")
    w77, w150 = figure(at[77.0], "hysteresis_width_kw_cm2"), figure(at[150.0], "hysteresis_width_kw_cm2")
    b150, b160, b170 = (figure(at[t], "bistable") for t in (150.0, 160.0, 170.0))
    s160 = figure(at[160.0], "nonlinearity_s")
    ref = f"77 K: {fmt(on77, 'kW/cm2')}"
    on130, w110 = figure(at[130.0], "switch_on_kw_cm2"), figure(at[110.0], "hysteresis_width_kw_cm2")
    return [
        measured(NAME, "switch_on_130_lower", "switch-on at 130 K lower than at 77 K (the trend's direction)",
                 _lower(on77, "lower at higher T", "physics.md:44"), on130, fmt(on130, "kW/cm2"),
                 files([at[77.0], at[130.0]]), ref),
        measured(NAME, "width_110_narrower", "window at 110 K narrower than at 77 K",
                 _lower(w77, "narrower at higher T", "physics.md:42"), w110, fmt(w110, "kW/cm2"),
                 files([at[77.0], at[110.0]]), f"77 K: {fmt(w77, 'kW/cm2')}"),
        measured(NAME, "switch_on_150_lower", "switch-on at 150 K lower than at 77 K",
                 _lower(on77, "lower at higher T", "physics.md:44"), on150, fmt(on150, "kW/cm2"),
                 files([at[77.0], at[150.0]]), ref),
        measured(NAME, "width_150_narrower", "window at 150 K narrower than at 77 K",
                 _lower(w77, "narrower at higher T", "physics.md:42"), w150, fmt(w150, "kW/cm2"),
                 files([at[77.0], at[150.0]]), f"77 K: {fmt(w77, 'kW/cm2')}"),
        measured(NAME, "bistable_150", "bistable at 150 K", is_(True, "IOB at 150 K", "physics.md:43"), b150,
                 fmt(b150), files([at[150.0]])),
        measured(NAME, "bistable_160", "no hysteresis at 160 K", is_(False, "no hysteresis at 160 K", "physics.md:43"),
                 b160, fmt(b160), files([at[160.0]])),
        measured(NAME, "s_160", "nonlinearity s at 160 K", within(70.0, 0.5, "s = 70", "physics.md:44"), s160,
                 fmt(s160), files([at[160.0]]), "steepest 3-point slope of the up branch (no jump)"),
        measured(NAME, "s_160_floor", "s still above 50 at 160 K (issue 15)",
                 at_least(50.0, "s = 70 (very nonlinear)", "physics.md:44", "≥ 50"), s160, fmt(s160),
                 files([at[160.0]])),
        measured(NAME, "bistable_170", "no hysteresis at 170 K",
                 is_(False, "none from ~160-170 K", "physics.md:43"), b170, fmt(b170), files([at[170.0]])),
    ]


def plot(runs: GroupRuns, folder: Path) -> list[Path]:
    points = sorted((r.variables["T"], r.figures) for r in runs.select("sweep at temperature"))
    if not points:
        return []
    fig, axes = new_axes(1, 2, (11.0, 4.2))
    t = [p[0] for p in points]
    ax = axes[0][0]
    for key, colour, label in (("switch_on_kw_cm2", "tab:red", "switch-on"),
                               ("switch_off_kw_cm2", "tab:blue", "switch-off")):
        ax.plot(t, [p[1].get(key) if p[1].get("bistable") or key == "switch_on_kw_cm2" else None
                    for p in points], "o-", color=colour, label=label)
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel("threshold (kW/cm²)")
    ax.legend(fontsize=8)
    ax.set_title("Thresholds against temperature (CW)")
    ax = axes[0][1]
    ax.plot(t, [p[1].get("hysteresis_width_kw_cm2") if p[1].get("bistable") else 0.0 for p in points], "o-",
            color="k", label="width (0 = no hysteresis)")
    ax2 = ax.twinx()
    ax2.plot(t, [p[1].get("nonlinearity_s") for p in points], "s--", color="tab:green", label="s")
    ax2.set_ylabel("nonlinearity s", color="tab:green")
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel("hysteresis width (kW/cm²)")
    ax.set_title("Width and nonlinearity against temperature")
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], fontsize=8)
    curves = [path for t in (77.0, 150.0, 170.0)
              for path in plot_run(runs.one("sweep at temperature", T=t), folder / f"temperature_{t:.0f}k_ip_curve.png")]
    return [save(fig, folder / "temperature_trend.png"), *curves]


GROUP = Group(NAME, "Temperature trend 77-170 K (CW)", campaign, evaluate, plot, quick=True)
