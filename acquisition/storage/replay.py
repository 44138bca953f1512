"""Rebuild a RunFile from a run's journal records (live runs, killed runs, finalisation)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from acquisition.storage.columns import PointRow, build_columns
from acquisition.storage.journal import JournalContents
from acquisition.storage.point_codec import join_point_data
from acquisition.storage.runfile import RunFile

FINISHED_STATUSES = ("complete", "aborted", "failed")


def point_row(record: dict[str, Any]) -> PointRow:
    """The stored point of a journal point record (as ``read_back`` decodes it)."""
    values = join_point_data(record.get("scalars", {}), record.get("array_values", {}),
                             record.get("text_arrays", {}), record.get("order"))
    return PointRow(index=int(record["index"]), written_at=float(record["t"]), values=values)


def run_from_journal(path: Path, contents: JournalContents) -> RunFile:
    """The run described by ``contents``; status "incomplete" unless a finish record is present."""
    meta: dict[str, Any] = {}
    start: dict[str, Any] = {}
    finish: dict[str, Any] | None = None
    rows: dict[str, list[PointRow]] = {}
    log: list[dict[str, Any]] = []
    for record in contents.records:
        kind = record.get("type")
        if kind == "meta":
            meta = record
        elif kind == "start":
            start = record
        elif kind == "point":
            rows.setdefault(str(record["stream"]), []).append(point_row(record))
        elif kind == "event":
            log.append({"time": float(record["t"]), "kind": str(record["kind"]),
                        "detail": str(record["detail"])})
        elif kind == "finish":
            finish = record
    n_points = sum(len(stream_rows) for stream_rows in rows.values())
    if finish is not None and finish.get("status") in FINISHED_STATUSES:
        status, reason = str(finish["status"]), str(finish.get("reason", ""))
    else:
        status = "incomplete"
        reason = f"no RunFinished recorded; {n_points} points recovered from the journal"
        if finish is not None:
            reason = f"{finish.get('reason') or 'writer closed before the run finished'}; {reason}"
        if contents.problem:
            reason += f"; {contents.trailing_bytes} trailing bytes dropped ({contents.problem})"
    return RunFile(
        path=path, status=status, reason=reason,
        run_id=str(start.get("run_id", "")), experiment=str(start.get("experiment", "")),
        params=start.get("params") or {}, started_at=start.get("started_at"),
        finished_at=None if finish is None else finish.get("finished_at"),
        software_version=str(meta.get("software_version", "")),
        rig_config=meta.get("rig_config") or {}, identities=meta.get("identities") or {},
        calibration=meta.get("calibration"),
        summary={} if finish is None else (finish.get("summary") or {}),
        streams={name: build_columns(stream_rows) for name, stream_rows in rows.items()},
        log=log, from_journal=True)
