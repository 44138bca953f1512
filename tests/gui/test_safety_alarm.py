"""A safe state that fails is an alarm the operator must acknowledge, not a log line: at the end
of a run and after STOP the window opens a modal box naming the role and why; Esc and the close
button do not dismiss it, "Acknowledge" does (and is logged)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox

from acquisition.rig import load_rig
from drivers.errors import InstrumentConnectionError
from gui.app import create_window
from gui.main_window import MainWindow
from gui.safety_alarm import SafetyAlarm


@pytest.fixture
def window(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    rig = load_rig("sim")
    rig.connect_all()
    pump = rig.instruments["pump"]

    def unreachable() -> None:
        raise InstrumentConnectionError("pump", "sim", "OFF", "link lost (test)")

    monkeypatch.setattr(pump, "safe_state", unreachable)
    win = create_window(rig, settings_path=tmp_path / "gui.ini", data_dir=tmp_path / "runs", poll_hz=5.0)
    qtbot.addWidget(win)
    win.show()
    yield win
    for alarm in win.alarms:
        alarm.acknowledge_button.click()
    win.shutdown()
    win.engine.close()
    rig.close_all()


def _open_alarms(window: MainWindow) -> list[SafetyAlarm]:
    return [alarm for alarm in window.alarms if alarm.isVisible()]


def test_a_run_whose_safe_state_fails_raises_a_modal_alarm_until_acknowledged(qtbot, window: MainWindow) -> None:
    form = window.experiment_panel.select_experiment("sweep")
    form.set_value("points", 3)
    form.set_value("settle_s", 0.0)
    form.set_value("dwell_s", 0.1)
    window.experiment_panel.start_clicked()
    qtbot.waitUntil(lambda: len(_open_alarms(window)) == 1, timeout=60000)
    alarm = _open_alarms(window)[0]
    assert alarm.isModal() and alarm.windowModality() == Qt.WindowModality.ApplicationModal
    assert alarm.icon() == QMessageBox.Icon.Critical
    assert "safe state failed for pump" in alarm.text()
    assert "link lost (test)" in alarm.detailedText()
    # the run itself ended failed, saying so
    finished = window.experiment_panel.last_handle.wait(600)
    assert finished.status.value == "failed" and finished.reason.startswith("safe state failed for pump")
    assert "safe state failed for pump" in window.experiment_panel.message_label.text()
    # Esc / the close button do not dismiss it
    alarm.reject()
    assert alarm.isVisible() and not alarm.acknowledged
    qtbot.mouseClick(alarm.acknowledge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not alarm.isVisible(), timeout=30000)
    assert alarm.acknowledged
    qtbot.waitUntil(lambda: any("operator acknowledged: safe state failed for pump" in line
                                for line in window.log_panel.lines()), timeout=30000)


def test_stop_that_cannot_make_a_role_safe_raises_the_alarm(qtbot, window: MainWindow) -> None:
    window.stop()
    qtbot.waitUntil(lambda: len(_open_alarms(window)) == 1, timeout=30000)
    alarm = _open_alarms(window)[0]
    assert "safe state failed for pump" in alarm.text() and "(STOP)" in alarm.text()
    assert "NOT SAFE: pump" in window.instruments_panel.stop_status.text()
