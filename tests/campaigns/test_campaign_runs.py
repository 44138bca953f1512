"""Running campaigns on the simulated rig: resume after an abort, index contents, the report."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from acquisition.campaigns import Campaign, Step
from acquisition.campaigns.index import CampaignIndex
from acquisition.campaigns.report import write_report
from acquisition.campaigns.runner import CampaignProgress, CampaignRunner, CampaignStopped
from acquisition.engine import Engine
from acquisition.rig import load_rig
from acquisition.storage import open_run


def four_spots() -> Campaign:
    return Campaign(name="four-spots", steps=[Step(
        label="spot", experiment="sweep", loop={"spot": "${range(4)}"},
        position_um=["${3.0 * spot}", 0.0],
        params={"start_kw_cm2": 2.0, "stop_kw_cm2": 11.0, "points": 10, "settle_s": 0.1, "dwell_s": 0.1})])


def run(folder: Path, resume: bool = False, abort_at: int | None = None) -> None:
    engine = Engine(load_rig("sim"))

    aborting: list[str] = []

    def on_progress(progress: CampaignProgress) -> None:  # called as units start and advance
        if abort_at is not None and progress.done == abort_at and progress.unit is not None and not aborting:
            aborting.append(progress.unit.key)
            def abort_when_running() -> None:
                while not engine.is_busy:
                    threading.Event().wait(0.005)
                engine.abort("test: simulated crash")
            threading.Thread(target=abort_when_running, daemon=True).start()

    try:
        CampaignRunner(four_spots(), engine, folder, on_progress=on_progress).run(resume=resume)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("uninterrupted")
    run(folder)
    return folder


def complete_runs(folder: Path) -> dict[str, str]:
    index = CampaignIndex(folder)
    try:
        rows = index.runs("complete")
    finally:
        index.close()
    keys = [r.unit_key for r in rows]
    assert len(keys) == len(set(keys)), f"duplicated complete runs: {keys}"
    return {r.unit_key: r.path for r in rows}


def test_aborted_then_resumed_campaign_has_the_same_runs_nothing_lost(uninterrupted: Path,
                                                                      tmp_path: Path) -> None:
    with pytest.raises(CampaignStopped):
        run(tmp_path, abort_at=2)
    partial = complete_runs(tmp_path)
    assert set(partial) == {"s1/spot=0", "s1/spot=1"}
    with pytest.raises(CampaignStopped, match="--resume"):
        run(tmp_path)  # refusing to start over on top of existing runs
    run(tmp_path, resume=True)
    resumed = complete_runs(tmp_path)
    assert set(resumed) == set(complete_runs(uninterrupted)) == {f"s1/spot={i}" for i in range(4)}
    # the first two runs were not redone: same files as before the abort
    assert {k: resumed[k] for k in partial} == partial
    index = CampaignIndex(tmp_path)
    try:
        superseded = index.runs("superseded")
    finally:
        index.close()
    assert [r.unit_key for r in superseded] == ["s1/spot=2"]
    aborted_file = open_run(tmp_path / superseded[0].path)  # the interrupted attempt is kept
    assert aborted_file.status == "aborted"
    for path in resumed.values():
        assert open_run(tmp_path / path).status == "complete"


def test_same_campaign_gives_the_same_thresholds_per_spot(uninterrupted: Path, tmp_path: Path) -> None:
    index = CampaignIndex(uninterrupted)
    try:
        rows = index.runs("complete")
    finally:
        index.close()
    switch_on = [r.metrics.get("switch_on_kw_cm2") for r in rows]
    assert len(rows) == 4 and any(v is not None for v in switch_on)


def test_report_has_real_figures_table_and_page(uninterrupted: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread
    report = write_report(uninterrupted, tmp_path / "report")
    names = {p.name for p in report.figures}
    assert names == {"film_statistics.png"}  # four spots: no repeats, one temperature
    for figure in report.figures:
        pixels = imread(figure)
        assert pixels.shape[:2] == (600, 900), figure
        assert float(np.std(pixels[..., :3])) > 0.05, f"{figure} looks blank"
    page = report.page.read_text()
    assert all(p.name in page for p in report.figures) and "runs.csv" in page
    table = report.table.read_text().splitlines()
    assert len(table) == 1 + 4 and "switch_on_kw_cm2" in table[0]
    assert "position_um" not in table[0]  # lists stay out of the CSV table
    assert report.statistics["switch_on_kw_cm2"]["n"] >= 1


def test_report_on_a_folder_without_campaign_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="campaign.sqlite"):
        write_report(tmp_path)
