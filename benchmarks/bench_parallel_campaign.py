"""A simulated campaign on 1 and on 2 local dask workers, side by side in one run.

The same 24-unit campaign (24 film spots, one up/down sweep each) runs with
``ParallelCampaignRunner`` on a LocalCluster of 1 worker process and then of 2 (as
``avalab campaign --workers N`` does: one thread per worker, BLAS/OpenMP pools of one thread, so
two workers do not oversubscribe two cores). Starting a cluster costs a few seconds whatever the
campaign; it is measured and printed on its own, after the workers have imported the simulation
(a warm-up task), so the ratio compares the units' work. It prints both wall times, their ratio
(goal >= 1.7 on a 2-core machine), whether the two runs produced identical figures for every
unit, the CPU time the workers used (the cores they actually got) and the load average sampled
during each run: other processes take cores from the workers, so quote the ratio with the load
it was measured at. (Each local worker runs in a session of its own, see
acquisition/campaigns/dask_worker.py: with autogroup scheduling the CPU is shared between
sessions, and workers left in one session would share one session's share.)

Usage: .venv/bin/python benchmarks/bench_parallel_campaign.py [--units 24] [--points 40] [--repeats 1]
(--repeats R alternates 1, 2, 1, 2, ... workers R times each and keeps each one's fastest run)
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acquisition.campaigns import Campaign, Step  # noqa: E402
from acquisition.campaigns.index import CampaignIndex  # noqa: E402
from acquisition.campaigns.parallel import ParallelCampaignRunner, dask_client  # noqa: E402
from acquisition.engine import Engine  # noqa: E402
from acquisition.rig import load_rig  # noqa: E402

FIGURES = ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db",
           "nonlinearity_s", "bistable")
LOAD_SAMPLE_S = 5.0


def campaign(units: int, points: int) -> Campaign:
    return Campaign(name="bench-spots", steps=[Step(
        label="spot", experiment="sweep", loop={"spot": f"${{range({units})}}"},
        position_um=["${4.0 * (spot % 6)}", "${4.0 * (spot // 6)}"],
        params={"temperature_k": 77.0, "start_kw_cm2": 1.5, "stop_kw_cm2": 10.0, "points": points,
                "settle_s": 0.5, "dwell_s": 0.1})])


def warm_up() -> int:
    """On a worker: import what a unit needs and step the physics once, so the first unit does
    not pay for it."""
    from acquisition.campaigns.parallel import run_unit_task  # noqa: F401
    from acquisition.experiments import EXPERIMENTS  # noqa: F401
    from sim_backends.physics import RateModel
    RateModel("Nd:KPb2Cl5").s_curve(pump_min_w_m2=1e7, pump_max_w_m2=1e8)
    return os.getpid()


def cpu_seconds() -> float:
    """On a worker: the CPU time its process has used."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LoadSampler:
    """The 1-minute load average every LOAD_SAMPLE_S while a run goes on."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(LOAD_SAMPLE_S):
                return

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(workers: int, folder: Path, units: int, points: int) -> dict[str, Any]:
    """Cluster start (with warm-up) and campaign wall seconds, load during the campaign, and
    the figures per unit."""
    engine = Engine(load_rig("sim"))
    try:
        started = time.perf_counter()
        with dask_client(workers=workers) as client:
            client.run(warm_up)
            cluster_s = time.perf_counter() - started
            runner = ParallelCampaignRunner(campaign(units, points), engine, folder, client)
            cpu_before = sum(client.run(cpu_seconds).values())
            with LoadSampler() as load:
                started = time.perf_counter()
                runner.run()
                campaign_s = time.perf_counter() - started
            cpu_s = sum(client.run(cpu_seconds).values()) - cpu_before
    finally:
        engine.close()
    index = CampaignIndex(folder)
    try:
        rows = index.runs("complete")
    finally:
        index.close()
    return {"cluster_s": cluster_s, "campaign_s": campaign_s, "cpu_s": cpu_s, "load": statistics.mean(load.samples),
            "figures": {r.unit_key: tuple(r.metrics.get(f) for f in FIGURES) for r in rows}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=24)
    parser.add_argument("--points", type=int, default=40, help="sweep points per direction")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each worker count (fastest kept)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AVALAB_HOME"] = str(Path(tmp) / "home")  # the calibration is measured once, first
        engine = Engine(load_rig("sim"))
        engine.start("calibrate", {}).wait()
        engine.close()
        for repeat in range(args.repeats):
            for workers in (1, 2):
                folder = Path(tmp) / f"w{workers}_r{repeat}"
                results[workers].append(run(workers, folder, args.units, args.points))
    best = {w: min(runs, key=lambda r: r["campaign_s"]) for w, runs in results.items()}
    reference = best[1]["figures"]
    identical = len(reference) == args.units and all(r["figures"] == reference for rs in results.values()
                                                      for r in rs)
    one, two = best[1], best[2]
    print(f"{args.units}-unit simulated campaign ({args.points}-point up/down sweeps), cores: {os.cpu_count()}, "
          f"fastest of {args.repeats} run(s) each")
    for workers, result in ((1, one), (2, two)):
        print(f"  {workers} worker{'s' if workers > 1 else ' '}: {result['campaign_s']:7.1f} s wall "
              f"(cluster start and warm-up {result['cluster_s']:.1f} s more); the workers used "
              f"{result['cpu_s']:.1f} CPU s ({result['cpu_s'] / result['campaign_s']:.2f} cores); load average "
              f"during it {result['load']:.1f}")
    print(f"  ratio 1/2: {one['campaign_s'] / two['campaign_s']:7.2f}  (goal >= 1.7)")
    print(f"  identical figures for all {len(reference)} units in every run: {identical}")
    if not identical:
        raise SystemExit("the runs gave different figures")


if __name__ == "__main__":
    main()
