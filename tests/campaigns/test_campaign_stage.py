"""Campaign loops over sample-stage positions (``stage_mm``): checked against the stage limits
before anything runs, moved through the engine before each unit, drawn as maps in the report; a
unit without ``stage_mm`` runs at the campaign's stage home, serial, simulated or shared stage."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from acquisition.campaigns.index import CampaignIndex
from rig_files import SWEEP_ROLES, simulated_roles_toml

if TYPE_CHECKING:
    from acquisition.campaigns import Campaign
    from acquisition.rig import Rig

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


SWEEP = {"temperature_k": 77.0, "start_kw_cm2": 2.0, "stop_kw_cm2": 10.0, "points": 4, "spacing": "log",
         "dwell_s": 0.1, "settle_s": 0.1}
#: a map over two listed points: it leaves the stage at the last one
MAP = {"positions_mm": [12.51, 12.49, 12.52, 12.52], "dwell_s": 0.05, "settle_s": 0.05, "density_kw_cm2": 5.5}
REFERENCE_MM = (12.5, 12.5)  # the simulated stage's reference position (sim_backends bench config)

MIXED_RIG = simulated_roles_toml([*SWEEP_ROLES, "cryostat"], extra="""
[roles.xy_stage]
driver = "kdc101_z8_xy"
address = "emulator"
""")


def wandering_campaign(stage_home_mm: list[float] | None = None) -> "Campaign":
    """A sweep moved off home, a map that ends elsewhere, then sweeps and a bare wait of their own."""
    from acquisition.campaigns import Campaign, Step

    return Campaign(name="wander", stage_mm=stage_home_mm, steps=[
        Step(experiment="sweep", stage_mm=[12.506, 12.5], params=SWEEP),
        Step(experiment="sweep", params=SWEEP),
        Step(experiment="map", params=MAP),
        Step(wait_s=1.0),
        Step(experiment="sweep", params=SWEEP)])


def run_recording_stage(campaign: "Campaign", rig: "Rig", folder: Path) -> list[tuple[str, tuple[float, float]]]:
    """Run ``campaign`` serially; (experiment, stage position in mm) as each run starts."""
    from acquisition.campaigns.runner import CampaignRunner
    from acquisition.engine import Engine
    from acquisition.events import RunStarted

    engine = Engine(rig)
    started: list[tuple[str, tuple[float, float]]] = []

    def on_event(event: object) -> None:
        if isinstance(event, RunStarted):
            x_m, y_m = engine.rig.xy_stage.get_position()
            started.append((event.experiment, (x_m * 1e3, y_m * 1e3)))

    engine.subscribe(on_event)
    try:
        CampaignRunner(campaign, engine, folder).run()
    finally:
        engine.close()
    return started


def positions_of(started: list[tuple[str, tuple[float, float]]], experiment: str) -> list[tuple[float, float]]:
    return [position for name, position in started if name == experiment]


def test_simulated_units_start_at_the_campaign_stage_home_whatever_ran_before() -> None:
    from acquisition.campaigns.isolation import simulation_starts
    from acquisition.campaigns.spec import expand
    from acquisition.campaigns.stage_home import simulated_home_m
    from acquisition.rig import load_rig

    for home_mm, expected_m in ((None, None), ([12.503, 12.502], (12.503e-3, 12.502e-3))):
        campaign = wandering_campaign(home_mm)
        units = expand(campaign)
        starts = simulation_starts(units, [10.0] * len(units), 77.0, simulated_home_m(campaign))
        assert [s.stage_m for s in starts] == [expected_m if expected_m is None else pytest.approx(expected_m)] * len(units)
    rig = load_rig("sim")
    try:
        rig.restart_simulation(starts[-1])
        rig.connect_all()
        assert rig.xy_stage.get_position() == pytest.approx((12.503e-3, 12.502e-3), abs=1e-12)
    finally:
        rig.close_all()


@pytest.mark.parametrize("home_mm", [None, [12.503, 12.502]])
def test_a_simulated_unit_without_stage_mm_runs_at_the_stage_home(tmp_path: Path, home_mm: list[float] | None) -> None:
    """Units restarted as simulations: the sweeps without ``stage_mm`` run at the home, not where
    the sweep or the map before them left the stage."""
    from acquisition.rig import load_rig

    started = run_recording_stage(wandering_campaign(home_mm), load_rig("sim"), tmp_path)
    home = tuple(home_mm) if home_mm is not None else REFERENCE_MM
    assert positions_of(started, "sweep") == [pytest.approx((12.506, 12.5), abs=1e-6),
                                              pytest.approx(home, abs=1e-6), pytest.approx(home, abs=1e-6)]


@pytest.mark.parametrize("home_mm", [None, [12.503, 12.502]])
def test_on_a_shared_stage_the_runner_moves_the_stage_back_home(tmp_path: Path, home_mm: list[float] | None) -> None:
    """A rig whose units share one stage (the real KDC101 driver on emulated controllers): the
    runner moves the stage back to the home before each unit that does not place it itself;
    without a campaign ``stage_mm`` the home is where the stage was at the start, recorded for a
    resume."""
    from acquisition.rig import load_rig

    rig_path = tmp_path / "mixed.toml"
    rig_path.write_text(MIXED_RIG)
    rig = load_rig(rig_path)
    try:
        started = run_recording_stage(wandering_campaign(home_mm), rig, tmp_path / "out")
    finally:
        rig.stop_emulators()
    home = tuple(home_mm) if home_mm is not None else REFERENCE_MM
    assert positions_of(started, "sweep") == [pytest.approx((12.506, 12.5), abs=1e-4),
                                              pytest.approx(home, abs=1e-4), pytest.approx(home, abs=1e-4)]
    index = CampaignIndex(tmp_path / "out")
    try:
        recorded = index.meta("stage_home_mm")
    finally:
        index.close()
    assert recorded == (None if home_mm is not None else pytest.approx(list(REFERENCE_MM), abs=1e-4))


def test_a_campaign_stage_home_outside_the_limits_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "home.toml"
    path.write_text(CAMPAIGN.format(x0=12.5).replace('name = "stage-grid"',
                                                     'name = "stage-grid"\nstage_mm = [12.5, 26.0]'))
    done = avalab("campaign", str(path), "--out", str(tmp_path / "out"), home=tmp_path)
    assert done.returncode == 2
    assert "stage_mm: xy_stage.y_mm=26 mm is outside the stage limits; allowed range [0, 25] mm" in done.stderr
    assert not (tmp_path / "out" / "campaign.sqlite").exists()


@pytest.mark.parametrize("home_mm", [None, [12.503, 12.502]])
def test_parallel_workers_get_the_same_stage_home(tmp_path: Path, home_mm: list[float] | None) -> None:
    """What a dask worker receives for each unit (``ParallelCampaignRunner.task``) restarts the rig
    with the stage at the home, whatever the units before it did: the serial run's start."""
    from acquisition.campaigns.parallel import ParallelCampaignRunner
    from acquisition.engine import Engine
    from acquisition.rig import Rig, load_rig

    engine = Engine(load_rig("sim"))
    try:
        runner = ParallelCampaignRunner(wandering_campaign(home_mm), engine, tmp_path, client=None)
        tasks = [runner.task(ordinal, unit, 1) for ordinal, unit in enumerate(runner.units)]
        assert [t.start for t in tasks] == runner._starts
        last = tasks[-1]  # a sweep without stage_mm after a map that ended elsewhere
        rig = Rig(last.rig_config, source=last.rig_source)
        try:
            rig.restart_simulation(last.start)
            rig.connect_all()
            x_m, y_m = rig.xy_stage.get_position()
        finally:
            rig.close_all()
    finally:
        engine.close()
    home = tuple(home_mm) if home_mm is not None else REFERENCE_MM
    assert (x_m * 1e3, y_m * 1e3) == pytest.approx(home, abs=1e-9)
