"""Pulsed (chopped) power sweeps: the CW sweep at each chopper frequency x duty cycle.

The blade follows from the frequency (MC1F10A 20-1000 Hz with variable duty, MC1F60 above).
Setpoints are the density while the blade is open (the CW-equivalent peak); the chopper sits
before the pick-off, so the meter, and therefore ``density_w_m2``, reads the average. Each
point also records ``peak_density_w_m2`` (average / duty) and the figures are reported both
ways: ``average_*`` (the published convention for chopped excitation) and the peak values.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from acquisition.blades import CHOPPER_MAX_HZ, CHOPPER_MIN_HZ, blade_for
from acquisition.experiments.base import (POWER_ROLES, Experiment, ReportSection, RunData, SeriesPlot,
                                          format_value, joined, kw_cm2_range, noise_of, number, stream_columns)
from acquisition.experiments.sweep import (SWEEP_LOOP, SWEEP_PARAMETERS, check_sweep_range, run_sweep,
                                           sweep_duration_s, sweep_preflight, sweep_rig_check)
from acquisition.experiments.sweep_summary import summarize_sweep
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema

#: time for the blade to reach a new frequency (5 spin-up time constants of the bench's MC2000B)
SPINUP_ESTIMATE_S = 4.0

PULSED_PARAMETERS: list[Parameter] = [
    Parameter("frequencies_hz", "Chopper frequencies", "Hz", "float_list", [100.0, 1000.0],
              minimum=CHOPPER_MIN_HZ, maximum=CHOPPER_MAX_HZ, min_items=1,
              help="MC1F10A blade 20-1000 Hz (variable duty), MC1F60 120-6000 Hz (50 %)"),
    Parameter("duty_cycles", "Duty cycles", "", "float_list", [0.5], minimum=0.01, maximum=1.0,
              min_items=1, help="open fraction of the period; only the MC1F10A varies it (0.1-0.9)"),
]


def check_blades(params: dict[str, Any]) -> None:
    for frequency in params["frequencies_hz"]:
        for duty in params["duty_cycles"]:
            blade_for(frequency, duty, "frequencies_hz", "duty_cycles")


def pulsed_duration_s(params: dict[str, Any]) -> float:
    combos = len(params["frequencies_hz"]) * len(params["duty_cycles"])
    return combos * (sweep_duration_s(params) + SPINUP_ESTIMATE_S)


def pulsed_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for frequency in params["frequencies_hz"]:
        for duty in params["duty_cycles"]:
            blade = ctx.chopper.run(frequency, duty)
            ctx.note(f"pulsed sweep at {frequency:g} Hz, duty {duty:g} ({blade})")
            recorder = run_sweep(ctx, params, "sweep",
                                 {"frequency_hz": float(frequency), "duty_cycle": float(duty), "blade": blade},
                                 duty_cycle=duty)
            results.append(summarize_group(recorder.columns(), frequency, duty, blade, params["noise_cps"]))
    ctx.chopper.stop()
    return {"conditions": results, "bistable_any": any(r.get("bistable") for r in results)}


def summarize_group(columns: dict[str, np.ndarray], frequency: float, duty: float, blade: str,
                    noise_cps: float) -> dict[str, Any]:
    """Figures of one frequency x duty group, average (as measured) and peak densities."""
    figures = summarize_sweep(columns, noise_cps, {"frequency_hz": frequency, "duty_cycle": duty})
    result: dict[str, Any] = {"frequency_hz": frequency, "duty_cycle": duty, "blade": blade}
    for key, value in figures.items():
        if key in ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2"):
            result["average_" + key] = value
            result["peak_" + key] = value / duty if value is not None else None
        else:
            result[key] = value
    return result


def analyze_pulsed(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """Figures of each chopper condition from the stored ``sweep`` stream."""
    columns = stream_columns(run, "sweep")
    noise = noise_of(run, noise_cps)
    pairs = sorted({(float(f), float(d)) for f, d in zip(columns["frequency_hz"], columns["duty_cycle"])})
    blades = {(float(f), float(d)): str(b) for f, d, b in
              zip(columns["frequency_hz"], columns["duty_cycle"], columns["blade"])}
    results = [summarize_group(columns, f, d, blades[(f, d)], noise) for f, d in pairs]
    return {"conditions": results, "bistable_any": any(r.get("bistable") for r in results)}


def condition_lines(result: dict[str, Any], indent: str) -> list[str]:
    """One line per chopper condition: its average switch-on and whether it is bistable."""
    return [f"{indent}{c.get('frequency_hz'):g} Hz duty {c.get('duty_cycle'):g}: switch-on "
            f"{format_value(c.get('average_switch_on_kw_cm2'), 'kW/cm2')} (average), bistable {c.get('bistable')}"
            for c in result.get("conditions", []) or []]


def pulsed_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """One panel per chopper frequency (rows) x duty cycle (columns), one legend below."""
    from acquisition.plotting import figure_legend, plot_pulsed, pulsed_conditions

    columns = stream_columns(run, "sweep")
    frequencies, duties = pulsed_conditions(columns)
    fig.set_size_inches(1.0 + 4.2 * len(duties), 1.2 + 3.4 * len(frequencies))
    axes = plot_pulsed(fig, columns, figures.get("conditions", []))
    figure_legend(fig, axes)
    fig.set_layout_engine("tight", rect=(0, 0.04, 1, 1))
    return "one panel per chopper condition"


def _series_size(n: int, figures: list[dict[str, Any]]) -> tuple[float, float]:
    pairs = {(c.get("frequency_hz"), c.get("duty_cycle")) for r in figures for c in r.get("conditions", [])}
    rows = len({f for f, _ in pairs}) or 1
    cols = len({d for _, d in pairs}) or 1
    return 1.2 + 4.4 * cols, 1.4 + 3.2 * rows


def _draw_series(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    from acquisition.plotting import plot_series_pulsed

    return plot_series_pulsed(fig, setpoints, figures)


def pulsed_queue_label(params: dict[str, Any]) -> str:
    frequencies = params.get("frequencies_hz") or []
    shown = (",".join(number(f) for f in frequencies[:3]) + ("…" if len(frequencies) > 3 else "") + " Hz"
             if frequencies else None)
    return joined([kw_cm2_range(params), shown])


def pulsed_report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection | None:
    """Average thresholds and width against chopper frequency, a line per duty cycle."""
    import numpy as np

    from acquisition.campaigns.report import figure, save

    conditions = [c for r in runs for c in r.metrics.get("conditions", []) if isinstance(c, dict)]
    if len(conditions) < 2:
        return None
    fig, axes = figure(2)
    for duty in sorted({c.get("duty_cycle") for c in conditions}):
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
    return ReportSection("pulsed sweeps", [save(fig, folder / "vs_frequency.png")])


#: one loop per chopper condition (a new condition starts the panel afresh)
PULSED_LOOP = replace(SWEEP_LOOP, group_by=("frequency_hz", "duty_cycle"),
                      group_title=(("frequency_hz", "chopper {:g} Hz"), ("duty_cycle", "duty {:g}")))

PULSED = Experiment(
    name="pulsed", title="Chopped-excitation power sweeps",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *SWEEP_PARAMETERS, *PULSED_PARAMETERS],
                           (check_sweep_range, check_blades)),
    plan=pulsed_plan, duration=pulsed_duration_s, rig_check=sweep_rig_check, preflight=sweep_preflight,
    roles=(*POWER_ROLES, "chopper"), analyze=analyze_pulsed, detail_lines=condition_lines,
    file_plot=pulsed_file_plot, live=(PULSED_LOOP,), queue_label=pulsed_queue_label, report=pulsed_report,
    series_plot=SeriesPlot(_draw_series, "sweep", _series_size),
    example={"frequencies_hz": [100.0], "duty_cycles": [0.8], "start_kw_cm2": 2.0, "stop_kw_cm2": 12.0,
             "points": 6, "dwell_s": 0.1, "settle_s": 0.1})
