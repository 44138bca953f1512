"""Time-resolved rise and decay under chopped excitation (TCSPC histogram on the chopper edge).

The chopper's reference edge is the TCSPC marker: the blade opens at the edge (phase 0) and
stays open for ``duty_cycle`` of the period. The histogram of photon delays after each edge over
one period therefore holds the rise (pump on, 0 .. duty x period) and the decay (pump off, the
rest). Rise time: 95 % of the steady state after pump-on; decay time: area under the normalised
decay after pump-off (``acquisition.analysis.kinetics``). The dark-count floor is subtracted for
the decay only, as the analysis module's definition asks when it is not negligible. Both figures
are None with the same 'no signal' reason when the pump-on half of the histogram holds no more
than dark counts (``signal_problem``: 2 x the floor and 5 sigma above it).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from acquisition.blades import CHOPPER_MAX_HZ, CHOPPER_MIN_HZ, blade_for
from acquisition.experiments.base import (POWER_ROLES, Experiment, Figure, LivePlot, ReportSection, RunData,
                                          SeriesPlot, check_calibrated_reach, check_density_limit, joined,
                                          number, stream_columns)
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema
from acquisition.units import W_M2_PER_KW_CM2

MAX_HISTOGRAM_BINS = 65536  # HydraHarp MAXHISTLEN
SPINUP_ESTIMATE_S = 4.0

LIFETIME_PARAMETERS: list[Parameter] = [
    Parameter("density_kw_cm2", "Pump density (blade open)", "kW/cm2", "float", 12.0, minimum=0.001,
              maximum=1000.0, help="well above switch-on, so the spot avalanches within one open period"),
    Parameter("frequency_hz", "Chopper frequency", "Hz", "float", 20.0, minimum=CHOPPER_MIN_HZ,
              maximum=CHOPPER_MAX_HZ),
    Parameter("duty_cycle", "Duty cycle", "", "float", 0.5, minimum=0.01, maximum=1.0),
    Parameter("acquisition_s", "Acquisition time", "s", "float", 5.0, minimum=0.001, maximum=3600.0),
    Parameter("bin_width_s", "Histogram bin", "s", "float", 50e-6, minimum=1e-12, maximum=0.1),
    Parameter("settle_s", "Settle before acquiring", "s", "float", 1.0, minimum=0.0, maximum=60.0),
    Parameter("dark_counts_cps", "Dark-count floor", "cps", "float", 80.0, minimum=0.0, maximum=1e6,
              help="subtracted for the decay area only"),
]


def _n_bins(params: dict[str, Any]) -> int:
    return int(math.ceil(1.0 / params["frequency_hz"] / params["bin_width_s"]))


def _check(params: dict[str, Any]) -> None:
    blade_for(params["frequency_hz"], params["duty_cycle"])
    n = _n_bins(params)
    if not 8 <= n <= MAX_HISTOGRAM_BINS:
        low = 1.0 / params["frequency_hz"] / MAX_HISTOGRAM_BINS
        high = 1.0 / params["frequency_hz"] / 8
        raise ValueError(f"bin_width_s={params['bin_width_s']:g} s gives {n} bins per chopper period; "
                         f"allowed range [{low:.3g}, {high:.3g}] s at frequency_hz={params['frequency_hz']:g}")


def _rig_check(params: dict[str, Any], rig: Any) -> None:
    check_density_limit("density_kw_cm2", params["density_kw_cm2"], rig)


def lifetime_preflight(params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
    """At start: the pump density (blade open, what the attenuator sets) within what the stored
    power calibration reaches."""
    density = params["density_kw_cm2"]
    check_calibrated_reach("density_kw_cm2", density, density, rig, calibration_store)


def lifetime_duration_s(params: dict[str, Any]) -> float:
    return SPINUP_ESTIMATE_S + params["settle_s"] + params["acquisition_s"] + 2.0


def kinetics(t: np.ndarray, counts: np.ndarray, params: dict[str, Any]) -> dict[str, Any]:
    """Rise (95 %) and decay (area) times of one chopper-period histogram; a figure that
    cannot be computed (no emission) is None with the reason next to it."""
    from acquisition.analysis import decay_time_area, rise_time_95
    from acquisition.analysis.kinetics import signal_problem

    t_off = params["duty_cycle"] / params["frequency_hz"]
    rate = np.asarray(counts, dtype=float)
    # dark counts per bin over the whole acquisition, to express the floor in histogram units
    periods = params["acquisition_s"] * params["frequency_hz"]
    floor = params["dark_counts_cps"] * params["bin_width_s"] * periods
    figures: dict[str, Any] = {}
    no_signal = signal_problem(t, rate, 0.0, t_off, floor)
    if no_signal is not None:  # one criterion for both figures: no rise and no decay of dark counts
        for key in ("rise_time_s", "decay_time_s"):
            figures[key] = None
            figures[key.replace("_s", "_problem")] = no_signal
        return figures
    for key, compute in (("rise_time_s", lambda: rise_time_95(t, rate, 0.0, t_off)),
                         ("decay_time_s", lambda: decay_time_area(t, rate, t_off, baseline=floor))):
        try:
            figures[key] = float(compute())
        except ValueError as exc:  # e.g. no emission at this density: report why, keep the data
            figures[key] = None
            figures[key.replace("_s", "_problem")] = str(exc)
    return figures


def lifetime_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    density = params["density_kw_cm2"] * W_M2_PER_KW_CM2
    ctx.power.ensure()
    ctx.beam.prepare_range(density)
    blade = ctx.chopper.run(params["frequency_hz"], params["duty_cycle"])
    ctx.beam.set_density(density)
    ctx.sleep(params["settle_s"])
    n_bins = _n_bins(params)
    counts = ctx.tcspc.histogram(params["acquisition_s"], params["bin_width_s"], n_bins)
    power = ctx.beam.measure()
    ctx.beam.off()
    ctx.chopper.stop()
    t = (np.arange(len(counts)) + 0.5) * params["bin_width_s"]
    t_off = params["duty_cycle"] / params["frequency_hz"]
    summary: dict[str, Any] = {"blade": blade, "frequency_hz": params["frequency_hz"],
                               "duty_cycle": params["duty_cycle"], "total_counts": int(counts.sum()),
                               "average_density_kw_cm2": power.density_w_m2 / W_M2_PER_KW_CM2,
                               **kinetics(t, counts, params)}
    for key in ("rise_time_problem", "decay_time_problem"):
        if key in summary:
            ctx.log.warning("%s: %s", key, summary[key])
    ctx.emit("histogram", {"delay_s": t, "counts": counts, "bin_width_s": params["bin_width_s"],
                           "pump_off_s": t_off, "frequency_hz": params["frequency_hz"],
                           "duty_cycle": params["duty_cycle"], "density_w_m2": power.density_w_m2,
                           "setpoint_w_m2": density, "temperature_k": ctx.cryostat.read()})
    return summary


def analyze_lifetime(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """Rise and decay times from the stored histogram; the blade, counts and average density
    the run measured come from its stored summary."""
    columns = stream_columns(run, "histogram")
    stored = {k: v for k, v in (run.summary or {}).items() if k not in ("calibration", "stream_prefix")}
    return {**stored, **kinetics(np.asarray(columns["delay_s"])[0], np.asarray(columns["counts"])[0],
                                 dict(run.params or {}))}


def lifetime_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """The TCSPC histogram (log counts) against delay after the chopper edge."""
    from acquisition.plotting import finish_single_axes

    columns = stream_columns(run, "histogram")
    ax = fig.subplots()
    ax.semilogy(np.asarray(columns["delay_s"])[0] * 1e3, np.maximum(np.asarray(columns["counts"])[0], 0.5))
    ax.axvline(float(columns["pump_off_s"][0]) * 1e3, color="black", ls="--", label="pump off")
    ax.set_xlabel("delay after chopper edge (ms)")
    ax.set_ylabel("counts per bin")
    finish_single_axes(ax)
    return ""


def _draw_series(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    from acquisition.plotting import plot_series_lifetime

    return plot_series_lifetime(fig, setpoints, figures)


def lifetime_queue_label(params: dict[str, Any]) -> str:
    density, frequency = params.get("density_kw_cm2"), params.get("frequency_hz")
    return joined([f"{number(density)} kW/cm²" if density is not None else None,
                   f"{number(frequency)} Hz" if frequency is not None else None])


def lifetime_report(runs: list[Any], folder: Any, campaign_folder: Any) -> ReportSection:
    """Mean and spread of the rise and decay times over the lifetime runs."""
    from acquisition.campaigns.report import statistics

    return ReportSection("lifetime runs", [], statistics(runs, ["rise_time_s", "decay_time_s"]))


LIFETIME = Experiment(
    name="lifetime", title="Rise and decay times (TCSPC, chopped excitation)",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *LIFETIME_PARAMETERS], (_check,)),
    plan=lifetime_plan, duration=lifetime_duration_s, rig_check=_rig_check,
    preflight=lifetime_preflight, roles=(*POWER_ROLES, "chopper", "tagger"), analyze=analyze_lifetime,
    figures=(Figure("rise_time_s", "rise time (95 %)", "s"), Figure("decay_time_s", "decay time (area)", "s")),
    file_plot=lifetime_file_plot, live=(LivePlot("histogram", "histogram", x="delay_s", y="counts"),),
    queue_label=lifetime_queue_label, report=lifetime_report,
    series_plot=SeriesPlot(_draw_series, "histogram", lambda n, figures: (12.0, 4.8)),
    example={"acquisition_s": 1.0, "bin_width_s": 2e-4})
