"""Runs browser on a run file written by the real storage writer: metadata, re-plot, CSV, PNG."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtGui import QImage

from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus
from acquisition.storage import RunWriter
from gui.runs_browser import RunsBrowser


def _write_run(path: Path) -> None:
    writer = RunWriter(path, {"name": "test rig"}, {"pump": "simulated pump"}, "avalab test")
    writer.handle(RunStarted("run-1", "sweep", {"points": 12}, str(path), 1.7e9))
    densities = np.linspace(1e7, 1e8, 12)
    index = 0
    for direction, grid, threshold in (("up", densities, 6.7e7), ("down", densities[::-1], 4.2e7)):
        for k, d in enumerate(grid):
            writer.handle(PointTaken("run-1", "sweep", index, {
                "density_w_m2": float(d), "rate_cps": 2e5 if d > threshold else 90.0,
                "direction": direction, "index": k, "temperature_k": 77.0}))
            index += 1
    t = np.linspace(0, 3, 300)
    writer.handle(PointTaken("run-1", "trace", 0, {"t_s": t, "rate_cps": np.where(t > 1.5, 2e5, 90.0),
                                                   "pulse_start_s": 1.0, "pulse_end_s": 1.5}))
    writer.handle(RunFinished("run-1", RunStatus.COMPLETE, summary={"switch_on_kw_cm2": 7.0,
                                                                   "switch_off_kw_cm2": 4.4}))
    writer.close()


@pytest.fixture
def browser(qtbot, tmp_path: Path) -> RunsBrowser:
    _write_run(tmp_path / "runs" / "run1.h5")
    widget = RunsBrowser(tmp_path / "runs")
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    return widget


def test_lists_and_opens_runs_with_metadata(browser: RunsBrowser) -> None:
    assert browser.files.count() == 1
    assert browser.open(browser.data_dir / "run1.h5")
    top = {browser.metadata.topLevelItem(i).text(0): browser.metadata.topLevelItem(i)
           for i in range(browser.metadata.topLevelItemCount())}
    assert top["experiment"].text(1) == "sweep"
    assert top["status"].text(1).startswith("complete")
    assert "test rig" in [top["rig_config"].child(i).text(1) for i in range(top["rig_config"].childCount())]


def test_replots_both_branches_and_stored_thresholds(browser: RunsBrowser) -> None:
    browser.open(browser.data_dir / "run1.h5")
    up_x, _ = browser.hysteresis.up_branch.plotted()
    down_x, _ = browser.hysteresis.down_branch.plotted()
    assert len(up_x) == 12 and len(down_x) == 12
    assert math.isclose(browser.hysteresis.thresholds_kw_cm2["switch-on"], 7.0)
    # the run's experiment (sweep) draws a loop: the up branch rises, the down branch falls
    assert up_x[0] < up_x[-1] and down_x[0] > down_x[-1]


def test_a_switch_run_replots_its_last_trace_with_the_pulse_shaded(browser: RunsBrowser) -> None:
    path = browser.data_dir / "switch.h5"
    writer = RunWriter(path, {"name": "test rig"}, {"pump": "simulated pump"}, "avalab test")
    writer.handle(RunStarted("run-w", "switch", {"bin_s": 0.1, "pulse_s": 0.5}, str(path), 1.7e9))
    for k, latched in enumerate((False, True)):
        writer.handle(PointTaken("run-w", "switch", k, {
            "bias_w_m2": 4e7 + 1e7 * k, "bin_s": 0.1, "pulse_s": 0.5, "latched": latched,
            "baseline_counts": np.full(10, 9.0), "hold_counts": np.full(20, 2e4 if latched else 9.0)}))
    writer.handle(RunFinished("run-w", RunStatus.COMPLETE, summary={}))
    writer.close()
    assert browser.open(path)
    browser.trace.refresh()
    assert browser.plots.currentWidget() is browser.trace
    assert browser.trace.pulse_s == pytest.approx((1.0, 1.5))  # after 10 baseline bins of 0.1 s
    assert browser.trace.sample_count == 10 + 1 + 20
    assert browser.trace.getPlotItem().titleLabel.text == "bias 5 kW/cm² — latched"


def test_exports_csv_and_png(browser: RunsBrowser, tmp_path: Path) -> None:
    browser.open(browser.data_dir / "run1.h5")
    written = browser.export_csv(tmp_path / "export")
    names = sorted(p.name for p in written)
    assert names == ["run1_sweep.csv", "run1_trace.csv", "run1_trace_arrays.csv"]
    with (tmp_path / "export" / "run1_sweep.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24 and rows[0]["direction"] == "up"
    assert math.isclose(float(rows[0]["density_w_m2"]), 1e7)
    with (tmp_path / "export" / "run1_trace_arrays.csv").open() as handle:
        samples = list(csv.DictReader(handle))
    assert len(samples) == 300 and {"t_s", "rate_cps"} <= set(samples[0])
    browser.plots.setCurrentWidget(browser.hysteresis)
    png = browser.export_png(tmp_path / "export" / "run1.png")
    image = QImage(str(png))
    assert image.width() > 100 and image.height() > 100


def test_unreadable_file_is_reported_not_raised(browser: RunsBrowser, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not hdf5")
    assert not browser.open(bogus)
    assert "cannot open bogus.h5" in browser.status.text()


def test_reanalysis_uses_the_analysis_package_and_redraws_thresholds(browser: RunsBrowser) -> None:
    browser.open(browser.data_dir / "run1.h5")
    assert browser.reanalyse_button.isEnabled()
    result = browser.reanalyse()
    assert result is not None and result["bistable"] is True
    # grid 1..10 kW/cm2 in 12 steps: first bright point up is 6.73, last bright point down 4.27
    assert result["switch_on_kw_cm2"] == pytest.approx(1 + 7 * 9 / 11)
    assert result["switch_off_kw_cm2"] == pytest.approx(1 + 4 * 9 / 11)
    assert browser.hysteresis.thresholds_kw_cm2["switch-on"] == pytest.approx(result["switch_on_kw_cm2"])
    assert '"switch_on_kw_cm2"' in browser.analysis_text.toPlainText()


def test_a_long_export_path_does_not_widen_the_browser(browser: RunsBrowser, tmp_path: Path) -> None:
    browser.open(browser.data_dir / "run1.h5")
    before = browser.minimumSizeHint().width()
    deep = tmp_path / ("a_rather_long_folder_name_without_any_spaces_" * 4) / "export"
    deep.mkdir(parents=True)
    browser.export_png(deep / "run1.png")
    assert browser.status.text() == f"wrote {deep / 'run1.png'}"
    assert browser.status.toolTip() == browser.status.text()  # the full path stays readable
    assert browser.minimumSizeHint().width() <= before


def _write_series_run(path: Path) -> None:
    """A temperature series of two sweeps with different thresholds: 77 K switches on at
    6.7e7 W/m2, 150 K at 3.0e7 W/m2."""
    writer = RunWriter(path, {"name": "test rig"}, {"pump": "simulated pump"}, "avalab test")
    writer.handle(RunStarted("run-s", "temperature_series", {"experiment": "sweep",
                                                             "temperatures_k": [77.0, 150.0]}, str(path), 1.7e9))
    densities = np.linspace(1e7, 1e8, 12)
    index = 0
    for kelvin, on, off in ((77.0, 6.7e7, 4.2e7), (150.0, 3.0e7, 2.0e7)):
        for direction, grid, threshold in (("up", densities, on), ("down", densities[::-1], off)):
            for k, d in enumerate(grid):
                writer.handle(PointTaken("run-s", f"T{kelvin:g}K_sweep", index, {
                    "density_w_m2": float(d), "rate_cps": 2e5 if d > threshold else 90.0,
                    "direction": direction, "index": k, "temperature_k": kelvin}))
                index += 1
    writer.handle(RunFinished("run-s", RunStatus.COMPLETE, summary={"inner_experiment": "sweep", "by_temperature": [
        {"temperature_k": 77.0, "stream_prefix": "T77K_", "switch_on_kw_cm2": 7.0, "switch_off_kw_cm2": 4.4},
        {"temperature_k": 150.0, "stream_prefix": "T150K_", "switch_on_kw_cm2": 3.1, "switch_off_kw_cm2": 2.1}]}))
    writer.close()


def test_every_setpoint_of_a_temperature_series_can_be_replotted_and_reanalysed(browser: RunsBrowser) -> None:
    _write_series_run(browser.data_dir / "series.h5")
    assert browser.open(browser.data_dir / "series.h5")
    assert not browser.setpoint.isHidden()
    assert [browser.setpoint.itemText(i) for i in range(browser.setpoint.count())] == ["77 K", "150 K"]
    # first setpoint: its stored thresholds, its re-analysis
    assert browser.selected_prefix() == "T77K_"
    assert browser.hysteresis.thresholds_kw_cm2["switch-on"] == pytest.approx(7.0)
    assert browser.reanalyse()["switch_on_kw_cm2"] == pytest.approx(1 + 7 * 9 / 11)
    # second setpoint: picked from the combo, the plot and the analysis follow it
    browser.setpoint.setCurrentIndex(1)
    assert browser.selected_prefix() == "T150K_"
    assert browser.analysis is None and browser.analysis_text.toPlainText() == ""
    assert browser.hysteresis.thresholds_kw_cm2["switch-on"] == pytest.approx(3.1)
    up_x, up_y = browser.hysteresis.up_branch.plotted()
    assert len(up_x) == 12
    result = browser.reanalyse()
    # 150 K: first bright point up is 3.45 kW/cm2 (grid step 9/11), last bright point down 2.64
    assert result["switch_on_kw_cm2"] == pytest.approx(1 + 3 * 9 / 11)
    assert result["switch_off_kw_cm2"] == pytest.approx(1 + 2 * 9 / 11)
    assert "150 K" in browser.status.text()
    assert browser.select_setpoint(77.0) and browser.selected_prefix() == "T77K_"
    assert not browser.select_setpoint(300.0)


def test_the_setpoint_picker_is_hidden_for_a_plain_run(browser: RunsBrowser) -> None:
    browser.open(browser.data_dir / "run1.h5")
    assert browser.setpoint.isHidden() and browser.selected_prefix() is None


def test_reanalysis_uses_the_run_own_noise_level_like_avalab_analyze(browser: RunsBrowser) -> None:
    """A run measured with noise_cps=500 is re-analysed with 500 cps, not the default 82."""
    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    path = browser.data_dir / "noisy.h5"
    writer = RunWriter(path, {"name": "test rig"}, {"pump": "simulated pump"}, "avalab test")
    writer.handle(RunStarted("run-n", "sweep", {"points": 12, "noise_cps": 500.0}, str(path), 1.7e9))
    densities = np.linspace(1e7, 1e8, 12)
    index = 0
    for direction, grid, threshold in (("up", densities, 6.7e7), ("down", densities[::-1], 4.2e7)):
        for k, d in enumerate(grid):
            writer.handle(PointTaken("run-n", "sweep", index, {
                "density_w_m2": float(d), "rate_cps": 2e5 if d > threshold else 90.0,
                "direction": direction, "index": k}))
            index += 1
    writer.handle(RunFinished("run-n", RunStatus.COMPLETE, summary={}))
    writer.close()
    assert browser.open(path)
    result = browser.reanalyse()
    assert result == reanalyze(open_run(path))
    assert result["contrast_db"] != pytest.approx(reanalyze(open_run(path), noise_cps=82.0)["contrast_db"])
    assert result["contrast_db"] == pytest.approx(reanalyze(open_run(path), noise_cps=500.0)["contrast_db"])
