"""RunWriter: the engine's subscriber that stores one run in one HDF5 file, point by point.

Crash safety (why two files exist while a run is going):
1. Every event is appended to ``<run>.h5.journal`` (length + CRC framed, flushed to the OS before
   ``handle`` returns). A ``kill -9`` can only tear the record being written; readers drop it.
2. At RunStarted a header-only ``<run>.h5`` (status "running": metadata, no points) is written
   atomically so that the run is visible with plain h5py from its first second; from then on a
   background thread republishes it with every point taken so far (``snapshot.py``: a complete,
   closed HDF5 file renamed over ``<run>.h5``, status still "running", within about half a
   second of a point). Acquisition never waits for HDF5.
3. At RunFinished (or ``close``) the complete HDF5 file is built from the journal into a temporary
   file, fsynced, renamed over ``<run>.h5`` (atomic), and only then is the journal deleted.
HDF5 itself is never modified in place, so no crash can leave corrupt HDF5 metadata behind.
A write error (disk full, I/O error, folder removed) raises StorageError at once; the journal
keeps every record before it (a torn record is cut off, never followed by another). A snapshot
that cannot be written is a storage fault too: ``on_storage_error`` hears of it at once (the
engine stops the run), and the next ``handle`` raises it after storing its event.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from acquisition.events import (Event, InterlockTripped, PointTaken, Progress, RunFinished,
                                RunStarted, RunStatus, StateChanged)
from acquisition.storage.h5layout import STATUS_RUNNING, FileIdentity, file_identity, write_run_h5
from acquisition.storage.journal import JournalAppender, JournalContents, StorageError
from acquisition.storage.jsonsafe import to_jsonable
from acquisition.storage.liveness import hold_writer_lock
from acquisition.storage.point_codec import split_point_data
from acquisition.storage.columns import PointRow, build_columns
from acquisition.storage.replay import point_row, run_from_journal
from acquisition.storage.runfile import RunFile
from acquisition.storage.snapshot import SnapshotPublisher

logger = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".journal"
#: whether writers publish live snapshots when not told (``RunWriter(live_snapshots=...)``);
#: benchmarks/bench_live_snapshots.py turns it off to time runs without them
LIVE_SNAPSHOTS = True


def journal_path_for(path: Path) -> Path:
    """Where the journal of the run file ``path`` lives (next to it, same name + ".journal")."""
    return path.with_name(path.name + JOURNAL_SUFFIX)


class RunWriter:
    """Subscribe with ``engine.subscribe(writer.handle)``; call :meth:`close` when done.

    Any write error raises :class:`StorageError` naming the file (the engine stops the run at
    the first one). The writer only ever replaces or deletes files it created itself: the run
    file and the journal are checked by identity (device, inode) first; if another program
    removed or replaced them during the run, this run's points go to a new file next to them
    (``<stem>.<run_id>.rescued.h5``) and :meth:`handle` of RunFinished raises saying where."""

    def __init__(self, path: str | Path, rig_config: dict[str, Any], identities: dict[str, str],
                 software_version: str, calibration: dict[str, Any] | None = None, *,
                 fsync_each_point: bool = False, live_snapshots: bool | None = None) -> None:
        self._path = Path(path)
        self._journal_path = journal_path_for(self._path)
        for existing in (self._path, self._journal_path):
            if existing.exists():
                raise FileExistsError(f"run file already exists, refusing to overwrite: {existing}")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self._path.parent}: folder cannot be created ({exc.strerror or exc})") from exc
        self._lock = threading.Lock()
        self._journal = JournalAppender(self._journal_path, fsync_each_record=fsync_each_point)
        hold_writer_lock(self._journal.stream)
        self._run_id: str | None = None
        self._finalised = False
        self._points_written = 0
        #: the run file this writer placed at ``path`` (None: none yet), and an open handle on it:
        #: held, its inode cannot be freed and reused by a file another program creates there
        self._file_identity: FileIdentity | None = None
        self._file_handle: int | None = None
        #: what the live snapshots are built from (on another thread: guarded by their own lock,
        #: never by ``_lock``, which ``_finish`` holds while it waits for that thread): the
        #: journal's non-point records as ``read_back`` returns them, and each stream's points,
        #: decoded once as they arrive
        live = LIVE_SNAPSHOTS if live_snapshots is None else live_snapshots
        self._mirror: list[dict[str, Any]] | None = [] if live else None
        self._mirror_rows: dict[str, list[PointRow]] = {}
        self._mirror_points = 0
        self._mirror_lock = threading.Lock()
        #: per stream: (rows it was built from, columns), so a snapshot rebuilds only the
        #: streams that grew (snapshot thread only)
        self._snapshot_columns: dict[str, tuple[int, dict[str, np.ndarray]]] = {}
        self._place_lock = threading.Lock()
        self._snapshots: SnapshotPublisher | None = None
        self._snapshot_error: StorageError | None = None
        self._snapshot_error_raised = False
        #: where this run's points go when another program took the run path (chosen once)
        self._rescue_target: Path | None = None
        #: told (from the snapshot thread) of a storage fault no ``handle`` call raised yet
        self.on_storage_error: Callable[[StorageError], None] | None = None
        self._append({"type": "meta", "format_version": 1, "created_at": time.time(),
                      "software_version": software_version, "rig_config": to_jsonable(rig_config),
                      "identities": to_jsonable(identities), "calibration": to_jsonable(calibration)})
        self._journal.sync()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def points_written(self) -> int:
        return self._points_written

    @property
    def finalised(self) -> bool:
        return self._finalised

    def handle(self, event: Event) -> None:
        """Store ``event``; returns once it is safe from a crash of this process. Raises a live
        snapshot's storage fault (once), after the event is stored."""
        with self._lock:
            self._store(event)
            if self._snapshot_error is not None and not self._snapshot_error_raised and not self._finalised:
                self._snapshot_error_raised = True
                raise self._snapshot_error

    def wait_published(self, n_points: int, timeout_s: float) -> bool:
        """Block until the run file at ``path`` holds at least ``n_points`` points (a live
        snapshot); False on timeout, without live snapshots, or once the run is finalised."""
        publisher = self._snapshots
        return publisher is not None and publisher.wait_published(n_points, timeout_s)

    @property
    def snapshot_build_times_s(self) -> list[float]:
        """Wall time each live snapshot took to build and place (empty without snapshots)."""
        return [] if self._snapshots is None else list(self._snapshots.build_times_s)

    def _store(self, event: Event) -> None:
        if self._finalised:
            if not isinstance(event, Progress):
                logger.warning("run file %s is closed; %s ignored", self._path.name,
                               type(event).__name__)
            return
        if isinstance(event, PointTaken):
            self._write_point(event)
        elif isinstance(event, RunStarted):
            self._write_start(event)
        elif isinstance(event, InterlockTripped):
            self._append({"type": "event", "t": time.time(), "kind": "interlock",
                          "detail": f"{event.interlock}: {event.detail}"})
            self._changed()
        elif isinstance(event, StateChanged):
            detail = event.state.value + (f": {event.reason}" if event.reason else "")
            self._append({"type": "event", "t": time.time(), "kind": "state", "detail": detail})
            self._changed()
        elif isinstance(event, RunFinished):
            status = event.status.value if event.status != RunStatus.RUNNING else "incomplete"
            self._finish(status, event.reason, event.summary)
        # Progress carries nothing that is not already in the points

    def _write_start(self, event: RunStarted) -> None:
        if self._run_id is not None:
            logger.warning("second RunStarted (%s) for run file %s ignored", event.run_id,
                           self._path.name)
            return
        self._run_id = event.run_id
        self._append({"type": "start", "run_id": event.run_id,
                      "experiment": event.experiment, "params": to_jsonable(event.params),
                      "started_at": float(event.started_at)})
        self._journal.sync()
        header = self._replay()
        header.reason = "run in progress; every point is in the journal, and in this file within a second"
        self._hold(self._place(self._path, header, STATUS_RUNNING, None))
        if self._mirror is not None:
            self._snapshots = SnapshotPublisher(self._path.name, self._publish_snapshot, self._snapshot_failed)

    def _write_point(self, event: PointTaken) -> None:
        scalars, numeric, text = split_point_data(event.data)
        record: dict[str, Any] = {"type": "point", "stream": event.stream, "index": event.index,
                                  "t": time.time(), "order": list(event.data), "scalars": scalars}
        if text:
            record["text_arrays"] = text
        self._append(record, numeric)
        self._points_written += 1
        self._changed()

    def _append(self, record: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        """One record to the journal, and to the in-memory mirror the live snapshots read."""
        self._journal.append(record, arrays)
        if self._mirror is None:
            return
        mirrored = dict(record)
        if arrays:  # copies: a plan may reuse its buffers after emitting them
            mirrored["array_values"] = {name: np.array(value, copy=True) for name, value in arrays.items()}
        with self._mirror_lock:
            if record.get("type") == "point":
                self._mirror_rows.setdefault(str(record["stream"]), []).append(point_row(mirrored))
                self._mirror_points += 1
            else:
                self._mirror.append(mirrored)

    def _changed(self) -> None:
        if self._snapshots is not None:
            self._snapshots.changed()

    def _publish_snapshot(self) -> tuple[int, int]:
        """Build the run file from the mirror and put it at ``path`` (snapshot thread); returns
        the number of points in it and its size in bytes."""
        with self._mirror_lock:
            assert self._mirror is not None
            records, points = list(self._mirror), self._mirror_points
            rows = {stream: list(stream_rows) for stream, stream_rows in self._mirror_rows.items()}
        run = run_from_journal(self._path, JournalContents(records, 0, ""))
        for stream, stream_rows in rows.items():
            built, columns = self._snapshot_columns.get(stream, (-1, {}))
            if built != len(stream_rows):
                columns = build_columns(stream_rows)
                self._snapshot_columns[stream] = (len(stream_rows), columns)
            run.streams[stream] = columns
        run.reason = f"run in progress: {points} points so far (live snapshot; the journal holds them too)"
        with self._place_lock:
            if self._finalised:
                return points, 0
            try:
                if file_identity(self._path) == self._file_identity:
                    self._hold(self._place(self._path, run, STATUS_RUNNING, self._file_identity, snapshot=True))
                    assert self._file_handle is not None
                    return points, os.fstat(self._file_handle).st_size
            except StorageError:
                if file_identity(self._path) == self._file_identity:
                    raise  # a write error, the run file still ours
            # the run file or its folder was removed or replaced meanwhile (before the check, or
            # during the write): never touched; the run's points will go to a file of their own
            target = self._rescue_target = self._rescue_target or self._rescue_path()
            raise StorageError(f"{self._path} was removed or replaced by another program during the "
                               f"run (left untouched); this run's points go to {target}")

    def _snapshot_failed(self, exc: BaseException) -> None:
        """A live snapshot could not be written (snapshot thread): a storage fault."""
        error = exc if isinstance(exc, StorageError) else StorageError(
            f"{self._path}: live snapshot failed ({type(exc).__name__}: {exc})")
        self._snapshot_error = error
        callback = self.on_storage_error
        if callback is not None:
            self._snapshot_error_raised = True
            callback(error)

    def _stop_snapshots(self) -> None:
        if self._snapshots is not None:
            self._snapshots.stop()

    def _finish(self, status: str, reason: str, summary: dict[str, Any]) -> None:
        """Write the final file (built from this writer's own journal handle); delete the
        journal only once the final file holds its points and only if it is still this
        writer's journal. One attempt: a failure keeps the journal for ``recover``."""
        self._stop_snapshots()  # before anything else: no snapshot may land after the final file
        self._finalised = True
        finished_at = time.time()
        problems: list[str] = []
        if self._snapshot_error is not None and not self._snapshot_error_raised:
            problems.append(str(self._snapshot_error))
        try:
            try:
                self._journal.append({"type": "finish", "status": status, "reason": reason,
                                      "summary": to_jsonable(summary), "finished_at": finished_at})
                self._journal.sync()
            except StorageError as exc:  # the final file still gets the outcome, from here
                problems.append(str(exc))
            run = self._replay()
            run.status, run.reason, run.summary, run.finished_at = status, reason, summary, finished_at
            target, expected = self._path, self._file_identity
            if file_identity(self._path) != self._file_identity:
                target, expected = self._rescue_target or self._rescue_path(), None
                moved = (f"{self._path} was removed or replaced by another program during the run "
                         f"(left untouched); this run's {self._points_written} points are in {target}")
                problems.append(moved)
                run.status, run.reason = "failed", f"storage: {moved}" + (f"; {reason}" if reason else "")
            self._place(target, run, run.status, expected)
            # asked while the journal is still open: its inode cannot have been reused
            journal_is_ours = self._journal.path_is_this_journal()
        finally:
            self._journal_done()
            self._release_file()
        if journal_is_ours:
            # only now: until the final file was in place, the journal was the complete copy
            self._journal_path.unlink()
        else:
            logger.warning("journal %s is no longer this run's; left untouched", self._journal_path)
        logger.info("run file %s finalised: %s, %d points", self._path.name, run.status,
                    self._points_written)
        if problems:
            raise StorageError("; ".join(problems))

    def _hold(self, identity: FileIdentity) -> None:
        """Keep a handle on the file just placed at the run path (see ``_file_handle``)."""
        try:
            handle = os.open(self._path, os.O_RDONLY)
        except OSError as exc:
            raise StorageError(f"{self._path}: the run file just written cannot be opened "
                               f"({exc.strerror or exc})") from exc
        status = os.fstat(handle)
        if (status.st_dev, status.st_ino) != identity:
            os.close(handle)
            raise StorageError(f"{self._path} was replaced by another program while it was written; "
                               "left untouched")
        self._release_file()
        self._file_identity, self._file_handle = identity, handle

    def _release_file(self) -> None:
        if self._file_handle is not None:
            os.close(self._file_handle)
            self._file_handle = None

    def _journal_done(self) -> None:
        try:
            self._journal.close()
        except OSError as exc:  # nothing buffered: the records are already with the OS
            logger.warning("closing journal %s: %s", self._journal_path, exc)

    def _rescue_path(self) -> Path:
        """A new file next to the run path for this run's points when the run path is taken."""
        stem = f"{self._path.stem}.{self._run_id or 'run'}.rescued"
        candidate = self._path.with_name(stem + self._path.suffix)
        counter = 2
        while candidate.exists() or journal_path_for(candidate).exists():
            candidate = self._path.with_name(f"{stem}{counter}{self._path.suffix}")
            counter += 1
        return candidate

    def _place(self, target: Path, run: RunFile, status: str,
               expected: FileIdentity | None, snapshot: bool = False) -> FileIdentity:
        try:
            if not snapshot:  # a snapshot never recreates a folder someone removed
                target.parent.mkdir(parents=True, exist_ok=True)
            return write_run_h5(target, run, status, expected, snapshot=snapshot)
        except FileExistsError as exc:
            raise StorageError(str(exc)) from exc
        except (OSError, RuntimeError) as exc:  # h5py raises OSError (and RuntimeError) for I/O
            detail = getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__
            raise StorageError(f"{target}: run file cannot be written ({detail}); every point is "
                               f"in the journal {self._journal_path} (python -m acquisition.storage "
                               "recover)") from exc

    def _replay(self) -> RunFile:
        return run_from_journal(self._path, self._journal.read_back())

    def close(self) -> None:
        """Finalise as "incomplete" if no RunFinished arrived; safe to call more than once."""
        with self._lock:
            if not self._finalised:
                self._finish("incomplete", "writer closed before the run finished", {})

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
