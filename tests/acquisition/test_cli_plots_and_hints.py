"""QA fixes in the CLI: readable pulsed and switch plots, ``avalab --version``, and the hint (and
resume) when an interlock pauses a run."""
from __future__ import annotations

import importlib.metadata
import io
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acquisition.events import InterlockTripped, PointTaken, RunFinished, RunStarted, RunState, RunStatus, StateChanged
from acquisition.storage import RunWriter
from cli_process import AVALAB, read_stderr_until, start_low_rate_sweep

KW_CM2 = 1e7


def _figure(**kwargs: Any) -> Any:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    return Figure(**kwargs)


# ---- avalab --version -----------------------------------------------------------------------------
def test_version_prints_the_installed_distribution_version_and_exits_0() -> None:
    done = subprocess.run(AVALAB + ["--version"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"avalab {importlib.metadata.version('avalab')}\n"


def test_version_falls_back_to_the_package_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import acquisition
    from acquisition import cli

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(cli.importlib.metadata, "version", missing)
    monkeypatch.setattr(acquisition, "__version__", "9.8.7", raising=False)
    assert cli.version() == "9.8.7"
    monkeypatch.delattr(acquisition, "__version__")
    assert cli.version() == "unknown"


# ---- pulsed plot ----------------------------------------------------------------------------------
FREQUENCIES, DUTIES = (100.0, 1000.0), (0.3, 0.5)


def _pulsed_points() -> list[dict[str, Any]]:
    """A synthetic bistable sweep per condition, its thresholds moving with frequency and duty."""
    points = []
    peak = np.linspace(3e7, 12.5e7, 20)
    for f in FREQUENCIES:
        for d in DUTIES:
            on, off = (5e7 + f * 1e4) * d, (3.5e7 + f * 1e4) * d  # average densities
            index = 0
            for direction, grid in (("up", peak), ("down", peak[::-1])):
                bright = False
                for p in grid:
                    density = p * d
                    bright = density >= on if direction == "up" else density >= off
                    points.append({"density_w_m2": density, "peak_density_w_m2": p,
                                   "rate_cps": 2e4 * (density / 1e7) if bright else 80.0 + density / 1e6,
                                   "direction": direction, "index": index, "pass": 0, "repeat": 0,
                                   "frequency_hz": f, "duty_cycle": d, "blade": "MC1F10A",
                                   "temperature_k": 77.0})
                    index += 1
    return points


def _write_run(path: Path, experiment: str, streams: dict[str, list[dict[str, Any]]],
               params: dict[str, Any], summary: dict[str, Any]) -> Path:
    writer = RunWriter(path, {"name": "test rig"}, {"pump": "simulated pump"}, "avalab test")
    writer.handle(RunStarted("run-1", experiment, params, str(path), 1.7e9))
    index = 0
    for stream, points in streams.items():
        for point in points:
            writer.handle(PointTaken("run-1", stream, index, point))
            index += 1
    writer.handle(RunFinished("run-1", RunStatus.COMPLETE, summary=summary))
    writer.close()
    return path


def test_pulsed_plot_has_one_labelled_panel_per_condition(tmp_path: Path) -> None:
    from acquisition.experiments.base import SubRun
    from acquisition.experiments.pulsed import analyze_pulsed
    from acquisition.plotting import plot_pulsed, plot_run_file

    points = _pulsed_points()
    columns = {key: np.array([p[key] for p in points]) for key in points[0]}
    conditions = analyze_pulsed(SubRun("pulsed", "", "", {}, {"sweep": columns}), 82.0)["conditions"]
    fig = _figure()
    axes = plot_pulsed(fig, columns, conditions)
    assert len(axes) == len(FREQUENCIES) * len(DUTIES)
    by_title = {ax.get_title().split("\n")[0]: ax for ax in axes}
    for f in FREQUENCIES:
        for d in DUTIES:
            ax = by_title[f"{f:g} Hz, duty {d:g} (MC1F10A)"]
            assert "kW/cm$^2$ avg" in ax.get_title() and "bistable" in ax.get_title()
            # each panel holds its own condition's points only, up and down
            rows = (columns["frequency_hz"] == f) & (columns["duty_cycle"] == d)
            drawn = np.concatenate([line.get_xdata() for line in ax.get_lines()
                                    if line.get_label() in ("up", "down")]) * KW_CM2
            np.testing.assert_allclose(np.sort(drawn), np.sort(columns["density_w_m2"][rows]))
            assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    xlabels = {ax.get_xlabel() for ax in axes} - {""}
    ylabels = {ax.get_ylabel() for ax in axes} - {""}
    assert xlabels == {"average power density (kW/cm$^2$)"} and ylabels == {"emission (counts/s)"}
    labels = {label for ax in axes for label in ax.get_legend_handles_labels()[1]}
    assert {"up", "down", "switch-on", "switch-off"} <= labels
    # the same from a stored run file, as `avalab pulsed --plot` / `avalab analyze --plot` do
    run = _write_run(tmp_path / "pulsed.h5", "pulsed", {"sweep": points},
                     {"frequencies_hz": list(FREQUENCIES), "duty_cycles": list(DUTIES)}, {})
    png = plot_run_file(run, tmp_path / "pulsed.png")
    from matplotlib.image import imread
    height, width = imread(png).shape[:2]
    assert width >= 900 and height >= 700  # two panels a side, readable at 100 %


# ---- switch plot ----------------------------------------------------------------------------------
def test_switch_trace_time_is_seconds_from_the_pulse_start() -> None:
    from acquisition.plotting import switch_trace_time

    baseline, hold = switch_trace_time(40, 60, 0.05, 1.0)
    assert baseline[0] == pytest.approx(-2.0 + 0.025) and baseline[-1] == pytest.approx(-0.025)
    assert hold[0] == pytest.approx(1.025) and hold[-1] == pytest.approx(4.0 - 0.025)


def test_switch_plot_shades_the_pulse_and_puts_the_hold_after_it(tmp_path: Path) -> None:
    from acquisition.plotting import plot_run_file, plot_switch_traces

    rng = np.random.default_rng(1)
    switch_points = [{"bias_w_m2": bias * KW_CM2, "pulse_s": 1.0, "bin_s": 0.05,
                      "control_wavelength_m": 808e-9, "latched": latched,
                      "baseline_counts": rng.poisson(4.0, 40), "hold_counts": rng.poisson(level, 60)}
                     for bias, level, latched in ((2.0, 4.0, False), (4.0, 200.0, True))]
    columns = {key: np.array([p[key] for p in switch_points]) for key in switch_points[0]}
    fig = _figure()
    ax = fig.subplots()
    plot_switch_traces(ax, columns, 808.0)
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    starts = sorted(float(np.min(line.get_xdata())) for line in lines)
    ends = sorted(float(np.max(line.get_xdata())) for line in lines)
    assert starts[0] == pytest.approx(-1.975) and ends[-1] == pytest.approx(3.975)
    assert not any(0.0 < x < 1.0 for line in lines for x in line.get_xdata())  # nothing during the pulse
    spans = [p for p in ax.patches if "control pulse" in p.get_label()]
    assert len(spans) == 1 and "808 nm" in spans[0].get_label()
    x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
    assert (x0, x1) == pytest.approx((0.0, 1.0))
    assert ax.get_xlabel() == "time from the start of the control pulse (s)"
    assert "counts/s" in ax.get_ylabel()
    labels = ax.get_legend_handles_labels()[1]
    assert "bias 4.00 kW/cm$^2$ (latched)" in labels and "bias 2.00 kW/cm$^2$ (not latched)" in labels
    run = _write_run(tmp_path / "switch.h5", "switch", {"switch": switch_points},
                     {"pulse_s": 1.0, "bin_s": 0.05, "control_wavelength_nm": 808.0}, {})
    assert plot_run_file(run, tmp_path / "switch.png").stat().st_size > 10_000


# ---- interlock pause: hint and resume --------------------------------------------------------------
def _paused_lines(interlock: str | None, reason: str, resume_how: str | None = None) -> list[str]:
    from acquisition.cli_output import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.resume_how = resume_how
    if interlock:
        bar.handle(InterlockTripped("r", interlock, "detail"))
    bar.handle(StateChanged("r", RunState.PAUSED, reason))
    bar.handle(StateChanged("r", RunState.RUNNING, "resumed"))
    return stream.getvalue().splitlines()


def test_pause_hint_says_how_the_run_goes_on() -> None:
    lines = _paused_lines("count_rate", "count rate 6e+06 cps above limit")
    assert lines[1] == "avalab: paused (count rate 6e+06 cps above limit)"
    assert lines[2].startswith("avalab: hint: ") and "Ctrl+C aborts the run safely" in lines[2]
    assert "cannot" in lines[2] and lines[3] == "avalab: running again (resumed)"
    lines = _paused_lines("count_rate", "count rate 6e+06 cps above limit", "type r + Enter")
    assert "then type r + Enter to resume" in lines[2] and "Ctrl+C aborts" in lines[2]
    lines = _paused_lines("temperature", "temperature 80.00 K out of band", "type r + Enter")
    assert "resumes by itself" in lines[2] and "Ctrl+C aborts" in lines[2]


def _low_limit_sweep(engine: Any, rig: Any, recorder: Any) -> Any:
    rig.config.limits.max_count_rate_cps = 2000.0  # the bright state (~1e4 cps) trips it
    handle = engine.start("sweep", {"start_kw_cm2": 2.0, "stop_kw_cm2": 8.0, "points": 13, "dwell_s": 0.1,
                                    "settle_s": 0.2})
    recorder.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED)
    return handle


def _resumed(event: Any) -> bool:
    return isinstance(event, StateChanged) and event.state == RunState.RUNNING and event.reason == "resumed"


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on this platform")
def test_sigusr1_resumes_a_run_the_count_rate_interlock_paused(engine: Any, rig: Any, recorder: Any) -> None:
    from acquisition.cli_output import OperatorResume

    stderr = io.StringIO()
    with OperatorResume(engine, stdin=io.StringIO(), stream=stderr) as resume:
        assert resume.how == f"run `kill -USR1 {os.getpid()}`"
        handle = _low_limit_sweep(engine, rig, recorder)
        os.kill(os.getpid(), signal.SIGUSR1)
        recorder.wait_for(_resumed, timeout=600)
    engine.abort()
    assert handle.wait(600).status == RunStatus.ABORTED
    assert "avalab: resume requested (SIGUSR1)" in stderr.getvalue()


def test_r_enter_on_a_terminal_resumes_a_paused_run(engine: Any, rig: Any, recorder: Any) -> None:
    from acquisition.cli_output import OperatorResume

    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "r") as stdin:
        resume = OperatorResume(engine, stdin=stdin, stream=io.StringIO(), use_signal=False)
        resume.interactive = True  # a pipe standing in for the operator's terminal
        with resume:
            assert resume.how == "type r + Enter"
            handle = _low_limit_sweep(engine, rig, recorder)
            os.write(write_fd, b"x\n")  # anything else is ignored
            time.sleep(0.5)
            assert not any(_resumed(e) for e in recorder.events)
            os.write(write_fd, b"r\n")
            recorder.wait_for(_resumed, timeout=600)
        os.close(write_fd)
    engine.abort()
    assert handle.wait(600).status == RunStatus.ABORTED


def test_cli_prints_the_hint_when_the_count_rate_interlock_pauses(tmp_path: Path,
                                                                   shared_calibration_dir: Path) -> None:
    child = start_low_rate_sweep(tmp_path, shared_calibration_dir)
    lines: list[str] = []
    try:
        read_stderr_until(child, "avalab: hint:", lines)
        hint_index = len(lines) - 1
        child.send_signal(signal.SIGUSR1)  # the operator resumes as the hint says
        read_stderr_until(child, "avalab: running again", lines)
        child.send_signal(signal.SIGINT)
        child.wait(600)
    finally:
        if child.poll() is None:
            child.kill()
    assert any(line.startswith("avalab: INTERLOCK count_rate") for line in lines), lines
    assert lines[hint_index - 1].startswith("avalab: paused (count rate"), lines
    hint = lines[hint_index]
    assert f"kill -USR1 {child.pid}" in hint and "Ctrl+C aborts the run safely" in hint, hint
    assert "avalab: resume requested (SIGUSR1)" in lines, lines
    assert lines[-1].startswith("avalab: running again"), lines
    assert child.returncode == 130


def test_human_summary_says_why_the_stored_calibration_was_not_reused() -> None:
    from acquisition.cli_output import human_summary

    stale = "stored power calibration for rig 'lab' not reused: the pump-path optics changed (beam.pickoff_ratio 0.1 -> 0.09)"
    text = human_summary({"experiment": "sweep", "status": "complete", "calibrated_first": True,
                          "stale_calibration": stale, "warnings": ["3 of 10 settings read back >10 % off: recalibrate"]})
    assert f"({stale}; the power calibration ran first)" in text
    assert "no stored calibration" not in text
    assert "  warning: 3 of 10 settings read back >10 % off: recalibrate" in text


def test_human_summary_of_a_pulsed_temperature_series_lists_each_condition() -> None:
    from acquisition.cli_output import human_summary

    condition = {"frequency_hz": 100.0, "duty_cycle": 0.5, "average_switch_on_kw_cm2": 5.16, "bistable": True}
    text = human_summary({"experiment": "temperature_series", "status": "complete", "inner_experiment": "pulsed",
                          "by_temperature": [{"temperature_k": 77.0, "conditions": [condition]}]})
    lines = text.splitlines()
    assert lines[1] == "  77 K:"
    assert lines[2].startswith("    100 Hz duty 0.5: switch-on 5.16") and lines[2].endswith("bistable True")


def test_human_summary_says_why_a_figure_is_missing() -> None:
    from acquisition.cli_output import human_summary

    text = human_summary({"experiment": "lifetime", "status": "complete", "rise_time_s": None,
                          "decay_time_s": None, "rise_time_problem": "no signal: 194 counts vs 200 dark",
                          "decay_time_problem": "no signal: 194 counts vs 200 dark",
                          "notes": ["no switch-on jump on the up branch"]})
    notes = [line for line in text.splitlines() if line.startswith("  note: ")]
    assert notes == ["  note: no switch-on jump on the up branch", "  note: no signal: 194 counts vs 200 dark"]
