"""``avalab report CAMPAIGN``: a folder with figures (PNG), a table (CSV) and an HTML page.

Each experiment writes its own section (``Experiment.report``: its figures and statistics, drawn
only when the campaign has the data for them); this module gives them their complete runs, the
helpers they draw with, and writes the table and the page.
"""
from __future__ import annotations

import csv
import html
import json
import math
import logging
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np

from acquisition.campaigns.index import CampaignIndex, IndexedRun
from acquisition.experiments.base import Figure, ReportSection

log = logging.getLogger(__name__)

FIGURE_SIZE_IN = (9.0, 6.0)
FIGURE_DPI = 100  # 900 x 600 px figures


@dataclass
class Report:
    folder: Path
    figures: list[Path] = field(default_factory=list)
    table: Path | None = None
    page: Path | None = None
    #: every section's statistics (figure name -> mean, spread, n)
    statistics: dict[str, dict[str, float]] = field(default_factory=dict)
    sections: list[ReportSection] = field(default_factory=list)



def statistics(runs: list[IndexedRun], keys: list[str]) -> dict[str, dict[str, float]]:
    """Mean, sample standard deviation (ddof 1) and count of each metric over ``runs``."""
    stats: dict[str, dict[str, float]] = {}
    for key in keys:
        values = metric_values(runs, key)
        if values.size:
            stats[key] = {"mean": float(values.mean()),
                          "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                          "n": int(values.size)}
    return stats


def figure_statistics(runs: list[IndexedRun], figures: Sequence[Figure]) -> dict[str, dict[str, float]]:
    """Statistics of an experiment's headline figures over its runs: a numeric figure's mean,
    sample standard deviation (``std``, ddof 1) and count; a true/false figure's fraction with
    its binomial standard error sqrt(p (1 - p) / n) (``stderr``: how well the fraction is known,
    not how runs scatter), under ``<key>_fraction``."""
    numeric = [f.key for f in figures if not any(isinstance(r.metrics.get(f.key), bool) for r in runs)]
    stats = statistics(runs, numeric)
    for f in figures:
        flags = [bool(r.metrics[f.key]) for r in runs if isinstance(r.metrics.get(f.key), bool)]
        if flags:
            fraction = float(np.mean(flags))
            stderr = float(np.sqrt(fraction * (1 - fraction) / len(flags)))
            stats[f"{f.key}_fraction"] = {"mean": fraction, "stderr": stderr, "n": len(flags)}
    return stats


def campaign_statistics(runs: list[IndexedRun]) -> dict[str, dict[str, float]]:
    """Each experiment's headline-figure statistics over its complete runs (what ``avalab
    campaign`` prints at the end)."""
    from acquisition.experiments import EXPERIMENTS

    stats: dict[str, dict[str, float]] = {}
    grouped = runs_by_experiment(runs)
    for experiment in EXPERIMENTS.values():
        if grouped.get(experiment.name):
            for key, value in figure_statistics(grouped[experiment.name], experiment.figures).items():
                stats.setdefault(key, value)
    return stats


def runs_by_experiment(runs: list[IndexedRun]) -> dict[str, list[IndexedRun]]:
    grouped: dict[str, list[IndexedRun]] = {}
    for run in runs:
        grouped.setdefault(str(run.experiment or ""), []).append(run)
    return grouped


def metric_values(runs: list[IndexedRun], key: str) -> np.ndarray:
    """The finite numeric values of metric ``key`` over ``runs``."""
    values = [r.metrics.get(key) for r in runs]
    return np.array([float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                     and np.isfinite(v)])


def run_temperature(run: IndexedRun) -> float | None:
    value = run.metrics.get("temperature_k", run.variables.get("temperature_k", run.variables.get("T")))
    return float(value) if isinstance(value, (int, float)) else None


def run_position(run: IndexedRun) -> tuple[float, ...] | None:
    position = run.metrics.get("position_um")
    return tuple(position) if isinstance(position, list) else None


def write_report(campaign_folder: Path, out: Path | None = None) -> Report:
    campaign_folder = Path(campaign_folder)
    if not (campaign_folder / CampaignIndex.FILENAME).exists():
        raise ValueError(f"campaign={str(campaign_folder)!r} has no {CampaignIndex.FILENAME}; "
                         "allowed: a folder written by `avalab campaign`")
    import matplotlib
    matplotlib.use("Agg")

    from acquisition.experiments import EXPERIMENTS

    index = CampaignIndex(campaign_folder)
    try:
        runs = index.runs("complete")
        name = index.meta("name", campaign_folder.name)
    finally:
        index.close()
    report = Report(folder=Path(out) if out else campaign_folder / "report")
    report.folder.mkdir(parents=True, exist_ok=True)
    report.table = _write_csv(report.folder / "runs.csv", runs)
    by_experiment = runs_by_experiment(runs)
    for experiment in EXPERIMENTS.values():
        if experiment.report is None or not by_experiment.get(experiment.name):
            continue
        section = experiment.report(by_experiment[experiment.name], report.folder, campaign_folder)
        if section is None:
            continue
        stage_figure = stage_position_maps(report.folder, experiment, by_experiment[experiment.name])
        if stage_figure is not None:
            section.figures.append(stage_figure)
        report.sections.append(section)
        report.figures += section.figures
        report.statistics.update(section.statistics)
    report.page = _write_html(report, name, runs)
    log.info("report written to %s (%d figures)", report.folder, len(report.figures))
    return report


def run_stage_position(run: IndexedRun) -> tuple[float, float] | None:
    """Where the sample stage was for a run (a campaign's ``stage_mm``), in m."""
    position = run.metrics.get("stage_mm")
    if isinstance(position, list) and len(position) == 2:
        return float(position[0]) * 1e-3, float(position[1]) * 1e-3
    return None


def stage_position_maps(folder: Path, experiment: Any, runs: list[IndexedRun]) -> Path | None:
    """Maps (top) and histograms (bottom) of an experiment's numeric headline figures over the
    sample-stage positions its runs were taken at (a campaign looping over ``stage_mm``)."""
    from acquisition.experiments.map_figures import draw_histogram, draw_map

    placed = [(p, r) for r in runs if (p := run_stage_position(r)) is not None]
    if len({p for p, _ in placed}) < 2:
        return None
    keys = [f for f in experiment.figures if metric_values([r for _, r in placed], f.key).size]
    keys = [f for f in keys if not any(isinstance(r.metrics.get(f.key), bool) for _, r in placed)][:4]
    if not keys:
        return None
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(keys), figsize=(4.5 * len(keys), 7.5), dpi=FIGURE_DPI, squeeze=False)
    x = [p[0] for p, _ in placed]
    y = [p[1] for p, _ in placed]
    for k, f in enumerate(keys):
        values = [r.metrics.get(f.key) if isinstance(r.metrics.get(f.key), (int, float)) else math.nan
                  for _, r in placed]
        draw_map(fig, axes[0][k], x, y, values, f.label, f.unit)
        draw_histogram(axes[1][k], values, f.label, f.unit)
    fig.suptitle(f"{experiment.name} over {len({p for p, _ in placed})} stage positions")
    return save(fig, folder / f"{experiment.name}_stage_maps.png")


# ------------------------------------------------------------------------------------ table
def _flat_row(run: IndexedRun) -> dict[str, Any]:
    row: dict[str, Any] = {"unit": run.unit_key, "experiment": run.experiment or "", "file": run.path or ""}
    row.update({f"var_{k}": v for k, v in run.variables.items()})
    for key, value in run.metrics.items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            row[key] = value
    return row


def _write_csv(path: Path, runs: list[IndexedRun]) -> Path:
    rows = [_flat_row(r) for r in runs]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or ["unit"])
        writer.writeheader()
        writer.writerows(rows)
    return path


# ------------------------------------------------------------------------------------ figures
def figure(ncols: int = 1):  # noqa: ANN202 - matplotlib types
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI, squeeze=False)
    return fig, axes[0]


def save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------ page
def _write_html(report: Report, name: str, runs: list[IndexedRun]) -> Path:
    esc = html.escape
    statistics = "".join(_statistics_html(section) for section in report.sections if section.statistics)
    figures = "".join(f'<figure><img src="{esc(p.name)}" alt="{esc(p.stem)}" width="900">'
                      f"<figcaption>{esc(p.stem.replace('_', ' '))}</figcaption></figure>"
                      for p in report.figures)
    run_rows = "".join(
        f"<tr><td>{esc(r.unit_key)}</td><td>{esc(r.experiment or '')}</td>"
        f"<td>{esc(json.dumps(r.variables))}</td>"
        f"<td>{esc(', '.join(f'{k}={v:.3g}' for k, v in r.metrics.items() if isinstance(v, float)))}</td>"
        f"<td>{esc(r.path or '')}</td></tr>" for r in runs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>avalab campaign {esc(name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}figure{{margin:1em 0}}</style></head>
<body><h1>Campaign {esc(name)}</h1>
<p>{len(runs)} complete run(s). Table: <a href="runs.csv">runs.csv</a>.</p>
{statistics}
<h2>Figures</h2>{figures or '<p>No figure applies to this campaign.</p>'}
<h2>Runs</h2><table><tr><th>unit</th><th>experiment</th><th>variables</th><th>figures</th><th>file</th></tr>
{run_rows}</table></body></html>
"""
    path = report.folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _statistics_html(section: ReportSection) -> str:
    esc = html.escape

    def cell(value: float | None) -> str:
        return f"{value:.3f}" if value is not None else "&mdash;"

    rows = "".join(
        f"<tr><td>{esc(key)}</td><td>{v['mean']:.3f}</td><td>{cell(v.get('std'))}</td>"
        f"<td>{cell(v.get('stderr'))}</td><td>{v['n']}</td></tr>"
        for key, v in section.statistics.items())
    note = ("<p><small>std: sample standard deviation over the runs (ddof 1)."
            + (f" {esc(section.note)}" if section.note else "") + "</small></p>")
    return (f"<h2>Statistics over {esc(section.title)}</h2>\n<table><tr><th>figure</th><th>mean</th>"
            f"<th>std (sample)</th><th>standard error (binomial)</th><th>n</th></tr>\n{rows}</table>{note}\n")
