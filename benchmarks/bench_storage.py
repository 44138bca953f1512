"""Run-file writer overhead: crash-safe journal writer vs in-place HDF5 appends, side by side.

    .venv/bin/python benchmarks/bench_storage.py [--points 1000]

All variants write the same points in the same process and directory, so the printed ratios hold
however fast or noisy the disk is. Goal: a point takes well under 10 ms to write (the "budget"
column is p99 / 10 ms). Also timed: finalising the run into HDF5, and open_run on a live run
(journal) versus the finished file.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus  # noqa: E402
from acquisition.storage import RunWriter, open_run  # noqa: E402

BUDGET_S = 10e-3


def sweep_point(index: int) -> dict[str, object]:
    return {"setpoint_w": 1e-6 * index, "power_w": 1.01e-6 * index, "density_w_m2": 1e5 * index,
            "counts": 100 + index, "rate_cps": 1000.0 + index, "temperature_k": 77.0,
            "timestamp": time.time(), "direction": "up", "index": index}


def make_points(kind: str, n: int) -> list[dict[str, object]]:
    bins = {"sweep": 0, "hist4k": 4096, "hist64k": 65536}[kind]
    rng = np.random.default_rng(0)
    points = []
    for index in range(n):
        point = sweep_point(index)
        if bins:
            point["histogram"] = rng.poisson(5.0, bins).astype(np.uint32)
        points.append(point)
    return points


def time_writer(folder: Path, points: list[dict[str, object]], fsync: bool) -> tuple[list[float], float]:
    path = folder / f"journal_{len(list(folder.iterdir()))}.h5"
    writer = RunWriter(path, {"rig": "bench"}, {"apd": "bench"}, "bench", None, fsync_each_point=fsync)
    writer.handle(RunStarted("bench", "sweep", {}, str(path), time.time()))
    durations = []
    for index, data in enumerate(points):
        started = time.perf_counter()
        writer.handle(PointTaken("bench", "sweep", index, data))
        durations.append(time.perf_counter() - started)
    started = time.perf_counter()
    writer.handle(RunFinished("bench", RunStatus.COMPLETE))
    return durations, time.perf_counter() - started


def time_inplace_h5(folder: Path, points: list[dict[str, object]]) -> list[float]:
    """The design we did not choose: resize + write + flush per point, in place (not crash-safe)."""
    path = folder / f"inplace_{len(list(folder.iterdir()))}.h5"
    durations = []
    with h5py.File(path, "w") as handle:
        group = handle.create_group("streams/sweep")
        datasets: dict[str, h5py.Dataset] = {}
        for row, data in enumerate(points):
            started = time.perf_counter()
            for name, value in data.items():
                array = np.asarray(value)
                if name not in datasets:
                    dtype = h5py.string_dtype() if array.dtype.kind == "U" else array.dtype
                    datasets[name] = group.create_dataset(name, shape=(0, *array.shape),
                                                          maxshape=(None, *array.shape),
                                                          dtype=dtype, chunks=(64, *array.shape))
                dataset = datasets[name]
                dataset.resize(row + 1, axis=0)
                dataset[row] = value
            handle.flush()
            durations.append(time.perf_counter() - started)
    return durations


def p99(values: list[float]) -> float:
    return float(np.percentile(values, 99))


def row(label: str, durations: list[float], reference: float | None = None) -> str:
    median, tail = statistics.median(durations), p99(durations)
    ratio = "" if reference is None else f"{tail / reference:8.2f}x"
    return (f"{label:<34} {median * 1e3:9.3f} {tail * 1e3:9.3f} {max(durations) * 1e3:9.3f} "
            f"{tail / BUDGET_S:9.4f} {ratio}")


def timed(function: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        folder = Path(directory)
        print(f"{args.points} points per variant, folder {folder}")
        print(f"{'variant':<34} {'med ms':>9} {'p99 ms':>9} {'max ms':>9} {'p99/10ms':>9} "
              f"{'p99 vs journal':>9}")
        finalise: dict[str, float] = {}
        for kind in ("sweep", "hist4k", "hist64k"):
            points = make_points(kind, args.points)
            journal, finalise[kind] = time_writer(folder, points, fsync=False)
            synced, _ = time_writer(folder, points, fsync=True)
            inplace = time_inplace_h5(folder, points)
            reference = p99(journal)
            print(row(f"{kind}: journal (flush)", journal, reference))
            print(row(f"{kind}: journal + fsync per point", synced, reference))
            print(row(f"{kind}: h5py in place + flush", inplace, reference))
        print("finalise into HDF5 (s): " + ", ".join(f"{k} {v:.3f}" for k, v in finalise.items()))

        live_path = folder / "live.h5"
        writer = RunWriter(live_path, {"rig": "bench"}, {}, "bench")
        writer.handle(RunStarted("bench", "sweep", {}, str(live_path), time.time()))
        for index, data in enumerate(make_points("hist4k", args.points)):
            writer.handle(PointTaken("bench", "sweep", index, data))
        live_s = timed(lambda: open_run(live_path))
        writer.handle(RunFinished("bench", RunStatus.COMPLETE))
        final_s = timed(lambda: open_run(live_path))
        print(f"open_run, {args.points} points with 4k-bin histograms: live (journal) {live_s * 1e3:.1f} ms, "
              f"finished (HDF5) {final_s * 1e3:.1f} ms, ratio {live_s / final_s:.2f}")


if __name__ == "__main__":
    main()
