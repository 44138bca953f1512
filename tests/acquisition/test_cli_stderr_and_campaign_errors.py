"""CLI stderr without duplicates (interlock/abort are not also logged at the default level, no
stray empty line before ``avalab: SIGINT``) and campaign-file error messages."""
from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]


def test_interlock_and_abort_are_reported_once_on_stderr(tmp_path: Path, shared_calibration_dir: Path) -> None:
    shown = subprocess.run(AVALAB + ["rig", "show"], capture_output=True, text=True, timeout=60)
    rig_file = tmp_path / "low.toml"
    rig_file.write_text(shown.stdout.replace("max_count_rate_cps = 5000000.0", "max_count_rate_cps = 2000.0"))
    env = dict(os.environ, AVALAB_HOME=str(shared_calibration_dir))
    child = subprocess.Popen(AVALAB + ["sweep", "--rig", str(rig_file), "--start-kw-cm2", "2", "--stop-kw-cm2", "8",
                                       "--points", "13", "--dwell-s", "0.1", "--settle-s", "0.2",
                                       "--out", str(tmp_path / "run.h5")],
                             cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert child.stderr is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = child.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("avalab: hint:"):
                break
        child.send_signal(signal.SIGINT)
        _, rest = child.communicate(timeout=60)
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
