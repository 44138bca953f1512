"""The sweep's section of a campaign report: statistics over its runs, box plots over film spots
(the published film statistics), thresholds against temperature, drift over repeated cycles."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from acquisition.campaigns.index import IndexedRun
from acquisition.campaigns.report import (figure, figure_statistics, metric_values, run_position,
                                          run_temperature, save)
from acquisition.experiments.base import ReportSection

BISTABLE_NOTE = ("bistable_fraction: binomial standard error of the fraction, √(p(1−p)/n).")


def sweep_statistics(runs: list[IndexedRun]) -> dict[str, dict[str, float]]:
    """Mean, spread and count of each hysteresis figure over complete sweep runs (the sample
    standard deviation), and the bistable fraction with its binomial standard error."""
    from acquisition.experiments.sweep import LOOP_FIGURES

    return figure_statistics(runs, LOOP_FIGURES)


def _condition(run: IndexedRun) -> tuple[Any, Any]:
    """(film position, temperature) a run was taken at; None where the campaign did not set it."""
    return run_position(run), run_temperature(run)


def _spot_sweeps(sweeps: list[IndexedRun]) -> list[IndexedRun]:
    """Sweeps at two or more film positions (one temperature): the film statistics."""
    positions = {_condition(r)[0] for r in sweeps}
    temperatures = {_condition(r)[1] for r in sweeps}
    return sweeps if len(positions) >= 2 and len(temperatures) <= 1 else []


def _repeated_sweeps(sweeps: list[IndexedRun]) -> list[IndexedRun]:
    """The largest group of sweeps repeated at one position and temperature (drift over cycles)."""
    groups: dict[tuple[Any, Any], list[IndexedRun]] = {}
    for run in sweeps:
        groups.setdefault(_condition(run), []).append(run)
    largest = max(groups.values(), key=len, default=[])
    return largest if len(largest) >= 3 else []


def _film_statistics(folder: Path, sweeps: list[IndexedRun]) -> Path | None:
    sweeps = _spot_sweeps(sweeps)
    if not sweeps:
        return None
    keys = [("switch_on_kw_cm2", "switch-on (kW/cm²)"), ("hysteresis_width_kw_cm2", "width (kW/cm²)"),
            ("contrast_db", "contrast (dB)")]
    fig, axes = figure(3)
    for ax, (key, label) in zip(axes, keys):
        values = metric_values(sweeps, key)
        if values.size:
            ax.boxplot(values, widths=0.5)
            jitter = 1 + 0.08 * np.random.default_rng(0).standard_normal(values.size)
            ax.plot(jitter, values, "o", alpha=0.5, color="tab:blue", markersize=4)
            ax.set_title(f"{label}\n{values.mean():.2f} ± {values.std(ddof=1) if values.size > 1 else 0:.2f} "
                         f"(n={values.size})")
        ax.set_xticks([])
        ax.set_ylabel(label)
    fig.suptitle(f"Spot statistics over {len(sweeps)} sweeps")
    return save(fig, folder / "film_statistics.png")


def _against_temperature(folder: Path, sweeps: list[IndexedRun]) -> Path | None:
    at = [(t, r) for r in sweeps if (t := run_temperature(r)) is not None]
    if len({t for t, _ in at}) < 2:
        return None
    fig, axes = figure(2)
    for ax, key, label in ((axes[0], "switch_on_kw_cm2", "switch-on"), (axes[0], "switch_off_kw_cm2", "switch-off"),
                           (axes[1], "hysteresis_width_kw_cm2", "width")):
        points = [(t, r.metrics.get(key)) for t, r in at if isinstance(r.metrics.get(key), (int, float))]
        if points:
            t, v = zip(*sorted(points))
            ax.plot(t, v, "o-", label=label)
    axes[0].set_ylabel("threshold (kW/cm²)")
    axes[1].set_ylabel("hysteresis width (kW/cm²)")
    for ax in axes:
        ax.set_xlabel("temperature (K)")
        ax.legend()
    fig.suptitle("Thresholds and width against temperature")
    return save(fig, folder / "vs_temperature.png")


def _drift(folder: Path, sweeps: list[IndexedRun]) -> Path | None:
    sweeps = _repeated_sweeps(sweeps)
    if not sweeps:
        return None
    fig, axes = figure(2)
    cycles = np.arange(1, len(sweeps) + 1)
    for ax, key, label in ((axes[0], "switch_on_kw_cm2", "switch-on (kW/cm²)"),
                           (axes[1], "hysteresis_width_kw_cm2", "width (kW/cm²)")):
        values = np.array([r.metrics.get(key) if isinstance(r.metrics.get(key), (int, float)) else np.nan
                           for r in sweeps], dtype=float)
        ax.plot(cycles, values, "o-", markersize=3)
        finite = values[np.isfinite(values)]
        if finite.size:
            ax.axhline(finite.mean(), color="k", lw=0.8)
            ax.set_title(f"{label}: {finite.mean():.2f} ± {finite.std(ddof=1) if finite.size > 1 else 0:.2f}")
        ax.set_xlabel("cycle")
        ax.set_ylabel(label)
    fig.suptitle(f"Drift over {len(sweeps)} repeated sweeps")
    return save(fig, folder / "drift.png")


def sweep_report(sweeps: list[IndexedRun], folder: Path, campaign_folder: Path) -> ReportSection:
    """Statistics over the sweeps, and the figures their conditions allow."""
    figures = [path for draw in (_film_statistics, _against_temperature, _drift)
               if (path := draw(folder, sweeps)) is not None]
    stats = sweep_statistics(sweeps)
    return ReportSection("sweeps", figures, stats, BISTABLE_NOTE if "bistable_fraction" in stats else "")
