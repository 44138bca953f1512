"""Campaign loops over sample-stage positions (``stage_mm``): checked against the stage limits
before anything runs, moved through the engine before each unit, drawn as maps in the report."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
