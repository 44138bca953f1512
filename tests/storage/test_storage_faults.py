"""Storage faults end the run: the first write error stops acquisition, puts the rig in its safe
state and reports ``failed: storage: ...``; every point before the fault stays recoverable; a
journal never has a record after a torn one; finalisation never touches files it did not create;
later runs are unaffected."""
from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from failing_disk import FailingDisk

from acquisition import exit_codes
from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus
from acquisition.rig import load_rig
from acquisition.storage import journal_path_for, open_run, recover_run
from acquisition.storage.journal import JournalAppender, StorageError, read_journal
from sim_calibration import measure_sim_calibration


SWEEP = {"start_kw_cm2": 2.0, "stop_kw_cm2": 10.0, "points": 10, "settle_s": 0.1, "dwell_s": 0.1}


# ------------------------------------------------------------------------------ the journal
def test_a_failed_append_is_cut_off_and_the_journal_stays_appendable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = FailingDisk(monkeypatch)
    path = tmp_path / "run.h5.journal"
    appender = JournalAppender(path)
    for index in range(3):
        appender.append({"type": "point", "index": index}, {"h": np.arange(100 * (index + 1))})
    size_before = path.stat().st_size
    disk.fail_next_writes(1)
    with pytest.raises(StorageError, match=rf"{path.name}: .*No space left on device.*3 records before it are intact"):
        appender.append({"type": "point", "index": 3}, {"h": np.arange(1000)})
    assert path.stat().st_size == size_before  # the torn half was cut off
    appender.append({"type": "point", "index": 4})  # space again: the next record is whole
    appender.close()
    contents = read_journal(path)
    assert [r["index"] for r in contents.records] == [0, 1, 2, 4]
    assert contents.problem == "" and contents.trailing_bytes == 0


def test_a_journal_whose_torn_record_cannot_be_cut_off_takes_no_more_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = FailingDisk(monkeypatch)
    path = tmp_path / "run.h5.journal"
    appender = JournalAppender(path)
    appender.append({"type": "point", "index": 0})

    def no_truncate(*_: Any) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "ftruncate", no_truncate)
    disk.fail_next_writes(1)
    with pytest.raises(StorageError):
        appender.append({"type": "point", "index": 1}, {"h": np.arange(500)})
    monkeypatch.undo()
    with pytest.raises(StorageError, match="takes no more records after an earlier write error"):
        appender.append({"type": "point", "index": 2})
    appender.close()
    contents = read_journal(path)
    assert [r["index"] for r in contents.records] == [0]  # and nothing after the torn one


# ------------------------------------------------------------------------------ whole runs
@pytest.fixture(scope="module")
def calibration_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return measure_sim_calibration(tmp_path_factory.mktemp("storage_fault_calibration"))


class PointCounter:
    """Counts the points sent to subscribers; at point ``at`` runs ``action`` (on the engine's
    thread, after the writer has stored that point: it subscribed first)."""

    def __init__(self, at: int | None = None, action: Any = None) -> None:
        self.points = 0
        self.at, self.action = at, action
        self.finished: RunFinished | None = None

    def __call__(self, event: Any) -> None:
        if isinstance(event, RunStarted) and self.at == -1:
            self.action()
        if isinstance(event, PointTaken):
            if self.points == self.at:
                self.action()
            self.points += 1
        if isinstance(event, RunFinished):
            self.finished = event


@pytest.fixture
def rig_engine(calibration_dir: Path) -> Iterator[tuple[Any, Engine]]:
    rig = load_rig("sim")
    engine = Engine(rig, CalibrationStore(calibration_dir))
    yield rig, engine
    engine.close()
    rig.close_all()


def assert_rig_safe(rig: Any) -> None:
    assert rig.pump.get_emission() is False
    for role in ("pump_shutter", "control_shutter"):
        assert getattr(rig, role).is_open() is False, role


@pytest.mark.parametrize("fault_at", [0, 5, 15])
def test_a_brief_disk_full_stops_the_run_failed_and_keeps_every_point_before_it(
        rig_engine: tuple[Any, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        fault_at: int) -> None:
    rig, engine = rig_engine
    disk = FailingDisk(monkeypatch)
    counter = PointCounter(at=fault_at, action=lambda: disk.fail_next_writes(1))
    engine.subscribe(counter)
    out = tmp_path / "runs" / "sweep.h5"
    finished = engine.start("sweep", SWEEP, out_path=out).wait(600)
    assert finished.status == RunStatus.FAILED
    assert finished.reason.startswith("storage: ") and "No space left on device" in finished.reason
    assert finished.storage_error and exit_codes.for_run(finished) == exit_codes.STORAGE_FAILED
    # acquisition stopped at the point whose write failed: nothing measured after it
    assert counter.points == fault_at + 2
    assert_rig_safe(rig)
    # the disk had room again for the finalisation: the final file says why the run failed
    run = open_run(out)
    assert run.status == "failed" and run.reason.startswith("storage: ")
    assert run.n_points("sweep") == fault_at + 1
    np.testing.assert_array_equal(run.streams["sweep"]["point_index"], np.arange(fault_at + 1))
    assert not journal_path_for(out).exists()
    # later runs are unaffected, in the same folder
    later = engine.start("sweep", SWEEP, out_path=tmp_path / "runs" / "later.h5").wait(600)
    assert later.status == RunStatus.COMPLETE, later.reason
    assert open_run(tmp_path / "runs" / "later.h5").n_points("sweep") == 2 * SWEEP["points"]


def test_a_full_disk_keeps_the_journal_recoverable_and_names_it(
        rig_engine: tuple[Any, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig, engine = rig_engine
    disk = FailingDisk(monkeypatch)
    counter = PointCounter(at=7, action=disk.fill)
    engine.subscribe(counter)
    out = tmp_path / "sweep.h5"
    finished = engine.start("sweep", SWEEP, out_path=out).wait(600)
    assert finished.status == RunStatus.FAILED and finished.reason.startswith("storage: ")
    # the next point's record fails (9 points taken), unless the live snapshot of the 8th point
    # met the full disk first and stopped the run before the 9th was measured
    assert counter.points in (8, 9)
    assert_rig_safe(rig)
    # the final file could not be written either: the journal holds the points and stays
    assert journal_path_for(out).exists()
    disk.free()
    recovered = recover_run(out)
    assert recovered.n_points("sweep") == 8
    assert recovered.status == "incomplete"
    assert not journal_path_for(out).exists()


def test_a_header_that_cannot_be_written_stops_the_run_before_anything_moves(
        rig_engine: tuple[Any, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig, engine = rig_engine
    disk = FailingDisk(monkeypatch)
    counter = PointCounter(at=-1, action=disk.fill)  # full from RunStarted on
    engine.subscribe(counter)
    finished = engine.start("sweep", SWEEP, out_path=tmp_path / "sweep.h5").wait(600)
    assert finished.status == RunStatus.FAILED and finished.storage_error
    assert counter.points == 0
    assert rig.pump.get_emission() is False


def test_a_run_folder_deleted_and_recreated_by_another_run_is_left_to_that_run(
        rig_engine: tuple[Any, Engine], tmp_path: Path) -> None:
    """Run A's folder is deleted mid-run and another run takes the same file name there: A never
    overwrites B's file or deletes B's journal; A's points go to a file next to them and A ends
    failed saying where."""
    import shutil

    rig, engine = rig_engine
    folder = tmp_path / "runs"
    out = folder / "sweep.h5"
    other_journal = journal_path_for(out)

    def replace_folder() -> None:
        # like rm -rf racing the writer's snapshot thread, which may create a temporary file in
        # the folder meanwhile: delete until it is gone
        while folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        out.write_bytes(b"another run's file")
        other_journal.write_bytes(b"another run's journal")

    counter = PointCounter(at=4, action=replace_folder)
    engine.subscribe(counter)
    finished = engine.start("sweep", SWEEP, out_path=out).wait(600)
    assert finished.status == RunStatus.FAILED and finished.storage_error
    assert out.read_bytes() == b"another run's file"
    assert other_journal.read_bytes() == b"another run's journal"
    rescued = [p for p in folder.iterdir() if ".rescued" in p.name]
    assert len(rescued) == 1 and str(rescued[0]) in finished.reason
    run = open_run(rescued[0])
    assert run.status == "failed" and run.n_points_total() == counter.points
    assert_rig_safe(rig)


def test_recover_never_deletes_a_journal_whose_points_are_not_in_the_final_file(tmp_path: Path) -> None:
    """A final file of another run under the same name: the journal's points are recovered to a
    new file next to it and the journal is kept."""
    from acquisition.events import RunFinished as Finished
    from acquisition.storage import RunWriter

    out = tmp_path / "run.h5"
    writer_a = RunWriter(out, {}, {}, "test")
    writer_a.handle(RunStarted("run-a", "sweep", {}, str(out), 1.0))
    for index in range(4):
        writer_a.handle(PointTaken("run-a", "sweep", index, {"x": float(index)}))
    # run A's writer dies here (its journal stays); another run B later finishes under the name
    journal_a = journal_path_for(out).read_bytes()
    writer_a._journal.close()  # noqa: SLF001 - the process "died": no finalisation
    journal_path_for(out).unlink()
    out.unlink()
    writer_b = RunWriter(out, {}, {}, "test")
    writer_b.handle(RunStarted("run-b", "sweep", {}, str(out), 2.0))
    writer_b.handle(Finished("run-b", RunStatus.COMPLETE))
    journal_path_for(out).write_bytes(journal_a)
    recovered = recover_run(out)
    assert recovered.run_id == "run-a" and recovered.n_points("sweep") == 4
    assert recovered.path != out and recovered.path.exists()
    assert open_run(out).run_id == "run-b"
    assert journal_path_for(out).exists()  # never deleted: B's file does not hold A's points
