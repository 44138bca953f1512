"""``avalab report CAMPAIGN``: a folder with figures (PNG), a table (CSV) and an HTML page.

Figures are drawn only when the campaign has the data for them: box plots of switch-on, width
and contrast over spots (the published film statistics), threshold and width against temperature
and against chopper frequency, drift over repeated cycles, and switching traces.
"""
from __future__ import annotations

import csv
import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.campaigns.index import CampaignIndex, IndexedRun

log = logging.getLogger(__name__)

FIGURE_SIZE_IN = (9.0, 6.0)
FIGURE_DPI = 100  # 900 x 600 px figures
SWEEP_METRICS = (
    ("switch_on_kw_cm2", "switch-on (kW/cm²)"),
    ("switch_off_kw_cm2", "switch-off (kW/cm²)"),
    ("hysteresis_width_kw_cm2", "hysteresis width (kW/cm²)"),
    ("contrast_db", "switch-on contrast (dB)"),
    ("nonlinearity_s", "nonlinearity s"),
)


@dataclass
class Report:
    folder: Path
    figures: list[Path] = field(default_factory=list)
    table: Path | None = None
    page: Path | None = None
    statistics: dict[str, dict[str, float]] = field(default_factory=dict)


def sweep_statistics(runs: list[IndexedRun]) -> dict[str, dict[str, float]]:
    """Mean, spread and count of each hysteresis figure over complete sweep runs.

    The figures' spread is the sample standard deviation (``std``, ddof=1); the bistable
    fraction's is the binomial standard error of the fraction, sqrt(p (1 - p) / n), under its own
    key ``stderr`` (it says how well the fraction is known, not how spots scatter)."""
    stats: dict[str, dict[str, float]] = {}
    for key, _ in SWEEP_METRICS:
        values = _values(runs, key)
        if values.size:
            stats[key] = {"mean": float(values.mean()),
                          "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                          "n": int(values.size)}
    bistable = [bool(r.metrics.get("bistable")) for r in runs if "bistable" in r.metrics]
    if bistable:
        fraction = float(np.mean(bistable))
        stats["bistable_fraction"] = {"mean": fraction,
                                      "stderr": float(np.sqrt(fraction * (1 - fraction) / len(bistable))),
                                      "n": len(bistable)}
    return stats


def _condition(run: IndexedRun) -> tuple[Any, Any]:
    """(film position, temperature) a run was taken at; None where the campaign did not set it."""
    position = run.metrics.get("position_um")
    return (tuple(position) if isinstance(position, list) else None, _run_temperature(run))


def _spot_sweeps(runs: list[IndexedRun]) -> list[IndexedRun]:
    """Sweeps at two or more film positions (one temperature): the film statistics."""
    sweeps = [r for r in runs if r.experiment == "sweep"]
    positions = {_condition(r)[0] for r in sweeps}
    temperatures = {_condition(r)[1] for r in sweeps}
    return sweeps if len(positions) >= 2 and len(temperatures) <= 1 else []


def _repeated_sweeps(runs: list[IndexedRun]) -> list[IndexedRun]:
    """The largest group of sweeps repeated at one position and temperature (drift over cycles)."""
    groups: dict[tuple[Any, Any], list[IndexedRun]] = {}
    for run in runs:
        if run.experiment == "sweep":
            groups.setdefault(_condition(run), []).append(run)
    largest = max(groups.values(), key=len, default=[])
    return largest if len(largest) >= 3 else []


def _values(runs: list[IndexedRun], key: str) -> np.ndarray:
    values = [r.metrics.get(key) for r in runs]
    return np.array([float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                     and np.isfinite(v)])


def write_report(campaign_folder: Path, out: Path | None = None) -> Report:
    campaign_folder = Path(campaign_folder)
    if not (campaign_folder / CampaignIndex.FILENAME).exists():
        raise ValueError(f"campaign={str(campaign_folder)!r} has no {CampaignIndex.FILENAME}; "
                         "allowed: a folder written by `avalab campaign`")
    import matplotlib
    matplotlib.use("Agg")

    index = CampaignIndex(campaign_folder)
    try:
        runs = index.runs("complete")
        name = index.meta("name", campaign_folder.name)
    finally:
        index.close()
    report = Report(folder=Path(out) if out else campaign_folder / "report")
    report.folder.mkdir(parents=True, exist_ok=True)
    sweeps = [r for r in runs if r.experiment == "sweep"]
    report.statistics = sweep_statistics(sweeps)
    report.table = _write_csv(report.folder / "runs.csv", runs)
    for draw in (_film_statistics, _against_temperature, _against_frequency, _drift, _switching):
        path = draw(report.folder, runs, campaign_folder)
        if path is not None:
            report.figures.append(path)
    report.page = _write_html(report, name, runs)
    log.info("report written to %s (%d figures)", report.folder, len(report.figures))
    return report


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
def _figure(ncols: int = 1):  # noqa: ANN202 - matplotlib types
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI, squeeze=False)
    return fig, axes[0]


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)
    return path


def _film_statistics(folder: Path, runs: list[IndexedRun], _: Path) -> Path | None:
    sweeps = _spot_sweeps(runs)
    if not sweeps:
        return None
    keys = [("switch_on_kw_cm2", "switch-on (kW/cm²)"), ("hysteresis_width_kw_cm2", "width (kW/cm²)"),
            ("contrast_db", "contrast (dB)")]
    fig, axes = _figure(3)
    for ax, (key, label) in zip(axes, keys):
        values = _values(sweeps, key)
        if values.size:
            ax.boxplot(values, widths=0.5)
            jitter = 1 + 0.08 * np.random.default_rng(0).standard_normal(values.size)
            ax.plot(jitter, values, "o", alpha=0.5, color="tab:blue", markersize=4)
            ax.set_title(f"{label}\n{values.mean():.2f} ± {values.std(ddof=1) if values.size > 1 else 0:.2f} "
                         f"(n={values.size})")
        ax.set_xticks([])
        ax.set_ylabel(label)
    fig.suptitle(f"Spot statistics over {len(sweeps)} sweeps")
    return _save(fig, folder / "film_statistics.png")


def _run_temperature(run: IndexedRun) -> float | None:
    value = run.metrics.get("temperature_k", run.variables.get("temperature_k", run.variables.get("T")))
    return float(value) if isinstance(value, (int, float)) else None


def _against_temperature(folder: Path, runs: list[IndexedRun], _: Path) -> Path | None:
    sweeps = [(t, r) for r in runs if r.experiment == "sweep" and (t := _run_temperature(r)) is not None]
    if len({t for t, _ in sweeps}) < 2:
        return None
    fig, axes = _figure(2)
    for ax, key, label in ((axes[0], "switch_on_kw_cm2", "switch-on"), (axes[0], "switch_off_kw_cm2", "switch-off"),
                           (axes[1], "hysteresis_width_kw_cm2", "width")):
        points = [(t, r.metrics.get(key)) for t, r in sweeps if isinstance(r.metrics.get(key), (int, float))]
        if points:
            t, v = zip(*sorted(points))
            ax.plot(t, v, "o-", label=label)
    axes[0].set_ylabel("threshold (kW/cm²)")
    axes[1].set_ylabel("hysteresis width (kW/cm²)")
    for ax in axes:
        ax.set_xlabel("temperature (K)")
        ax.legend()
    fig.suptitle("Thresholds and width against temperature")
    return _save(fig, folder / "vs_temperature.png")


def _against_frequency(folder: Path, runs: list[IndexedRun], _: Path) -> Path | None:
    conditions = [c for r in runs if r.experiment == "pulsed" for c in r.metrics.get("conditions", [])
                  if isinstance(c, dict)]
    if len(conditions) < 2:
        return None
    fig, axes = _figure(2)
    duties = sorted({c.get("duty_cycle") for c in conditions})
    for duty in duties:
        group = sorted((c for c in conditions if c.get("duty_cycle") == duty), key=lambda c: c["frequency_hz"])
        freq = [c["frequency_hz"] for c in group]
        axes[0].plot(freq, [c.get("average_switch_on_kw_cm2", np.nan) for c in group], "o-",
                     label=f"on, duty {duty:g}")
        axes[0].plot(freq, [c.get("average_switch_off_kw_cm2", np.nan) for c in group], "s--",
                     label=f"off, duty {duty:g}")
        axes[1].plot(freq, [c.get("average_hysteresis_width_kw_cm2", np.nan) for c in group], "o-",
                     label=f"duty {duty:g}")
    axes[0].set_ylabel("average threshold (kW/cm²)")
    axes[1].set_ylabel("average width (kW/cm²)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("chopper frequency (Hz)")
        ax.legend(fontsize=8)
    fig.suptitle("Pulse modulation: thresholds against chopper frequency")
    return _save(fig, folder / "vs_frequency.png")


def _drift(folder: Path, runs: list[IndexedRun], _: Path) -> Path | None:
    sweeps = _repeated_sweeps(runs)
    if not sweeps:
        return None
    fig, axes = _figure(2)
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
    return _save(fig, folder / "drift.png")


def _switching(folder: Path, runs: list[IndexedRun], campaign_folder: Path) -> Path | None:
    switch_runs = [r for r in runs if r.experiment == "switch" and r.path]
    if not switch_runs:
        return None
    from acquisition.storage import open_run
    fig, axes = _figure(1)
    ax = axes[0]
    for run in switch_runs:
        try:
            points = open_run(campaign_folder / run.path).points("switch")
        except (ValueError, KeyError, OSError) as exc:
            log.warning("report: cannot read %s: %s", run.path, exc)
            continue
        for point in points:
            bin_s = float(point["bin_s"])
            baseline = np.asarray(point["baseline_counts"], dtype=float) / bin_s
            hold = np.asarray(point["hold_counts"], dtype=float) / bin_s
            pulse = float(point["pulse_s"])
            t_base = np.arange(baseline.size) * bin_s - baseline.size * bin_s
            t_hold = pulse + np.arange(hold.size) * bin_s
            label = (f"{float(point['bias_w_m2']) / 1e7:.2f} kW/cm² "
                     f"({'latched' if point['latched'] else 'not latched'})")
            line, = ax.plot(t_base, baseline, lw=1)
            ax.plot(t_hold, hold, lw=1, color=line.get_color(), label=label)
        ax.axvspan(0, float(points[0]["pulse_s"]) if points else 1.0, color="orange", alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("time from control pulse (s)")
    ax.set_ylabel("emission (cps)")
    ax.legend(fontsize=8)
    ax.set_title("Instability-crossing switching (control pulse shaded, emission shutter closed)")
    return _save(fig, folder / "switching_traces.png")


# ------------------------------------------------------------------------------------ page
def _write_html(report: Report, name: str, runs: list[IndexedRun]) -> Path:
    esc = html.escape
    def cell(value: float | None) -> str:
        return f"{value:.3f}" if value is not None else "&mdash;"

    stats_rows = "".join(
        f"<tr><td>{esc(key)}</td><td>{v['mean']:.3f}</td><td>{cell(v.get('std'))}</td>"
        f"<td>{cell(v.get('stderr'))}</td><td>{v['n']}</td></tr>"
        for key, v in report.statistics.items())
    stats_note = ("<p><small>std: sample standard deviation over the runs (ddof 1). "
                  "bistable_fraction: binomial standard error of the fraction, "
                  "&radic;(p(1&minus;p)/n).</small></p>" if "bistable_fraction" in report.statistics else
                  "<p><small>std: sample standard deviation over the runs (ddof 1).</small></p>")
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
<h2>Statistics over sweeps</h2>
<table><tr><th>figure</th><th>mean</th><th>std (sample)</th><th>standard error (binomial)</th><th>n</th></tr>
{stats_rows}</table>{stats_note}
<h2>Figures</h2>{figures or '<p>No figure applies to this campaign.</p>'}
<h2>Runs</h2><table><tr><th>unit</th><th>experiment</th><th>variables</th><th>figures</th><th>file</th></tr>
{run_rows}</table></body></html>
"""
    path = report.folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
