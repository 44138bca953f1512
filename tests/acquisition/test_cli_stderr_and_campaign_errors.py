"""CLI stderr without duplicates (interlock/abort are not also logged at the default level, no
stray empty line before ``avalab: SIGINT``) and campaign-file error messages."""
from __future__ import annotations

import io
import logging
import signal
import sys
from pathlib import Path

import pytest
from cli_process import read_stderr_until, start_low_rate_sweep


def test_interlock_and_abort_are_reported_once_on_stderr(tmp_path: Path, shared_calibration_dir: Path) -> None:
    child = start_low_rate_sweep(tmp_path, shared_calibration_dir)
    lines: list[str] = []
    try:
        read_stderr_until(child, "avalab: hint:", lines)
        child.send_signal(signal.SIGINT)
        _, rest = child.communicate(timeout=600)
        lines += rest.splitlines()
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert any(line.startswith("avalab: INTERLOCK count_rate") for line in lines), lines
    assert any(line.startswith("avalab: SIGINT: aborting the run") for line in lines), lines
    assert not any("WARNING" in line for line in lines), lines
    assert "" not in lines, lines


def test_verbose_still_logs_what_the_cli_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    from acquisition.cli import ReportedByCliFilter, _configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    _configure_logging(0)
    assert any(isinstance(f, ReportedByCliFilter) for h in root.handlers for f in h.filters)
    logging.getLogger("acquisition.run.x").warning("interlock %s: %s", "a", "b", extra={"reported_by_cli": True})
    logging.getLogger("acquisition.run.x").warning("other warning")
    assert "interlock a" not in stream.getvalue() and "other warning" in stream.getvalue()
    root.handlers = []
    stream.truncate(0)
    _configure_logging(1)
    logging.getLogger("acquisition.run.x").warning("interlock %s: %s", "a", "b", extra={"reported_by_cli": True})
    assert "interlock a: b" in stream.getvalue()
