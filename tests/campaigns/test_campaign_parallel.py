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
from acquisition.campaigns.runner import CampaignProgress, CampaignRunner, CampaignStopped
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


SERIAL_PROGRESS: list[CampaignProgress] = []


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serial")
    engine = Engine(load_rig("sim"))
    try:
        CampaignRunner(spots(), engine, folder, on_progress=SERIAL_PROGRESS.append).run()
    finally:
        engine.close()
    return folder


def run_parallel(folder: Path, client: Any, **kwargs: Any) -> None:
    engine = Engine(load_rig("sim"))
    try:
        ParallelCampaignRunner(spots(), engine, folder, client, **kwargs).run()
    finally:
        engine.close()


def assert_progress_within_units(reports: list[CampaignProgress]) -> None:
    """Reports while units ran: their points' share, an ETA before the end, the work done
    never going back, and a last report of everything done."""
    partial = [f for r in reports for _, f in r.running if 0.0 < f < 1.0]
    assert partial, [r.running for r in reports]
    shares = [r.fraction for r in reports if r.fraction is not None]
    assert shares == sorted(shares) and shares[-1] == 1.0
    assert any(r.eta_s is not None and r.done < r.total for r in reports)
    assert reports[-1].ended and reports[-1].done == reports[-1].total


def test_serial_progress_shows_the_running_unit(serial: Path) -> None:
    assert_progress_within_units(SERIAL_PROGRESS)
    assert all(len(r.running) <= 1 for r in SERIAL_PROGRESS)


def test_parallel_units_give_the_serial_figures_bit_for_bit(serial: Path, client: Any, tmp_path: Path) -> None:
    reports: list[CampaignProgress] = []
    run_parallel(tmp_path, client, on_progress=reports.append)
    assert_progress_within_units(reports)  # the workers' units, as they advance
    expected = figures(serial)
    assert set(expected) == {"s1", *(f"s2/spot={i}" for i in range(4))}
    assert sum(v["switch_on_kw_cm2"] is not None for v in expected.values()) >= 3
    assert figures(tmp_path) == expected
    parallel_counts, serial_counts = counts(tmp_path), counts(serial)
    assert set(parallel_counts) == set(serial_counts)
    for key, values in serial_counts.items():
        np.testing.assert_array_equal(parallel_counts[key], values, err_msg=key)


SPOTS_FILE = """\
name = "spots"
[[step]]
label = "go"
temperature_k = 77.0
wait_s = 5.0
[[step]]
label = "spot"
loop = { spot = "${range(4)}" }
position_um = ["${3.0 * spot}", 0.0]
experiment = "sweep"
params = { start_kw_cm2 = 2.0, stop_kw_cm2 = 11.0, points = 12, settle_s = 0.1, dwell_s = 0.1 }
"""


def test_an_existing_cluster_runs_the_units_as_a_serial_run_would(serial: Path, client: Any,
                                                                  tmp_path: Path) -> None:
    """``--scheduler ADDRESS``: the CLI connects to a running cluster (here the module's), the
    figures are the serial ones."""
    spec = tmp_path / "spots.toml"
    spec.write_text(SPOTS_FILE)
    done = subprocess.run(avalab("campaign", str(spec), "--scheduler", client.scheduler.address, "--out",
                                 str(tmp_path / "out"), "--json"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert figures(tmp_path / "out") == figures(serial)
    unreachable = subprocess.run(avalab("campaign", str(spec), "--scheduler", "tcp://127.0.0.1:9", "--out",
                                        str(tmp_path / "never")), capture_output=True, text=True, timeout=600)
    assert unreachable.returncode == 2 and len(unreachable.stderr.splitlines()) == 1
    assert "scheduler='tcp://127.0.0.1:9' cannot be reached" in unreachable.stderr


def _has_points(path: Path) -> bool:
    """The run at ``path`` (its journal while it runs) holds a measured sweep point."""
    try:
        return len(open_run(path).streams.get("sweep", {}).get("counts", [])) > 0
    except ValueError:  # not there yet, or its header record is still being written
        return False


#: how long a held unit waits for the test to kill its worker (it is killed long before)
HOLD_S = 600.0


def hold_the_first_sweep_point(topic: str, marker: str) -> None:
    """On every worker (``client.run``): the first sweep of campaign ``topic`` that measures a
    point, on whichever worker, holds there with that point on disk and names its worker's pid and
    its run file in ``marker`` (made atomically: one unit holds, the others run on). A worker
    started later (the one replacing a killed worker) does not hold."""
    import json as _json
    import tempfile
    import threading as _threading

    from acquisition.campaigns import parallel
    from acquisition.events import PointTaken, RunStarted

    class HoldingEngine(parallel._StoppableEngine):  # type: ignore[name-defined, misc]
        def __init__(self, rig: Any, store: Any, unit_topic: str) -> None:
            super().__init__(rig, store, unit_topic)
            self.sweep_path: str | None = None
            self.subscribe(self.hold)  # after the run's writer: the point is on disk first

        def hold(self, event: Any) -> None:
            if self.topic != topic:
                return
            if isinstance(event, RunStarted):
                self.sweep_path = event.path if event.experiment == "sweep" else None
            elif isinstance(event, PointTaken) and event.stream == "sweep" and self.sweep_path:
                with tempfile.NamedTemporaryFile("w", dir=Path(marker).parent, delete=False) as note:
                    _json.dump({"pid": os.getpid(), "path": self.sweep_path}, note)
                try:
                    os.link(note.name, marker)  # atomic, and refused if another unit holds already
                except FileExistsError:
                    return
                finally:
                    os.unlink(note.name)
                _threading.Event().wait(HOLD_S)

    parallel._StoppableEngine = HoldingEngine


def release_holds() -> None:
    """On every worker: the campaign units' engines as they were before ``hold_the_first_sweep_point``."""
    from acquisition.campaigns import parallel

    while parallel._StoppableEngine.__name__ == "HoldingEngine":
        parallel._StoppableEngine = parallel._StoppableEngine.__bases__[0]


def test_a_worker_killed_mid_unit_reruns_it_once_elsewhere(serial: Path, client: Any, tmp_path: Path) -> None:
    """A sweep holds on a worker after its first point (a condition, not a race with the clock);
    that worker is killed: the unit is measured again on another worker, once, and the dead
    worker's file is kept with its point."""
    import json

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    marker = tmp_path / "held.json"
    folder = tmp_path / "campaign"
    killed: list[dict[str, Any]] = []
    begun: list[dict[str, Any]] = []

    def kill_the_held_unit(message: dict[str, Any]) -> None:
        begun.append(message)
        if killed or message["experiment"] != "sweep":
            return
        deadline = time.monotonic() + 300  # a sweep has begun: one will hold at its first point
        while not marker.exists():
            assert time.monotonic() < deadline, "no sweep held at its first point"
            time.sleep(0.01)
        held = json.loads(marker.read_text())
        assert _has_points(Path(held["path"])), held  # its point is in its journal
        os.kill(held["pid"], signal.SIGKILL)
        killed.append(held)

    engine = Engine(load_rig("sim"))
    try:
        runner = ParallelCampaignRunner(spots(), engine, folder, client, on_unit_started=kill_the_held_unit)
        client.run(hold_the_first_sweep_point, runner.topic, str(marker))
        try:
            runner.run()
        finally:
            client.run(release_holds)
    finally:
        engine.close()
    assert len(killed) == 1
    victim_path = Path(killed[0]["path"]).resolve()
    victim = [m for m in begun if m["path"] and (folder / m["path"]).resolve() == victim_path]
    assert len(victim) == 1, begun
    assert figures(folder) == figures(serial)  # every unit once, the re-run one as serial gave it
    index = CampaignIndex(folder)
    try:
        attempts = [(r.status, r.path) for r in index.runs() if r.unit_key == victim[0]["unit_key"]]
    finally:
        index.close()
    assert [status for status, _ in attempts] == ["superseded", "complete"]
    assert attempts[0][1] == victim[0]["path"] != attempts[1][1]
    left = open_run(folder / attempts[0][1])
    assert left.status == "incomplete" and len(left.streams["sweep"]["counts"]) > 0  # its points kept


def test_an_emergency_stop_reaches_the_workers_running_units(client: Any, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """The operator's second signal: every running unit's engine makes its instruments safe,
    nothing further starts, the units that ended are recorded."""
    runners: list[ParallelCampaignRunner] = []

    def stop_once_a_sweep_runs(message: dict[str, Any]) -> None:
        if message["experiment"] == "sweep" and not runners[0]._emergency:
            runners[0].emergency_stop()

    engine = Engine(load_rig("sim"))
    try:
        # long units (seconds of wall time each): they are still running when the stop arrives
        long_sweeps = Campaign(name="long", steps=[Step(
            label="spot", experiment="sweep", loop={"spot": "${range(4)}"}, position_um=["${3.0 * spot}", 0.0],
            params={**SWEEP, "points": 150, "settle_s": 1.0})])
        runners.append(ParallelCampaignRunner(long_sweeps, engine, tmp_path, client,
                                              on_unit_started=stop_once_a_sweep_runs))
        with caplog.at_level("WARNING", logger="acquisition.campaigns.parallel"):
            with pytest.raises(CampaignStopped):
                runners[0].run()
    finally:
        engine.close()
    made_safe = [r.getMessage() for r in caplog.records if "emergency stop" in r.getMessage()]
    assert made_safe and not made_safe[0].startswith("campaign: emergency stop: 0 "), made_safe
    index = CampaignIndex(tmp_path)
    try:
        rows = index.runs()
    finally:
        index.close()
    assert "running" not in {r.status for r in rows}
    assert len([r for r in rows if r.status == "complete"]) < 4


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
    if not (folder / "campaign.sqlite").exists():
        return []
    try:
        with sqlite3.connect(folder / "campaign.sqlite") as db:
            return list(db.execute("SELECT unit_key, status FROM runs"))
    except sqlite3.OperationalError:  # the coordinator is creating the table
        return []


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the local cluster's workers of a coordinator)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _stopped(pid: int) -> bool:
    """The process is stopped (SIGSTOP took effect): state T in /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone: it runs nothing any more either
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _freeze(pids: list[int]) -> None:
    """Stop ``pids`` and wait until each is stopped (it will be: SIGSTOP cannot be ignored)."""
    _signal_all(pids, signal.SIGSTOP)
    deadline = time.monotonic() + 120
    while not all(_stopped(pid) for pid in pids):
        assert time.monotonic() < deadline, "a worker did not stop"
        time.sleep(0.01)


def test_ctrl_c_stops_every_worker_records_what_ended_and_resume_finishes(tmp_path: Path) -> None:
    """Ctrl+C once a unit is recorded complete. The workers are frozen (SIGSTOP) each time the
    test looks at the index, so no unit ends between that look and the signal: the stop lands
    with units still to do whatever the machine's load, never after the campaign ended."""
    spec = tmp_path / "campaign.toml"
    spec.write_text(CAMPAIGN)
    folder = tmp_path / "out"
    # its own process group, as a terminal's Ctrl+C reaches the coordinator (and whatever it did
    # not move to a session of its own)
    process = subprocess.Popen(avalab("campaign", str(spec), "--out", str(folder), "--workers", "2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    frozen: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, "campaign ended before it could be stopped"
            assert time.monotonic() < deadline, "no unit completed"
            if statuses(folder):  # units are running: look at the index with the workers frozen
                frozen = _children(process.pid)
                _freeze(frozen)
                if any(s == "complete" for _, s in statuses(folder)):
                    break
                _signal_all(frozen, signal.SIGCONT)
                frozen = []
            time.sleep(0.05)
        # the coordinator hands out at most two units per worker beyond those it recorded
        # (QUEUED_PER_THREAD): with the first completions seen at once, 8 units cannot all end
        os.killpg(process.pid, signal.SIGINT)
        _signal_all(frozen, signal.SIGCONT)
        frozen = []
        _, stderr = process.communicate(timeout=300)
    finally:
        _signal_all(frozen, signal.SIGCONT)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGINT, stderr
    assert "avalab: SIGINT: campaign aborted, instruments safe" in stderr
    rows = statuses(folder)
    complete = [k for k, s in rows if s == "complete"]
    assert 1 <= len(complete) < 8
    assert "running" not in {s for _, s in rows}, rows  # every unit that ended is recorded
    assert {s for _, s in rows} <= {"complete", "aborted"}, rows
    resumed = subprocess.run(avalab("campaign", str(spec), "--out", str(folder), "--resume", "--workers", "2",
                                    "--json"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = [k for k, s in statuses(folder) if s == "complete"]
    assert sorted(after) == sorted(f"s1/spot={i}" for i in range(8))
    assert set(complete) <= set(after)
