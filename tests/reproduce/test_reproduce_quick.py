"""``avalab reproduce --quick`` as an operator runs it: a subprocess on the simulated rig with its
own AVALAB_HOME. The report's table has a row per published figure of the quick groups, every
value comes from a run file written by the campaign (re-analysing the file gives the same
value), and the rows at the point the simulator was calibrated on pass."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from acquisition.reanalysis import reanalyze
from acquisition.storage import open_run

#: a few minutes of work; generous on a loaded CI box (the test never races the clock)
pytestmark = pytest.mark.timeout(2400)

SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]
#: rows measured at the calibration point (77 K, CW, the reference spot, 808 nm switching)
CALIBRATION_POINT_ROWS = ("cw_spot.nonlinearity", "cw_spot.no_intermediate", "switching.inside",
                          "switching.below", "switching.above")


def avalab(args: list[str], cwd: Path, timeout: float = 2300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AVALAB_HOME=str(cwd / "home"))
    return subprocess.run(AVALAB + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    cwd = tmp_path_factory.mktemp("reproduce")
    done = avalab(["reproduce", "--quick", "--json", "--out", "report"], cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return cwd / "report", json.loads(done.stdout)


def test_the_report_has_the_table_the_page_and_the_figures(quick_report: tuple[Path, dict]) -> None:
    folder, report = quick_report
    assert report["quick"] is True
    names = [g["name"] for g in report["groups"]]
    assert {"cw_spot", "switching", "temperature"} <= set(names)
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "| figure | published | source | simulated | tolerance | status | note |" in markdown
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["rows"] == report["rows"]
    for row in report["rows"]:
        assert row["status"] in ("pass", "fail", "not measured")
        assert row["figure"] in markdown and row["published"] and row["tolerance"]
        assert row["source"].startswith(("physics.md:", "issue 15"))
        if row["status"] != "not measured":
            assert row["simulated"] and row["simulated"] != "—"
    figures = [Path(p) for g in report["groups"] for p in g["figures"]]
    assert figures, "no figure was drawn"
    for png in figures:
        assert png.stat().st_size > 10_000
        assert os.path.relpath(png, folder) in page
    counts = report["counts"]
    assert sum(counts.values()) == len(report["rows"])


def test_values_come_from_the_run_files_of_the_campaigns(quick_report: tuple[Path, dict]) -> None:
    folder, report = quick_report
    rows = {f"{r['group']}.{r['key']}": r for r in report["rows"]}
    for row in rows.values():
        if row["outside_rig"]:
            continue
        assert row["run_files"], row
        for name in row["run_files"]:
            path = Path(name)
            assert path.is_relative_to(folder / "campaigns") and path.exists()
            assert open_run(path).status == "complete"
    # the same figure from the stored run, as `avalab analyze` computes it
    on = rows["cw_spot.switch_on"]
    assert reanalyze(open_run(on["run_files"][0]))["switch_on_kw_cm2"] == pytest.approx(on["value"])
    inside = rows["switching.inside"]
    figures = reanalyze(open_run(inside["run_files"][0]))
    assert inside["value"] in figures["latch_by_bias_kw_cm2"].values()
    # the campaign files are kept: an operator can run them again
    for group in report["groups"]:
        assert (folder / "campaigns" / f"{group['name']}.toml").exists()


def test_from_evaluates_the_stored_runs_again_to_the_same_rows(quick_report: tuple[Path, dict]) -> None:
    folder, report = quick_report
    done = avalab(["reproduce", "--from", str(folder), "--json"], folder.parent, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads(done.stdout)
    assert [(r["key"], r["value"], r["status"]) for r in again["rows"]] == \
        [(r["key"], r["value"], r["status"]) for r in report["rows"]]


def test_the_calibration_point_rows_pass(quick_report: tuple[Path, dict]) -> None:
    _, report = quick_report
    rows = {f"{r['group']}.{r['key']}": r for r in report["rows"]}
    for key in CALIBRATION_POINT_ROWS:
        assert rows[key]["status"] == "pass", rows[key]


def test_bad_input_is_one_line_and_runs_nothing(tmp_path: Path) -> None:
    done = avalab(["reproduce", "--only", "nope", "--out", "r"], tmp_path, timeout=600)
    assert done.returncode == 2
    assert done.stderr.startswith("avalab: error: only='nope' is not a reproduction group; allowed values: cw_spot")
    assert not (tmp_path / "r").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    done = avalab(["reproduce", "--out", "full"], tmp_path, timeout=600)
    assert done.returncode == 2 and "out=full exists and is not an empty folder" in done.stderr
