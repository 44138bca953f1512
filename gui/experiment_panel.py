"""Experiment panel: pick an experiment, fill its schema-generated form, start / pause / resume /
abort, queue further runs, and see the estimated duration and progress.

The panel never measures anything itself: it calls ``engine.start`` (which validates again and
raises a one-line ValueError) and follows the run through the engine's events.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QListWidget, QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                             QSizePolicy, QStackedWidget, QVBoxLayout, QWidget)

from acquisition.events import (Event, InterlockTripped, PointTaken, Progress, RunFinished, RunStarted, RunState,
                                RunStatus, StateChanged)
from acquisition.storage.naming import new_run_path
from gui.param_form import ERROR_STYLE, ParameterForm
from gui.run_queue import QueuedRun, RunQueue, format_duration

log = logging.getLogger(__name__)

#: how often the estimate-based ETA counts down while a run reports none of its own
ETA_TICK_MS = 1000

#: how often to look whether the engine has become idle after a run, to start the next queued one
QUEUE_POLL_MS = 100


class ExperimentPanel(QWidget):
    """Forms, run control and queue. ``run_started_by_gui`` carries the engine's RunHandle."""

    run_started_by_gui = pyqtSignal(object)

    def __init__(self, engine: Any, experiments: Mapping[str, Any], data_dir: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.experiments = experiments
        self.queue = RunQueue()
        self.state = RunState.IDLE
        self.current_run_id: str | None = None
        self.last_handle: Any = None
        self.last_error = ""

        self.chooser = QComboBox()
        self.chooser.setObjectName("experiment_chooser")
        self.chooser.addItems(list(experiments))
        self.forms: dict[str, ParameterForm] = {}
        self.stack = QStackedWidget()
        for name, experiment in experiments.items():
            form = ParameterForm(experiment.schema, self._rig_aware_validator(experiment))
            form.setObjectName(f"form_{name}")
            form.values_changed.connect(self._refresh)
            form.validity_changed.connect(lambda _valid: self._refresh())
            self.forms[name] = form
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(form)
            self.stack.addWidget(scroll)
        self.chooser.currentIndexChanged.connect(self.stack.setCurrentIndex)
        self.chooser.currentIndexChanged.connect(lambda _i: self._refresh())

        self.data_dir_edit = QLineEdit(str(data_dir))
        self.data_dir_edit.setObjectName("data_dir")
        browse = QPushButton("…")
        browse.setMaximumWidth(30)
        browse.clicked.connect(self._browse_data_dir)

        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("estimate")
        self.start_button = QPushButton("Start")
        self.queue_button = QPushButton("Add to queue")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.abort_button = QPushButton("Abort")
        for button, slot in ((self.start_button, self.start_clicked), (self.queue_button, self.enqueue_clicked),
                             (self.pause_button, self.engine.pause), (self.resume_button, self.engine.resume),
                             (self.abort_button, self.abort_clicked)):
            button.clicked.connect(lambda _=False, s=slot: s())
        self.state_label = QLabel("idle")
        self.state_label.setObjectName("run_state")
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        # a reason may hold a long path: never let it widen the dock (full text in the tooltip)
        self.message_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.queue_list = QListWidget()
        self.queue_list.setObjectName("queue")
        # entries are compact, but a narrow dock still must not scroll sideways: elide instead
        self.queue_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.queue_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.queue_status = QLabel()
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        self.release_button = QPushButton("Run queue")
        self.release_button.clicked.connect(self.release_queue)

        top = QHBoxLayout()
        top.addWidget(QLabel("Experiment"))
        top.addWidget(self.chooser, 1)
        folder = QHBoxLayout()
        folder.addWidget(QLabel("Data folder"))
        folder.addWidget(self.data_dir_edit, 1)
        folder.addWidget(browse)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.queue_button, self.pause_button, self.resume_button,
                       self.abort_button):
            buttons.addWidget(button)
        queue_box = QGroupBox("Queue")
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.addWidget(self.queue_list)
        queue_buttons = QHBoxLayout()
        queue_buttons.addWidget(self.queue_status, 1)
        queue_buttons.addWidget(remove)
        queue_buttons.addWidget(self.release_button)
        queue_layout.addLayout(queue_buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 3)
        layout.addLayout(folder)
        layout.addWidget(self.estimate_label)
        layout.addLayout(buttons)
        status = QHBoxLayout()
        status.addWidget(self.state_label)
        status.addWidget(self.progress, 1)
        layout.addLayout(status)
        layout.addWidget(self.message_label)
        layout.addWidget(queue_box, 1)

        # the ETA from the experiment's own estimate, counted down from the run's start, until (or
        # where) the run's progress reports give one: a pulsed run reports none, a sweep only
        # from its second point on
        self._run_estimate_s: float | None = None
        self._run_elapsed_s = 0.0
        self._eta_tick_at = 0.0
        self._eta_timer = QTimer(self)
        self._eta_timer.setInterval(ETA_TICK_MS)
        self._eta_timer.timeout.connect(self._tick_estimate)

        self._queue_timer = QTimer(self)
        self._queue_timer.setInterval(QUEUE_POLL_MS)
        self._queue_timer.timeout.connect(self._start_next_if_idle)
        self._refresh()

    def _rig_aware_validator(self, experiment: Any) -> Any:
        """The experiment's own validate_all with this engine's rig (limits, laser range), so a
        density above the rig's interlock is marked in the form, not refused after Start."""
        rig = getattr(self.engine, "rig", None)
        if hasattr(experiment, "validate_all"):
            return lambda params: experiment.validate_all(params, rig)
        return experiment.schema.validate_all

    # --- accessors -----------------------------------------------------------------------------
    @property
    def current_experiment(self) -> str:
        return self.chooser.currentText()

    @property
    def current_form(self) -> ParameterForm:
        return self.forms[self.current_experiment]

    def select_experiment(self, name: str) -> ParameterForm:
        self.chooser.setCurrentText(name)
        return self.forms[name]

    @property
    def data_dir(self) -> Path:
        return Path(self.data_dir_edit.text()).expanduser()

    # --- actions -------------------------------------------------------------------------------
    def _browse_data_dir(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Data folder", str(self.data_dir))
        if chosen:
            self.data_dir_edit.setText(chosen)

    def _queued_from_form(self) -> QueuedRun | None:
        form = self.current_form
        if not form.revalidate():
            self._show_message("fix the marked fields first: " + "; ".join(form.errors()), error=True)
            return None
        params = form.values()
        return QueuedRun(self.current_experiment, params, self._estimate(self.current_experiment, params))

    def start_clicked(self) -> None:
        run = self._queued_from_form()
        if run is None:
            return
        if self.engine.is_busy:
            self.queue.add(run)
            self._show_message(f"engine busy: queued {run.experiment}")
            self._refresh()
            return
        self._start(run)

    def enqueue_clicked(self) -> None:
        run = self._queued_from_form()
        if run is None:
            return
        self.queue.add(run)
        self._refresh()
        if not self.engine.is_busy and not self.queue.held:
            self._start_next_if_idle()

    def abort_clicked(self) -> None:
        # an abort means "something is wrong": do not run on into the next queued experiment
        self.queue.held = bool(len(self.queue))
        self.engine.abort()
        self._refresh()

    def hold_queue(self) -> None:
        self.queue.held = True
        self._refresh()

    def release_queue(self) -> None:
        self.queue.held = False
        self._refresh()
        self._start_next_if_idle()

    def _remove_selected(self) -> None:
        for item in self.queue_list.selectedItems():
            self.queue.remove(int(item.data(256)))
        self._refresh()

    def _start(self, run: QueuedRun) -> bool:
        directory = self.data_dir
        try:
            directory.mkdir(parents=True, exist_ok=True)
            out_path = new_run_path(directory, run.experiment)
            handle = self.engine.start(run.experiment, dict(run.params), out_path)
        except (ValueError, OSError, RuntimeError) as exc:
            self.last_error = str(exc)
            self._show_message(f"cannot start {run.experiment}: {exc}", error=True)
            log.error("cannot start %s: %s", run.experiment, exc)
            return False
        self.last_handle = handle
        self.state = RunState.RUNNING
        self._show_message(f"started {run.experiment} → {out_path.name}")
        self.run_started_by_gui.emit(handle)
        self._refresh()
        return True

    def _start_next_if_idle(self) -> None:
        if self.engine.is_busy:
            return
        self._queue_timer.stop()
        run = self.queue.pop_next()
        if run is not None:
            self._start(run)
        self._refresh()

    def _estimate(self, experiment: str, params: dict[str, Any]) -> float | None:
        try:
            return float(self.experiments[experiment].estimate_duration_s(params))
        except Exception as exc:  # an estimate is a convenience: never block a run on it
            log.debug("no estimate for %s: %s", experiment, exc)
            return None

    def estimated_remaining_s(self) -> float | None:
        """What is left of the experiment's estimate for the current run (None once the run
        reports its own ETA, or if the experiment gives no estimate)."""
        if self._run_estimate_s is None:
            return None
        return max(0.0, self._run_estimate_s - self._run_elapsed_s)

    def _tick_estimate(self) -> None:
        now = time.monotonic()
        if self.state == RunState.RUNNING:  # a pause does not use up the estimate
            self._run_elapsed_s += now - self._eta_tick_at
        self._eta_tick_at = now
        self._show_estimated_eta()

    def _show_estimated_eta(self) -> None:
        remaining = self.estimated_remaining_s()
        if remaining is not None and self.state == RunState.RUNNING:
            self.state_label.setText(f"{self.state.value}, ~{format_duration(remaining)} left (estimate)")
            self.state_label.setToolTip("from the experiment's duration estimate, until the run reports "
                                        "its own progress")
        else:
            self.state_label.setToolTip("")

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self.message_label.setStyleSheet(ERROR_STYLE if error else "")

    # --- engine events -------------------------------------------------------------------------
    def handle_event(self, event: Event) -> None:
        if isinstance(event, PointTaken):
            return  # points belong to the plots; rebuilding this panel per point would waste the GUI
        if isinstance(event, RunStarted):
            self.current_run_id = event.run_id
            self.state = RunState.RUNNING
            self.progress.setRange(0, 0)
            self._run_estimate_s = self._estimate(event.experiment, dict(event.params or {}))
            self._run_elapsed_s = 0.0
            self._eta_tick_at = time.monotonic()
            if self._run_estimate_s is not None:
                self._eta_timer.start()
            self._show_estimated_eta()
        elif isinstance(event, StateChanged):
            self.state = event.state
        elif isinstance(event, Progress):
            if event.total:
                self.progress.setRange(0, int(event.total))
                self.progress.setValue(int(event.done))
            if event.eta_s is not None:  # the run's own extrapolation replaces the estimate
                self._eta_timer.stop()
                self._run_estimate_s = None
                self.state_label.setText(f"{self.state.value}, {format_duration(event.eta_s)} left")
            elif self._run_estimate_s is not None:
                self._show_estimated_eta()
            elif event.message:
                self.state_label.setText(self.state.value)
        elif isinstance(event, InterlockTripped):
            self.queue.held = bool(len(self.queue))
            self._show_message(f"interlock {event.interlock}: {event.detail}", error=True)
        elif isinstance(event, RunFinished):
            self._eta_timer.stop()
            self._run_estimate_s = None
            self.state = RunState.IDLE
            self.current_run_id = None
            if self.progress.maximum() == 0:
                self.progress.setRange(0, 1)
            if event.status == RunStatus.COMPLETE:  # nested plans may leave a partial count behind
                self.progress.setValue(self.progress.maximum())
            summary = _summary_text(event.summary)
            text = f"{event.status.value}{': ' + event.reason if event.reason else ''}{summary}"
            self._show_message(text, error=event.status in (RunStatus.FAILED, RunStatus.ABORTED))
            if event.status != RunStatus.COMPLETE:
                self.queue.held = self.queue.held or bool(len(self.queue))
            if len(self.queue) and not self.queue.held:
                self._queue_timer.start()
        self._refresh()

    # --- widget state --------------------------------------------------------------------------
    def _refresh(self) -> None:
        form = self.current_form
        busy = self.state != RunState.IDLE
        valid = form.is_valid
        self.start_button.setEnabled(valid)
        self.start_button.setText("Start" if not busy else "Start (queue)")
        self.start_button.setToolTip("" if valid else "invalid parameters: " + "; ".join(form.errors()))
        self.queue_button.setEnabled(valid)
        self.pause_button.setEnabled(self.state == RunState.RUNNING)
        self.resume_button.setEnabled(self.state == RunState.PAUSED)
        self.abort_button.setEnabled(self.state in (RunState.RUNNING, RunState.PAUSED))
        if self.state_label.text().split(",")[0] != self.state.value:
            self.state_label.setText(self.state.value)
        estimate = self._estimate(self.current_experiment, form.values()) if valid else None
        self.estimate_label.setText(f"estimated duration: {format_duration(estimate)}" if valid
                                    else "estimated duration: (fix the marked fields)")
        self.queue_list.clear()
        for run in self.queue.items:
            item = QListWidgetItem(run.compact())  # short; the full parameter list is the tooltip
            item.setToolTip(run.describe())
            item.setData(256, run.queue_id)  # Qt.ItemDataRole.UserRole
            self.queue_list.addItem(item)
        held = " — held (press Run queue)" if self.queue.held and len(self.queue) else ""
        self.queue_status.setText(f"{len(self.queue)} queued, ~{format_duration(self.queue.total_estimate_s())}"
                                  f"{held}" if len(self.queue) else "queue empty")
        self.release_button.setEnabled(self.queue.held and bool(len(self.queue)))


def _summary_text(summary: Mapping[str, Any]) -> str:
    """The run's headline figures in one line: thresholds and width (sweep), which biases
    latched (switch), how many conditions were bistable (pulsed)."""
    parts = []
    for key, name in (("switch_on_kw_cm2", "switch-on"), ("switch_off_kw_cm2", "switch-off"),
                      ("hysteresis_width_kw_cm2", "width"), ("width_kw_cm2", "width")):
        value = summary.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name not in " ".join(parts):
            parts.append(f"{name} {value:.2f} kW/cm²")
    if isinstance(summary.get("bistable"), bool):
        parts.append("bistable" if summary["bistable"] else "not bistable")
    latched = summary.get("latched_by_bias_kw_cm2")
    if isinstance(latched, Mapping) and latched:
        on = [bias for bias, state in latched.items() if state]
        parts.append(f"latched at {', '.join(on)} kW/cm² of {len(latched)} biases" if on
                     else f"no latching at {len(latched)} biases")
    for key, name in (("rise_time_s", "rise"), ("decay_time_s", "decay")):
        value = summary.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{name} {value * 1e3:.3g} ms")
    conditions = summary.get("conditions")
    if isinstance(conditions, list) and conditions and all(isinstance(c, Mapping) for c in conditions):
        bistable = sum(1 for c in conditions if c.get("bistable"))
        parts.append(f"{bistable}/{len(conditions)} chopper conditions bistable")
    return (" — " + ", ".join(parts)) if parts else ""
