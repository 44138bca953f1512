"""RunFile: everything one run file holds, as plain Python and numpy objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.storage.columns import row_dicts

#: the statuses a reader can see; "incomplete" = no RunFinished was recorded (killed, or running)
STATUSES = ("complete", "aborted", "failed", "incomplete")


@dataclass
class RunFile:
    """A run read back from disk (finished, in progress, or cut short by a crash)."""

    path: Path
    status: str
    reason: str
    run_id: str
    experiment: str
    params: dict[str, Any]
    started_at: float | None
    finished_at: float | None
    software_version: str
    rig_config: dict[str, Any]
    identities: dict[str, str]
    calibration: dict[str, Any] | None
    summary: dict[str, Any]
    #: stream name -> field name -> column (see acquisition.storage.columns for the rules)
    streams: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: interlock trips and state changes, in order: {"time", "kind", "detail"}
    log: list[dict[str, Any]] = field(default_factory=list)
    #: True when read from the journal (run in progress, or its writer died before finishing)
    from_journal: bool = False
    #: True/False when read from a journal and the writer's lock could be tested, else None
    writer_active: bool | None = None

    def points(self, stream: str) -> list[dict[str, Any]]:
        """The points of ``stream`` as dicts (Python scalars, numpy arrays for array fields)."""
        if stream not in self.streams:
            known = ", ".join(sorted(self.streams)) or "none"
            raise KeyError(f"stream {stream!r} is not in {self.path.name}; streams: {known}")
        return row_dicts(self.streams[stream])

    def n_points(self, stream: str) -> int:
        columns = self.streams.get(stream)
        return 0 if not columns else len(next(iter(columns.values())))

    def n_points_total(self) -> int:
        return sum(self.n_points(stream) for stream in self.streams)
