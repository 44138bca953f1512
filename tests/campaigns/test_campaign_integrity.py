"""Campaign integrity under faults: a stop request between two units is honoured (no further
unit starts), ``--resume`` records a unit whose file was finished but never indexed instead of
measuring it again, and a campaign name is a file name, never a path."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from acquisition.campaigns import Campaign, Step
from acquisition.campaigns.index import CampaignIndex
from acquisition.campaigns.runner import CampaignProgress, CampaignRunner, CampaignStopped
from acquisition.campaigns.spec import CampaignError, campaign_name_problem, parse_campaign
from acquisition.engine import Engine
from acquisition.events import RunStarted
from acquisition.rig import load_rig
from acquisition.storage import open_run


SWEEP = {"start_kw_cm2": 2.0, "stop_kw_cm2": 11.0, "points": 6, "settle_s": 0.1, "dwell_s": 0.1}


def three_spots() -> Campaign:
    return Campaign(name="three-spots", steps=[Step(
        label="spot", experiment="sweep", loop={"spot": "${range(3)}"},
        position_um=["${3.0 * spot}", 0.0], params=dict(SWEEP))])


def indexed(folder: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "campaign.sqlite") as db:
        return list(db.execute("SELECT unit_key, status FROM runs ORDER BY id"))


def test_a_stop_requested_between_two_units_starts_no_further_unit(tmp_path: Path) -> None:
    """The request arrives when no run is going (between units): engine.abort alone would be
    a no-op there, which let a SIGTERM'd campaign run on to the end."""
    engine = Engine(load_rig("sim"))
    runs_started: list[str] = []
    engine.subscribe(lambda event: runs_started.append(event.experiment)
                     if isinstance(event, RunStarted) else None)
    runner: CampaignRunner

    def on_progress(progress: CampaignProgress) -> None:
        # reported just before the second unit starts: the engine is idle here
        if progress.unit is not None and progress.done == 1:
            assert not engine.is_busy
            runner.request_stop("SIGTERM received")

    runner = CampaignRunner(three_spots(), engine, tmp_path, on_progress=on_progress)
    try:
        with pytest.raises(CampaignStopped, match="stopped before unit s1/spot=1: SIGTERM received"):
            runner.run()
    finally:
        engine.close()
    # the first unit only (a fully simulated rig calibrates before its units)
    assert [name for name in runs_started if name != "calibrate"] == ["sweep"]
    assert indexed(tmp_path) == [("s1/spot=0", "complete")]


def test_a_stop_requested_during_a_unit_aborts_it_and_starts_no_other(tmp_path: Path) -> None:
    engine = Engine(load_rig("sim"))
    runner = CampaignRunner(three_spots(), engine, tmp_path)
    engine.subscribe(lambda event: runner.request_stop("SIGINT received")
                     if isinstance(event, RunStarted) else None)
    try:
        with pytest.raises(CampaignStopped) as stopped:
            runner.run()
    finally:
        engine.close()
    assert stopped.value.finished is not None and stopped.value.finished.status.value == "aborted"
    assert indexed(tmp_path) == [("s1/spot=0", "aborted")]


def test_resume_records_a_finished_file_the_index_missed_instead_of_measuring_it_again(tmp_path: Path) -> None:
    """A campaign killed after unit 2's file was finalised but before the index recorded it:
    the index says "running". --resume must take the file, not the rig's time."""
    engine = Engine(load_rig("sim"))
    try:
        CampaignRunner(three_spots(), engine, tmp_path).run()
    finally:
        engine.close()
    with sqlite3.connect(tmp_path / "campaign.sqlite") as db:  # what the kill left behind
        db.execute("UPDATE runs SET status = 'running', metrics = '{}', finished_at = NULL "
                   "WHERE unit_key = 's1/spot=1'")
    (tmp_path / "runs" / "0002_s1__spot=2_sweep.h5").unlink()  # and unit 3 never ran
    with sqlite3.connect(tmp_path / "campaign.sqlite") as db:
        db.execute("DELETE FROM runs WHERE unit_key = 's1/spot=2'")

    engine = Engine(load_rig("sim"))
    started: list[str] = []
    engine.subscribe(lambda event: started.append(event.path) if isinstance(event, RunStarted) else None)
    try:
        result = CampaignRunner(three_spots(), engine, tmp_path).run(resume=True)
    finally:
        engine.close()
    assert result.reconciled == ["s1/spot=1"]
    assert result.completed == ["s1/spot=2"]  # only the unit that never ran was measured
    assert len(started) == 1 and started[0].endswith("0002_s1__spot=2_sweep.h5")
    index = CampaignIndex(tmp_path)
    try:
        complete = {run.unit_key: run for run in index.runs("complete")}
    finally:
        index.close()
    assert sorted(complete) == ["s1/spot=0", "s1/spot=1", "s1/spot=2"]
    # the reconciled unit carries its figures from the file, like a unit indexed normally
    recorded = complete["s1/spot=1"]
    summary = open_run(tmp_path / recorded.path).summary
    assert recorded.metrics.get("switch_off_kw_cm2") == summary.get("switch_off_kw_cm2")
    assert "position_um" in recorded.metrics


def test_resume_measures_again_a_unit_whose_file_is_incomplete(tmp_path: Path) -> None:
    engine = Engine(load_rig("sim"))
    try:
        CampaignRunner(three_spots(), engine, tmp_path).run()
    finally:
        engine.close()
    # unit 2's file is a killed run's header (status "running", no points): not complete
    with sqlite3.connect(tmp_path / "campaign.sqlite") as db:
        db.execute("UPDATE runs SET status = 'running' WHERE unit_key = 's1/spot=1'")
    path = tmp_path / "runs" / "0001_s1__spot=1_sweep.h5"
    import h5py
    with h5py.File(path, "r+") as handle:
        handle.attrs["status"] = "running"
    engine = Engine(load_rig("sim"))
    try:
        result = CampaignRunner(three_spots(), engine, tmp_path).run(resume=True)
    finally:
        engine.close()
    assert result.reconciled == [] and result.completed == ["s1/spot=1"]
    assert ("s1/spot=1", "superseded") in indexed(tmp_path)


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", "..", ".", "a\\b", "x\x00y", " lead",
                                  "x" * 101, ""])
def test_a_campaign_name_is_a_file_name_never_a_path(name: str) -> None:
    text = f'name = "{name}"\n[[step]]\nexperiment = "sweep"\n'.replace("\x00", "\\u0000").replace("\\b", "\\\\b")
    with pytest.raises(CampaignError) as error:
        parse_campaign(text, experiment_names=["sweep"])
    assert any("line 1: name: name=" in line and "file name" in line for line in error.value.errors), \
        error.value.errors
    assert campaign_name_problem(name) is not None


@pytest.mark.parametrize("name", ["film-71-spots", "cycles 100", "T_series.v2", "a+b"])
def test_plain_names_are_accepted(name: str) -> None:
    assert campaign_name_problem(name) is None
