"""Runs browser: open stored HDF5 runs, show their metadata, re-plot, re-analyse, export.

Reading goes through ``acquisition.storage.open_run`` (which also reads runs still being written
or cut short), analysis through ``acquisition.analysis``: the browser adds no physics of its own.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                             QPlainTextEdit, QPushButton, QSizePolicy, QSplitter, QTabWidget, QTreeWidget,
                             QTreeWidgetItem, QVBoxLayout, QWidget)

from acquisition.reanalysis import SERIES_STREAM
from acquisition.storage import open_run
from gui.live_plots import (HistogramPlot, HysteresisPlot, TracePlot, base_stream, histogram_fields,
                            trace_fields)
from gui.param_form import ERROR_STYLE
from gui.run_export import export_run_csv

log = logging.getLogger(__name__)


def sweep_branches(columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(density_up, rate_up, density_down, rate_down) in W/m2 and cps from a stored sweep stream."""
    density = np.asarray(columns["density_w_m2"], float)
    rate = np.asarray(columns["rate_cps"], float)
    direction = np.asarray(columns.get("direction", np.full(len(density), "up"))).astype(str)
    down = np.char.startswith(np.char.lower(direction), "d")
    return density[~down], rate[~down], density[down], rate[down]


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 20 else f"array{value.shape}"
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    return value


def _add_tree(parent: QTreeWidgetItem | QTreeWidget, key: str, value: Any) -> None:
    if isinstance(value, dict):
        item = QTreeWidgetItem([key, ""])
        for sub_key, sub_value in value.items():
            _add_tree(item, str(sub_key), sub_value)
    else:
        item = QTreeWidgetItem([key, str(_to_jsonable(value))])
    if isinstance(parent, QTreeWidget):
        parent.addTopLevelItem(item)
    else:
        parent.addChild(item)


class RunsBrowser(QWidget):
    """List of runs in the data folder plus one opened run's metadata, plots and analysis."""

    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.run: Any = None
        self.analysis: dict[str, Any] | None = None
        self.files = QListWidget()
        self.files.setObjectName("run_files")
        self.files.itemActivated.connect(lambda item: self.open(Path(item.data(Qt.ItemDataRole.UserRole))))
        self.files.itemClicked.connect(lambda item: self.open(Path(item.data(Qt.ItemDataRole.UserRole))))
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_list)
        open_button = QPushButton("Open file…")
        open_button.clicked.connect(self._open_dialog)
        self.metadata = QTreeWidget()
        self.metadata.setHeaderLabels(["field", "value"])
        self.metadata.setColumnWidth(0, 220)
        self.hysteresis = HysteresisPlot()
        self.trace = TracePlot()
        self.histogram = HistogramPlot()
        self.plots = QTabWidget()
        self.plots.addTab(self.hysteresis, "Emission vs power")
        self.plots.addTab(self.trace, "Switching trace")
        self.plots.addTab(self.histogram, "TCSPC histogram")
        self.analysis_text = QPlainTextEdit()
        self.analysis_text.setReadOnly(True)
        self.analysis_text.setMaximumHeight(160)
        self.status = QLabel("no run open")
        self.status.setWordWrap(True)
        # "wrote /a/long/path/without/spaces.png" cannot wrap; let the layout ignore its width
        # (clipped, full text in the tooltip) instead of widening the whole window
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # a temperature series holds one run of its inner experiment per setpoint ("T77K_sweep",
        # "T150K_sweep", ...): the operator picks which one is plotted and re-analysed
        self.setpoint = QComboBox()
        self.setpoint.setObjectName("series_setpoint")
        self.setpoint.setToolTip("Setpoint of the temperature series to plot and re-analyse")
        self.setpoint_label = QLabel("Setpoint")
        self.setpoint.currentIndexChanged.connect(self._setpoint_changed)
        self.reanalyse_button = QPushButton("Re-analyse")
        self.reanalyse_button.clicked.connect(self.reanalyse)
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.clicked.connect(self._export_csv_dialog)
        self.png_button = QPushButton("Export PNG…")
        self.png_button.clicked.connect(self._export_png_dialog)
        for button in (self.reanalyse_button, self.csv_button, self.png_button):
            button.setEnabled(False)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("Runs in the data folder"))
        left_layout.addWidget(self.files, 1)
        row = QHBoxLayout()
        row.addWidget(refresh)
        row.addWidget(open_button)
        left_layout.addLayout(row)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.metadata)
        right.addWidget(self.plots)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        actions = QHBoxLayout()
        actions.addWidget(self.setpoint_label)
        actions.addWidget(self.setpoint)
        self.setpoint_label.setVisible(False)
        self.setpoint.setVisible(False)
        for button in (self.reanalyse_button, self.csv_button, self.png_button):
            actions.addWidget(button)
        actions.addStretch(1)
        bottom_layout.addLayout(actions)
        bottom_layout.addWidget(self.status)
        bottom_layout.addWidget(self.analysis_text)
        right.addWidget(bottom)
        right.setSizes([200, 400, 160])
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([250, 750])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.refresh_list()

    # --- files ---------------------------------------------------------------------------------
    def set_data_dir(self, directory: Path) -> None:
        self.data_dir = directory
        self.refresh_list()

    def refresh_list(self) -> None:
        self.files.clear()
        if not self.data_dir.is_dir():
            return
        paths = sorted(self.data_dir.glob("*.h5"), key=lambda p: p.stat().st_mtime, reverse=True)
        for path in paths:
            item = QListWidgetItem(path.name)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.files.addItem(item)

    def _open_dialog(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Open run", str(self.data_dir), "Runs (*.h5)")
        if chosen:
            self.open(Path(chosen))

    # --- one run -------------------------------------------------------------------------------
    def open(self, path: Path) -> bool:
        try:
            run = open_run(path)
        except (ValueError, OSError) as exc:
            self._error(f"cannot open {path.name}: {exc}")
            return False
        self.run = run
        self.analysis = None
        self.analysis_text.clear()
        self.metadata.clear()
        _add_tree(self.metadata, "experiment", run.experiment)
        _add_tree(self.metadata, "status", f"{run.status} {run.reason}".strip())
        _add_tree(self.metadata, "run_id", run.run_id)
        _add_tree(self.metadata, "params", run.params)
        _add_tree(self.metadata, "summary", run.summary)
        _add_tree(self.metadata, "streams", {name: f"{run.n_points(name)} points, fields: "
                                             + ", ".join(cols) for name, cols in run.streams.items()})
        _add_tree(self.metadata, "identities", run.identities)
        _add_tree(self.metadata, "rig_config", run.rig_config)
        for index in range(3):
            top = self.metadata.topLevelItem(index)
            if top is not None:
                top.setExpanded(True)
        self._fill_setpoints()
        self.replot()
        self.reanalyse_button.setEnabled(self._stream_named("sweep") is not None)
        self.csv_button.setEnabled(True)
        self.png_button.setEnabled(True)
        self._status(f"{path.name}: {run.experiment}, {run.status}, {run.n_points_total()} points")
        return True

    def _fill_setpoints(self) -> None:
        """List a temperature series' setpoints (from its "T<kelvin>K_" stream prefixes, in the
        order they were measured); hidden for a run that is not a series."""
        self._series_summaries: dict[str, dict[str, Any]] = {}
        entries: list[tuple[str, str]] = []
        if self.run is not None and any(SERIES_STREAM.match(name) for name in self.run.streams):
            try:
                from acquisition.reanalysis import series_runs
                inner_runs = series_runs(self.run)
                entries = [(inner.stream_prefix, f"{inner.temperature_k:g} K") for inner in inner_runs]
                self._series_summaries = {inner.stream_prefix: dict(inner.summary) for inner in inner_runs}
            except Exception:  # odd parameters must not hide the setpoints: fall back to the names
                log.exception("reading the series setpoints failed")
                seen: dict[str, str] = {}
                for name in self.run.streams:
                    match = SERIES_STREAM.match(name)
                    if match is not None:
                        seen.setdefault(name[:match.start("stream")], f"{float(match.group('kelvin')):g} K")
                entries = list(seen.items())
        self.setpoint.blockSignals(True)
        self.setpoint.clear()
        for prefix, label in entries:
            self.setpoint.addItem(label, prefix)
        self.setpoint.blockSignals(False)
        self.setpoint_label.setVisible(bool(entries))
        self.setpoint.setVisible(bool(entries))

    def selected_prefix(self) -> str | None:
        """The stream prefix of the chosen setpoint ("T77K_"), or None for a run that is no series."""
        if self.setpoint.count() == 0:
            return None
        return self.setpoint.currentData()

    def select_setpoint(self, kelvin: float) -> bool:
        """Choose the series setpoint at ``kelvin`` (re-plots); False if the run has none there."""
        for index in range(self.setpoint.count()):
            match = SERIES_STREAM.match(str(self.setpoint.itemData(index)) + "x")
            if match is not None and abs(float(match.group("kelvin")) - kelvin) < 1e-9:
                self.setpoint.setCurrentIndex(index)
                return True
        return False

    def _setpoint_changed(self, _index: int) -> None:
        if self.run is None:
            return
        self.analysis = None
        self.analysis_text.clear()
        self.replot()
        self.reanalyse_button.setEnabled(self._stream_named("sweep") is not None)

    def _summary(self) -> dict[str, Any]:
        """The stored summary of what is plotted: the chosen setpoint's in a series."""
        prefix = self.selected_prefix()
        if prefix is not None:
            return getattr(self, "_series_summaries", {}).get(prefix, {})
        return dict(self.run.summary or {})

    def replot(self) -> None:
        run = self.run
        summary = self._summary()
        self.hysteresis.clear_data()
        self.trace.clear_data()
        self.histogram.clear_data()
        sweep = self._stream_named("sweep")
        if sweep is not None:
            self.hysteresis.set_branches(*sweep_branches(run.streams[sweep]))
            self.hysteresis.set_thresholds(_number(summary.get("switch_on_kw_cm2")),
                                           _number(summary.get("switch_off_kw_cm2")))
            self.plots.setCurrentWidget(self.hysteresis)
        trace = self._stream_named("switch") or self._stream_named("trace")
        if trace is not None and run.n_points(trace):
            traced = trace_fields(run.points(trace)[-1])
            if traced is not None:
                self.trace.set_trace(*traced)
                self.plots.setCurrentWidget(self.trace)
        histogram_stream = self._stream_named("histogram")
        if histogram_stream is not None and run.n_points(histogram_stream):
            histogram = histogram_fields(run.points(histogram_stream)[-1])
            if histogram is not None:
                self.histogram.set_histogram(*histogram)
                self.plots.setCurrentWidget(self.histogram)
        for plot in (self.hysteresis, self.trace, self.histogram):
            plot.refresh()

    def _stream_named(self, base: str) -> str | None:
        """The run's stream called ``base`` (in a temperature series, the chosen setpoint's
        "T..K_base"; the first one if none is chosen)."""
        if self.run is None:
            return None
        if base in self.run.streams:
            return base
        prefix = self.selected_prefix()
        if prefix is not None:
            return prefix + base if prefix + base in self.run.streams else None
        return next((s for s in self.run.streams if base_stream(s) == base), None)

    def reanalyse(self) -> dict[str, Any] | None:
        sweep = self._stream_named("sweep")
        if sweep is None:
            return None
        try:
            from acquisition.analysis import analyze_hysteresis
            result = analyze_hysteresis(*sweep_branches(self.run.streams[sweep])).to_json_dict()
        except Exception as exc:  # analysis of odd data must be reported, not crash the browser
            log.exception("re-analysis failed")
            self._error(f"re-analysis failed: {exc}")
            return None
        self.analysis = result
        prefix = self.selected_prefix()
        if prefix is not None:
            self._status(f"re-analysed the {self.setpoint.currentText()} setpoint ({sweep})")
        self.analysis_text.setPlainText(json.dumps(_to_jsonable(result), indent=2, default=str))
        self.hysteresis.set_thresholds(_number(result.get("switch_on_kw_cm2")),
                                       _number(result.get("switch_off_kw_cm2")))
        return result

    def export_csv(self, directory: Path) -> list[Path]:
        written = export_run_csv(self.run.streams, directory, Path(self.run.path).stem)
        self._status(f"wrote {len(written)} CSV files to {directory}")
        return written

    def export_png(self, path: Path) -> Path:
        plot = self.plots.currentWidget()
        if plot is None or not plot.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        self._status(f"wrote {path}")
        return path

    def _export_csv_dialog(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Export CSV into", str(self.data_dir))
        if chosen:
            try:
                self.export_csv(Path(chosen))
            except OSError as exc:
                self._error(f"CSV export failed: {exc}")

    def _export_png_dialog(self) -> None:
        default = str(self.data_dir / f"{Path(self.run.path).stem}.png")
        chosen, _ = QFileDialog.getSaveFileName(self, "Export PNG", default, "PNG (*.png)")
        if chosen:
            try:
                self.export_png(Path(chosen))
            except OSError as exc:
                self._error(str(exc))

    def _status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def _error(self, text: str) -> None:
        self._status(text, error=True)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None
