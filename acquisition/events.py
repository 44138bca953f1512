"""The event stream a run emits: the one way data leaves the engine.

Any consumer (HDF5 writer, GUI, CLI progress bar, campaign runner) subscribes to the engine and
receives these immutable events on the engine's worker thread, in order. Consumers must return
quickly (a GUI forwards them to its own thread through a Qt signal).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Union

import numpy as np

#: a point's values: scalars, strings, or numpy arrays (traces, histograms) per point
PointData = dict[str, Union[float, int, str, bool, np.ndarray]]


class RunState(str, Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    ABORTING = "aborting"


class RunStatus(str, Enum):
    RUNNING = "running"
    COMPLETE = "complete"
    ABORTED = "aborted"
    FAILED = "failed"


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    experiment: str
    params: dict[str, Any]
    path: str | None
    started_at: float  # unix time


@dataclass(frozen=True)
class PointTaken:
    """One measured point of a stream ("sweep", "trace", "histogram", "calibration", ...)."""

    run_id: str
    stream: str
    index: int
    data: PointData


@dataclass(frozen=True)
class Progress:
    run_id: str
    done: int
    total: int | None
    message: str = ""
    eta_s: float | None = None


@dataclass(frozen=True)
class StateChanged:
    run_id: str
    state: RunState
    reason: str = ""


@dataclass(frozen=True)
class InterlockTripped:
    run_id: str
    interlock: str  # "count_rate", "temperature", "power_density"
    detail: str


@dataclass(frozen=True)
class RunFinished:
    """The end of a run, after every instrument was put in its safe state.

    ``safe_state_failures``: role -> why it is not known to be safe (the run is then ``failed``
    whatever else happened); ``storage_error``: the run file could not be written (the run
    stopped at the first write error, ``failed``)."""

    run_id: str
    status: RunStatus
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    safe_state_failures: dict[str, str] = field(default_factory=dict)
    storage_error: str | None = None


Event = Union[RunStarted, PointTaken, Progress, StateChanged, InterlockTripped, RunFinished]
