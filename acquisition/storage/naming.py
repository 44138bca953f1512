"""Run file names: ``<timestamp>_<experiment>.h5`` in a folder, never reusing an existing name."""
from __future__ import annotations

import time
from pathlib import Path


def new_run_path(directory: Path, experiment: str, now: float | None = None) -> Path:
    """A fresh run file path; a counter is appended when two runs start within the same second
    (queued runs on a virtual clock do), because the writer refuses to overwrite a run."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    stem = f"{stamp}_{experiment}"
    path = directory / f"{stem}.h5"
    counter = 2
    while path.exists():
        path = directory / f"{stem}_{counter}.h5"
        counter += 1
    return path
