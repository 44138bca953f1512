"""The map view in the window: a map run fills in live, the cursor follows the stage, a click on
the map sends the stage there through the instrument worker (refused while a run owns it)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from acquisition.events import PointTaken
from acquisition.rig import load_rig
from gui.app import create_window
from gui.main_window import MainWindow
from gui.map_view import MapView


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    rig = load_rig("sim")
    rig.connect_all()
    win = create_window(rig, settings_path=tmp_path / "gui.ini", data_dir=tmp_path / "runs", poll_hz=5.0)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown()
    win.engine.close()
    win.rig.close_all()


def test_a_map_fills_in_live_and_a_click_moves_the_stage(qtbot, window: MainWindow) -> None:
    panel = window.experiment_panel
    form = panel.select_experiment("map")
    form.set_value("x_mm", [12.498, 12.502])
    form.set_value("y_mm", [12.499, 12.501])
    form.set_value("step_um", 1.0)
    form.set_value("dwell_s", 0.05)
    form.set_value("settle_s", 0.05)
    assert form.is_valid, form.errors()
    maps = window.plots.maps
    box = window.instruments_panel.boxes["xy_stage"]
    drawn: list[int] = []
    refused: list[str] = []

    def after_each_event(event: object) -> None:  # runs after the window has handled the event
        if isinstance(event, PointTaken) and event.stream == "map":
            drawn.append(maps.point_count)
            if len(drawn) == 3:  # mid-run: a click is refused in the stage's box, nothing is sent
                maps.views["rate_cps"].click_at(12.5e-3, 12.5e-3)
                refused.append(box.message.text())

    window.bridge.received.connect(after_each_event)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(drawn) == 15 and not window.engine.is_busy, timeout=180000)
    assert window.plots.currentWidget() is maps
    assert drawn == list(range(1, 16))  # the map filled in point by point, as they were taken
    assert refused and "a run is moving the stage" in refused[0]
    view = maps.views["rate_cps"]
    values = view.values()
    assert values.shape == (3, 5) and np.isfinite(values).all()
    # the run's own summary agrees with what the map shows
    assert panel.last_handle.wait(5).summary["points"] == 15

    # idle: a click sends the stage there (instrument worker), the cursor follows it
    target = (12.5005e-3, 12.4995e-3)
    view.click_at(*target)
    stage = window.rig.xy_stage
    qtbot.waitUntil(lambda: not stage.is_moving() and stage.get_position() == pytest.approx(target, abs=1e-8),
                    timeout=30000)
    qtbot.waitUntil(lambda: view.cursor_position() is not None
                    and view.cursor_position() == pytest.approx(target, abs=1e-8), timeout=30000)


def test_a_click_outside_the_stage_limits_is_refused_with_the_drivers_line(qtbot, window: MainWindow) -> None:
    view = MapView()
    qtbot.addWidget(view)
    view.position_clicked.connect(window.instruments_panel.move_stage)
    view.click_at(30e-3, 12e-3)
    box = window.instruments_panel.boxes["xy_stage"]
    qtbot.waitUntil(lambda: "outside the stage limits" in box.message.text(), timeout=30000)
    assert box.message.text().startswith("xy_stage.x_mm=30 mm is outside the stage limits")
    assert window.rig.xy_stage.get_position() == pytest.approx((12.5e-3, 12.5e-3), abs=1e-9)
