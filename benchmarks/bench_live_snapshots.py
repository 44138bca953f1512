"""Live snapshots of the run file (issue 10, item 6): what they cost and how fresh they are.

    .venv/bin/python benchmarks/bench_live_snapshots.py [--map-points 2500] [--sweeps 3]

1. A simulated sweep run by the engine into a run file (virtual clock), with live snapshots on
   and off, alternately in one process: the ratio of the process's CPU times (snapshot thread
   included) is the snapshots' cost to a run; the wall-time ratio is printed too, but on a shared
   machine it mostly measures the other processes.
2. A map-sized run fed straight to a RunWriter (2500 points, each with a 200-sample trace, one
   point every 5 ms as a fast map produces them), snapshots on vs off: the feed-time ratio, how
   long after a point it is visible in the file (latency, p50/p99/max over sampled points), and
   how long one snapshot takes as the file grows (the thread publishes at most every
   max(0.5 s, 4 x build time, size / 20 MB/s), so the latency grows with it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acquisition.calibration import CalibrationStore  # noqa: E402
from acquisition.engine import Engine  # noqa: E402
from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus  # noqa: E402
from acquisition.rig import load_rig  # noqa: E402
from acquisition.storage import RunWriter  # noqa: E402
from acquisition.storage import writer as writer_module  # noqa: E402

SWEEP = {"start_kw_cm2": 2.0, "stop_kw_cm2": 8.0, "points": 41, "dwell_s": 0.1, "settle_s": 0.2}
POINT_PERIOD_S = 0.005
SAMPLED_EVERY = 50


def time_sweeps(folder: Path, rounds: int) -> dict[bool, list[tuple[float, float]]]:
    """(wall, CPU) seconds per sweep, snapshots on and off alternately. The CPU time is the
    process's (the snapshot thread included): it does not depend on what else the machine runs,
    where the wall time on a shared box mostly does."""
    rig = load_rig("sim")
    engine = Engine(rig, CalibrationStore(folder / "calibration"))
    assert engine.start("calibrate", {}).wait(600).status == RunStatus.COMPLETE
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for round_ in range(rounds):
        for live in (True, False):
            writer_module.LIVE_SNAPSHOTS = live
            started, cpu = time.perf_counter(), time.process_time()
            finished = engine.start("sweep", SWEEP, out_path=folder / f"sweep_{round_}_{live}.h5").wait(600)
            times[live].append((time.perf_counter() - started, time.process_time() - cpu))
            assert finished.status == RunStatus.COMPLETE, finished.reason
    writer_module.LIVE_SNAPSHOTS = True
    engine.close()
    rig.close_all()
    return times


def map_point(index: int, rng: np.random.Generator) -> dict[str, object]:
    return {"x_m": 1e-6 * (index % 50), "y_m": 1e-6 * (index // 50), "density_w_m2": 1e8,
            "counts": int(rng.poisson(1e4)), "rate_cps": 1e4, "temperature_k": 77.0,
            "trace": rng.poisson(50.0, 200).astype(np.float64), "index": index}


def feed_map(folder: Path, n_points: int, live: bool) -> dict[str, object]:
    rng = np.random.default_rng(1)
    points = [map_point(i, rng) for i in range(n_points)]
    path = folder / f"map_{live}.h5"
    writer = RunWriter(path, {"rig": "bench"}, {}, "bench", live_snapshots=live)
    writer.handle(RunStarted("map", "map", {}, str(path), time.time()))
    latencies: list[float] = []
    started = time.perf_counter()
    for index, data in enumerate(points):
        writer.handle(PointTaken("map", "map", index, data))
        if live and index % SAMPLED_EVERY == 0:
            taken = time.perf_counter()
            # the point stays the newest while we wait (a map holds at a point only this long)
            assert writer.wait_published(index + 1, 60.0)
            latencies.append(time.perf_counter() - taken)
        else:
            time.sleep(POINT_PERIOD_S)
    feed_s = time.perf_counter() - started
    builds = writer.snapshot_build_times_s
    writer.handle(RunFinished("map", RunStatus.COMPLETE, "", {}))
    return {"feed_s": feed_s, "latencies": latencies, "builds": builds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map-points", type=int, default=2500)
    parser.add_argument("--sweeps", type=int, default=3, help="0: the map part only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.sweeps:
            sweeps = time_sweeps(folder, args.sweeps)
            print(f"sweep of {2 * SWEEP['points']} points on the simulated rig (median of {args.sweeps}):")
            for label, column in (("wall", 0), ("CPU", 1)):
                on = statistics.median(t[column] for t in sweeps[True])
                off = statistics.median(t[column] for t in sweeps[False])
                print(f"  {label}: snapshots on {on:.2f} s, off {off:.2f} s, ratio on/off {on / off:.3f}")
        with_live = feed_map(folder, args.map_points, True)
        without = feed_map(folder, args.map_points, False)
        # the live feed also waited for the sampled snapshots: compare the points' own time
        waited = sum(with_live["latencies"])  # type: ignore[arg-type]
        ratio = (float(with_live["feed_s"]) - waited) / float(without["feed_s"])  # type: ignore[arg-type]
        latencies = sorted(with_live["latencies"])  # type: ignore[arg-type]
        builds = with_live["builds"]  # type: ignore[assignment]
        print(f"map of {args.map_points} points (200-sample trace each, one point every "
              f"{POINT_PERIOD_S * 1e3:g} ms):")
        print(f"  feed time without the sampled waits, on/off ratio {ratio:.3f}")
        print(f"  latency point -> visible in the file: p50 {statistics.median(latencies) * 1e3:.0f} ms, "
              f"p99 {latencies[int(0.99 * (len(latencies) - 1))] * 1e3:.0f} ms, max {latencies[-1] * 1e3:.0f} ms "
              f"({len(latencies)} sampled points)")
        print(f"  snapshots published: {len(builds)}; build time first {builds[0] * 1e3:.1f} ms, "
              f"last (full map) {builds[-1] * 1e3:.1f} ms, max {max(builds) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
