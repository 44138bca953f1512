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
- lifetime: the TCSPC histogram; calibrate: the half-wave-plate curve;
- temperature series, by inner experiment (setpoints in temperature order, found from the
  ``T<kelvin>K_`` stream prefixes, so an aborted series shows the setpoints it reached):
  sweep: one I-P panel per setpoint + switch-on/switch-off vs temperature (window shaded);
  pulsed: one panel per chopper condition, average thresholds vs temperature (peak on the right
  axis); switch: latched vs bias at each setpoint over the sweep's window + emission before and
  after the pulse; lifetime: rise/decay vs temperature + the histograms normalised;
  calibrate: the plate curves.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.units import W_M2_PER_KW_CM2

log = logging.getLogger(__name__)

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
    density = np.asarray(columns["density_w_m2"], float) / W_M2_PER_KW_CM2
    rate = np.maximum(np.asarray(columns["rate_cps"], float), 1.0)
    repeat = np.asarray(columns["repeat"]) if "repeat" in columns else np.zeros(direction.size, int)
    for name, colour in (("up", UP_COLOUR), ("down", DOWN_COLOUR)):
        for k, r in enumerate(sorted(set(repeat[selected & main & (direction == name)].tolist()))):
            # one line per repeat: the next repeat starts again from the dark end
            these = selected & main & (direction == name) & (repeat == r)
            ax.plot(density[these], rate[these], "o-", color=colour, ms=3, lw=1,
                    label=f"{label}{name}" if k == 0 else "_nolegend_")
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
            top = float(np.nanmax(np.asarray(columns["density_w_m2"], float)[rows])) / W_M2_PER_KW_CM2
            ax.set_title(_condition_title(condition, f, d, top), fontsize=9)
            ax.grid(True, which="major", alpha=0.3)
            ax.label_outer()
            used.append(ax)
    for ax in used:  # label_outer hides inner labels; keep the units on the outer ones
        if ax.get_xlabel():
            ax.set_xlabel("average " + DENSITY_LABEL)
    return used


def figure_legend(fig: Any, axes: list[Any], loc: str = "lower center") -> None:
    """One legend for the whole figure (first occurrence of each label), under the panels
    (``loc="outside lower center"`` with the constrained layout)."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc=loc,
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
        if "latch" in columns:  # "latched", "partial" or "not latched"
            verdict = np.asarray(columns["latch"])[k]
            state = f" ({verdict.decode() if isinstance(verdict, bytes) else verdict})"
        elif latched is not None:
            state = " (latched)" if bool(np.asarray(latched)[k]) else " (not latched)"
        colour = TRACE_COLOURS[k % len(TRACE_COLOURS)]
        ax.step(t_base, np.maximum(base, 0.5) / bin_s, where="mid", color=colour, lw=1.2,
                label=f"bias {float(bias) / W_M2_PER_KW_CM2:.2f} kW/cm$^2${state}")
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
        for k, bias in enumerate(np.asarray(columns["bias_w_m2"], float) / W_M2_PER_KW_CM2):
            ax_sweep.axvline(bias, color=TRACE_COLOURS[k % len(TRACE_COLOURS)], lw=2, alpha=0.6)
        ax_sweep.set_title("window sweep (thick lines: the biases, coloured as their traces)", fontsize=9)
        ax_sweep.grid(True, which="major", alpha=0.3)
        ax_sweep.legend(fontsize=7, loc="lower right")
    else:
        ax_trace = fig.subplots()
    plot_switch_traces(ax_trace, columns, wavelength)
    ax_trace.set_title("emission at each bias: baseline | control pulse | hold", fontsize=9)


# ---- the figure of a run --------------------------------------------------------------------------
def window_summary(window: Any) -> dict[str, Any]:
    """A switch run's ``window_kw_cm2`` [off, on] as the thresholds ``plot_sweep`` marks."""
    if isinstance(window, (list, tuple)) and len(window) == 2:
        return {"switch_off_kw_cm2": window[0], "switch_on_kw_cm2": window[1]}
    return {}


def finish_single_axes(ax: Any) -> None:
    """A legend on a single-panel figure when anything is labelled."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def plot_run(fig: Any, run: Any) -> str:
    """Draw ``run`` (a stored run) into ``fig`` with its experiment's own file plot and figures
    (``Experiment.file_plot``, ``Experiment.analyze``); returns the figure's title."""
    from acquisition.experiments import EXPERIMENTS
    from acquisition.reanalysis import reanalyze

    title = f"{run.experiment} {run.run_id}"
    experiment = EXPERIMENTS.get(run.experiment)
    if experiment is None or experiment.file_plot is None:
        ax = fig.subplots()
        ax.text(0.5, 0.5, f"no plot is defined for experiment {run.experiment!r}", ha="center", va="center")
        ax.set_axis_off()
        return title
    try:
        figures = reanalyze(run)
    except (KeyError, ValueError, IndexError) as exc:  # too few points: draw them, figures as stored
        log.info("plot of %s without re-analysis: %s", run.run_id, exc)
        figures = dict(run.summary or {})
    suffix = experiment.file_plot(fig, run, figures)
    return title + (f" - {suffix}" if suffix else "")


def plot_run_file(run_path: Path, png_path: Path) -> Path:
    """Plot the run at ``run_path`` into ``png_path``; returns the PNG path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from acquisition.storage import open_run

    run = open_run(run_path)
    fig = plt.figure(figsize=(6.4, 4.8), dpi=120)
    try:
        fig.suptitle(plot_run(fig, run), fontsize=10)
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        png_path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png_path)
    finally:
        plt.close(fig)
    log.info("plot written to %s", png_path)
    return png_path


# ---- temperature series ---------------------------------------------------------------------------
TEMPERATURE_LABEL = "temperature (K)"
ON_STYLE = {"color": UP_COLOUR, "ls": "--", "marker": "o"}
OFF_STYLE = {"color": DOWN_COLOUR, "ls": ":", "marker": "s"}
WINDOW_COLOUR = "0.85"
LATCHED_COLOUR, NOT_LATCHED_COLOUR = "tab:green", "0.45"


def temperature_colours(temperatures: list[float]) -> dict[float, Any]:
    """A colour per setpoint, cold (dark blue) to hot (orange), evenly spread over the setpoints
    given; the colour map has no pale middle, so every line shows on white."""
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    ordered = sorted(set(temperatures))
    if len(ordered) == 1:
        return {ordered[0]: cmap(0.0)}
    return {t: cmap(0.8 * i / (len(ordered) - 1)) for i, t in enumerate(ordered)}


#: a TCSPC histogram is drawn with at most this many bins (adjacent bins summed)
DISPLAY_BINS = 200


def rebin(delay: np.ndarray, counts: np.ndarray, max_bins: int = DISPLAY_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Adjacent bins summed so that at most ``max_bins`` remain (bin centres averaged); a
    histogram of a few hundred counts over thousands of bins is otherwise all noise."""
    factor = max(1, math.ceil(counts.size / max_bins))
    n = counts.size // factor * factor
    if factor == 1 or n == 0:
        return delay, counts
    return delay[:n].reshape(-1, factor).mean(axis=1), counts[:n].reshape(-1, factor).sum(axis=1)


def _threshold_lines(ax: Any, kelvin: list[float], on: list[float | None], off: list[float | None],
                     top: list[float]) -> None:
    """Switch-on and switch-off against temperature, the bistable window between them shaded;
    a setpoint whose switch-on was not found is a hollow triangle at the top of its scan."""
    order = np.argsort(np.asarray(kelvin, float))
    t = np.asarray(kelvin, float)[order]
    on_a = np.array([np.nan if v is None else v for v in on], float)[order]
    off_a = np.array([np.nan if v is None else v for v in off], float)[order]
    top = list(np.asarray(top, float)[order])
    both = np.isfinite(on_a) & np.isfinite(off_a)
    if both.any():
        # shaded between neighbouring setpoints that both have a window; a window with no such
        # neighbour (fill_between draws nothing there) is a grey bar
        joined = np.zeros(both.size, bool)
        joined[:-1] |= both[:-1] & both[1:]
        joined[1:] |= both[:-1] & both[1:]
        if joined.any():
            ax.fill_between(t, np.where(both, off_a, np.nan), np.where(both, on_a, np.nan), color=WINDOW_COLOUR,
                            lw=0, label="bistable window")
        alone = both & ~joined
        if alone.any():
            ax.vlines(t[alone], off_a[alone], on_a[alone], color=WINDOW_COLOUR, lw=10,
                      label="bistable window" if not joined.any() else "_nolegend_")
    ax.plot(t, on_a, lw=1.2, ms=5, label="switch-on", **ON_STYLE)
    ax.plot(t, off_a, lw=1.2, ms=5, label="switch-off", **OFF_STYLE)
    missing = ~np.isfinite(on_a)
    if missing.any():
        ax.plot(t[missing], np.asarray(top, float)[missing], "^", mfc="none", color=UP_COLOUR, ms=7,
                label="no switch-on up to the scan top")
    ax.set_xlabel(TEMPERATURE_LABEL)
    ax.grid(True, alpha=0.3)
    if len(t):
        pad = max(0.05 * float(t.max() - t.min()), 5.0)
        ax.set_xlim(float(t.min()) - pad, float(t.max()) + pad)


def _scan_top_kw_cm2(columns: dict[str, np.ndarray], rows: np.ndarray | None = None) -> float:
    density = np.asarray(columns.get("density_w_m2", []), float)
    if rows is not None:
        density = density[rows]
    return float(np.nanmax(density)) / W_M2_PER_KW_CM2 if density.size else math.nan


def sweep_grid(n: int) -> tuple[int, int]:
    """Rows and columns of I-P panels for ``n`` setpoints: at most 3 a row, rows filled evenly."""
    rows = max(1, math.ceil(n / 3))
    return rows, max(1, math.ceil(n / rows))


def plot_series_sweep(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    """One log-log I-P panel per setpoint (up red, down blue, thresholds marked; shared axes) and,
    on the right, switch-on / switch-off against temperature with the window shaded."""
    n = len(setpoints)
    nrows, ncols = sweep_grid(n)
    grid = fig.add_gridspec(nrows, ncols + 1, width_ratios=[1.0] * ncols + [1.25])
    panels: list[Any] = []
    for k, (setpoint, result) in enumerate(zip(setpoints, figures)):
        share = panels[0] if panels else None
        ax = fig.add_subplot(grid[k // ncols, k % ncols], sharex=share, sharey=share)
        plot_sweep(ax, setpoint.streams["sweep"], result, threshold_labels=False)
        on, off = _number(result.get("switch_on_kw_cm2")), _number(result.get("switch_off_kw_cm2"))
        text = (f"on {on:.3g} / off {off:.3g} kW/cm$^2$" if on is not None and off is not None
                else f"on {on:.3g} kW/cm$^2$, no switch-off" if on is not None else "no switch-on")
        ax.set_title(f"{setpoint.temperature_k:g} K: {text}", fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        panels.append(ax)
    for k, ax in enumerate(panels):  # labels on the outer panels only
        if k // ncols != (n - 1) // ncols and k + ncols < n:
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
        if k % ncols:
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
    if panels:  # top left of an I-P panel is empty (no bright state at low density)
        panels[0].legend(fontsize=7, loc="upper left")
    summary_ax = fig.add_subplot(grid[:, ncols])
    _threshold_lines(summary_ax, [s.temperature_k for s in setpoints],
                     [_number(r.get("switch_on_kw_cm2")) for r in figures],
                     [_number(r.get("switch_off_kw_cm2")) for r in figures],
                     [_scan_top_kw_cm2(s.streams["sweep"]) for s in setpoints])
    summary_ax.set_ylabel("threshold " + DENSITY_LABEL)
    summary_ax.yaxis.set_label_position("right")
    summary_ax.yaxis.tick_right()
    summary_ax.set_title("thresholds vs temperature", fontsize=9)
    summary_ax.legend(fontsize=8, loc="best")
    return panels + [summary_ax]


def plot_series_pulsed(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    """One panel per chopper condition (rows: frequency, columns: duty, as for a pulsed run):
    average switch-on / switch-off against temperature with the window shaded; the right axis
    reads the same densities as open-blade peak (average / duty)."""
    pairs = sorted({(float(c["frequency_hz"]), float(c["duty_cycle"])) for r in figures
                    for c in r.get("conditions", []) if "frequency_hz" in c and "duty_cycle" in c})
    frequencies = sorted({f for f, _ in pairs})
    duties = sorted({d for _, d in pairs})
    grid = fig.subplots(len(frequencies), len(duties), sharex=True, sharey=True, squeeze=False)
    used: list[Any] = []
    for i, f in enumerate(frequencies):
        for j, d in enumerate(duties):
            ax = grid[i][j]
            if (f, d) not in pairs:
                ax.set_visible(False)
                continue
            kelvin, on, off, top, blade = [], [], [], [], ""
            for setpoint, result in zip(setpoints, figures):
                condition = next((c for c in result.get("conditions", [])
                                  if np.isclose(float(c.get("frequency_hz", math.nan)), f)
                                  and np.isclose(float(c.get("duty_cycle", math.nan)), d)), None)
                if condition is None:
                    continue
                blade = blade or str(condition.get("blade") or "")
                columns = setpoint.streams["sweep"]
                rows = (np.isclose(np.asarray(columns["frequency_hz"], float), f)
                        & np.isclose(np.asarray(columns["duty_cycle"], float), d))
                kelvin.append(setpoint.temperature_k)
                on.append(_number(condition.get("average_switch_on_kw_cm2")))
                off.append(_number(condition.get("average_switch_off_kw_cm2")))
                top.append(_scan_top_kw_cm2(columns, rows))
            _threshold_lines(ax, kelvin, on, off, top)
            ax.set_title(f"{f:g} Hz, duty {d:g}" + (f" ({blade})" if blade else ""), fontsize=9)
            ax.set_ylabel("average " + DENSITY_LABEL)
            peak = ax.secondary_yaxis("right", functions=(lambda x, d=d: x / d, lambda x, d=d: x * d))
            peak.set_ylabel(f"peak density (kW/cm$^2$) = average / {d:g}", fontsize=8)
            peak.tick_params(labelsize=8)
            used.append(ax)
    for ax in used:
        ax.label_outer()
    figure_legend(fig, used, loc="outside lower center")
    return used


def plot_series_switch(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    """Left: for each setpoint (one row) the bistable window of its sweep as a grey bar and each
    bias as a marker, filled green where the control pulse latched the bright state. Right: the
    emission before (open) and after (filled) the pulse at each bias, a colour per setpoint."""
    ax_map, ax_rate = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1.0]})
    colours = temperature_colours([s.temperature_k for s in setpoints])
    order = sorted(range(len(setpoints)), key=lambda k: setpoints[k].temperature_k)
    seen: set[str] = set()

    def once(label: str) -> str:
        if label in seen:
            return "_nolegend_"
        seen.add(label)
        return label
    for row, k in enumerate(order):
        setpoint, result = setpoints[k], figures[k]
        window = result.get("window_kw_cm2")
        if isinstance(window, (list, tuple)) and len(window) == 2 and None not in window:
            low, high = float(window[0]), float(window[1])
            ax_map.barh(row, high - low, left=low, height=0.5, color=WINDOW_COLOUR, lw=0,
                        label=once("bistable window (sweep)"))
        columns = setpoint.streams.get("switch")
        if columns is None:
            continue
        bias = np.asarray(columns["bias_w_m2"], float) / W_M2_PER_KW_CM2
        latched = np.asarray(columns.get("latched", np.zeros(bias.size, bool)), bool)
        ax_map.plot(bias[latched], np.full(latched.sum(), row), "o", color=LATCHED_COLOUR, ms=9,
                    label=once("latched"))
        ax_map.plot(bias[~latched], np.full((~latched).sum(), row), "o", mfc="white", color=NOT_LATCHED_COLOUR,
                    ms=9, mew=1.5, label=once("not latched"))
        colour = colours[setpoint.temperature_k]
        if "baseline_rate_cps" in columns and "hold_rate_cps" in columns:
            before = np.maximum(np.asarray(columns["baseline_rate_cps"], float), 1.0)
            after = np.maximum(np.asarray(columns["hold_rate_cps"], float), 1.0)
            ax_rate.plot(bias, before, "o--", mfc="white", color=colour, lw=1, label=f"{setpoint.temperature_k:g} K before")
            ax_rate.plot(bias, after, "o-", color=colour, lw=1.2, label=f"{setpoint.temperature_k:g} K after")
    ax_map.set_yticks(range(len(order)), [f"{setpoints[k].temperature_k:g} K" for k in order])
    ax_map.set_ylim(-0.6, len(order) - 0.4)
    ax_map.set_xlabel("1064 nm bias " + DENSITY_LABEL)
    ax_map.set_ylabel("setpoint")
    ax_map.set_title("latched vs bias at each temperature", fontsize=9)
    ax_map.grid(True, axis="x", alpha=0.3)
    ax_map.legend(fontsize=8, loc="best")
    ax_rate.set_yscale("log")
    ax_rate.set_xlabel("1064 nm bias " + DENSITY_LABEL)
    ax_rate.set_ylabel(RATE_LABEL)
    ax_rate.set_title("emission before (open) and after (filled) the control pulse", fontsize=9)
    ax_rate.grid(True, which="major", alpha=0.3)
    ax_rate.legend(fontsize=7, loc="best", ncol=2 if len(setpoints) > 3 else 1)
    return [ax_map, ax_rate]


def plot_series_lifetime(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    """Left: rise (95 %) and decay (area) times against temperature (log scale; a time that could
    not be computed or is not positive is listed, not drawn). Right: the TCSPC histograms, each
    normalised to its maximum, a colour per setpoint, the pump-off edge dashed."""
    ax_times, ax_hist = fig.subplots(1, 2)
    kelvin = np.array([s.temperature_k for s in setpoints], float)
    order = np.argsort(kelvin)
    omitted: list[str] = []
    for key, label, style in (("rise_time_s", "rise (95 %)", {"color": UP_COLOUR, "marker": "o", "ls": "-"}),
                              ("decay_time_s", "decay (area)", {"color": DOWN_COLOUR, "marker": "s", "ls": "--"})):
        values = np.array([_number(figures[k].get(key)) or math.nan for k in order], float)
        bad = ~(values > 0)
        if bad.any():
            omitted.append(f"{label.split()[0]} at " + ", ".join(f"{t:g}" for t in kelvin[order][bad]) + " K")
        ax_times.plot(kelvin[order], np.where(bad, np.nan, values) * 1e3, lw=1.2, ms=5, label=label, **style)
    ax_times.set_yscale("log")
    ax_times.set_xlabel(TEMPERATURE_LABEL)
    ax_times.set_ylabel("time (ms)")
    title = "rise and decay vs temperature"
    if omitted:
        title += "\nnot shown (not computed or <= 0): " + "; ".join(omitted)
    ax_times.set_title(title, fontsize=9)
    ax_times.grid(True, which="both", alpha=0.3)
    ax_times.legend(fontsize=8)
    colours = temperature_colours(list(kelvin))
    pump_off = set()
    for k in order:
        columns = setpoints[k].streams.get("histogram")
        if columns is None:
            continue
        raw = np.asarray(columns["counts"], float)[0]
        delay, counts = rebin(np.asarray(columns["delay_s"], float)[0] * 1e3, raw)
        peak = float(counts.max()) if counts.size and counts.max() > 0 else 1.0
        ax_hist.step(delay, np.maximum(counts, 0.5) / peak, where="mid", color=colours[kelvin[k]], lw=1.2,
                     label=f"{kelvin[k]:g} K ({raw.sum():.0f} counts)")
        pump_off.add(round(float(np.asarray(columns["pump_off_s"], float)[0]) * 1e3, 9))
    for k, edge in enumerate(sorted(pump_off)):
        ax_hist.axvline(edge, color="black", ls="--", lw=1, label="pump off" if k == 0 else "_nolegend_")
    ax_hist.set_yscale("log")
    ax_hist.set_xlabel("delay after chopper edge (ms)")
    ax_hist.set_ylabel("counts / maximum (empty bins at 1/2 count)")
    ax_hist.set_title(f"TCSPC histograms, each normalised to its maximum (at most {DISPLAY_BINS} bins shown)",
                      fontsize=9)
    ax_hist.grid(True, which="major", alpha=0.3)
    ax_hist.legend(fontsize=8)
    return [ax_times, ax_hist]


def plot_series_calibrate(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    """The half-wave-plate curve at each setpoint, a colour per temperature."""
    ax = fig.subplots()
    colours = temperature_colours([s.temperature_k for s in setpoints])
    for setpoint in sorted(setpoints, key=lambda s: s.temperature_k):
        columns = setpoint.streams.get("calibration")
        if columns is None:
            continue
        rows = _text(columns["stage"]) == "plate"
        ax.plot(np.asarray(columns["angle_deg"])[rows], np.asarray(columns["objective_power_w"])[rows] * 1e6,
                "o-", ms=3, lw=1, color=colours[setpoint.temperature_k], label=f"{setpoint.temperature_k:g} K")
    ax.set_xlabel("half-wave plate angle (deg)")
    ax.set_ylabel("power into the objective (uW)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return [ax]
