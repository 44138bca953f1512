"""The operator's queue of runs: what to start next when the engine becomes idle."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any

_ids = count(1)


@dataclass(frozen=True)
class QueuedRun:
    experiment: str
    params: dict[str, Any]
    estimate_s: float | None = None
    queue_id: int = field(default_factory=lambda: next(_ids))

    def describe(self) -> str:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items() if v is not None)
        estimate = f" (~{format_duration(self.estimate_s)})" if self.estimate_s else ""
        return f"{self.experiment}{estimate}: {shown}"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value[:4]) + (",…]" if len(value) > 4 else "]")
    return str(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunQueue:
    """FIFO of queued runs. ``held`` stops automatic starts (after an abort, failure or STOP)."""

    def __init__(self) -> None:
        self.items: list[QueuedRun] = []
        self.held = False

    def add(self, run: QueuedRun) -> None:
        self.items.append(run)

    def remove(self, queue_id: int) -> None:
        self.items = [r for r in self.items if r.queue_id != queue_id]

    def pop_next(self) -> QueuedRun | None:
        if self.held or not self.items:
            return None
        return self.items.pop(0)

    def total_estimate_s(self) -> float:
        return sum(r.estimate_s or 0.0 for r in self.items)

    def __len__(self) -> int:
        return len(self.items)
