"""A simulated campaign on 1 and on 2 local dask workers, side by side in one run.

The same 24-unit campaign (24 film spots, one up/down sweep each) runs with
``ParallelCampaignRunner`` on a LocalCluster of 1 worker process and then of 2; each wall time
includes starting the cluster, as ``avalab campaign --workers N`` does. It prints both wall
times, their ratio (goal >= 1.7 on a 2-core machine), whether the two runs produced identical
figures for every unit, and the load average before and after (other processes on the machine
take cores from the workers: run it on a quiet machine).

Usage: .venv/bin/python benchmarks/bench_parallel_campaign.py [--units 24] [--points 40]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
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


def campaign(units: int, points: int) -> Campaign:
    return Campaign(name="bench-spots", steps=[Step(
        label="spot", experiment="sweep", loop={"spot": f"${{range({units})}}"},
        position_um=["${4.0 * (spot % 6)}", "${4.0 * (spot // 6)}"],
        params={"temperature_k": 77.0, "start_kw_cm2": 1.5, "stop_kw_cm2": 10.0, "points": points,
                "settle_s": 0.5, "dwell_s": 0.1})])


def run(workers: int, folder: Path, units: int, points: int) -> tuple[float, dict[str, Any]]:
    """Wall seconds (cluster start included) and the figures per unit."""
    started = time.perf_counter()
    engine = Engine(load_rig("sim"))
    try:
        with dask_client(workers=workers) as client:
            ParallelCampaignRunner(campaign(units, points), engine, folder, client).run()
    finally:
        engine.close()
    wall = time.perf_counter() - started
    index = CampaignIndex(folder)
    try:
        rows = index.runs("complete")
    finally:
        index.close()
    return wall, {r.unit_key: tuple(r.metrics.get(f) for f in FIGURES) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=24)
    parser.add_argument("--points", type=int, default=40, help="sweep points per direction")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AVALAB_HOME"] = str(Path(tmp) / "home")  # the calibration is measured once, first
        engine = Engine(load_rig("sim"))
        engine.start("calibrate", {}).wait()
        engine.close()
        load_before = os.getloadavg()
        one_s, one = run(1, Path(tmp) / "one", args.units, args.points)
        two_s, two = run(2, Path(tmp) / "two", args.units, args.points)
        load_after = os.getloadavg()
    identical = one == two and len(one) == args.units
    print(f"{args.units}-unit simulated campaign ({args.points}-point up/down sweeps), cores: {os.cpu_count()}")
    print(f"  1 worker : {one_s:7.1f} s wall")
    print(f"  2 workers: {two_s:7.1f} s wall")
    print(f"  ratio 1/2: {one_s / two_s:7.2f}  (goal >= 1.7)")
    print(f"  identical figures for all {len(one)} units: {identical}")
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    if not identical:
        raise SystemExit("the two runs gave different figures")


if __name__ == "__main__":
    main()
