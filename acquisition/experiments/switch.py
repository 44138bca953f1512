"""Instability-crossing switching: does a weak control pulse latch the bright state at a bias?

For each 1064 nm bias (default: below, inside and above the bistable window, found by a sweep
run first in the same run): reset to dark (pump blocked), approach the bias from below, record
the emission trace (baseline), fire the control pulse with the emission shutter closed, record
the trace again (hold). The state latched when the baseline was dark (below ``dark_max_cps``) and
``acquisition.analysis.assess_latch`` finds the second half of the hold bright against it: a spot
already bright before the pulse (bias above the window, where heterogeneous particles may still
brighten further) or one that falls back after the pulse (bias below it) did not latch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from acquisition.experiments.base import (POWER_ROLES, Experiment, Figure, LivePlot, ReportSection, RunData,
                                          SeriesPlot, check_calibrated_reach, check_density_limit,
                                          format_bound, joined, noise_of, number, stream_columns)
from acquisition.experiments.sweep import RESET_S, SWEEP_LOOP
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema
from acquisition.units import REFERENCE_NOISE_CPS, W_M2_PER_KW_CM2, W_M2_PER_W_CM2

#: default biases relative to the window found by the sweep
BELOW_FACTOR = 0.6
ABOVE_FACTOR = 1.2
CONTROL_TUNING_ESTIMATE_S = 10.0
DARK_MAX_CPS = 1000.0

SWITCH_PARAMETERS: list[Parameter] = [
    Parameter("biases_kw_cm2", "1064 nm biases", "kW/cm2", "float_list", [], minimum=0.001,
              maximum=1000.0, help="empty: below, inside and above the window of a sweep run first"),
    Parameter("control_wavelength_nm", "Control wavelength", "nm", "float", 808.0, minimum=300.0,
              maximum=2000.0, help="745, 808 or 875 nm in the reference work; must be in the laser's range"),
    Parameter("control_density_w_cm2", "Control density", "W/cm2", "float", 7.0, minimum=0.001,
              maximum=1e5),
    Parameter("pulse_s", "Control pulse duration", "s", "float", 1.0, minimum=0.001, maximum=60.0),
    Parameter("baseline_s", "Baseline trace", "s", "float", 2.0, minimum=0.01, maximum=600.0),
    Parameter("hold_s", "Hold trace", "s", "float", 3.0, minimum=0.01, maximum=600.0),
    Parameter("bin_s", "Trace bin", "s", "float", 0.05, minimum=1e-4, maximum=10.0),
    Parameter("settle_s", "Settle at bias", "s", "float", 0.5, minimum=0.0, maximum=60.0),
    Parameter("sweep_start_kw_cm2", "Window sweep start", "kW/cm2", "float", 1.0, minimum=0.001, maximum=1000.0),
    Parameter("sweep_stop_kw_cm2", "Window sweep stop", "kW/cm2", "float", 10.0, minimum=0.001, maximum=1000.0),
    Parameter("sweep_points", "Window sweep points", "", "int", 91, minimum=3, maximum=2000),
    Parameter("noise_cps", "APD noise level", "cps", "float", REFERENCE_NOISE_CPS, minimum=0.001, maximum=1e6),
    Parameter("dark_max_cps", "Dark baseline limit", "cps", "float", DARK_MAX_CPS, minimum=1.0, maximum=1e9,
              help="a baseline above this is already bright: nothing to latch"),
]


def _check_traces(params: dict[str, Any]) -> None:
    for name in ("baseline_s", "hold_s"):
        if params[name] < 2 * params["bin_s"]:
            raise ValueError(f"{name}={params[name]:g} s must hold at least 2 bins of bin_s={params['bin_s']:g} s; "
                             f"allowed range [{2 * params['bin_s']:g}, 600] s")
    if not params["biases_kw_cm2"] and params["sweep_stop_kw_cm2"] <= params["sweep_start_kw_cm2"]:
        raise ValueError(f"sweep_stop_kw_cm2={params['sweep_stop_kw_cm2']:g} must be above sweep_start_kw_cm2="
                         f"{params['sweep_start_kw_cm2']:g}; allowed range ({params['sweep_start_kw_cm2']:g}, 1000] kW/cm2")


def _control_range_m(rig: Any) -> tuple[float, float]:
    laser = getattr(rig, "control_laser", None)
    if laser is None:
        raise ValueError("control_laser=None: this rig has no control laser; allowed: a rig file "
                         "with a [instruments.control_laser] entry")
    low, high = laser.wavelength_range
    return float(low), float(high)


def switch_rig_check(params: dict[str, Any], rig: Any) -> None:
    low, high = _control_range_m(rig)
    wavelength_m = params["control_wavelength_nm"] * 1e-9
    if not low - 1e-12 <= wavelength_m <= high + 1e-12:
        raise ValueError(f"control_wavelength_nm={params['control_wavelength_nm']:g} nm is outside the control "
                         f"laser's range; allowed range [{low * 1e9:g}, {high * 1e9:g}] nm")
    for bias in params["biases_kw_cm2"]:
        check_density_limit("biases_kw_cm2", bias, rig)
    if not params["biases_kw_cm2"]:
        check_density_limit("sweep_stop_kw_cm2", params["sweep_stop_kw_cm2"], rig)


def switch_preflight(params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
    """At start: the biases (or the window sweep) within the stored power calibration, and the
    control density within what the control path delivered the last time it was measured at
    this wavelength with the same control-path settings (each run measures it again)."""
    if params["biases_kw_cm2"]:
        biases = params["biases_kw_cm2"]
        check_calibrated_reach("biases_kw_cm2", min(biases), max(biases), rig, calibration_store)
    else:
        check_calibrated_reach("sweep_stop_kw_cm2", params["sweep_start_kw_cm2"], params["sweep_stop_kw_cm2"],
                               rig, calibration_store, low_field="sweep_start_kw_cm2")
    wavelength_nm = params["control_wavelength_nm"]
    reach = calibration_store.load_control_range(rig.config, wavelength_nm * 1e-9)
    if reach is None:
        return
    low, high = reach[0] / W_M2_PER_W_CM2, reach[1] / W_M2_PER_W_CM2
    density = params["control_density_w_cm2"]
    if not low <= density <= high:
        side = "above" if density > high else "below"
        raise ValueError(f"control_density_w_cm2={density:g} W/cm2 is {side} what the control path delivers "
                         f"at {wavelength_nm:g} nm; allowed range [{format_bound(low, True)}, {format_bound(high, False)}] W/cm2 "
                         "(as last measured on this rig)")


def switch_duration_s(params: dict[str, Any]) -> float:
    n_bias = len(params["biases_kw_cm2"]) or 3
    per_bias = RESET_S + params["settle_s"] + params["baseline_s"] + params["pulse_s"] + params["hold_s"] + 1.0
    sweep = 0.0 if params["biases_kw_cm2"] else 2 * params["sweep_points"] * (0.5 + 0.1 + 0.3)
    return sweep + CONTROL_TUNING_ESTIMATE_S + n_bias * per_bias


def assess(baseline: np.ndarray, hold: np.ndarray, params: dict[str, Any]) -> Any:
    """Latch verdict on the trace baseline | pulse | hold; the first half of the hold is left out
    so that only a state that *stays* bright counts."""
    from acquisition.analysis import assess_latch

    bin_s = params["bin_s"]
    pulse_start = len(baseline) * bin_s
    pulse_end = pulse_start + params["pulse_s"]
    t = np.concatenate([(np.arange(len(baseline)) + 0.5) * bin_s,
                        pulse_end + (np.arange(len(hold)) + 0.5) * bin_s])
    rate = np.concatenate([baseline, hold]).astype(float) / bin_s
    return assess_latch(t, rate, pulse_start, pulse_end, settle_s=0.5 * len(hold) * bin_s,
                        noise_cps=params["noise_cps"])


def latched(verdict: Any, params: dict[str, Any]) -> bool:
    """Dark before the pulse and bright after it."""
    return bool(verdict.latched and verdict.before_mean_cps <= params.get("dark_max_cps", DARK_MAX_CPS))


def default_biases_kw_cm2(switch_on: float, switch_off: float, limit_kw_cm2: float) -> list[float]:
    """Below, inside (the middle) and above the window."""
    return [BELOW_FACTOR * switch_off, 0.5 * (switch_on + switch_off),
            min(ABOVE_FACTOR * switch_on, 0.95 * limit_kw_cm2)]


def _window_from_sweep(ctx: PlanContext, params: dict[str, Any]) -> tuple[float, float]:
    ctx.note("no biases given: sweeping first to find the bistable window")
    summary = ctx.run_plan("sweep", {"start_kw_cm2": params["sweep_start_kw_cm2"],
                                     "stop_kw_cm2": params["sweep_stop_kw_cm2"],
                                     "points": params["sweep_points"], "noise_cps": params["noise_cps"]})
    on, off = summary.get("switch_on_kw_cm2"), summary.get("switch_off_kw_cm2")
    if not summary.get("bistable") or on is None or off is None:
        raise RuntimeError(f"the window sweep found no bistable window (switch-on {on}, switch-off {off} "
                           "kW/cm2); give biases_kw_cm2 explicitly")
    return float(on), float(off)


def switch_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    biases = list(params["biases_kw_cm2"])
    # the control path first: a control density it cannot deliver fails the run in seconds,
    # before the pump is on, not after the window sweep
    control_density = params["control_density_w_cm2"] * W_M2_PER_W_CM2
    predicted = ctx.control.prepare(params["control_wavelength_nm"] * 1e-9, control_density)
    if not biases:
        on, off = _window_from_sweep(ctx, params)
        biases = default_biases_kw_cm2(on, off, ctx.limits.max_power_density_w_m2 / W_M2_PER_KW_CM2)
        summary["window_kw_cm2"] = [off, on]
    ctx.power.ensure()
    ctx.beam.prepare_range(max(biases) * W_M2_PER_KW_CM2)
    results: dict[str, bool] = {}
    for i, bias in enumerate(biases):
        ctx.beam.off()
        ctx.sleep(RESET_S)  # forget the previous bias: start dark
        ctx.beam.set_density(bias * W_M2_PER_KW_CM2)
        ctx.sleep(params["settle_s"])
        power = ctx.beam.measure()
        baseline = ctx.detection.count_trace(params["baseline_s"], params["bin_s"])
        ctx.control.pulse(params["pulse_s"])
        hold = ctx.detection.count_trace(params["hold_s"], params["bin_s"])
        verdict = assess(baseline, hold, params)
        state = latched(verdict, params)
        ctx.log.info("bias %.3f kW/cm2: %s", bias, verdict.reason)
        results[f"{bias:.3f}"] = state
        ctx.emit("switch", {
            "bias_w_m2": bias * W_M2_PER_KW_CM2, "density_w_m2": power.density_w_m2,
            "control_wavelength_m": params["control_wavelength_nm"] * 1e-9,
            "control_density_w_m2": predicted, "pulse_s": params["pulse_s"], "bin_s": params["bin_s"],
            "baseline_counts": baseline, "hold_counts": hold,
            "baseline_rate_cps": verdict.before_mean_cps, "hold_rate_cps": verdict.after_mean_cps,
            "latched": state, "temperature_k": ctx.cryostat.read(), "timestamp_s": ctx.clock.now()})
        ctx.progress(i + 1, len(biases), f"bias {bias:.3f} kW/cm2: {'latched' if state else 'not latched'}")
    ctx.beam.off()
    # the JSON contract: "latched" maps each bias (kW/cm2) to true/false
    summary.update({"latched": results, "latched_any": any(results.values()), "latched_by_bias_kw_cm2": results,
                    "control_wavelength_nm": params["control_wavelength_nm"],
                    "control_density_w_cm2": predicted / W_M2_PER_W_CM2})
    return summary


def _stored(run: RunData) -> dict[str, Any]:
    """The run's own summary figures, under those recomputed from the points: what has no
    stored-data analysis (the control density the path delivered) is reported as measured."""
    return {k: v for k, v in (run.summary or {}).items() if k not in ("calibration", "stream_prefix")}


def analyze_switch(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """Latched or not at each bias from the stored traces, and the window of the stored sweep."""
    from acquisition.experiments.sweep_summary import summarize_sweep

    noise = noise_of(run, noise_cps)
    columns = stream_columns(run, "switch")
    options = dict(run.params or {}, noise_cps=noise)
    results: dict[str, bool] = {}
    for bias, baseline, hold in zip(columns["bias_w_m2"], columns["baseline_counts"], columns["hold_counts"]):
        verdict = assess(np.asarray(baseline), np.asarray(hold), options)
        results[f"{float(bias) / W_M2_PER_KW_CM2:.3f}"] = latched(verdict, options)
    result = {**_stored(run), "latched": results, "latched_any": any(results.values()),
              "latched_by_bias_kw_cm2": results}
    if "sweep" in run.streams:
        window = summarize_sweep(run.streams["sweep"], noise)
        result["window_kw_cm2"] = [window.get("switch_off_kw_cm2"), window.get("switch_on_kw_cm2")]
    return result


def bias_lines(result: dict[str, Any], indent: str) -> list[str]:
    return [f"{indent}bias {bias} kW/cm2      {'latched' if state else 'not latched'}"
            for bias, state in (result.get("latched_by_bias_kw_cm2") or {}).items()]


def switch_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """The window sweep with the biases marked beside the emission traces."""
    from acquisition.plotting import plot_switch, window_summary

    fig.set_size_inches(12.0 if "sweep" in run.streams else 7.5, 4.8)
    stream_columns(run, "switch")
    plot_switch(fig, run.streams, window_summary(figures.get("window_kw_cm2")), dict(run.params or {}))
    return ""


def _series_size(n: int, figures: list[dict[str, Any]]) -> tuple[float, float]:
    return 12.0, max(4.8, 2.2 + 0.6 * n)


def _draw_series(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    from acquisition.plotting import plot_series_switch

    return plot_series_switch(fig, setpoints, figures)


def switch_queue_label(params: dict[str, Any]) -> str:
    biases = params.get("biases_kw_cm2") or []
    wavelength = params.get("control_wavelength_nm")
    return joined([f"{len(biases)} biases" if biases else None,
                   f"{number(wavelength)} nm" if wavelength is not None else None])


def switch_report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection | None:
    """The emission traces of every switch run, the control pulse shaded."""
    import logging

    from acquisition.campaigns.report import figure, save
    from acquisition.storage import open_run

    runs = [r for r in runs if r.path]
    if not runs:
        return None
    fig, axes = figure(1)
    ax = axes[0]
    for run in runs:
        try:
            points = open_run(campaign_folder / run.path).points("switch")
        except (ValueError, KeyError, OSError) as exc:
            logging.getLogger(__name__).warning("report: cannot read %s: %s", run.path, exc)
            continue
        for point in points:
            bin_s = float(point["bin_s"])
            baseline = np.asarray(point["baseline_counts"], dtype=float) / bin_s
            hold = np.asarray(point["hold_counts"], dtype=float) / bin_s
            pulse = float(point["pulse_s"])
            t_base = np.arange(baseline.size) * bin_s - baseline.size * bin_s
            t_hold = pulse + np.arange(hold.size) * bin_s
            label = (f"{float(point['bias_w_m2']) / W_M2_PER_KW_CM2:.2f} kW/cm² "
                     f"({'latched' if point['latched'] else 'not latched'})")
            line, = ax.plot(t_base, baseline, lw=1)
            ax.plot(t_hold, hold, lw=1, color=line.get_color(), label=label)
        ax.axvspan(0, float(points[0]["pulse_s"]) if points else 1.0, color="orange", alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("time from control pulse (s)")
    ax.set_ylabel("emission (cps)")
    ax.legend(fontsize=8)
    ax.set_title("Instability-crossing switching (control pulse shaded, emission shutter closed)")
    return ReportSection("switching runs", [save(fig, folder / "switching_traces.png")])


#: the trace of each bias as it is measured (baseline | control pulse | hold), then the window
SWITCH_TRACE = LivePlot("trace", "switch", segments=("baseline_counts", "hold_counts"), bin_field="bin_s",
                        gap_field="pulse_s", caption=("bias_w_m2", W_M2_PER_KW_CM2, "bias {:.3g} kW/cm²"),
                        flag=("latched", " — latched", " — not latched"))

SWITCH = Experiment(
    name="switch", title="Control-pulse switching (instability crossing)",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *SWITCH_PARAMETERS], (_check_traces,)),
    plan=switch_plan, duration=switch_duration_s, rig_check=switch_rig_check,
    preflight=switch_preflight, roles=(*POWER_ROLES, "control_laser", "control_attenuator"),
    analyze=analyze_switch, figures=(Figure("latched_any", "latched at any bias"),), detail_lines=bias_lines,
    file_plot=switch_file_plot, live=(SWITCH_TRACE, SWEEP_LOOP), queue_label=switch_queue_label,
    report=switch_report, series_plot=SeriesPlot(_draw_series, "switch", _series_size),
    example={"temperature_k": 77.0, "sweep_start_kw_cm2": 2.0, "sweep_stop_kw_cm2": 9.0, "sweep_points": 15,
             "baseline_s": 0.5, "hold_s": 1.0, "bin_s": 0.05})
