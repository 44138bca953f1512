"""The whole window on the simulated rig (virtual clock): a sweep started from the GUI, points in
the plot, pause / resume / abort, every instrument safe afterwards; STOP; invalid forms; layout
persistence."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt

from acquisition.engine import Engine
from acquisition.events import PointTaken, RunState
from acquisition.rig import load_rig
from drivers import interfaces as itf
from gui.app import create_window
from gui.main_window import MainWindow


def _open_window(qtbot, tmp_path: Path) -> MainWindow:
    rig = load_rig("sim")
    rig.connect_all()
    window = create_window(rig, settings_path=tmp_path / "gui.ini", data_dir=tmp_path / "runs", poll_hz=5.0)
    qtbot.addWidget(window)
    window.show()
    return window


def _close_window(window: MainWindow) -> None:
    window.shutdown()
    window.engine.close()
    window.rig.close_all()


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    win = _open_window(qtbot, tmp_path)
    yield win
    _close_window(win)


class PointGate:
    """Holds the engine's worker thread after a chosen sweep point until the test releases it.

    A virtual-clock sweep runs as fast as the worker thread is scheduled, so a click "while the
    run is going" is otherwise a race against a loaded machine; held, the run is certain to be
    mid-way when the click lands."""

    def __init__(self, engine: Engine) -> None:
        self.points = 0
        self.held = threading.Event()
        self._hold_at: int | None = None
        self._release = threading.Event()
        self.unsubscribe = engine.subscribe(self._on_event)

    def hold_at(self, point: int) -> None:
        self.held.clear()
        self._release.clear()
        self._hold_at = point

    def release(self) -> None:
        self._hold_at = None
        self._release.set()

    def _on_event(self, event: object) -> None:  # on the worker thread
        if isinstance(event, PointTaken) and event.stream == "sweep":
            self.points += 1
            if self.points == self._hold_at:
                self.held.set()
                assert self._release.wait(600), "the test never released the run"


@pytest.fixture
def gate(window: MainWindow) -> Iterator[PointGate]:
    held = PointGate(window.engine)
    yield held
    held.release()  # never leave the worker waiting, whatever the test did
    held.unsubscribe()


def _short_sweep(window: MainWindow, points: int = 10) -> None:
    form = window.experiment_panel.select_experiment("sweep")
    form.set_value("points", points)
    form.set_value("settle_s", 0.0)
    form.set_value("dwell_s", 0.1)
    assert form.is_valid, form.errors()


def assert_everything_safe(rig) -> None:
    """The safe state of every role, read back from the instruments themselves."""
    for role, instrument in rig.instruments.items():
        if isinstance(instrument, itf.PumpLaser):
            assert instrument.get_emission() is False, role
        elif isinstance(instrument, itf.Shutter):
            assert instrument.is_open() is False, role
        elif isinstance(instrument, itf.ControlLaser):
            assert instrument.get_shutter() is False, role
        elif isinstance(instrument, itf.Chopper):
            assert instrument.get_enabled() is False, role
        elif isinstance(instrument, itf.TemperatureController):
            assert instrument.get_heater_range() == 0, role
        elif isinstance(instrument, itf.RotationStage):
            assert instrument.is_moving() is False, role


def test_sweep_from_the_gui_pause_resume_abort_leaves_everything_safe(qtbot, window: MainWindow,
                                                                     gate: PointGate) -> None:
    panel = window.experiment_panel
    plot = window.plots.hysteresis
    _short_sweep(window, points=40)
    gate.hold_at(3)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(gate.held.is_set, timeout=60000)
    qtbot.waitUntil(lambda: plot.point_count >= 3, timeout=30000)
    window.plots.refresh()
    x_up, _ = plot.up_branch.plotted()
    assert len(x_up) >= 3  # points are in the plot, not only counted

    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    gate.release()
    qtbot.waitUntil(lambda: panel.state == RunState.PAUSED, timeout=30000)
    assert panel.resume_button.isEnabled() and not panel.pause_button.isEnabled()
    paused_at = plot.point_count
    qtbot.wait(800)  # several point times: nothing may arrive while paused (one in flight at most)
    assert plot.point_count <= paused_at + 1
    paused_at = plot.point_count

    gate.hold_at(gate.points + 2)  # the worker is paused: its count stands still
    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(gate.held.is_set, timeout=60000)
    qtbot.waitUntil(lambda: plot.point_count >= paused_at + 2, timeout=30000)
    assert panel.state == RunState.RUNNING

    qtbot.mouseClick(panel.abort_button, Qt.MouseButton.LeftButton)
    gate.release()
    qtbot.waitUntil(lambda: panel.message_label.text().startswith("aborted"), timeout=30000)
    qtbot.waitUntil(lambda: not window.engine.is_busy, timeout=30000)
    assert panel.state == RunState.IDLE
    assert plot.point_count < 80  # the abort cut the 2 x 40 point sweep short
    assert panel.last_handle.wait(5).status.value == "aborted"
    assert_everything_safe(window.rig)
    # the run file is listed in the runs browser
    qtbot.waitUntil(lambda: window.runs.files.count() == 1, timeout=30000)


def test_stop_button_aborts_and_makes_every_instrument_safe(qtbot, window: MainWindow) -> None:
    _short_sweep(window, points=40)
    window.experiment_panel.start_clicked()
    qtbot.waitUntil(lambda: window.plots.hysteresis.point_count >= 1, timeout=30000)
    stop = window.instruments_panel.stop_button
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    status = window.instruments_panel.stop_status
    qtbot.waitUntil(lambda: "safe state" in status.text(), timeout=30000)
    assert status.text() == f"all {len(window.rig.instruments)} instruments in their safe state"
    qtbot.waitUntil(lambda: not window.engine.is_busy, timeout=30000)
    assert_everything_safe(window.rig)


def test_invalid_input_cannot_start_and_says_why_next_to_the_field(qtbot, window: MainWindow) -> None:
    panel = window.experiment_panel
    form = panel.select_experiment("sweep")
    form.set_value("stop_kw_cm2", "ten")
    assert not panel.start_button.isEnabled() and not panel.queue_button.isEnabled()
    assert "stop_kw_cm2='ten' is not a number" in form.field_error("stop_kw_cm2")
    assert form.error_labels["stop_kw_cm2"].isVisible()
    assert panel.estimate_label.text() == "estimated duration: (fix the marked fields)"
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    panel.start_clicked()  # even a programmatic start is refused
    assert not window.engine.is_busy and panel.last_handle is None
    assert "fix the marked fields" in panel.message_label.text()

    # a cross-field rule and a rig limit are marked on their fields too
    form.set_value("stop_kw_cm2", "0.5")
    assert "must be above start_kw_cm2" in form.field_error("stop_kw_cm2")
    limit_kw_cm2 = window.rig.config.limits.max_power_density_w_m2 / 1e7
    form.set_value("stop_kw_cm2", f"{limit_kw_cm2 * 2:g}")
    assert "above the rig limit" in form.field_error("stop_kw_cm2")
    assert not panel.start_button.isEnabled()

    form.set_value("stop_kw_cm2", "10")
    assert panel.start_button.isEnabled()
    assert panel.estimate_label.text().startswith("estimated duration: ")
    assert "fix" not in panel.estimate_label.text()


def test_layout_and_form_values_persist_between_sessions(qtbot, tmp_path: Path) -> None:
    first = _open_window(qtbot, tmp_path)
    first.docks["log"].hide()
    first.resize(760, 700)  # inside the 800 x 800 offscreen screen, so no clamping on restore
    saved_size = (first.width(), first.height())
    first.experiment_panel.select_experiment("lifetime").set_value("acquisition_s", "7")
    _close_window(first)

    second = _open_window(qtbot, tmp_path)
    try:
        assert second.docks["log"].isHidden()
        assert not second.docks["experiment"].isHidden()
        assert (second.width(), second.height()) == saved_size
        assert second.experiment_panel.current_experiment == "lifetime"
        assert second.experiment_panel.forms["lifetime"].values()["acquisition_s"] == 7.0
    finally:
        _close_window(second)


def test_queued_runs_start_one_after_another(qtbot, window: MainWindow, gate: PointGate) -> None:
    panel = window.experiment_panel
    _short_sweep(window, points=2)
    gate.hold_at(1)  # the first run is certain to be going while the second waits in the queue
    panel.enqueue_clicked()
    panel.enqueue_clicked()
    qtbot.waitUntil(gate.held.is_set, timeout=60000)
    assert window.engine.is_busy
    assert len(panel.queue) == 1
    gate.release()
    qtbot.waitUntil(lambda: len(panel.queue) == 0 and window.runs.files.count() == 2
                    and not window.engine.is_busy, timeout=60000)
    assert panel.message_label.text().startswith("complete")


def test_engine_log_reaches_the_log_panel(qtbot, window: MainWindow) -> None:
    # a virtual-clock sweep can finish within the GUI's polling interval, so the warning checked
    # here is STOP's, which is logged whether or not the run is still going; STOP is pressed only
    # once the worker thread's "pump emission on" line has arrived (pressed earlier, the abort
    # could end the run before the plan ever switched the pump on)
    _short_sweep(window, points=60)
    window.experiment_panel.start_clicked()
    qtbot.waitUntil(lambda: any("acquisition.run." in line and "pump emission on" in line
                                for line in window.log_panel.lines()), timeout=30000)
    window.stop()
    qtbot.waitUntil(lambda: not window.engine.is_busy, timeout=30000)
    qtbot.waitUntil(lambda: any("EMERGENCY STOP" in line for line in window.log_panel.lines()), timeout=30000)
    # lines logged on the engine's worker thread crossed to the GUI thread
    assert any("acquisition.run." in line and "pump emission on" in line for line in window.log_panel.lines())
