"""An ``avalab`` child process for CLI tests: the installed command, and a sweep on a rig whose
count-rate limit trips the interlock, read on stderr up to a given line."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]


def start_low_rate_sweep(tmp_path: Path, calibration_dir: Path) -> subprocess.Popen[str]:
    """A sweep from 2 to 8 kW/cm2 on the simulated rig with max_count_rate_cps = 2000."""
    shown = subprocess.run(AVALAB + ["rig", "show"], capture_output=True, text=True, timeout=600)
    rig_file = tmp_path / "low_limit.toml"
    rig_file.write_text(shown.stdout.replace("max_count_rate_cps = 5000000.0", "max_count_rate_cps = 2000.0"))
    env = dict(os.environ, AVALAB_HOME=str(calibration_dir))
    return subprocess.Popen(AVALAB + ["sweep", "--rig", str(rig_file), "--start-kw-cm2", "2", "--stop-kw-cm2", "8",
                                      "--points", "13", "--dwell-s", "0.1", "--settle-s", "0.2",
                                      "--out", str(tmp_path / "run.h5")],
                            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_stderr_until(child: subprocess.Popen[str], prefix: str, lines: list[str], timeout_s: float = 600) -> None:
    """Append the child's stderr lines to ``lines`` until one starts with ``prefix`` (or EOF)."""
    assert child.stderr is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = child.stderr.readline()
        if not line:
            return
        lines.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return
