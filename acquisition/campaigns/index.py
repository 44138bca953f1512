"""The campaign index: one SQLite table of units and their runs, next to the run files.

Each unit (stable key from the campaign expansion) has at most one *complete* run. A unit whose
run was killed or aborted is attempted again on ``--resume``; the earlier attempt stays on disk
and in the table as ``superseded`` so nothing measured is lost, but it is not part of the
campaign's result set.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_key TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    step INTEGER NOT NULL,
    label TEXT NOT NULL,
    variables TEXT NOT NULL,
    experiment TEXT,
    path TEXT,
    status TEXT NOT NULL,          -- running, complete, aborted, failed, superseded
    reason TEXT NOT NULL DEFAULT '',
    metrics TEXT NOT NULL DEFAULT '{}',
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS runs_unit ON runs(unit_key);
"""


@dataclass(frozen=True)
class IndexedRun:
    id: int
    unit_key: str
    ordinal: int
    step: int
    label: str
    variables: dict[str, Any]
    experiment: str | None
    path: str | None
    status: str
    reason: str
    metrics: dict[str, Any]
    started_at: float
    finished_at: float | None


class CampaignIndex:
    """SQLite index of a campaign folder (``campaign.sqlite``)."""

    FILENAME = "campaign.sqlite"

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / self.FILENAME
        # autocommit: every state change is on disk before the next instrument moves
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO campaign(key, value) VALUES (?, ?)",
                         (key, json.dumps(value)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM campaign WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def completed_keys(self) -> set[str]:
        rows = self._db.execute("SELECT unit_key FROM runs WHERE status = 'complete'")
        return {r[0] for r in rows}

    def begin(self, unit_key: str, ordinal: int, step: int, label: str, variables: dict[str, Any],
              experiment: str | None, path: str | None) -> int:
        # an earlier attempt that did not complete is kept but marked superseded
        self._db.execute("UPDATE runs SET status = 'superseded', finished_at = COALESCE(finished_at, ?) "
                         "WHERE unit_key = ? AND status != 'complete'", (time.time(), unit_key))
        cursor = self._db.execute(
            "INSERT INTO runs(unit_key, ordinal, step, label, variables, experiment, path, status,"
            " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            (unit_key, ordinal, step, label, json.dumps(variables), experiment, path, time.time()))
        return int(cursor.lastrowid)

    def finish(self, run_id: int, status: str, reason: str = "",
               metrics: dict[str, Any] | None = None) -> None:
        self._db.execute("UPDATE runs SET status = ?, reason = ?, metrics = ?, finished_at = ? WHERE id = ?",
                         (status, reason, json.dumps(metrics or {}, default=_json_default), time.time(), run_id))

    def runs(self, status: str | None = None) -> list[IndexedRun]:
        query = "SELECT * FROM runs" + (" WHERE status = ?" if status else "") + " ORDER BY ordinal, id"
        rows = self._db.execute(query, (status,) if status else ()).fetchall()
        return [IndexedRun(id=r[0], unit_key=r[1], ordinal=r[2], step=r[3], label=r[4],
                           variables=json.loads(r[5]), experiment=r[6], path=r[7], status=r[8],
                           reason=r[9], metrics=json.loads(r[10]), started_at=r[11], finished_at=r[12])
                for r in rows]


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
