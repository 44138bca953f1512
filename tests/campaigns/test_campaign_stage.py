"""Campaign loops over sample-stage positions (``stage_mm``): checked against the stage limits
before anything runs, moved through the engine before each unit, drawn as maps in the report."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from acquisition.campaigns.index import CampaignIndex

pytestmark = pytest.mark.timeout(900)

CAMPAIGN = """
name = "stage-grid"
[[step]]
loop = {{ ix = "${{range(2)}}", iy = "${{range(2)}}" }}
stage_mm = ["${{{x0} + 0.006 * ix}}", "${{12.5 + 0.006 * iy}}"]
experiment = "sweep"
params = {{ temperature_k = 77.0, start_kw_cm2 = 2.0, stop_kw_cm2 = 10.0, points = 12, dwell_s = 0.1, settle_s = 0.1 }}
"""


def avalab(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "acquisition.cli", *args], capture_output=True, text=True,
                          timeout=800, env={"AVALAB_HOME": str(home), "PATH": ""})


def test_a_stage_position_outside_the_limits_is_refused_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(CAMPAIGN.format(x0=24.999))
    done = avalab("campaign", str(path), "--out", str(tmp_path / "out"), home=tmp_path)
    assert done.returncode == 2
    assert ("step[1].stage_mm: xy_stage.x_mm=25.005 mm is outside the stage limits; "
            "allowed range [0, 25] mm") in done.stderr
    assert not (tmp_path / "out" / "campaign.sqlite").exists()


def test_a_stage_grid_campaign_moves_the_stage_and_the_report_maps_it(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(CAMPAIGN.format(x0=12.5))
    out = tmp_path / "out"
    done = avalab("campaign", str(path), "--out", str(out), home=tmp_path)
    assert done.returncode == 0, done.stderr
    index = CampaignIndex(out)
    try:
        runs = index.runs("complete")
    finally:
        index.close()
    sweeps = [r for r in runs if r.experiment == "sweep"]
    assert sorted(tuple(r.metrics["stage_mm"]) for r in sweeps) == [
        (12.5, 12.5), (12.5, 12.506), (12.506, 12.5), (12.506, 12.506)]
    # 6 um apart: other particles, other thresholds
    assert len({round(r.metrics["switch_on_kw_cm2"], 6) for r in sweeps}) > 1
    report = avalab("report", str(out), home=tmp_path)
    assert report.returncode == 0, report.stderr
    stage_maps = out / "report" / "sweep_stage_maps.png"
    assert stage_maps.exists() and stage_maps.stat().st_size > 20_000


SWEEP = {"temperature_k": 77.0, "start_kw_cm2": 2.0, "stop_kw_cm2": 10.0, "points": 10, "spacing": "log",
         "dwell_s": 0.1, "settle_s": 0.1}


def test_isolated_units_start_where_the_units_before_them_left_the_stage() -> None:
    """A unit without ``stage_mm`` starts (restarted as its own simulation) where a real rig's
    stage would be: at the last ``stage_mm``, or where a map before it ended."""
    from acquisition.campaigns import Campaign, Step
    from acquisition.campaigns.isolation import simulation_starts
    from acquisition.campaigns.spec import expand
    from acquisition.rig import load_rig

    campaign = Campaign(name="where", steps=[
        Step(experiment="sweep", params=SWEEP),
        Step(experiment="sweep", stage_mm=[12.506, 12.5], params=SWEEP),
        Step(experiment="sweep", params=SWEEP),
        Step(experiment="map", params={"x_mm": [12.49, 12.492], "y_mm": [12.49, 12.491], "step_um": 1.0}),
        Step(experiment="sweep", params=SWEEP),
        Step(experiment="map", params={"positions_mm": [12.51, 12.49, 12.52, 12.52]}),
        Step(experiment="sweep", params=SWEEP)])
    units = expand(campaign)
    starts = simulation_starts(units, [10.0] * len(units), 77.0)
    assert [s.stage_m for s in starts] == [
        None, None, pytest.approx((12.506e-3, 12.5e-3)), pytest.approx((12.506e-3, 12.5e-3)),
        # 2 rows of 3: the second row runs back, the map ends at its first column
        pytest.approx((12.49e-3, 12.491e-3)), pytest.approx((12.49e-3, 12.491e-3)),
        pytest.approx((12.52e-3, 12.52e-3))]
    rig = load_rig("sim")
    try:
        rig.restart_simulation(starts[-1])
        rig.connect_all()
        assert rig.xy_stage.get_position() == pytest.approx((12.52e-3, 12.52e-3), abs=1e-12)
    finally:
        rig.close_all()


def test_a_unit_without_stage_mm_measures_where_the_stage_was_left(tmp_path: Path) -> None:
    """End to end: a sweep after ``stage_mm = [12.506, 12.5]`` sees the same particles as one
    that moves there itself (the same unit keys, so the same noise), not the reference spot's."""
    from acquisition.campaigns import Campaign, Step
    from acquisition.campaigns.runner import CampaignRunner
    from acquisition.engine import Engine
    from acquisition.rig import load_rig
    from acquisition.storage import open_run

    def second_sweep_rates(second_stage: list[float] | None, folder: Path) -> np.ndarray:
        campaign = Campaign(name="left", steps=[
            Step(experiment="sweep", stage_mm=[12.506, 12.5], params=SWEEP),
            Step(experiment="sweep", stage_mm=second_stage, params=SWEEP)])
        engine = Engine(load_rig("sim"))
        try:
            CampaignRunner(campaign, engine, folder).run()
        finally:
            engine.close()
        index = CampaignIndex(folder)
        try:
            path = next(r.path for r in index.runs("complete") if r.unit_key == "s2")
        finally:
            index.close()
        return np.asarray(open_run(folder / path).streams["sweep"]["rate_cps"], dtype=float)

    left_there = second_sweep_rates(None, tmp_path / "left")
    moved_there = second_sweep_rates([12.506, 12.5], tmp_path / "moved")
    bright = moved_there > 1000.0
    assert bright.sum() >= 3  # the spot switches on within the sweep
    # the same particles in the same state: the same emission point by point (counting noise aside)
    assert left_there[bright] == pytest.approx(moved_there[bright], rel=0.1)
    assert (left_there > 1000.0).tolist() == bright.tolist()
