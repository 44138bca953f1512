"""Temperature-series figures, one design per inner experiment (sweep: I-P panel per setpoint +
thresholds vs temperature; pulsed: thresholds vs temperature per chopper condition; switch:
latched vs bias per setpoint; lifetime: rise/decay vs temperature + histograms), the series
re-analysed setpoint by setpoint, and `avalab <run> --plot` = `avalab analyze --plot`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus
from acquisition.storage import RunWriter, open_run

SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]
KW_CM2 = 1e7
TEMPERATURES = (77.0, 100.0, 125.0, 150.0)


def _figure() -> Any:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    return Figure()


def _write_series(path: Path, inner: str, streams: dict[str, list[dict[str, Any]]], inner_params: dict[str, Any],
                  temperatures: tuple[float, ...] = TEMPERATURES, status: RunStatus = RunStatus.COMPLETE,
                  summary: dict[str, Any] | None = None) -> Path:
    params = {"experiment": inner, "temperatures_k": list(temperatures), "params_json": json.dumps(inner_params)}
    writer = RunWriter(path, {"name": "test rig"}, {"pump": "simulated pump"}, "avalab test")
    writer.handle(RunStarted("run-1", "temperature_series", params, str(path), 1.7e9))
    index = 0
    for stream, points in streams.items():
        for point in points:
            writer.handle(PointTaken("run-1", stream, index, point))
            index += 1
    writer.handle(RunFinished("run-1", status, summary=summary or {}))
    writer.close()
    return path


def _sweep_points(on_kw: float, off_kw: float, extra: dict[str, Any] | None = None,
                  grid_kw: np.ndarray | None = None, duty: float = 1.0) -> list[dict[str, Any]]:
    """A bistable up/down sweep jumping at ``on_kw`` (up) and ``off_kw`` (down), average densities."""
    grid = (np.linspace(1.0, 10.0, 19) if grid_kw is None else grid_kw) * duty
    points = []
    for direction, densities in (("up", grid), ("down", grid[::-1])):
        for index, density in enumerate(densities):
            bright = density >= (on_kw if direction == "up" else off_kw)
            points.append({"density_w_m2": density * KW_CM2, "rate_cps": 2e3 * density if bright else 80.0,
                           "direction": direction, "index": index, "pass": 0, "repeat": 0,
                           **(extra or {})})
    return points


def _thresholds(kelvin: float) -> tuple[float, float]:
    return 4.0 + 0.02 * (kelvin - 77.0), 2.5 + 0.015 * (kelvin - 77.0)


def _png_size(path: Path) -> tuple[int, int]:
    from matplotlib.image import imread
    height, width = imread(path).shape[:2]
    return width, height


# ---- sweep ------------------------------------------------------------------------------------------
def test_sweep_series_has_one_iv_panel_per_temperature_and_a_thresholds_panel(tmp_path: Path) -> None:
    from acquisition.experiments.temperature_series import plot_temperature_series
    from acquisition.plotting import plot_run_file
    from acquisition.reanalysis import reanalyze

    streams = {f"T{t:g}K_sweep": _sweep_points(*_thresholds(t)) for t in TEMPERATURES}
    path = _write_series(tmp_path / "series.h5", "sweep", streams, {"points": 19})
    run = open_run(path)
    figures = reanalyze(run)["by_temperature"]
    assert [f["temperature_k"] for f in figures] == list(TEMPERATURES)
    fig = _figure()
    axes = plot_temperature_series(fig, run)
    panels, summary_ax = axes[:-1], axes[-1]
    assert [ax.get_title().split(":")[0] for ax in panels] == [f"{t:g} K" for t in TEMPERATURES]
    for ax, t, figure in zip(panels, TEMPERATURES, figures):
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        # each panel holds its own setpoint's sweep only
        drawn = np.concatenate([line.get_xdata() for line in ax.get_lines() if line.get_label() in ("up", "down")])
        assert drawn.size == len(streams[f"T{t:g}K_sweep"])
        on, off = figure["switch_on_kw_cm2"], figure["switch_off_kw_cm2"]
        assert f"on {on:.3g} / off {off:.3g} kW/cm$^2$" in ax.get_title()
    assert {ax.get_ylabel() for ax in panels} - {""} == {"emission (counts/s)"}
    assert {ax.get_xlabel() for ax in panels} - {""} == {"power density (kW/cm$^2$)"}
    assert summary_ax.get_xlabel() == "temperature (K)" and "threshold" in summary_ax.get_ylabel()
    lines = {line.get_label(): line for line in summary_ax.get_lines()}
    np.testing.assert_allclose(lines["switch-on"].get_xdata(), TEMPERATURES)
    np.testing.assert_allclose(lines["switch-on"].get_ydata(), [f["switch_on_kw_cm2"] for f in figures])
    np.testing.assert_allclose(lines["switch-off"].get_ydata(), [f["switch_off_kw_cm2"] for f in figures])
    # the thresholds found are the synthetic ones (first grid point past each jump)
    assert all(f["switch_on_kw_cm2"] == pytest.approx(_thresholds(f["temperature_k"])[0], abs=0.5) for f in figures)
    assert "up" in panels[0].get_legend_handles_labels()[1]
    width, height = _png_size(plot_run_file(path, tmp_path / "series.png"))
    assert width >= 1200 and height >= 700  # 2 x 2 I-P panels + the thresholds panel


# ---- pulsed -----------------------------------------------------------------------------------------
def test_pulsed_series_draws_thresholds_vs_temperature_per_chopper_condition(tmp_path: Path) -> None:
    from acquisition.experiments.temperature_series import plot_temperature_series
    from acquisition.plotting import plot_run_file
    from acquisition.reanalysis import reanalyze

    conditions = [(100.0, 0.5), (100.0, 0.8), (1000.0, 0.5), (1000.0, 0.8)]
    temperatures = (77.0, 100.0, 125.0)
    streams: dict[str, list[dict[str, Any]]] = {}
    for t in temperatures:
        streams[f"T{t:g}K_sweep"] = []
        for f, d in conditions:
            on, off = _thresholds(t)
            if t == 125.0 and d == 0.5:
                on, off = 99.0, 99.0  # no switch-on within the scan at 125 K, duty 0.5
            extra = {"frequency_hz": f, "duty_cycle": d, "blade": "MC1F10A"}
            streams[f"T{t:g}K_sweep"] += _sweep_points(on * d, off * d, extra, duty=d)
    path = _write_series(tmp_path / "pulsed.h5", "pulsed", streams, {"frequencies_hz": [100, 1000],
                                                                       "duty_cycles": [0.5, 0.8]}, temperatures)
    run = open_run(path)
    fig = _figure()
    axes = plot_temperature_series(fig, run)
    assert [ax.get_title() for ax in axes] == [f"{f:g} Hz, duty {d:g} (MC1F10A)" for f, d in conditions]
    figures = reanalyze(run)["by_temperature"]
    for ax, (f, d) in zip(axes, conditions):
        lines = {line.get_label(): line for line in ax.get_lines()}
        expected = [next(c["average_switch_on_kw_cm2"] for c in r["conditions"]
                         if c["frequency_hz"] == f and c["duty_cycle"] == d) for r in figures]
        drawn = lines["switch-on"].get_ydata()
        np.testing.assert_allclose(lines["switch-on"].get_xdata(), temperatures)
        np.testing.assert_allclose(drawn, [np.nan if v is None else v for v in expected])
        if d == 0.5:  # not found at 125 K: a hollow triangle at the top of the (average) scan
            assert np.isnan(drawn[-1])
            marker = lines["no switch-on up to the scan top"]
            assert list(marker.get_xdata()) == [125.0] and marker.get_ydata()[0] == pytest.approx(10.0 * d)
        else:
            assert np.isfinite(drawn).all()
        # the right axis reads the open-blade peak: average / duty
        secondary = [child for child in ax.child_axes]
        assert len(secondary) == 1 and f"average / {d:g}" in secondary[0].get_ylabel()
    assert {ax.get_xlabel() for ax in axes} - {""} == {"temperature (K)"}
    assert {ax.get_ylabel() for ax in axes} - {""} == {"average power density (kW/cm$^2$)"}
    legend_labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    assert {"switch-on", "switch-off", "bistable window", "no switch-on up to the scan top"} <= set(legend_labels)
    width, height = _png_size(plot_run_file(path, tmp_path / "pulsed.png"))
    assert width >= 1000 and height >= 800


# ---- switch -----------------------------------------------------------------------------------------
def test_switch_series_maps_latched_against_bias_for_each_temperature(tmp_path: Path) -> None:
    from acquisition.experiments.temperature_series import plot_temperature_series
    from acquisition.plotting import plot_run_file

    rng = np.random.default_rng(3)
    streams: dict[str, list[dict[str, Any]]] = {}
    temperatures = (77.0, 125.0)
    for t in temperatures:
        on, off = _thresholds(t)
        streams[f"T{t:g}K_sweep"] = _sweep_points(on, off)
        streams[f"T{t:g}K_switch"] = [
            {"bias_w_m2": bias * KW_CM2, "pulse_s": 1.0, "bin_s": 0.05, "control_wavelength_m": 808e-9,
             "baseline_counts": rng.poisson(before, 40), "hold_counts": rng.poisson(after, 60),
             "baseline_rate_cps": before / 0.05, "hold_rate_cps": after / 0.05, "latched": latched}
            for bias, before, after, latched in ((0.6 * off, 4.0, 4.0, False), (0.5 * (on + off), 4.0, 300.0, True),
                                                 (1.2 * on, 400.0, 400.0, False))]
    path = _write_series(tmp_path / "switch.h5", "switch", streams, {}, temperatures)
    fig = _figure()
    ax_map, ax_rate = plot_temperature_series(fig, open_run(path))
    assert [label.get_text() for label in ax_map.get_yticklabels()] == ["77 K", "125 K"]
    assert ax_map.get_xlabel() == "1064 nm bias power density (kW/cm$^2$)"
    lines = [line for line in ax_map.get_lines() if line.get_xdata().size]
    latched = [line for line in lines if line.get_label() == "latched" or
               (line.get_markerfacecolor() != "white" and line.get_label() == "_nolegend_")]
    for row, t in enumerate(temperatures):
        on, off = _thresholds(t)
        points = [(float(x), line) for line in lines for x, y in zip(line.get_xdata(), line.get_ydata()) if y == row]
        assert sorted(x for x, _ in points) == pytest.approx(sorted([0.6 * off, 0.5 * (on + off), 1.2 * on]))
        filled = [x for x, line in points if line in latched]
        assert filled == pytest.approx([0.5 * (on + off)])  # only the bias inside the window latched
        # the window bar spans the sweep's switch-off .. switch-on
        bar = [p for p in ax_map.patches if abs(p.get_y() + p.get_height() / 2 - row) < 1e-9]
        assert len(bar) == 1 and bar[0].get_x() < 0.5 * (on + off) < bar[0].get_x() + bar[0].get_width()
    assert {"latched", "not latched", "bistable window (sweep)"} <= set(ax_map.get_legend_handles_labels()[1])
    assert ax_rate.get_yscale() == "log" and ax_rate.get_ylabel() == "emission (counts/s)"
    assert "77 K after" in ax_rate.get_legend_handles_labels()[1]
    width, height = _png_size(plot_run_file(path, tmp_path / "switch.png"))
    assert width >= 1400 and height >= 550


# ---- lifetime ---------------------------------------------------------------------------------------
def _histogram(rise_s: float, decay_s: float) -> dict[str, Any]:
    bin_s, n = 50e-6, 1000
    t = (np.arange(n) + 0.5) * bin_s
    off = 0.025
    shape = np.where(t < off, 1 - np.exp(-t / rise_s), (1 - np.exp(-off / rise_s)) * np.exp(-(t - off) / decay_s))
    return {"delay_s": t, "counts": np.round(400 * shape).astype(np.int64), "bin_width_s": bin_s,
            "pump_off_s": off, "frequency_hz": 20.0, "duty_cycle": 0.5}


def test_lifetime_series_draws_rise_and_decay_against_temperature(tmp_path: Path) -> None:
    from acquisition.experiments.temperature_series import plot_temperature_series
    from acquisition.plotting import plot_run_file
    from acquisition.reanalysis import reanalyze

    times = {77.0: (4e-3, 1e-3), 100.0: (2e-3, 0.7e-3), 125.0: (1e-3, 0.4e-3)}
    streams = {f"T{t:g}K_histogram": [_histogram(*times[t])] for t in times}
    path = _write_series(tmp_path / "life.h5", "lifetime", streams, {"dark_counts_cps": 0}, tuple(times))
    run = open_run(path)
    figures = reanalyze(run)["by_temperature"]
    # rise (95 %) of 1 - exp(-t/tau) is 3 tau; decay area of exp(-t/tau) is tau
    for figure in figures:
        rise, decay = times[figure["temperature_k"]]
        assert figure["rise_time_s"] == pytest.approx(3 * rise, rel=0.05)
        assert figure["decay_time_s"] == pytest.approx(decay, rel=0.1)
    fig = _figure()
    ax_times, ax_hist = plot_temperature_series(fig, run)
    lines = {line.get_label(): line for line in ax_times.get_lines()}
    np.testing.assert_allclose(lines["rise (95 %)"].get_xdata(), list(times))
    np.testing.assert_allclose(lines["rise (95 %)"].get_ydata(), [f["rise_time_s"] * 1e3 for f in figures])
    np.testing.assert_allclose(lines["decay (area)"].get_ydata(), [f["decay_time_s"] * 1e3 for f in figures])
    assert ax_times.get_xlabel() == "temperature (K)" and ax_times.get_ylabel() == "time (ms)"
    assert ax_times.get_yscale() == "log"
    labels = ax_hist.get_legend_handles_labels()[1]
    assert [label.split(" (")[0] for label in labels if label.endswith("counts)")] == ["77 K", "100 K", "125 K"]
    assert "pump off" in labels and ax_hist.get_xlabel() == "delay after chopper edge (ms)"
    # 1000 bins are drawn as 200 (5 summed), each normalised to its maximum
    for line in ax_hist.get_lines():
        if line.get_label().endswith("counts)"):
            assert len(line.get_xdata()) == 200 and np.max(line.get_ydata()) == pytest.approx(1.0)
    assert _png_size(plot_run_file(path, tmp_path / "life.png"))[0] >= 1400


def test_lifetime_times_that_cannot_be_shown_on_a_log_axis_are_listed(tmp_path: Path) -> None:
    from acquisition.plotting import plot_series_lifetime
    from acquisition.experiments.base import SubRun

    setpoints = [SubRun("lifetime", f"{t:g} K", f"T{t:g}K_", {}, {"histogram": {k: np.asarray([v]) for k, v in
                                                                             _histogram(1e-3, 1e-3).items()}},
                        {}, {"temperature_k": t})
                 for t in (77.0, 150.0)]
    figures = [{"rise_time_s": 3e-3, "decay_time_s": 1e-3}, {"rise_time_s": None, "decay_time_s": -2e-3}]
    ax_times, _ = plot_series_lifetime(_figure(), setpoints, figures)
    assert "not shown (not computed or <= 0): rise at 150 K; decay at 150 K" in ax_times.get_title()
    rise = {line.get_label(): line for line in ax_times.get_lines()}["rise (95 %)"].get_ydata()
    assert rise[0] == pytest.approx(3.0) and np.isnan(rise[1])


# ---- series structure -------------------------------------------------------------------------------
def test_an_aborted_series_plots_the_setpoints_it_reached(tmp_path: Path) -> None:
    from acquisition.experiments.temperature_series import plot_temperature_series
    from acquisition.plotting import plot_run_file
    from acquisition.experiments.temperature_series import series_runs
    from acquisition.reanalysis import reanalyze

    streams = {"T77K_sweep": _sweep_points(*_thresholds(77.0)),
               "T100K_sweep": _sweep_points(*_thresholds(100.0))[:10]}  # cut short during the up scan
    path = _write_series(tmp_path / "aborted.h5", "sweep", streams, {}, status=RunStatus.ABORTED)
    run = open_run(path)
    assert [(s.temperature_k, s.stream_prefix) for s in series_runs(run)] == [(77.0, "T77K_"), (100.0, "T100K_")]
    figures = reanalyze(run)["by_temperature"]
    assert figures[0]["switch_on_kw_cm2"] == pytest.approx(4.0, abs=0.5)
    assert figures[1]["switch_on_kw_cm2"] is not None and figures[1]["switch_off_kw_cm2"] is None  # no down scan
    axes = plot_temperature_series(_figure(), run)
    assert len(axes) == 3
    off = {line.get_label(): line for line in axes[-1].get_lines()}["switch-off"].get_ydata()
    assert np.isfinite(off[0]) and np.isnan(off[1])
    assert axes[1].get_title().startswith("100 K: on ") and "no switch-off" in axes[1].get_title()
    assert plot_run_file(path, tmp_path / "aborted.png").stat().st_size > 10_000


def test_repeated_setpoints_are_refused_because_they_would_share_streams() -> None:
    from acquisition.experiments import get_experiment

    with pytest.raises(ValueError, match=r"^temperatures_k=77 K repeats the setpoint 77 K; allowed: distinct"):
        get_experiment("temperature_series").validate({"temperatures_k": [77, 100, 77]})
    with pytest.raises(ValueError, match=r"repeats the setpoint"):  # same T77K_ prefix
        get_experiment("temperature_series").validate({"temperatures_k": [77, 77.0000001]})


def test_cli_series_plot_equals_analyze_plot_and_the_figures_match_the_run(
        tmp_path: Path, shared_calibration_dir: Path) -> None:
    from matplotlib.image import imread

    env = dict(os.environ, AVALAB_HOME=str(shared_calibration_dir))
    run, live_png, analyze_png = tmp_path / "series.h5", tmp_path / "live.png", tmp_path / "analyze.png"
    done = subprocess.run(AVALAB + ["temperature_series", "--experiment", "sweep", "--temperatures-k", "77", "100",
                                    "--params-json", '{"points": 7, "dwell_s": 0.1, "settle_s": 0.1}',
                                    "--out", str(run), "--plot", str(live_png), "--json", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    live = json.loads(done.stdout)
    done = subprocess.run(AVALAB + ["analyze", str(run), "--plot", str(analyze_png), "--json"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    analysed = json.loads(done.stdout)
    assert [e["temperature_k"] for e in analysed["by_temperature"]] == [77.0, 100.0]
    for a, b in zip(analysed["by_temperature"], live["by_temperature"]):
        assert a["switch_on_kw_cm2"] == pytest.approx(b["switch_on_kw_cm2"])
        assert a["switch_off_kw_cm2"] == pytest.approx(b["switch_off_kw_cm2"])
    np.testing.assert_array_equal(imread(live_png), imread(analyze_png))
