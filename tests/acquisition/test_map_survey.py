"""map and survey on the simulated rig: bad points refused in one line before anything moves,
grids and lists, an abortable stage move, the survey's film statistics from its own sweeps."""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from cli_process import AVALAB

from acquisition.engine import Engine
from acquisition.events import RunStatus
from acquisition.experiments.stage_points import grid_points, points_for
from acquisition.rig import load_rig


@pytest.mark.parametrize(("args", "line"), [
    (["map", "--x-mm", "30", "31", "--y-mm", "12", "12.1", "--step-um", "10"],
     "avalab: error: x_mm, y_mm: xy_stage.x_mm=30 mm is outside the stage limits; allowed range [0, 25] mm"),
    (["map", "--x-mm", "12", "12.1", "--y-mm", "12", "12.1", "--step-um", "0.1"],
     "avalab: error: step_um=0.1 um is below the stage resolution; allowed range [0.2, 10000] um"),
    (["survey", "--x-mm", "0", "25", "--y-mm", "0", "25", "--step-um", "10"],
     "avalab: error: x_mm, y_mm, step_um: 6255001 points is more than the rig allows; allowed range "
     "[1, 2500] points ([limits] max_map_points; use a coarser step or a smaller area)"),
    (["survey", "--positions-mm", "12", "12", "26", "12"],
     "avalab: error: positions_mm[1]: xy_stage.x_mm=26 mm is outside the stage limits; allowed range [0, 25] mm"),
])
def test_bad_points_are_refused_in_one_line_before_anything_moves(tmp_path: Path, args: list[str], line: str) -> None:
    done = subprocess.run(AVALAB + [*args, "--rig", "sim", "--out", str(tmp_path / "run.h5")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={"AVALAB_HOME": str(tmp_path), "PATH": ""})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [line]
    assert not (tmp_path / "run.h5").exists() and not (tmp_path / "run.h5.journal").exists()


def test_grid_rows_alternate_and_lists_keep_their_order() -> None:
    grid = grid_points({"x_mm": [1.0, 1.002], "y_mm": [2.0, 2.001], "step_um": 1.0})
    xs = [round(x * 1e6) for x, _ in grid]
    assert xs == [1000, 1001, 1002, 1002, 1001, 1000]  # serpentine: no fly-back between rows
    assert [round(y * 1e6) for _, y in grid] == [2000] * 3 + [2001] * 3
    listed = points_for({"positions_mm": [3.0, 4.0, 1.0, 2.0], "x_mm": [0, 1], "y_mm": [0, 1], "step_um": 1.0})
    assert listed == [(3e-3, 4e-3), (1e-3, 2e-3)]


def test_abort_during_a_stage_move_stops_the_stage_where_it_is(tmp_path: Path) -> None:
    rig = load_rig("sim")
    engine = Engine(rig)
    # on the virtual clock the worker can finish the whole map before the test thread runs
    # again, so the long move waits, once started, until the operator's abort is in
    moving, abort_asked = threading.Event(), threading.Event()
    start_move = rig.xy_stage.move_to

    def move_then_let_the_operator_abort(x_m: float, y_m: float, wait: bool = True) -> None:
        start_move(x_m, y_m, wait=wait)
        if x_m > 15e-3:  # the long move to 17.5 mm
            moving.set()
            assert abort_asked.wait(600)

    rig.xy_stage.move_to = move_then_let_the_operator_abort  # type: ignore[method-assign]
    try:
        # two far points: the second move takes 2 s of rig time at 2.3 mm/s
        handle = engine.start("map", {"positions_mm": [12.5, 12.5, 17.5, 12.5], "dwell_s": 0.05,
                                      "settle_s": 0.05}, out_path=tmp_path / "map.h5")
        assert moving.wait(600)
        assert rig.xy_stage.is_moving()
        engine.abort()
        abort_asked.set()
        finished = handle.wait(600)
        assert finished.status == RunStatus.ABORTED
        x, _ = rig.xy_stage.get_position()
        assert 12.5e-3 <= x < 17.5e-3 and not rig.xy_stage.is_moving()
    finally:
        abort_asked.set()
        engine.close()


def test_a_survey_gives_each_points_sweep_figures_and_the_film_statistics(tmp_path: Path) -> None:
    rig = load_rig("sim")
    engine = Engine(rig)
    try:
        finished = engine.start("survey", {"positions_mm": [12.5, 12.5, 12.508, 12.5, 12.5, 12.508],
                                           "points": 16, "dwell_s": 0.1, "settle_s": 0.1},
                                out_path=tmp_path / "survey.h5").wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
    finally:
        engine.close()
    from acquisition.storage import open_run

    run = open_run(tmp_path / "survey.h5")
    survey = run.streams["survey"]
    assert len(survey["x_m"]) == 3
    # each point's own sweep is in the file, and its figures are the survey row's
    for i in range(3):
        assert f"P{i:04d}_sweep" in run.streams
    summary = finished.summary
    on = np.asarray(survey["switch_on_kw_cm2"], dtype=float)[np.asarray(survey["bistable"], dtype=bool)]
    assert summary["points"] == 3 and summary["bistable_points"] == on.size
    assert summary["mean_switch_on_kw_cm2"] == pytest.approx(on.mean())
    # 8 um apart: different particles, different thresholds
    assert np.ptp(np.asarray(survey["switch_on_kw_cm2"], dtype=float)) > 0
