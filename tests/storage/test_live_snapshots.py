"""The run file is readable by plain h5py while the run goes on (issue 10, item 6).

A simulated sweep on the virtual clock; the test holds the run at chosen points (a subscriber on
the engine's thread: nothing more is measured meanwhile), waits on the writer's condition for the
snapshot, and opens the file with plain ``h5py.File(path, "r")``. No sleeps, no wall-clock races.
"""
from __future__ import annotations

import errno
import sys
import threading
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus
from acquisition.rig import load_rig
from acquisition.storage import RunWriter, journal_path_for, open_run
from acquisition.storage import writer as writer_module
from acquisition.storage.journal import StorageError
from sim_calibration import measure_sim_calibration

sys.path.insert(0, str(Path(__file__).parents[1] / "acquisition"))
from engine_helpers import EventRecorder  # noqa: E402

SWEEP = {"start_kw_cm2": 2.0, "stop_kw_cm2": 8.0, "points": 9, "dwell_s": 0.1, "settle_s": 0.2}
WAIT_S = 600.0  # generous: the snapshot thread shares a loaded machine (returns as soon as it lands)


@pytest.fixture(scope="module")
def calibration_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return measure_sim_calibration(tmp_path_factory.mktemp("calibration"))


@pytest.fixture
def engine(calibration_dir: Path) -> Any:
    rig = load_rig("sim")
    engine = Engine(rig, CalibrationStore(calibration_dir))
    yield engine
    engine.close()
    rig.safe_state_all()
    rig.close_all()


def _plain_read(path: Path) -> dict[str, Any]:
    with h5py.File(path, "r") as handle:
        seen: dict[str, Any] = {"status": handle.attrs["status"]}
        if "streams/sweep" in handle:
            seen["density"] = handle["streams/sweep/density_w_m2"][()]
            seen["direction"] = handle["streams/sweep/direction"].asstr()[()]
        return seen


def test_plain_h5py_sees_every_point_taken_so_far_while_the_sweep_runs(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "live.h5"
    writer = RunWriter(path, {"rig": "sim"}, {}, "test")
    taken: list[PointTaken] = []
    reads: list[tuple[int, dict[str, Any]]] = []

    def hold_and_read(event: Any) -> None:  # on the engine's thread: the run waits meanwhile
        writer.handle(event)
        if isinstance(event, PointTaken):
            taken.append(event)
            if event.index in (0, 4, 11):
                assert writer.wait_published(len(taken), WAIT_S), "no snapshot within the wait"
                reads.append((len(taken), _plain_read(path)))
    engine.subscribe(hold_and_read)
    finished = engine.start("sweep", SWEEP).wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert [n for n, _ in reads] == [1, 5, 12]
    for n, seen in reads:
        assert seen["status"] == "running"
        np.testing.assert_array_equal(seen["density"], [p.data["density_w_m2"] for p in taken[:n]])
        assert list(seen["direction"]) == [p.data["direction"] for p in taken[:n]]
    final = _plain_read(path)
    assert final["status"] == "complete" and len(final["density"]) == 2 * SWEEP["points"]
    assert not journal_path_for(path).exists()
    assert writer.snapshot_build_times_s  # published on the way, not only at the end


def test_the_engines_own_run_file_is_readable_while_the_run_goes_on(engine: Engine, tmp_path: Path) -> None:
    """The file the engine writes for ``avalab sweep --out``: held at the 6th point, a plain
    read sees six points once the snapshot lands (waited for by re-reading, generous deadline)."""
    path = tmp_path / "engine.h5"
    seen: dict[str, Any] = {}

    def hold_at_sixth(event: Any) -> None:
        if isinstance(event, PointTaken) and event.index == 5:
            for _ in range(int(WAIT_S / 0.05)):
                current = _plain_read(path)
                if len(current.get("density", [])) == 6:
                    seen.update(current)
                    return
                # waiting for the snapshot thread, which will publish: not a race on its timing
                threading.Event().wait(0.05)
    engine.subscribe(hold_at_sixth)
    finished = engine.start("sweep", SWEEP, out_path=path).wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert seen["status"] == "running" and len(seen["density"]) == 6
    assert open_run(path).n_points("sweep") == 2 * SWEEP["points"]


def test_a_snapshot_that_cannot_be_written_is_a_storage_fault(engine: Engine, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up under a live snapshot: the run stops failed (exit 5 on the CLI), names
    the file, and the journal keeps every point taken."""
    path = tmp_path / "full.h5"
    placed = writer_module.write_run_h5

    def full_disk_for_snapshots(target: Path, run: Any, status: str, expected: Any = None, *,
                                snapshot: bool = False) -> Any:
        if snapshot:
            raise OSError(errno.ENOSPC, "No space left on device")
        return placed(target, run, status, expected, snapshot=snapshot)
    monkeypatch.setattr(writer_module, "write_run_h5", full_disk_for_snapshots)
    recorder = EventRecorder()
    engine.subscribe(recorder)
    finished = engine.start("sweep", SWEEP, out_path=path).wait(600)
    assert finished.status == RunStatus.FAILED
    assert finished.storage_error is not None and str(path) in finished.storage_error
    assert "No space left on device" in finished.storage_error
    taken = len(recorder.of(PointTaken))
    assert taken < 2 * SWEEP["points"]  # stopped early
    assert open_run(path).n_points_total() == taken


def test_a_run_file_replaced_by_another_program_is_never_overwritten_by_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "taken.h5"
    writer = RunWriter(path, {}, {}, "test")
    faults: list[StorageError] = []
    writer.on_storage_error = faults.append
    writer.handle(RunStarted("r1", "sweep", {}, str(path), 0.0))
    path.unlink()
    path.write_bytes(b"another program's file")
    writer.handle(PointTaken("r1", "sweep", 0, {"x": 1.0}))
    assert not writer.wait_published(1, 30.0)
    assert faults and "removed or replaced" in str(faults[0])
    assert path.read_bytes() == b"another program's file"
    with pytest.raises(StorageError, match="removed or replaced"):
        writer.handle(RunFinished("r1", RunStatus.COMPLETE, "", {}))
    assert path.read_bytes() == b"another program's file"
    rescued = list(tmp_path.glob("taken.r1.rescued*.h5"))
    assert len(rescued) == 1 and open_run(rescued[0]).n_points("sweep") == 1


def test_without_live_snapshots_the_file_stays_a_header_until_the_end(tmp_path: Path) -> None:
    path = tmp_path / "quiet.h5"
    with RunWriter(path, {}, {}, "test", live_snapshots=False) as writer:
        writer.handle(RunStarted("r1", "sweep", {}, str(path), 0.0))
        writer.handle(PointTaken("r1", "sweep", 0, {"x": 1.0}))
        assert not writer.wait_published(1, 0.0)
        with h5py.File(path, "r") as handle:
            assert "streams/sweep" not in handle
    assert open_run(path).n_points("sweep") == 1
