"""The operator's queue of runs: what to start next when the engine becomes idle."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any

from acquisition.experiments.base import first_parameters, number, short_value

_ids = count(1)


@dataclass(frozen=True)
class QueuedRun:
    experiment: str
    params: dict[str, Any]
    estimate_s: float | None = None
    queue_id: int = field(default_factory=lambda: next(_ids))

    def describe(self) -> str:
        shown = ", ".join(f"{k}={short_value(v)}" for k, v in self.params.items() if v is not None)
        estimate = f" (~{format_duration(self.estimate_s)})" if self.estimate_s else ""
        return f"{self.experiment}{estimate}: {shown}"

    def compact(self) -> str:
        """One short line for the queue list: experiment · key parameters · estimate (the full
        parameter list is ``describe()``, shown as the entry's tooltip)."""
        parts = [self.experiment]
        key = _key_params(self.experiment, self.params)
        if key:
            parts.append(key)
        if self.estimate_s:
            parts.append(f"~{format_duration(self.estimate_s)}")
        return " · ".join(parts)


#: the longest key-parameter part of a compact queue entry
KEY_PARAMS_MAX = 40


def _key_params(experiment: str, params: dict[str, Any]) -> str:
    """The setpoint, then the experiment's own key parameters (``Experiment.queue_label``)."""
    from acquisition.experiments import EXPERIMENTS

    shown: list[str] = []
    if params.get("temperature_k") is not None:
        shown.append(f"{number(params['temperature_k'])} K")
    known = EXPERIMENTS.get(experiment)
    try:
        label = (known.queue_label if known is not None else first_parameters)(params)
    except (KeyError, TypeError, ValueError):  # a label is a convenience: never block the queue
        label = ""
    shown.append(label)
    text = ", ".join(part for part in shown if part)
    return text if len(text) <= KEY_PARAMS_MAX else text[:KEY_PARAMS_MAX - 1] + "…"


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
