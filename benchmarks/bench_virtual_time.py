"""Virtual time versus real time on the simulated rig, measured side by side in one run.

The same operator sweep (set density with the calibrated HWP, settle, count) runs once on the wall
clock and once on the virtual clock; the ratio of their wall times is how much faster the virtual
rig rehearses it. A long up-and-down hysteresis sweep and a repeated-cycle rehearsal are then run
on the virtual clock alone and reported as simulated seconds per wall second.

Usage: .venv/bin/python benchmarks/bench_virtual_time.py [--real-points N] [--cycles N]
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from acquisition.rig import Rig, load_rig_config  # noqa: E402
from tests.bench.operator_steps import (HwpCalibration, calibrate_hwp,  # noqa: E402
                                        move_to_density, prepare_pump, set_density)

KW_CM2 = 1e7
SETTLE_S = 0.5


def prepared_rig(clock: str) -> tuple[Rig, HwpCalibration]:
    """Default simulated rig with fast stages (so the wall-clock leg takes seconds, not minutes;
    both legs use the same configuration), pump prepared, HWP calibrated, spot dark at 3 kW/cm2."""
    config = load_rig_config("sim")
    config.clock = clock
    config.sim.stage.velocity_deg_s = 1000.0
    rig = Rig(config)
    rig.connect_all()
    prepare_pump(rig)
    calibration = calibrate_hwp(rig, step_deg=6.0)
    rig.pump_shutter.close_shutter()
    rig.clock.sleep(1.0)
    move_to_density(rig, calibration, 3.0 * KW_CM2)
    rig.pump_shutter.open()
    rig.emission_shutter.open()
    return rig, calibration


def sweep(rig: Rig, calibration: HwpCalibration, densities_kw_cm2: np.ndarray, dwell_s: float) -> tuple[float, float]:
    """Run the sweep; return (wall seconds, clock seconds)."""
    wall0, clock0 = time.perf_counter(), rig.clock.now()
    for density in densities_kw_cm2:
        set_density(rig, calibration, density * KW_CM2)
        rig.clock.sleep(SETTLE_S)
        rig.counter.count(dwell_s)
    return time.perf_counter() - wall0, rig.clock.now() - clock0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-points", type=int, default=6, help="points of the side-by-side sweep")
    parser.add_argument("--cycles", type=int, default=10, help="hysteresis cycles of the rehearsal")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    short = np.linspace(4.0, 6.0, args.real_points)
    real_rig, real_cal = prepared_rig("real")
    real_wall, real_clock = sweep(real_rig, real_cal, short, dwell_s=0.5)
    real_rig.safe_state_all()
    virtual_rig, virtual_cal = prepared_rig("virtual")
    virtual_wall, virtual_clock = sweep(virtual_rig, virtual_cal, short, dwell_s=0.5)
    print(f"side by side, {args.real_points}-point sweep (0.5 s settle, 0.5 s dwell):")
    print(f"  real clock    : {real_wall:8.3f} s wall for {real_clock:8.3f} s of rig time")
    print(f"  virtual clock : {virtual_wall:8.3f} s wall for {virtual_clock:8.3f} s of rig time")
    print(f"  ratio real/virtual wall time: {real_wall / virtual_wall:8.1f}x")

    steps = np.round(np.arange(3.0, 10.0 + 1e-9, 0.25), 2)
    cycle = np.concatenate([steps, steps[::-1]])
    wall, simulated = sweep(virtual_rig, virtual_cal, cycle, dwell_s=1.0)
    print(f"hysteresis sweep, {cycle.size} points, 1 s dwell: {simulated:8.1f} s simulated in "
          f"{wall:6.2f} s wall -> {simulated / wall:8.1f}x real time")
    wall, simulated = sweep(virtual_rig, virtual_cal, np.tile(cycle, args.cycles), dwell_s=1.0)
    print(f"rehearsal, {args.cycles} cycles: {simulated / 3600:6.2f} h simulated in {wall:6.2f} s wall "
          f"-> {simulated / wall:8.1f}x real time (100 cycles ~ {100 * wall / args.cycles / 60:5.1f} min)")
    virtual_rig.safe_state_all()


if __name__ == "__main__":
    main()
