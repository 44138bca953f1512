"""Instability-crossing switching: does a weak control pulse latch the bright state at a bias?

For each 1064 nm bias (default: below, inside and above the bistable window, found by a sweep
run first in the same run): reset to dark (pump blocked), approach the bias from below, record
the emission trace (baseline), fire the control pulse with the emission shutter closed, record
the trace again (hold).

A spot holds several particles with different windows (``switch_window``): the default "below"
bias lies under the lowest switch-off step of the sweep's down branch and the "above" bias over
the highest switch-on step of its up branch and no lower than the top of the sweep (steps of
edge particles too small to show lie below it), so both are outside every particle's window; the
"inside" bias is the middle of the main (largest-jump) window.

Verdict per bias, from the second half of the hold against the baseline
(``acquisition.analysis.assess_latch``, so a state that falls back after the pulse does not count):
- "not latched": no rise above the noise (``max(3 I_noise, 5 standard errors)``);
- otherwise the rise is a fraction of the spot's whole dark -> bright change at the bias (the
  window sweep's down branch minus its all-dark level): "latched" from ``FULL_LATCH_FRACTION`` up
  (every particle that can be bright there was dark and latched), "partial" below it (some
  particles were already bright, or the pulse switched only some of them). Without a window
  sweep (explicit biases, ``window_sweep`` false) the fraction is unknown: "latched" when the
  baseline was dark (below ``dark_max_cps``) and the rate at least doubled, "partial" otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from acquisition.experiments.base import (POWER_ROLES, Experiment, Figure, LivePlot, ReportSection, RunData,
                                          SeriesPlot, check_calibrated_reach, check_density_limit,
                                          format_bound, joined, noise_of, number, stream_columns)
from acquisition.experiments.sweep import RESET_S, SWEEP_LOOP
from acquisition.experiments.switch_window import SpotWindow, latched_fraction, spot_window
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema
from acquisition.units import REFERENCE_NOISE_CPS, W_M2_PER_KW_CM2, W_M2_PER_W_CM2

#: default biases relative to the spot's bistable region found by the sweep: the threshold of a
#: cycle moves by a few % (focus drift, ~3 % rms), so the outside biases keep 10 % away from it
BELOW_MARGIN = 0.9
ABOVE_MARGIN = 1.1
#: a rise of at least this fraction of the spot's dark -> bright change at the bias is a full latch
FULL_LATCH_FRACTION = 0.75
LATCHED, PARTIAL, NOT_LATCHED = "latched", "partial", "not latched"
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
    Parameter("sweep_stop_kw_cm2", "Window sweep stop", "kW/cm2", "float", 12.5, minimum=0.001, maximum=1000.0,
              help="high enough to pass the spot's last switch-on step (edge particles of the focus "
                   "switch on well above the main jump)"),
    Parameter("sweep_points", "Window sweep points", "", "int", 116, minimum=3, maximum=2000),
    Parameter("noise_cps", "APD noise level", "cps", "float", REFERENCE_NOISE_CPS, minimum=0.001, maximum=1e6),
    Parameter("dark_max_cps", "Dark baseline limit", "cps", "float", DARK_MAX_CPS, minimum=1.0, maximum=1e9,
              help="without a window sweep: a baseline above this is already (partly) bright, so a "
                   "rise after the pulse is a partial latch"),
    Parameter("window_sweep", "Window sweep with explicit biases", "", "bool", False,
              help="sweep first even when biases are given: the reference for the latched fraction "
                   "(always done when no biases are given)"),
]


def _check_traces(params: dict[str, Any]) -> None:
    for name in ("baseline_s", "hold_s"):
        if params[name] < 2 * params["bin_s"]:
            raise ValueError(f"{name}={params[name]:g} s must hold at least 2 bins of bin_s={params['bin_s']:g} s; "
                             f"allowed range [{2 * params['bin_s']:g}, 600] s")
    if _sweeps(params) and params["sweep_stop_kw_cm2"] <= params["sweep_start_kw_cm2"]:
        raise ValueError(f"sweep_stop_kw_cm2={params['sweep_stop_kw_cm2']:g} must be above sweep_start_kw_cm2="
                         f"{params['sweep_start_kw_cm2']:g}; allowed range ({params['sweep_start_kw_cm2']:g}, 1000] kW/cm2")


def _sweeps(params: dict[str, Any]) -> bool:
    """The run sweeps the window first: always without biases, on request with them."""
    return not params["biases_kw_cm2"] or bool(params.get("window_sweep", False))


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
    if _sweeps(params):
        check_density_limit("sweep_stop_kw_cm2", params["sweep_stop_kw_cm2"], rig)


def switch_preflight(params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
    """At start: the biases (or the window sweep) within the stored power calibration, and the
    control density within what the control path delivered the last time it was measured at
    this wavelength with the same control-path settings (each run measures it again)."""
    if params["biases_kw_cm2"]:
        biases = params["biases_kw_cm2"]
        check_calibrated_reach("biases_kw_cm2", min(biases), max(biases), rig, calibration_store)
    if _sweeps(params):
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
    sweep = 2 * params["sweep_points"] * (0.5 + 0.1 + 0.3) if _sweeps(params) else 0.0
    return sweep + CONTROL_TUNING_ESTIMATE_S + n_bias * per_bias


def assess(baseline: np.ndarray, hold: np.ndarray, params: dict[str, Any]) -> Any:
    """Latch assessment on the trace baseline | pulse | hold; the first half of the hold is left
    out so that only a state that *stays* bright counts."""
    from acquisition.analysis import assess_latch

    bin_s = params["bin_s"]
    pulse_start = len(baseline) * bin_s
    pulse_end = pulse_start + params["pulse_s"]
    t = np.concatenate([(np.arange(len(baseline)) + 0.5) * bin_s,
                        pulse_end + (np.arange(len(hold)) + 0.5) * bin_s])
    rate = np.concatenate([baseline, hold]).astype(float) / bin_s
    return assess_latch(t, rate, pulse_start, pulse_end, settle_s=0.5 * len(hold) * bin_s,
                        noise_cps=params["noise_cps"])


@dataclass(frozen=True)
class LatchVerdict:
    """One bias: "latched", "partial" or "not latched", and the fraction of the spot's dark ->
    bright change at the bias that the pulse produced (None without a window sweep)."""

    state: str
    fraction: float | None
    before_cps: float
    after_cps: float

    @property
    def latched(self) -> bool:
        """The pulse left the spot brighter (fully or partly) for good."""
        return self.state != NOT_LATCHED

    def line(self) -> str:
        share = "" if self.fraction is None else f" ({100 * self.fraction:.0f} % of the window's emission change)"
        return self.state + (share if self.state == PARTIAL else "")


def judge(baseline: np.ndarray, hold: np.ndarray, bias_kw_cm2: float, params: dict[str, Any],
          window: SpotWindow | None) -> LatchVerdict:
    """The verdict at one bias (see the module docstring)."""
    assessment = assess(baseline, hold, params)
    before, after = assessment.before_mean_cps, assessment.after_mean_cps
    needed = max(3.0 * params["noise_cps"], 5.0 * assessment.standard_error_cps)
    fraction = latched_fraction(before, after, bias_kw_cm2, window, params["noise_cps"])
    if after - before < needed:
        state = NOT_LATCHED
    elif fraction is not None:
        state = LATCHED if fraction >= FULL_LATCH_FRACTION else PARTIAL
    else:
        dark = before <= params.get("dark_max_cps", DARK_MAX_CPS)
        state = LATCHED if assessment.latched and dark else PARTIAL
    return LatchVerdict(state, fraction, before, after)


def default_biases_kw_cm2(window: SpotWindow, switch_on: float, switch_off: float,
                          highest_kw_cm2: float) -> tuple[list[float], str | None]:
    """Below the spot's lowest switch-off step, inside (the middle of the main window) and above
    its highest switch-on step, at least at the top of the window sweep: a particle at the edge of
    the focus holds a few % of the emission, too little for its step to show between the two
    branches (``switch_window``), and switches on up to about twice the main switch-on; at the
    top of the sweep every step below it has happened whether it showed or not. The above bias
    is left out (with the reason) when the rig cannot deliver a density above the highest step
    (``highest_kw_cm2``)."""
    below = BELOW_MARGIN * window.lowest_off_kw_cm2
    inside = 0.5 * (switch_on + switch_off)
    above = min(max(ABOVE_MARGIN * window.highest_on_kw_cm2, window.top_kw_cm2), highest_kw_cm2)
    if above <= window.highest_on_kw_cm2:
        return [below, inside], (f"no bias above the window: the spot's highest switch-on step is at "
                                 f"{window.highest_on_kw_cm2:.3g} kW/cm2 and the rig delivers at most "
                                 f"{highest_kw_cm2:.3g} kW/cm2")
    return [below, inside, above], None


def _window_from_sweep(ctx: PlanContext, params: dict[str, Any]) -> tuple[dict[str, Any], SpotWindow | None]:
    """The window sweep (stream ``sweep``): its summary and the spot's bistable region."""
    from acquisition.experiments.sweep import SWEEP, run_sweep
    from acquisition.experiments.sweep_summary import summarize_sweep

    ctx.note("sweeping first to find the bistable window")
    sweep_params = SWEEP.schema.validate({"start_kw_cm2": params["sweep_start_kw_cm2"],
                                          "stop_kw_cm2": params["sweep_stop_kw_cm2"],
                                          "points": params["sweep_points"], "noise_cps": params["noise_cps"]})
    columns = run_sweep(ctx, sweep_params).columns()
    return summarize_sweep(columns, params["noise_cps"]), spot_window(columns, params["noise_cps"])


def _default_biases(ctx: PlanContext, summary: dict[str, Any], window: SpotWindow | None) -> list[float]:
    on, off = summary.get("switch_on_kw_cm2"), summary.get("switch_off_kw_cm2")
    if not summary.get("bistable") or on is None or off is None or window is None:
        raise RuntimeError(f"the window sweep found no bistable window inside its range (switch-on {on}, "
                           f"switch-off {off} kW/cm2, spot bistable region "
                           f"{'open at an end of the sweep' if window is None else 'found'}); give "
                           "biases_kw_cm2 explicitly or widen sweep_start_kw_cm2 / sweep_stop_kw_cm2")
    attenuator = ctx.power.attenuator()
    reach = attenuator.max_power_w / ctx.beam_area_m2 / W_M2_PER_KW_CM2
    # the rig allows setpoints up to its limit less the power meter's stated uncertainty
    highest = min(ctx.limits.max_density_setpoint_w_m2 / W_M2_PER_KW_CM2, 0.98 * reach)
    biases, problem = default_biases_kw_cm2(window, float(on), float(off), highest)
    if problem is not None:
        ctx.note(problem)
    return biases


def switch_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    biases = list(params["biases_kw_cm2"])
    # the control path first: a control density it cannot deliver fails the run in seconds,
    # before the pump is on, not after the window sweep
    control_density = params["control_density_w_cm2"] * W_M2_PER_W_CM2
    predicted = ctx.control.prepare(params["control_wavelength_nm"] * 1e-9, control_density)
    window: SpotWindow | None = None
    if _sweeps(params):
        ctx.power.ensure()
        sweep_summary, window = _window_from_sweep(ctx, params)
        summary.update(_window_figures(sweep_summary, window))
        if not biases:
            biases = _default_biases(ctx, sweep_summary, window)
    ctx.power.ensure()
    ctx.beam.prepare_range(max(biases) * W_M2_PER_KW_CM2)
    verdicts: dict[str, LatchVerdict] = {}
    for i, bias in enumerate(biases):
        ctx.beam.off()
        ctx.sleep(RESET_S)  # forget the previous bias: start dark
        ctx.beam.set_density(bias * W_M2_PER_KW_CM2)
        ctx.sleep(params["settle_s"])
        power = ctx.beam.measure()
        baseline = ctx.detection.count_trace(params["baseline_s"], params["bin_s"])
        ctx.control.pulse(params["pulse_s"])
        hold = ctx.detection.count_trace(params["hold_s"], params["bin_s"])
        verdict = judge(baseline, hold, bias, params, window)
        ctx.log.info("bias %.3f kW/cm2: %s (%.4g -> %.4g cps)", bias, verdict.line(), verdict.before_cps,
                     verdict.after_cps)
        verdicts[f"{bias:.3f}"] = verdict
        ctx.emit("switch", {
            "bias_w_m2": bias * W_M2_PER_KW_CM2, "density_w_m2": power.density_w_m2,
            "control_wavelength_m": params["control_wavelength_nm"] * 1e-9,
            "control_density_w_m2": predicted, "pulse_s": params["pulse_s"], "bin_s": params["bin_s"],
            "baseline_counts": baseline, "hold_counts": hold,
            "baseline_rate_cps": verdict.before_cps, "hold_rate_cps": verdict.after_cps,
            "latched": verdict.latched, "latch": verdict.state,
            "latched_fraction": math.nan if verdict.fraction is None else verdict.fraction,
            "temperature_k": ctx.cryostat.read(), "timestamp_s": ctx.clock.now()})
        ctx.progress(i + 1, len(biases), f"bias {bias:.3f} kW/cm2: {verdict.line()}")
    ctx.beam.off()
    summary.update(_verdict_figures(verdicts))
    summary.update({"control_wavelength_nm": params["control_wavelength_nm"],
                    "control_density_w_cm2": predicted / W_M2_PER_W_CM2})
    return summary


def _window_figures(sweep_summary: dict[str, Any], window: SpotWindow | None) -> dict[str, Any]:
    figures: dict[str, Any] = {"window_kw_cm2": [sweep_summary.get("switch_off_kw_cm2"),
                                                 sweep_summary.get("switch_on_kw_cm2")]}
    if window is not None:
        figures["spot_bistable_kw_cm2"] = [window.lowest_off_kw_cm2, window.highest_on_kw_cm2]
    return figures


def _verdict_figures(verdicts: dict[str, LatchVerdict]) -> dict[str, Any]:
    """The JSON figures: ``latched`` maps each bias (kW/cm2) to true/false (a partial latch is
    a latch), ``latch_by_bias_kw_cm2`` to the verdict and ``latched_fraction_by_bias_kw_cm2`` to
    the fraction of the window's emission change."""
    latched = {bias: v.latched for bias, v in verdicts.items()}
    return {"latched": latched, "latched_any": any(latched.values()), "latched_by_bias_kw_cm2": latched,
            "latch_by_bias_kw_cm2": {bias: v.state for bias, v in verdicts.items()},
            "latched_fraction_by_bias_kw_cm2": {bias: v.fraction for bias, v in verdicts.items()}}


def _stored(run: RunData) -> dict[str, Any]:
    """The run's own summary figures, under those recomputed from the points: what has no
    stored-data analysis (the control density the path delivered) is reported as measured."""
    return {k: v for k, v in (run.summary or {}).items() if k not in ("calibration", "stream_prefix")}


def analyze_switch(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """The verdict at each bias from the stored traces, against the stored window sweep."""
    from acquisition.experiments.sweep_summary import summarize_sweep

    noise = noise_of(run, noise_cps)
    columns = stream_columns(run, "switch")
    options = dict(run.params or {}, noise_cps=noise)
    result = dict(_stored(run))
    window = None
    if "sweep" in run.streams:
        window = spot_window(run.streams["sweep"], noise)
        result.update(_window_figures(summarize_sweep(run.streams["sweep"], noise), window))
    verdicts: dict[str, LatchVerdict] = {}
    for bias, baseline, hold in zip(columns["bias_w_m2"], columns["baseline_counts"], columns["hold_counts"]):
        bias_kw_cm2 = float(bias) / W_M2_PER_KW_CM2
        verdicts[f"{bias_kw_cm2:.3f}"] = judge(np.asarray(baseline), np.asarray(hold), bias_kw_cm2, options,
                                               window)
    result.update(_verdict_figures(verdicts))
    return result


def bias_lines(result: dict[str, Any], indent: str) -> list[str]:
    states = result.get("latch_by_bias_kw_cm2") or {}
    fractions = result.get("latched_fraction_by_bias_kw_cm2") or {}
    lines = []
    for bias, latched_ in (result.get("latched_by_bias_kw_cm2") or {}).items():
        state = states.get(bias, LATCHED if latched_ else NOT_LATCHED)
        fraction = fractions.get(bias)
        share = (f", {100 * fraction:.0f} % of the window's emission change"
                 if fraction is not None and state != NOT_LATCHED else "")
        lines.append(f"{indent}bias {bias} kW/cm2      {state}{share}")
    return lines


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
            label = f"{float(point['bias_w_m2']) / W_M2_PER_KW_CM2:.2f} kW/cm² ({_state_of(point)})"
            line, = ax.plot(t_base, baseline, lw=1)
            ax.plot(t_hold, hold, lw=1, color=line.get_color(), label=label)
        ax.axvspan(0, float(points[0]["pulse_s"]) if points else 1.0, color="orange", alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("time from control pulse (s)")
    ax.set_ylabel("emission (cps)")
    ax.legend(fontsize=8)
    ax.set_title("Instability-crossing switching (control pulse shaded, emission shutter closed)")
    return ReportSection("switching runs", [save(fig, folder / "switching_traces.png")])


def _state_of(point: dict[str, Any]) -> str:
    state = point.get("latch")
    if state is None:  # a run file from before partial latches were told apart
        return LATCHED if point["latched"] else NOT_LATCHED
    return state.decode() if isinstance(state, bytes) else str(state)


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
    example={"temperature_k": 77.0, "sweep_start_kw_cm2": 2.0, "sweep_stop_kw_cm2": 12.5, "sweep_points": 22,
             "baseline_s": 0.5, "hold_s": 1.0, "bin_s": 0.05})
