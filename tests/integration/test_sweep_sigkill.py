"""`avalab sweep` killed with SIGKILL at 20 random moments: every run file opens, holds every
point the CLI reported as done, has no gaps, and says incomplete."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from acquisition.storage import open_run

pytestmark = pytest.mark.timeout(400)

KILLS = 20
PROGRESS = re.compile(rb"(\d+)/(\d+) sweep")


def start_sweep(out: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from acquisition.cli import main; raise SystemExit(main())",
               "sweep", "--rig", "sim", "--temperature", "77", "--points", "30", "--settle-s", "0.1",
               "--dwell-s", "0.1", "--out", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def reported_done(stderr: bytes) -> int:
    counts = [int(m.group(1)) for m in PROGRESS.finditer(stderr)]
    return max(counts) if counts else 0


class StderrWatcher:
    """Reads the CLI's stderr as it comes and notes when the first progress line appeared."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.data = b""
        self.first_progress_at: float | None = None
        self.seen_progress = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        while chunk := process.stderr.read1(4096):
            self.data += chunk
            if self.first_progress_at is None and PROGRESS.search(self.data):
                self.first_progress_at = time.monotonic()
                self.seen_progress.set()

    def join(self) -> None:
        self._thread.join(10)


def test_sigkill_at_random_moments_keeps_every_completed_point(tmp_path: Path) -> None:
    rng = random.Random(2026)
    # how long the measuring part of a run takes here, so the kills spread over it
    probe = start_sweep(tmp_path / "probe.h5")
    watcher = StderrWatcher(probe)
    probe.wait(300)
    finished = time.monotonic()
    watcher.join()
    assert probe.returncode == 0 and watcher.first_progress_at is not None
    measuring_s = finished - watcher.first_progress_at
    with_points = 0
    for i in range(KILLS):
        out = tmp_path / f"killed_{i:02d}.h5"
        process = start_sweep(out)
        watcher = StderrWatcher(process)
        assert watcher.seen_progress.wait(120), "the sweep never reported progress"
        time.sleep(rng.uniform(0.0, 0.9) * measuring_s)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        watcher.join()
        done = reported_done(watcher.data)
        assert out.exists(), f"kill {i}: progress was reported but there is no run file"
        run = open_run(out)
        points = run.streams.get("sweep", {})
        n = len(points.get("index", []))
        if run.status == "complete":  # the kill came during interpreter teardown, after the run
            assert n == 60, f"kill {i}: complete file with {n} of 60 points"
            continue
        assert run.status == "incomplete", f"kill {i}: status {run.status}"
        assert n >= done, f"kill {i}: file holds {n} points, the CLI had reported {done}"
        if n:
            with_points += 1
            assert np.all(np.isfinite(np.asarray(points["rate_cps"], dtype=float)))
    assert with_points >= KILLS // 2, "too few kills landed while points were being taken"
