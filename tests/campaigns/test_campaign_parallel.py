"""Campaign units on dask workers (a LocalCluster of processes): the same figures as a serial run,
a worker killed mid-unit, Ctrl+C then --resume, a rig with real roles refused."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acquisition.campaigns import Campaign, Step
from acquisition.campaigns.index import CampaignIndex
from acquisition.campaigns.parallel import ParallelCampaignRunner, ParallelRefused, dask_client
from acquisition.campaigns.runner import CampaignRunner
from acquisition.engine import Engine
from acquisition.rig import load_rig
from acquisition.storage import open_run

pytestmark = pytest.mark.timeout(600)

SWEEP = {"start_kw_cm2": 2.0, "stop_kw_cm2": 11.0, "points": 12, "settle_s": 0.1, "dwell_s": 0.1}
FIGURES = ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db",
           "nonlinearity_s", "bistable")


def spots(n: int = 4) -> Campaign:
    return Campaign(name="spots", steps=[
        Step(label="go", temperature_k=77.0, wait_s=5.0),
        Step(label="spot", experiment="sweep", loop={"spot": f"${{range({n})}}"},
             position_um=["${3.0 * spot}", 0.0], params=dict(SWEEP))])


def complete_rows(folder: Path) -> dict[str, Any]:
    index = CampaignIndex(folder)
    try:
        rows = index.runs("complete")
    finally:
        index.close()
    keys = [r.unit_key for r in rows]
    assert len(keys) == len(set(keys)), f"a unit is complete twice: {keys}"
    return {r.unit_key: r for r in rows}


def figures(folder: Path) -> dict[str, dict[str, Any]]:
    return {key: {f: row.metrics.get(f) for f in FIGURES} for key, row in complete_rows(folder).items()}


def counts(folder: Path) -> dict[str, np.ndarray]:
    """Every sweep point's registered counts, per unit (the raw data, not only the figures)."""
    return {key: open_run(folder / row.path).streams["sweep"]["counts"]
            for key, row in complete_rows(folder).items() if row.path}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with dask_client(workers=2) as dask:
        yield dask


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serial")
    engine = Engine(load_rig("sim"))
    try:
        CampaignRunner(spots(), engine, folder).run()
    finally:
        engine.close()
    return folder


def run_parallel(folder: Path, client: Any, **kwargs: Any) -> None:
    engine = Engine(load_rig("sim"))
    try:
        ParallelCampaignRunner(spots(), engine, folder, client, **kwargs).run()
    finally:
        engine.close()


def test_parallel_units_give_the_serial_figures_bit_for_bit(serial: Path, client: Any, tmp_path: Path) -> None:
    run_parallel(tmp_path, client)
    expected = figures(serial)
    assert set(expected) == {"s1", *(f"s2/spot={i}" for i in range(4))}
    assert sum(v["switch_on_kw_cm2"] is not None for v in expected.values()) >= 3
    assert figures(tmp_path) == expected
    parallel_counts, serial_counts = counts(tmp_path), counts(serial)
    assert set(parallel_counts) == set(serial_counts)
    for key, values in serial_counts.items():
        np.testing.assert_array_equal(parallel_counts[key], values, err_msg=key)


def _stopped(pid: int) -> bool:
    """The process is stopped (SIGSTOP took effect): state T in /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone: it runs nothing any more either
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


def _holds_a_record(journal: Path) -> bool:
    from acquisition.storage.journal import read_journal

    try:
        return bool(read_journal(journal).records)
    except FileNotFoundError:
        return False


def test_a_worker_killed_mid_unit_reruns_it_once_elsewhere(serial: Path, client: Any, tmp_path: Path) -> None:
    killed: list[dict[str, Any]] = []

    def kill_the_first_sweep_mid_run(message: dict[str, Any]) -> None:
        if killed or message["experiment"] != "sweep":
            return
        pid = message["pid"]
        journal = tmp_path / (message["path"] + ".journal")
        deadline = time.monotonic() + 120
        # its run has begun and written its first record (a kill before that leaves an empty
        # journal: nothing of the run to keep, so nothing this test could check)
        while not _holds_a_record(journal) and not (tmp_path / message["path"]).exists():
            assert time.monotonic() < deadline, "the unit's run file never appeared"
            time.sleep(0.01)
        os.kill(pid, signal.SIGSTOP)  # frozen first, so that it cannot finish while we look
        deadline = time.monotonic() + 60
        while not _stopped(pid):
            assert time.monotonic() < deadline, "the worker did not stop"
            time.sleep(0.01)
        if (tmp_path / message["path"]).exists():  # it finished before it froze: try the next one
            os.kill(pid, signal.SIGCONT)
            return
        killed.append(message)
        os.kill(pid, signal.SIGKILL)

    run_parallel(tmp_path, client, on_unit_started=kill_the_first_sweep_mid_run)
    assert len(killed) == 1
    victim = killed[0]["unit_key"]
    assert figures(tmp_path) == figures(serial)  # every unit once, the re-run one as serial gave it
    index = CampaignIndex(tmp_path)
    try:
        attempts = [(r.status, r.path) for r in index.runs() if r.unit_key == victim]
    finally:
        index.close()
    assert [status for status, _ in attempts] == ["superseded", "complete"]
    assert attempts[0][1] == killed[0]["path"] != attempts[1][1]
    assert open_run(tmp_path / attempts[0][1]).status == "incomplete"  # the dead worker's points kept


def test_a_rig_with_a_real_or_emulated_role_is_refused(tmp_path: Path) -> None:
    rig_file = tmp_path / "rig.toml"
    rig_file.write_text('[rig]\nname = "lab"\n[roles.pump]\ndriver = "opus"\naddress = "emulator"\n'
                        '[roles.hwp]\ndriver = "sim"\n')
    engine = Engine(load_rig(rig_file))
    try:
        with pytest.raises(ParallelRefused, match=r"roles pump \(opus via emulator\) are not simulated"):
            ParallelCampaignRunner(spots(), engine, tmp_path / "c", client=None)
    finally:
        engine.close()
    spec = tmp_path / "c.toml"
    spec.write_text('name = "c"\n[[step]]\nexperiment = "sweep"\nparams = { points = 10 }\n')
    done = subprocess.run(avalab("campaign", str(spec), "--rig", str(rig_file), "--workers", "2",
                                 "--out", str(tmp_path / "out")), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"avalab: error: rig={rig_file}: roles pump (opus via emulator) are not simulated; allowed with "
        "--workers/--scheduler: a fully simulated rig on the virtual clock (a real rig runs its units serially)"]
    assert not (tmp_path / "out").exists()


def avalab(*args: str) -> list[str]:
    return [sys.executable, "-c", "from acquisition.cli import main; raise SystemExit(main())", *args]


CAMPAIGN = """\
name = "ctrl-c"
[[step]]
loop = { spot = "${range(8)}" }
position_um = ["${2.0 * spot}", 0.0]
experiment = "sweep"
params = { start_kw_cm2 = 2.0, stop_kw_cm2 = 11.0, points = 12, settle_s = 0.1, dwell_s = 0.1 }
"""


def statuses(folder: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(folder / "campaign.sqlite") as db:
            return list(db.execute("SELECT unit_key, status FROM runs"))
    except sqlite3.OperationalError:  # the coordinator is creating the table
        return []


def test_ctrl_c_stops_every_worker_records_what_ended_and_resume_finishes(tmp_path: Path) -> None:
    spec = tmp_path / "campaign.toml"
    spec.write_text(CAMPAIGN)
    folder = tmp_path / "out"
    # its own process group, as a terminal's Ctrl+C reaches the coordinator and its workers
    process = subprocess.Popen(avalab("campaign", str(spec), "--out", str(folder), "--workers", "2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if (folder / "campaign.sqlite").exists() and any(s == "complete" for _, s in statuses(folder)):
                break
            assert process.poll() is None, "campaign ended before it could be stopped"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGINT, stderr
    assert "avalab: SIGINT: campaign aborted, instruments safe" in stderr
    rows = statuses(folder)
    complete = [k for k, s in rows if s == "complete"]
    assert 1 <= len(complete) < 8
    assert "running" not in {s for _, s in rows}, rows  # every unit that ended is recorded
    assert {s for _, s in rows} <= {"complete", "aborted"}
    resumed = subprocess.run(avalab("campaign", str(spec), "--out", str(folder), "--resume", "--workers", "2",
                                    "--json"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = [k for k, s in statuses(folder) if s == "complete"]
    assert sorted(after) == sorted(f"s1/spot={i}" for i in range(8))
    assert set(complete) <= set(after)
