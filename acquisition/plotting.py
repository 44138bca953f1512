"""PNG plots of run files for the CLI (matplotlib, Agg backend: no display needed).

Sweeps: log-log emission rate vs power density, up scan red, down scan blue, switch-on and
switch-off marked. Other experiments: their main stream (switch traces, TCSPC histogram,
calibration curve).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KW_CM2 = 1e7


def _text(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def plot_sweep(ax: Any, columns: dict[str, np.ndarray], summary: dict[str, Any], label: str = "") -> None:
    direction = _text(columns["direction"])
    main = np.asarray(columns["pass"]) == 0 if "pass" in columns else np.ones(direction.size, bool)
    density = np.asarray(columns["density_w_m2"], float) / KW_CM2
    rate = np.maximum(np.asarray(columns["rate_cps"], float), 1.0)
    for name, colour in (("up", "red"), ("down", "blue")):
        rows = main & (direction == name)
        ax.plot(density[rows], rate[rows], "o-", color=colour, ms=3, lw=1, label=f"{label}{name}")
        refine = ~main & (direction == name)
        if refine.any():
            ax.plot(density[refine], rate[refine], "x", color=colour, ms=4, label=f"{label}{name} refinement")
    for key, style, text in (("switch_on_kw_cm2", "--", "switch-on"), ("switch_off_kw_cm2", ":", "switch-off")):
        value = summary.get(key)
        if value:
            ax.axvline(value, color="black", ls=style, lw=1, label=f"{text} {value:.3g} kW/cm2")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("power density (kW/cm$^2$)")
    ax.set_ylabel("emission (counts/s)")


def plot_run_file(run_path: Path, png_path: Path) -> Path:
    """Plot the run at ``run_path`` into ``png_path``; returns the PNG path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    run = open_run(run_path)
    streams = run.streams
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    try:
        if run.experiment in ("sweep", "pulsed") and "sweep" in streams:
            summary = reanalyze(run) if run.experiment == "sweep" else {}
            plot_sweep(ax, streams["sweep"], summary)
        elif run.experiment == "switch" and "switch" in streams:
            columns = streams["switch"]
            for bias, base, hold, bin_s in zip(columns["bias_w_m2"], columns["baseline_counts"],
                                               columns["hold_counts"], columns["bin_s"]):
                trace = np.concatenate([np.asarray(base), np.full(1, np.nan), np.asarray(hold)]) / bin_s
                ax.plot(np.arange(trace.size) * bin_s, trace, label=f"bias {bias / KW_CM2:.2f} kW/cm2")
            ax.set_yscale("log")
            ax.set_xlabel("time (s; gap = control pulse)")
            ax.set_ylabel("emission (counts/s)")
        elif run.experiment == "lifetime" and "histogram" in streams:
            columns = streams["histogram"]
            ax.semilogy(np.asarray(columns["delay_s"])[0] * 1e3, np.maximum(np.asarray(columns["counts"])[0], 0.5))
            ax.axvline(float(columns["pump_off_s"][0]) * 1e3, color="black", ls="--", label="pump off")
            ax.set_xlabel("delay after chopper edge (ms)")
            ax.set_ylabel("counts per bin")
        elif "calibration" in streams:
            columns = streams["calibration"]
            stage = _text(columns["stage"])
            rows = stage == "plate"
            ax.plot(np.asarray(columns["angle_deg"])[rows], np.asarray(columns["objective_power_w"])[rows] * 1e6, "o")
            ax.set_xlabel("half-wave plate angle (deg)")
            ax.set_ylabel("power into the objective (uW)")
        else:
            sweeps = [name for name in streams if name.endswith("sweep")]
            for name in sweeps:
                plot_sweep(ax, streams[name], {}, label=name.replace("sweep", ""))
        ax.set_title(f"{run.experiment} {run.run_id}", fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        fig.tight_layout()
        png_path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png_path)
    finally:
        plt.close(fig)
    log.info("plot written to %s", png_path)
    return png_path
