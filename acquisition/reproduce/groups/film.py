"""71 spots across a film at 77 K, CW (physics.md lines 31-32): mean switch-on, mean width and
switch-on contrast over the spots. Same layout as examples/film_71_spots.toml."""
from __future__ import annotations

from pathlib import Path

from acquisition.reproduce.base import (GroupRuns, Group, Row, files, mean_std, measured, within,
                                        within_abs)
from acquisition.reproduce.groups.common import new_axes, save

NAME = "film"
SPOTS, QUICK_SPOTS = 71, 9


def campaign(quick: bool) -> str:
    return f'''
[vars]
n_spots = {QUICK_SPOTS if quick else SPOTS}
columns = 9
pitch_um = 4.0

[[step]]
label = "spot sweep"
loop = {{ spot = "${{range(n_spots)}}" }}
position_um = ["${{pitch_um * (spot % columns)}}", "${{pitch_um * (spot // columns)}}"]
experiment = "sweep"
params = {{ temperature_k = 77.0, start_kw_cm2 = 1.5, stop_kw_cm2 = 10.0, points = 86, settle_s = 0.5, dwell_s = 0.1 }}
'''


def evaluate(runs: GroupRuns) -> list[Row]:
    spots = runs.select("spot sweep")
    src = files(spots)
    n = len(spots)
    on, on_sd = mean_std([r.figures.get("switch_on_kw_cm2") for r in spots])
    width, width_sd = mean_std([r.figures.get("hysteresis_width_kw_cm2") for r in spots])
    contrast, contrast_sd = mean_std([r.figures.get("contrast_db") for r in spots])
    note = f"mean ± sd over {n} spots"

    def pm(mean: float | None, sd: float | None, unit: str) -> str:
        return "—" if mean is None else f"{mean:.3g} ± {sd or 0:.2g} {unit}".rstrip()

    return [
        measured(NAME, "switch_on_mean", "film: mean switch-on (71 spots)",
                 within(5.2, 0.15, "5.2 kW/cm2", "physics.md:31"), on, pm(on, on_sd, "kW/cm2"), src, note),
        measured(NAME, "width_mean", "film: mean hysteresis width",
                 within(1.0, 0.3, "1.0 kW/cm2", "physics.md:31"), width, pm(width, width_sd, "kW/cm2"), src, note),
        measured(NAME, "contrast_mean", "film: switch-on contrast",
                 within_abs(14.0, 4.0, "dB", "14 ± 4 dB", "physics.md:32"), contrast,
                 pm(contrast, contrast_sd, "dB"), src, note),
    ]


def plot(runs: GroupRuns, folder: Path) -> list[Path]:
    spots = runs.select("spot sweep")
    if not spots:
        return []
    fig, axes = new_axes(1, 3, (12.0, 3.8))
    for ax, key, label, published in zip(axes[0], ("switch_on_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db"),
                                         ("switch-on (kW/cm²)", "hysteresis width (kW/cm²)", "contrast (dB)"),
                                         (5.2, 1.0, 14.0)):
        values = [float(r.figures[key]) for r in spots if r.figures.get(key) is not None]
        ax.hist(values, bins=12, color="tab:blue", alpha=0.7, label=f"simulated ({len(values)} spots)")
        ax.axvline(published, color="k", ls="--", label=f"published mean {published:g}")
        ax.set_xlabel(label)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("spots")
    fig.suptitle("Film statistics at 77 K (CW)")
    return [save(fig, folder / "film_statistics.png")]


GROUP = Group(NAME, "71 spots on a film at 77 K", campaign, evaluate, plot)
