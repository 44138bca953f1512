"""``avalab -v/-vv gui``: the global verbosity reaches the GUI's logging, and closing the GUI
logs the safe state of every role in one line."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from gui.app import log_safe_state, main
from gui.main_window import MainWindow


@pytest.fixture
def root_level() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


def _close_when_shown() -> None:
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if windows:
        windows[0].close()
    else:
        QTimer.singleShot(50, _close_when_shown)


def test_vv_logs_debug_and_shutdown_confirms_each_role_safe(
        qapp: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, root_level: None) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.WARNING)  # as `avalab gui` without -v leaves it
    QTimer.singleShot(50, _close_when_shown)
    code = main(["-vv", "--clock", "virtual", "--settings", str(tmp_path / "gui.ini"),
                 "--data-dir", str(tmp_path / "runs")])
    assert code == 0
    assert logging.getLogger().level == logging.DEBUG
    records = [r for r in caplog.records if r.name == "gui.app"]
    assert any(r.levelno == logging.DEBUG and "GUI options" in r.getMessage() for r in records)
    safe = [r.getMessage() for r in records if r.getMessage().startswith("safe state at shutdown: ")]
    assert len(safe) == 1 and "pump ok" in safe[0] and "pump_shutter ok" in safe[0] and "cryostat ok" in safe[0]


def test_global_verbosity_is_passed_to_the_gui(monkeypatch: pytest.MonkeyPatch, root_level: None) -> None:
    import gui.app
    from acquisition.cli import main as cli_main

    seen: list[list[str]] = []
    monkeypatch.setattr(gui.app, "main", lambda argv: seen.append(list(argv)) or 0)
    assert cli_main(["-vv", "gui", "--clock", "virtual"]) == 0
    assert seen[0].count("-v") == 2
    assert gui.app.build_parser().parse_args(seen[0]).verbose == 2
    assert cli_main(["gui"]) == 0 and "-v" not in seen[1]


def test_a_failed_safe_state_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    log_safe_state({"pump": None, "cryostat": "TimeoutError: no reply\nmore"})
    record = caplog.records[-1]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "safe state at shutdown: pump ok, cryostat FAILED (TimeoutError: no reply)"
