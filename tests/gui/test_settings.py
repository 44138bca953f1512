"""Settings location: explicit path, then $AVALAB_GUI_SETTINGS, never the user's file in tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from gui.settings import SETTINGS_ENV, open_settings


def test_explicit_path_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "env.ini"))
    settings = open_settings(tmp_path / "nested" / "explicit.ini")
    settings.setValue("window/answer", 42)
    settings.sync()
    assert Path(settings.fileName()) == tmp_path / "nested" / "explicit.ini"
    assert "answer=42" in (tmp_path / "nested" / "explicit.ini").read_text()
    assert not (tmp_path / "env.ini").exists()


def test_environment_variable_relocates_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "env.ini"))
    settings = open_settings()
    settings.setValue("data_dir", "/data/runs")
    settings.sync()
    assert Path(settings.fileName()) == tmp_path / "env.ini"
    assert open_settings().value("data_dir") == "/data/runs"
