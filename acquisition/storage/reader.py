"""open_run: read a run file whether finished, still being written, or cut short by a crash."""
from __future__ import annotations

import glob
import logging
import time
from pathlib import Path

from acquisition.storage.h5layout import STATUS_RUNNING, read_run_h5, write_run_h5
from acquisition.storage.journal import read_journal
from acquisition.storage.liveness import writer_is_active
from acquisition.storage.replay import run_from_journal
from acquisition.storage.runfile import RunFile
from acquisition.storage.writer import JOURNAL_SUFFIX, journal_path_for

logger = logging.getLogger(__name__)

# the writer renames the final file into place and then deletes the journal; a reader that looks
# in between those two steps simply looks again
_ATTEMPTS = 5


def _run_path(path: str | Path) -> Path:
    candidate = Path(path)
    if candidate.name.endswith(JOURNAL_SUFFIX):
        return candidate.with_name(candidate.name[: -len(JOURNAL_SUFFIX)])
    return candidate


def open_run(path: str | Path) -> RunFile:
    """Read the run at ``path`` (the .h5 path; its .journal path is accepted too).

    Finished run -> the HDF5 file. Run in progress or killed -> rebuilt from the journal, status
    "incomplete" (``writer_active`` tells which). Raises ValueError (one line) if nothing readable
    is there.
    """
    run_path = _run_path(path)
    journal = journal_path_for(run_path)
    header_problem = ""
    for attempt in range(_ATTEMPTS):
        header: RunFile | None = None
        if run_path.exists():
            try:
                header, raw_status = read_run_h5(run_path)
            except ValueError as error:
                if not journal.exists():
                    raise
                header_problem = str(error)
            else:
                if raw_status != STATUS_RUNNING:
                    return header
        try:
            contents = read_journal(journal)
        except FileNotFoundError:
            if header is None and not run_path.exists():
                raise ValueError(f"{run_path}: no run file (and no journal) there") from None
            if attempt + 1 < _ATTEMPTS:
                time.sleep(0.01)
                continue
            if header is None:
                raise ValueError(f"{run_path}: unreadable run file ({header_problem})") from None
            header.status = "incomplete"
            points = header.n_points_total()
            header.reason = ("header only: the journal holding the points is missing" if not points else
                             f"live snapshot only ({points} points): the journal is missing; points "
                             "taken after the snapshot, if any, are not here")
            return header
        if not contents.records:
            raise ValueError(f"{journal}: journal holds no complete record ({contents.problem})")
        run = run_from_journal(run_path, contents)
        run.writer_active = writer_is_active(journal)
        if run.writer_active and run.status == "incomplete":
            run.reason = f"run in progress (writer active); {run.n_points_total()} points so far"
        if header_problem:
            logger.warning("%s; run read from its journal instead", header_problem)
        return run
    raise ValueError(f"{run_path}: run file kept changing while being read")


def recover_run(path: str | Path) -> RunFile:
    """Turn the journal of a run whose writer died into a normal HDF5 run file (status incomplete).

    Refuses (ValueError) while a writer still holds the journal. Returns the recovered run. A
    journal is deleted only once a final file holds every one of its points: when ``path`` is
    already another run's final file (same name, folder recreated), the journal's points go to
    a new file next to it (``<stem>.<run_id>.recovered.h5``) and the journal stays.
    """
    run_path = _run_path(path)
    journal = journal_path_for(run_path)
    if not journal.exists():
        return open_run(run_path)
    if writer_is_active(journal):
        raise ValueError(f"{run_path}: a writer is still running; recover after it stops")
    _remove_temporaries(run_path)
    recovered = run_from_journal(run_path, read_journal(journal))
    if run_path.exists():
        try:
            final, raw_status = read_run_h5(run_path)
        except ValueError:
            final, raw_status = None, STATUS_RUNNING  # damaged file: the journal is the better copy
        if final is not None and raw_status != STATUS_RUNNING:
            if _holds_every_point(final, recovered):
                # the writer died after renaming the final file into place: the journal is stale
                journal.unlink()
                logger.info("%s was already final; removed its stale journal", run_path.name)
                return final
            # another run's final file under this name: never replaced, the journal never lost
            target = _free_path(run_path, f"{recovered.run_id or 'run'}.recovered")
            recovered.path = target
            write_run_h5(target, recovered, recovered.status, expected=None)
            logger.warning("%s holds another run (%s); the journal's %d points were recovered to %s "
                           "(journal kept)", run_path.name, final.run_id or "?",
                           recovered.n_points_total(), target.name)
            return recovered
    write_run_h5(run_path, recovered, recovered.status)
    journal.unlink()
    logger.info("recovered %s from its journal: %s", run_path.name, recovered.reason)
    return recovered


def _remove_temporaries(run_path: Path) -> None:
    """Delete the temporary files a dead writer left mid-rename (``.<name>.<pid>.<thread>.tmp``,
    a live snapshot or the final file being built): never a run's only copy, the journal is."""
    for temporary in run_path.parent.glob(f".{glob.escape(run_path.name)}.*.tmp"):
        try:
            temporary.unlink()
            logger.info("removed %s, left by the dead writer", temporary.name)
        except OSError as exc:
            logger.warning("could not remove %s: %s", temporary.name, exc)


def _holds_every_point(final: RunFile, journal_run: RunFile) -> bool:
    """Whether ``final`` is the same run as the journal's and has at least its points."""
    if journal_run.run_id and final.run_id != journal_run.run_id:
        return False
    return all(final.n_points(stream) >= journal_run.n_points(stream) for stream in journal_run.streams)


def _free_path(run_path: Path, tag: str) -> Path:
    candidate = run_path.with_name(f"{run_path.stem}.{tag}{run_path.suffix}")
    counter = 2
    while candidate.exists():
        candidate = run_path.with_name(f"{run_path.stem}.{tag}{counter}{run_path.suffix}")
        counter += 1
    return candidate
