"""The operator's main window: instruments, experiment control, live plots, runs browser, log.

Threading: the engine calls back on its worker thread; EngineEventBridge hands events to this
(GUI) thread; plots redraw from a QTimer; instrument polling runs on its own QThread. Nothing
here waits on an instrument.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import pyqtgraph as pg
from PyQt6.QtCore import QByteArray, QSettings, Qt
from PyQt6.QtGui import QAction, QCloseEvent
from PyQt6.QtWidgets import QDockWidget, QMainWindow, QTabWidget, QWidget

from acquisition.events import (Event, InterlockTripped, PointTaken, RunFinished, RunStarted, RunState,
                                StateChanged)
from gui.emergency_stop import EmergencyStop
from gui.event_bridge import EngineEventBridge
from gui.experiment_panel import ExperimentPanel
from gui.instruments_panel import InstrumentsPanel
from gui.live_plots import LivePlots
from gui.log_panel import LogPanel, QtLogHandler
from gui.runs_browser import RunsBrowser
from gui.safety_alarm import SafetyAlarm, alarm_text

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, rig: Any, engine: Any, experiments: Mapping[str, Any], settings: QSettings,
                 data_dir: Path, poll_hz: float = 3.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("avalab — photon-avalanche bistability microscope")
        self.rig = rig
        self.engine = engine
        self.settings = settings
        self.log_handler = QtLogHandler()
        logging.getLogger().addHandler(self.log_handler)
        if logging.getLogger().level > logging.INFO or logging.getLogger().level == logging.NOTSET:
            logging.getLogger().setLevel(logging.INFO)

        saved_dir = settings.value("data_dir", type=str)
        self.plots = LivePlots()
        self.runs = RunsBrowser(Path(saved_dir) if saved_dir else data_dir)
        self.experiment_panel = ExperimentPanel(engine, experiments, Path(saved_dir) if saved_dir else data_dir)
        self.experiment_panel.data_dir_edit.editingFinished.connect(
            lambda: self.runs.set_data_dir(self.experiment_panel.data_dir))
        self.instruments_panel = InstrumentsPanel(rig, poll_hz)
        self.log_panel = LogPanel(self.log_handler)
        self.emergency = EmergencyStop(engine, rig, self)
        self.instruments_panel.stop_requested.connect(self.stop)
        self.emergency.finished.connect(self.instruments_panel.show_stop_result,
                                        Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.emergency.finished.connect(self._alarm_on_stop_result,
                                        Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        #: safe-state alarms shown (each stays until the operator acknowledges it)
        self.alarms: list[SafetyAlarm] = []
        self.instruments_panel.temperature_sample.connect(self.plots.temperature.add_monitor_sample)
        # maps: the cursor follows the stage; a click sends the stage there (instrument worker)
        self.instruments_panel.stage_position.connect(self.plots.maps.set_cursor)
        self.plots.maps.position_clicked.connect(self.instruments_panel.move_stage)
        self.runs.maps.position_clicked.connect(self.instruments_panel.move_stage)

        self.central_tabs = QTabWidget()
        self.central_tabs.addTab(self.plots, "Live")
        self.central_tabs.addTab(self.runs, "Runs")
        self.setCentralWidget(self.central_tabs)
        self.docks: dict[str, QDockWidget] = {}
        self._dock("instruments", "Instruments", self.instruments_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("experiment", "Experiment", self.experiment_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("log", "Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        menu_bar = self.menuBar()
        assert menu_bar is not None  # a QMainWindow always creates its menu bar on request
        view_menu = menu_bar.addMenu("&View")
        run_menu = menu_bar.addMenu("&Run")
        assert view_menu is not None and run_menu is not None
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        stop_action = QAction("STOP (safe state)", self)
        stop_action.setShortcut("Ctrl+.")
        stop_action.triggered.connect(self.stop)
        run_menu.addAction(stop_action)

        self.bridge = EngineEventBridge(engine, self)
        self.bridge.received.connect(self.on_event)
        self._restore_layout()
        self._restore_forms()
        self.instruments_panel.start()
        self._closed = False

    def _dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")  # saveState() identifies docks by object name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock

    # --- events from the engine (GUI thread) ---------------------------------------------------
    def on_event(self, event: Event) -> None:
        try:
            self._route(event)
        except Exception:  # a display bug must never take down the window that holds STOP
            log.exception("GUI failed to show %s", type(event).__name__)

    def _route(self, event: Event) -> None:
        self.plots.handle_event(event)
        if isinstance(event, PointTaken):
            rate = event.data.get("rate_cps")
            if isinstance(rate, (int, float)):
                self.instruments_panel.show_run_rate(float(rate))
            return
        self.experiment_panel.handle_event(event)
        if isinstance(event, RunStarted):
            self.instruments_panel.set_run_active(True)
            self.instruments_panel.clear_interlock()
            self.central_tabs.setCurrentWidget(self.plots)
        elif isinstance(event, StateChanged):
            self.instruments_panel.set_run_active(event.state != RunState.IDLE)
        elif isinstance(event, InterlockTripped):
            self.instruments_panel.show_interlock(event.interlock, event.detail)
        elif isinstance(event, RunFinished):
            self.instruments_panel.set_run_active(False)
            self.runs.refresh_list()
            if event.safe_state_failures:
                self.raise_alarm(event.safe_state_failures, f"end of run {event.run_id}")

    def raise_alarm(self, failures: dict[str, str], context: str) -> SafetyAlarm:
        """A modal alarm naming the roles that may not be safe; stays until acknowledged."""
        log.error("%s (%s)", alarm_text(failures), context)
        alarm = SafetyAlarm(failures, context, self)
        self.alarms.append(alarm)
        alarm.show()  # application modal without a nested event loop (open() would make it window modal)
        return alarm

    def _alarm_on_stop_result(self, result: dict[str, str | None]) -> None:
        failures = {role: str(error) for role, error in result.items() if error}
        if failures and not self._closed:
            self.raise_alarm(failures, "STOP")

    def stop(self) -> None:
        self.experiment_panel.hold_queue()
        self.emergency.trigger()

    # --- persistence ---------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        if isinstance(state, QByteArray):
            self.restoreState(state)
        experiment = self.settings.value("experiment/current", type=str)
        if experiment in self.experiment_panel.forms:
            self.experiment_panel.select_experiment(experiment)

    def _restore_forms(self) -> None:
        for name, form in self.experiment_panel.forms.items():
            for field in form.specs:
                value = self.settings.value(f"forms/{name}/{field}")
                if value is not None:
                    form.set_value(field, value if not isinstance(value, str) else value)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("experiment/current", self.experiment_panel.current_experiment)
        self.settings.setValue("data_dir", str(self.experiment_panel.data_dir))
        for name, form in self.experiment_panel.forms.items():
            for field, raw in form.raw_values().items():
                self.settings.setValue(f"forms/{name}/{field}", raw)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 (Qt API)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save the layout, stop polling and detach from the engine and logging (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.save_settings()
        if self.engine.is_busy:
            log.warning("window closed during a run: aborting it")
            self.engine.abort()
        self.instruments_panel.shutdown()
        # a stage reading still queued from the poller must not move a cursor the views below
        # are about to delete (RuntimeError from a deleted TargetItem)
        self.instruments_panel.stage_position.disconnect(self.plots.maps.set_cursor)
        self.plots.timer.stop()
        self.bridge.close()
        # pyqtgraph views still holding queued paint/auto-range work once Qt deletes the window
        # crash inside prepareForPaint ("ChildGroup has been deleted", then a segfault): closing
        # them clears their scenes while everything is alive
        for view in self.findChildren(pg.GraphicsView):
            view.close()
        logging.getLogger().removeHandler(self.log_handler)
