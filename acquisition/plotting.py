"""PNG plots of run files for the CLI (matplotlib, Agg backend: no display needed).

Everything is drawn from the stored run (``open_run``), so ``avalab analyze RUN.h5 --plot`` and
``avalab <experiment> --plot`` give the same figure.

- sweep: log-log emission rate vs power density, up scan red, down scan blue, switch-on and
  switch-off marked;
- pulsed: one panel per chopper condition (rows: frequency, columns: duty cycle), same axes
  as a sweep with the *average* density (what the meter reads) on x, the condition, blade and
  thresholds (average and peak) in each panel's title;
- switch: the window sweep with the biases marked, and the emission traces against time from
  the start of the control pulse (baseline at negative times, the pulse shaded, then the hold);
- lifetime: the TCSPC histogram; calibrate: the half-wave-plate curve; series: their sweeps.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KW_CM2 = 1e7
UP_COLOUR, DOWN_COLOUR = "tab:red", "tab:blue"
DENSITY_LABEL = "power density (kW/cm$^2$)"
RATE_LABEL = "emission (counts/s)"
TRACE_COLOURS = ("tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive")


def _text(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def plot_sweep(ax: Any, columns: dict[str, np.ndarray], summary: dict[str, Any], label: str = "",
               rows: np.ndarray | None = None, threshold_labels: bool = True) -> None:
    """Up (red) and down (blue) scans of ``columns`` (optionally only ``rows``) on log-log axes,
    the summary's switch-on (dashed) and switch-off (dotted) densities as vertical lines."""
    direction = _text(columns["direction"])
    selected = np.ones(direction.size, bool) if rows is None else np.asarray(rows, bool)
    main = np.asarray(columns["pass"]) == 0 if "pass" in columns else np.ones(direction.size, bool)
    density = np.asarray(columns["density_w_m2"], float) / KW_CM2
    rate = np.maximum(np.asarray(columns["rate_cps"], float), 1.0)
    for name, colour in (("up", UP_COLOUR), ("down", DOWN_COLOUR)):
        these = selected & main & (direction == name)
        ax.plot(density[these], rate[these], "o-", color=colour, ms=3, lw=1, label=f"{label}{name}")
        refine = selected & ~main & (direction == name)
        if refine.any():
            ax.plot(density[refine], rate[refine], "x", color=colour, ms=4, label=f"{label}{name} refinement")
    for key, style, text in (("switch_on_kw_cm2", "--", "switch-on"), ("switch_off_kw_cm2", ":", "switch-off")):
        value = _number(summary.get(key))
        if value:
            ax.axvline(value, color="black", ls=style, lw=1,
                       label=f"{text} {value:.3g} kW/cm2" if threshold_labels else text)
    ax.set_xscale("log")
    ax.set_yscale("log")
    readable_log_ticks(ax.xaxis)
    ax.set_xlabel(DENSITY_LABEL)
    ax.set_ylabel(RATE_LABEL)


def readable_log_ticks(axis: Any) -> None:
    """Plain numbers at 1, 2, 5 x 10^n on a log axis (a density axis spans about one decade,
    where the default labels are 10^0, 10^1 and overlapping minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


# ---- pulsed (chopped) sweeps ---------------------------------------------------------------------
def pulsed_conditions(columns: dict[str, np.ndarray]) -> tuple[list[float], list[float]]:
    """The chopper frequencies and duty cycles present in a pulsed sweep stream, sorted."""
    frequencies = sorted({float(f) for f in np.asarray(columns["frequency_hz"], float)})
    duties = sorted({float(d) for d in np.asarray(columns["duty_cycle"], float)})
    return frequencies, duties


def _condition_title(condition: dict[str, Any], frequency: float, duty: float, top_kw_cm2: float) -> str:
    head = f"{frequency:g} Hz, duty {duty:g}"
    if condition.get("blade"):
        head += f" ({condition['blade']})"
    on = _number(condition.get("average_switch_on_kw_cm2"))
    off = _number(condition.get("average_switch_off_kw_cm2"))
    if on is None:
        figures = f"no switch-on up to {top_kw_cm2:.3g} kW/cm$^2$ avg (peak {top_kw_cm2 / duty:.3g})"
    else:
        figures = f"on {on:.3g}" + (f" / off {off:.3g}" if off is not None else "") + " kW/cm$^2$ avg"
        peak_on = _number(condition.get("peak_switch_on_kw_cm2"))
        if peak_on is not None:
            figures += f" (peak on {peak_on:.3g})"
    if condition.get("bistable"):
        figures += ", bistable"
    return f"{head}\n{figures}"


def plot_pulsed(fig: Any, columns: dict[str, np.ndarray], conditions: list[dict[str, Any]]) -> list[Any]:
    """One log-log panel per frequency (rows) x duty cycle (columns); returns the axes used."""
    frequencies, duties = pulsed_conditions(columns)
    by_condition = {(float(c.get("frequency_hz", math.nan)), float(c.get("duty_cycle", math.nan))): c
                    for c in conditions}
    frequency = np.asarray(columns["frequency_hz"], float)
    duty = np.asarray(columns["duty_cycle"], float)
    grid = fig.subplots(len(frequencies), len(duties), sharex=True, sharey=True, squeeze=False)
    used = []
    for i, f in enumerate(frequencies):
        for j, d in enumerate(duties):
            ax = grid[i][j]
            rows = np.isclose(frequency, f) & np.isclose(duty, d)
            if not rows.any():
                ax.set_visible(False)
                continue
            condition = by_condition.get((f, d), {})
            summary = {"switch_on_kw_cm2": condition.get("average_switch_on_kw_cm2"),
                       "switch_off_kw_cm2": condition.get("average_switch_off_kw_cm2")}
            plot_sweep(ax, columns, summary, rows=rows, threshold_labels=False)
            top = float(np.nanmax(np.asarray(columns["density_w_m2"], float)[rows])) / KW_CM2
            ax.set_title(_condition_title(condition, f, d, top), fontsize=9)
            ax.grid(True, which="major", alpha=0.3)
            ax.label_outer()
            used.append(ax)
    for ax in used:  # label_outer hides inner labels; keep the units on the outer ones
        if ax.get_xlabel():
            ax.set_xlabel("average " + DENSITY_LABEL)
    return used


def _figure_legend(fig: Any, axes: list[Any]) -> None:
    """One legend for the whole figure (first occurrence of each label), under the panels."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="lower center",
                   ncol=min(len(handles), 6), fontsize=8, frameon=False)


# ---- switching ------------------------------------------------------------------------------------
def switch_trace_time(n_baseline: int, n_hold: int, bin_s: float, pulse_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres (s) from the start of the control pulse: the baseline ends at 0, the pulse
    lasts ``pulse_s``, the hold starts when it ends (the timeline the latch analysis uses)."""
    baseline = (np.arange(n_baseline) + 0.5 - n_baseline) * bin_s
    hold = pulse_s + (np.arange(n_hold) + 0.5) * bin_s
    return baseline, hold


def plot_switch_traces(ax: Any, columns: dict[str, np.ndarray], wavelength_nm: float | None = None) -> None:
    bins = np.asarray(columns["bin_s"], float)
    pulses = np.asarray(columns["pulse_s"], float)
    latched = columns.get("latched")
    floor = math.inf
    for k, (bias, base, hold) in enumerate(zip(columns["bias_w_m2"], columns["baseline_counts"],
                                              columns["hold_counts"])):
        bin_s, pulse_s = float(bins[k]), float(pulses[k])
        base, hold = np.asarray(base, float), np.asarray(hold, float)
        t_base, t_hold = switch_trace_time(base.size, hold.size, bin_s, pulse_s)
        # an empty bin has no place on a log axis: draw it at half a count per bin
        floor = min(floor, 0.5 / bin_s)
        state = ""
        if latched is not None:
            state = " (latched)" if bool(np.asarray(latched)[k]) else " (not latched)"
        colour = TRACE_COLOURS[k % len(TRACE_COLOURS)]
        ax.step(t_base, np.maximum(base, 0.5) / bin_s, where="mid", color=colour, lw=1.2,
                label=f"bias {float(bias) / KW_CM2:.2f} kW/cm$^2${state}")
        ax.step(t_hold, np.maximum(hold, 0.5) / bin_s, where="mid", color=colour, lw=1.2)
    pulse_s = float(np.max(pulses)) if pulses.size else 0.0
    name = f"{wavelength_nm:.0f} nm " if wavelength_nm else ""
    ax.axvspan(0.0, pulse_s, color="gold", alpha=0.35, lw=0,
               label=f"{name}control pulse ({pulse_s:g} s, APD blocked)")
    ax.axvline(0.0, color="black", lw=0.6)
    ax.set_yscale("log")
    if math.isfinite(floor):
        ax.set_ylim(bottom=floor * 0.8)
    ax.set_xlabel("time from the start of the control pulse (s)")
    ax.set_ylabel(RATE_LABEL + ", empty bins at 1/2 count")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")


def plot_switch(fig: Any, streams: dict[str, dict[str, np.ndarray]], summary: dict[str, Any],
                params: dict[str, Any]) -> None:
    columns = streams["switch"]
    wavelength = None
    if "control_wavelength_m" in columns and len(columns["control_wavelength_m"]):
        wavelength = float(np.asarray(columns["control_wavelength_m"], float)[0]) * 1e9
    elif params.get("control_wavelength_nm"):
        wavelength = float(params["control_wavelength_nm"])
    if "sweep" in streams:
        ax_sweep, ax_trace = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.5]})
        plot_sweep(ax_sweep, streams["sweep"], summary)
        for k, bias in enumerate(np.asarray(columns["bias_w_m2"], float) / KW_CM2):
            ax_sweep.axvline(bias, color=TRACE_COLOURS[k % len(TRACE_COLOURS)], lw=2, alpha=0.6)
        ax_sweep.set_title("window sweep (thick lines: the biases, coloured as their traces)", fontsize=9)
        ax_sweep.grid(True, which="major", alpha=0.3)
        ax_sweep.legend(fontsize=7, loc="lower right")
    else:
        ax_trace = fig.subplots()
    plot_switch_traces(ax_trace, columns, wavelength)
    ax_trace.set_title("emission at each bias: baseline | control pulse | hold", fontsize=9)


# ---- the figure of a run --------------------------------------------------------------------------
def _window_summary(window: Any) -> dict[str, Any]:
    if isinstance(window, (list, tuple)) and len(window) == 2:
        return {"switch_off_kw_cm2": window[0], "switch_on_kw_cm2": window[1]}
    return {}


def plot_run_file(run_path: Path, png_path: Path) -> Path:
    """Plot the run at ``run_path`` into ``png_path``; returns the PNG path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    run = open_run(run_path)
    streams = run.streams
    title = f"{run.experiment} {run.run_id}"
    fig = plt.figure(figsize=(6.4, 4.8), dpi=120)
    try:
        legend_below = False
        if run.experiment == "pulsed" and "sweep" in streams and "frequency_hz" in streams["sweep"]:
            conditions = reanalyze(run).get("conditions", [])
            frequencies, duties = pulsed_conditions(streams["sweep"])
            fig.set_size_inches(1.0 + 4.2 * len(duties), 1.2 + 3.4 * len(frequencies))
            axes = plot_pulsed(fig, streams["sweep"], conditions)
            _figure_legend(fig, axes)
            legend_below = True
            title += " - one panel per chopper condition"
        elif run.experiment == "switch" and "switch" in streams:
            summary = reanalyze(run)
            fig.set_size_inches(12.0 if "sweep" in streams else 7.5, 4.8)
            plot_switch(fig, streams, _window_summary(summary.get("window_kw_cm2")), dict(run.params or {}))
        else:
            ax = fig.subplots()
            if run.experiment == "sweep" and "sweep" in streams:
                plot_sweep(ax, streams["sweep"], reanalyze(run))
            elif run.experiment == "lifetime" and "histogram" in streams:
                columns = streams["histogram"]
                ax.semilogy(np.asarray(columns["delay_s"])[0] * 1e3,
                            np.maximum(np.asarray(columns["counts"])[0], 0.5))
                ax.axvline(float(columns["pump_off_s"][0]) * 1e3, color="black", ls="--", label="pump off")
                ax.set_xlabel("delay after chopper edge (ms)")
                ax.set_ylabel("counts per bin")
            elif "calibration" in streams:
                columns = streams["calibration"]
                stage = _text(columns["stage"])
                rows = stage == "plate"
                ax.plot(np.asarray(columns["angle_deg"])[rows],
                        np.asarray(columns["objective_power_w"])[rows] * 1e6, "o")
                ax.set_xlabel("half-wave plate angle (deg)")
                ax.set_ylabel("power into the objective (uW)")
            else:
                for name in (name for name in streams if name.endswith("sweep")):
                    plot_sweep(ax, streams[name], {}, label=name.replace("sweep", ""))
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout(rect=(0, 0.04 if legend_below else 0, 1, 1))
        png_path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png_path)
    finally:
        plt.close(fig)
    log.info("plot written to %s", png_path)
    return png_path
