"""Scan-rate control: the hysteresis loop measured at several dwell times per point.

The published control experiment: the window must not depend on how fast the power is scanned
(0.1-10 s of counting per point, each after a 0.5 s settle delay). For each dwell time the CW
sweep (up then down, each repeat from the dark state) is repeated ``repeats`` times; the figures
of each dwell are the mean and sample spread over its repeats. The check: for switch-on and for
the hysteresis width, every two dwell times agree when their means differ by less than
AGREEMENT_SIGMAS combined standard errors; a repeat's threshold is only known to the scan's
step, so each spread is at least the step's quantisation (step / sqrt(12)).
"""
from __future__ import annotations

import math
from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np

from acquisition.experiments.base import (POWER_ROLES, Experiment, Figure, ReportSection, RunData, SeriesPlot,
                                          format_value, joined, kw_cm2_range, noise_of, number, stream_columns)
from acquisition.experiments.sweep import (LOOP_FIGURES, SWEEP_LOOP, SWEEP_PARAMETERS, check_sweep_range,
                                           densities_w_m2, run_sweep, sweep_duration_s, sweep_preflight,
                                           sweep_rig_check)
from acquisition.experiments.sweep_summary import summarize_sweep
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema
from acquisition.units import W_M2_PER_KW_CM2

#: two dwell times agree when their means differ by less than this many combined standard errors
AGREEMENT_SIGMAS = 2.0
#: the figures compared across dwell times (mean and spread over repeats)
COMPARED = (("switch_on_kw_cm2", "switch-on"), ("hysteresis_width_kw_cm2", "width"))
PER_DWELL = ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db")

_FROM_SWEEP = [p for p in SWEEP_PARAMETERS if p.name not in ("dwell_s", "refine", "resolution_kw_cm2")]
SCAN_RATE_PARAMETERS: list[Parameter] = [
    *[replace(p, default=46, help="default: 0.2 kW/cm2 steps") if p.name == "points" else
      replace(p, default=3, minimum=2, help="per dwell time: the spread the dwell times are compared with")
      if p.name == "repeats" else p for p in _FROM_SWEEP],
    Parameter("dwells_s", "Dwell times", "s", "float_list", [0.1, 1.0, 10.0], minimum=0.1, maximum=10.0,
              min_items=2, help="counting time per point, each a full set of repeats (published: 0.1-10 s)"),
]


def _check_distinct_dwells(params: dict[str, Any]) -> None:
    seen = sorted(params["dwells_s"])
    for a, b in zip(seen, seen[1:]):
        if math.isclose(a, b):
            raise ValueError(f"dwells_s={b:g} s is given twice; allowed: distinct dwell times in [0.1, 10] s")


def _sweep_params(params: dict[str, Any], dwell_s: float) -> dict[str, Any]:
    return {**params, "dwell_s": float(dwell_s), "refine": False, "resolution_kw_cm2": 0.05}


def scan_rate_duration_s(params: dict[str, Any]) -> float:
    return sum(sweep_duration_s(_sweep_params(params, dwell)) for dwell in params["dwells_s"])


def _step_kw_cm2(params: dict[str, Any]) -> float:
    grid = sorted(densities_w_m2(params))
    steps = np.diff(grid) if len(grid) > 1 else np.array([0.0])
    return float(np.max(steps)) / W_M2_PER_KW_CM2


def scan_rate_figures(columns: dict[str, Any], params: dict[str, Any], noise_cps: float) -> dict[str, Any]:
    """Figures per dwell time (mean, sample spread over repeats) and whether they agree."""
    dwells = sorted({float(d) for d in np.asarray(columns["dwell_s"], float)})
    quantisation = _step_kw_cm2(params) / math.sqrt(12.0)
    by_dwell = []
    for dwell in dwells:
        figures = summarize_sweep(columns, noise_cps, {"dwell_s": dwell})
        entry: dict[str, Any] = {"dwell_s": dwell, "repeats": figures["repeats"], "bistable": figures["bistable"]}
        for key in PER_DWELL:
            entry[key] = figures.get(key)
            std_key = key.replace("_kw_cm2", "_std_kw_cm2") if key.endswith("_kw_cm2") else key + "_std"
            entry[std_key] = figures.get(std_key, 0.0 if figures.get(key) is not None else None)
        by_dwell.append(entry)
    result: dict[str, Any] = {"dwells_s": dwells, "by_dwell": by_dwell}
    agree_all = True
    for key, label in COMPARED:
        std_key = key.replace("_kw_cm2", "_std_kw_cm2")
        means = [e[key] for e in by_dwell]
        spread_key = key.replace("_kw_cm2", "_spread_kw_cm2")
        if any(m is None for m in means):
            result[spread_key] = None
            result[key.replace("_kw_cm2", "_agree")] = None
            result.setdefault("notes", []).append(f"{label} not found at every dwell time: not compared")
            agree_all = False
            continue
        errors = [math.hypot(e[std_key] or 0.0, quantisation) / math.sqrt(max(e["repeats"], 1)) for e in by_dwell]
        agree = all(abs(means[i] - means[j]) <= AGREEMENT_SIGMAS * math.hypot(errors[i], errors[j])
                    for i, j in combinations(range(len(means)), 2))
        result[spread_key] = float(max(means) - min(means))
        result[key.replace("_kw_cm2", "_agree")] = bool(agree)
        agree_all = agree_all and agree
    result["window_independent_of_dwell"] = bool(agree_all)
    result["bistable"] = bool(by_dwell and all(e["bistable"] for e in by_dwell))
    return result


def analyze_scan_rate(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """The per-dwell figures and the agreement check from the stored ``sweep`` stream."""
    return scan_rate_figures(stream_columns(run, "sweep"), dict(run.params or {}), noise_of(run, noise_cps))


def scan_rate_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for k, dwell in enumerate(params["dwells_s"]):
        ctx.note(f"scan rate: dwell {dwell:g} s per point ({k + 1}/{len(params['dwells_s'])})")
        rows += run_sweep(ctx, _sweep_params(params, dwell)).rows
    columns = {key: np.asarray([row[key] for row in rows]) for key in rows[0]}
    summary = scan_rate_figures(columns, params, params["noise_cps"])
    ctx.log.info("scan rate: switch-on spread %s kW/cm2, width spread %s kW/cm2, independent of dwell: %s",
                 summary["switch_on_spread_kw_cm2"], summary["hysteresis_width_spread_kw_cm2"],
                 summary["window_independent_of_dwell"])
    return summary


def dwell_lines(result: dict[str, Any], indent: str) -> list[str]:
    def pm(entry: dict[str, Any], key: str) -> str:
        std = entry.get(key.replace("_kw_cm2", "_std_kw_cm2"))
        return format_value(entry.get(key)) + (f" ± {std:.2g}" if entry.get(key) is not None and std else "")
    return [f"{indent}dwell {e['dwell_s']:g} s: switch-on {pm(e, 'switch_on_kw_cm2')}, width "
            f"{pm(e, 'hysteresis_width_kw_cm2')} kW/cm2 ({e['repeats']} repeats)"
            for e in result.get("by_dwell", []) or []]


def _dwell_axes(ax: Any, by_dwell: list[dict[str, Any]]) -> None:
    """Switch-on, switch-off and width (mean ± spread over repeats) against dwell time."""
    from acquisition.plotting import DOWN_COLOUR, UP_COLOUR

    dwell = [e["dwell_s"] for e in by_dwell]
    for key, label, colour, marker in (("switch_on_kw_cm2", "switch-on", UP_COLOUR, "o"),
                                       ("switch_off_kw_cm2", "switch-off", DOWN_COLOUR, "s"),
                                       ("hysteresis_width_kw_cm2", "width", "black", "^")):
        values = [np.nan if e.get(key) is None else e[key] for e in by_dwell]
        spread = [e.get(key.replace("_kw_cm2", "_std_kw_cm2")) or 0.0 for e in by_dwell]
        ax.errorbar(dwell, values, yerr=spread, color=colour, marker=marker, capsize=3, lw=1, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("dwell time per point (s)")
    ax.set_ylabel("density (kW/cm$^2$)")
    ax.grid(True, which="both", alpha=0.3)


def scan_rate_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """One I-P loop per dwell time, and the thresholds and width against dwell time."""
    from acquisition.plotting import plot_sweep

    columns = stream_columns(run, "sweep")
    by_dwell = figures.get("by_dwell", [])
    fig.set_size_inches(3.4 * len(by_dwell) + 4.6, 4.6)
    axes = fig.subplots(1, len(by_dwell) + 1, gridspec_kw={"width_ratios": [1.0] * len(by_dwell) + [1.3]})
    dwell_column = np.asarray(columns["dwell_s"], float)
    for ax, entry in zip(axes, by_dwell):
        plot_sweep(ax, columns, entry, rows=np.isclose(dwell_column, entry["dwell_s"]), threshold_labels=False)
        ax.set_title(f"dwell {entry['dwell_s']:g} s", fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    _dwell_axes(axes[-1], by_dwell)
    verdict = figures.get("window_independent_of_dwell")
    axes[-1].set_title("window vs dwell: " + ("independent" if verdict else "depends on dwell"), fontsize=9)
    axes[-1].legend(fontsize=8)
    return "hysteresis at each dwell time"


def _draw_series(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    """Switch-on against temperature, one line per dwell time (spread as error bars)."""
    ax = fig.subplots()
    dwells = sorted({e["dwell_s"] for f in figures for e in f.get("by_dwell", [])})
    for dwell in dwells:
        points = [(s.temperature_k, e) for s, f in zip(setpoints, figures) for e in f.get("by_dwell", [])
                  if e["dwell_s"] == dwell and e.get("switch_on_kw_cm2") is not None]
        if points:
            ax.errorbar([t for t, _ in points], [e["switch_on_kw_cm2"] for _, e in points],
                        yerr=[e.get("switch_on_std_kw_cm2") or 0.0 for _, e in points], marker="o",
                        capsize=3, label=f"dwell {dwell:g} s")
    ax.set_xlabel("temperature (K)")
    ax.set_ylabel("switch-on (kW/cm$^2$)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return [ax]


def scan_rate_queue_label(params: dict[str, Any]) -> str:
    dwells = params.get("dwells_s") or []
    return joined([("dwell " + ",".join(number(d) for d in dwells) + " s") if dwells else None,
                   kw_cm2_range(params)])


def scan_rate_report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection:
    """The window against dwell time, one line per run, and how often it was dwell-independent."""
    from acquisition.campaigns.report import figure, save, statistics

    fig, axes = figure(1)
    for run in runs:
        by_dwell = [e for e in run.metrics.get("by_dwell", []) if isinstance(e, dict)]
        if by_dwell:
            _dwell_axes(axes[0], by_dwell)
    axes[0].set_title("Scan-rate control: thresholds and width against dwell time (one set per run)")
    verdicts = [bool(r.metrics.get("window_independent_of_dwell")) for r in runs
                if "window_independent_of_dwell" in r.metrics]
    stats = statistics(runs, ["switch_on_spread_kw_cm2", "hysteresis_width_spread_kw_cm2"])
    if verdicts:
        fraction = float(np.mean(verdicts))
        stats["window_independent_fraction"] = {"mean": fraction, "n": len(verdicts),
                                                "stderr": math.sqrt(fraction * (1 - fraction) / len(verdicts))}
    return ReportSection("scan-rate runs", [save(fig, folder / "scan_rate.png")], stats)


SCAN_RATE = Experiment(
    name="scan_rate", title="Scan-rate control (hysteresis vs dwell time)",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *SCAN_RATE_PARAMETERS],
                           (check_sweep_range, _check_distinct_dwells)),
    plan=scan_rate_plan, duration=scan_rate_duration_s, rig_check=sweep_rig_check, preflight=sweep_preflight,
    roles=POWER_ROLES, analyze=analyze_scan_rate,
    figures=(Figure("switch_on_spread_kw_cm2", "switch-on spread", "kW/cm2"),
             Figure("hysteresis_width_spread_kw_cm2", "width spread", "kW/cm2"),
             Figure("window_independent_of_dwell", "independent of dwell"),
             next(f for f in LOOP_FIGURES if f.key == "bistable")),
    detail_lines=dwell_lines, file_plot=scan_rate_file_plot,
    live=(replace(SWEEP_LOOP, group_by=("dwell_s",), group_title=(("dwell_s", "dwell {:g} s"),)),),
    queue_label=scan_rate_queue_label, report=scan_rate_report,
    series_plot=SeriesPlot(_draw_series, "sweep", lambda n, figures: (7.5, 4.8)),
    example={"start_kw_cm2": 2.0, "stop_kw_cm2": 9.0, "points": 15, "repeats": 2,
             "dwells_s": [0.1, 1.0]})
