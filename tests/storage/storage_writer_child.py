"""Child process for the crash tests: writes a run point by point and reports each written point.

Usage: python storage_writer_child.py <path> <n_points> <finish: 0|1> <pause_s> [hold|lockstep]
Prints "started" after RunStarted, then "<index>" after each handle() returned, then "finishing"
before RunFinished and "finished" after it. With "hold" it prints "holding" after the last point
and waits for a line on stdin before finishing (so a reader can look at a complete live run).
With "lockstep" it waits for a line on stdin after each "<index>" before writing the next point,
and for one more at the very end before it exits: a killing parent decides how far the run gets,
however a loaded machine schedules the two processes, and never finds the child already gone.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus
from acquisition.storage import RunWriter


def point_data(index: int) -> dict[str, object]:
    """Deterministic content of point ``index`` (the parent recomputes it to check the file)."""
    bins = 2 ** (index % 17)  # 1 .. 65536 bins: some writes are big enough to be torn by a kill
    return {"setpoint_w": index * 1e-6, "rate_cps": 1000.0 + index, "counts": index * 10,
            "direction": "up" if index % 2 == 0 else "down", "latched": index % 3 == 0,
            "histogram": np.full(bins, index % 251, dtype=np.uint16),
            "trace": np.linspace(0.0, 1.0, 8) * index}


def main() -> None:
    path, n_points, finish, pause_s = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", float(sys.argv[4])
    mode = sys.argv[5] if len(sys.argv) > 5 else ""
    writer = RunWriter(path, {"objective": {"na": 0.7}}, {"apd": "sim-apd 1.0"}, "test-0",
                       {"beam_waist_m": 0.63e-6})
    writer.handle(RunStarted("run-1", "sweep", {"points": n_points}, str(path), time.time()))
    print("started", flush=True)
    for index in range(n_points):
        writer.handle(PointTaken("run-1", "sweep", index, point_data(index)))
        print(index, flush=True)
        if mode == "lockstep":
            sys.stdin.readline()
        if pause_s:
            time.sleep(pause_s)
    if mode == "hold":
        print("holding", flush=True)
        sys.stdin.readline()
    if finish:
        print("finishing", flush=True)
        writer.handle(RunFinished("run-1", RunStatus.COMPLETE, "", {"n": n_points}))
        print("finished", flush=True)
    if mode == "lockstep":
        sys.stdin.readline()
    writer.close()


if __name__ == "__main__":
    main()
