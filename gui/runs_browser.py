"""Runs browser: open stored HDF5 runs, show their metadata, re-plot, re-analyse, export.

Reading goes through ``acquisition.storage.open_run`` (which also reads runs still being written
or cut short); the re-plot draws the stored points with the run's experiment's live panels
(``Experiment.live``), the re-analysis is ``acquisition.reanalysis.reanalyze`` with the run's
own parameters (its noise level included), the same as ``avalab analyze``: the browser adds no
physics of its own. A run made of runs of another experiment (a temperature series' setpoints,
``Experiment.sub_runs``) is re-plotted and re-analysed part by part.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                             QPlainTextEdit, QPushButton, QSizePolicy, QSplitter, QTabWidget, QTreeWidget,
                             QTreeWidgetItem, QVBoxLayout, QWidget)

from acquisition.experiments import EXPERIMENTS
from acquisition.reanalysis import reanalyze
from acquisition.storage import open_run
from acquisition.storage.columns import row_dicts
from gui.live_plots import CalibrationPlot, HistogramPlot, HysteresisPlot, PanelRenderer, TracePlot, panels_of
from gui.map_panels import MapPanels
from gui.param_form import ERROR_STYLE
from gui.run_export import export_run_csv

log = logging.getLogger(__name__)


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
        self.curve = CalibrationPlot()
        self.plots = QTabWidget()
        self.plots.addTab(self.hysteresis, "Emission vs power")
        self.plots.addTab(self.trace, "Switching trace")
        self.plots.addTab(self.histogram, "TCSPC histogram")
        self.plots.addTab(self.curve, "Calibration")
        self.maps = MapPanels()
        self.plots.addTab(self.maps, "Map")
        self.renderer = PanelRenderer({"image": self.maps, "loop": self.hysteresis, "trace": self.trace,
                                       "histogram": self.histogram, "curve": self.curve})
        self._parts: dict[str, Any] = {}
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
        self.setpoint.setToolTip("Part of the run (a setpoint of a temperature series) to plot and re-analyse")
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
        self.reanalyse_button.setEnabled(self._target() is not None)
        self.csv_button.setEnabled(True)
        self.png_button.setEnabled(True)
        self._status(f"{path.name}: {run.experiment}, {run.status}, {run.n_points_total()} points")
        return True

    def _fill_setpoints(self) -> None:
        """List the run's parts (``Experiment.sub_runs``: a temperature series' setpoints, in
        the order they were measured); hidden for a run that has none."""
        self._parts = {}
        experiment = EXPERIMENTS.get(str(self.run.experiment)) if self.run is not None else None
        if experiment is not None and experiment.sub_runs is not None:
            try:
                self._parts = {part.stream_prefix: part for part in experiment.sub_runs(self.run)}
            except Exception:  # odd parameters must not hide the run: it is shown whole
                log.exception("reading the parts of %s failed", self.run.run_id)
        self.setpoint.blockSignals(True)
        self.setpoint.clear()
        for prefix, part in self._parts.items():
            self.setpoint.addItem(part.label, prefix)
        self.setpoint.blockSignals(False)
        self.setpoint_label.setVisible(bool(self._parts))
        self.setpoint.setVisible(bool(self._parts))

    def selected_prefix(self) -> str | None:
        """The stream prefix of the chosen part ("T77K_"), or None for a run without parts."""
        if self.setpoint.count() == 0:
            return None
        return self.setpoint.currentData()

    def select_setpoint(self, kelvin: float) -> bool:
        """Choose the part (series setpoint) at ``kelvin`` (re-plots); False if there is none."""
        for index in range(self.setpoint.count()):
            part = self._parts.get(self.setpoint.itemData(index))
            if part is not None and abs(part.temperature_k - kelvin) < 1e-9:
                self.setpoint.setCurrentIndex(index)
                return True
        return False

    def _setpoint_changed(self, _index: int) -> None:
        if self.run is None:
            return
        self.analysis = None
        self.analysis_text.clear()
        self.replot()
        self.reanalyse_button.setEnabled(self._target() is not None)

    def _target(self) -> Any:
        """What is plotted and re-analysed: the chosen part, else the run itself (None: no run,
        or an experiment this installation does not know)."""
        if self.run is None:
            return None
        prefix = self.selected_prefix()
        if prefix is not None and prefix in self._parts:
            return self._parts[prefix]
        return self.run if str(self.run.experiment) in EXPERIMENTS else None

    def replot(self) -> None:
        """The stored points through the experiment's live panels, then its stored figures."""
        for plot in (self.hysteresis, self.trace, self.histogram, self.curve, self.maps):
            plot.clear_data()
        self.hysteresis.set_thresholds(None, None)
        target = self._target()
        if target is None:
            return
        first = self.renderer.start(panels_of(str(target.experiment), target.params))
        for panel in self.renderer.panels:
            columns = target.streams.get(panel.stream)
            if columns:
                for point in row_dicts(columns):
                    self.renderer.feed(panel.stream, point)
        self.renderer.finish(dict(target.summary or {}))
        if first is not None:
            self.plots.setCurrentWidget(first)
        for plot in (self.hysteresis, self.trace, self.histogram, self.curve, self.maps):
            plot.refresh()

    def reanalyse(self) -> dict[str, Any] | None:
        """The figures of what is plotted, as ``avalab analyze`` computes them (the run's own
        parameters, its noise level included)."""
        target = self._target()
        if target is None:
            return None
        try:
            result = reanalyze(target)
        except Exception as exc:  # analysis of odd data must be reported, not crash the browser
            log.exception("re-analysis failed")
            self._error(f"re-analysis failed: {exc}")
            return None
        self.analysis = result
        if self.selected_prefix() is not None:
            self._status(f"re-analysed the {self.setpoint.currentText()} setpoint")
        self.analysis_text.setPlainText(json.dumps(_to_jsonable(result), indent=2, default=str))
        self.renderer.finish(result)
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
