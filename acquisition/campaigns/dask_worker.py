"""Preload of the local cluster's worker processes (``avalab campaign --workers N``).

Ctrl+C in the terminal reaches every process of its group: the workers ignore SIGINT, so that
the coordinator alone decides what a Ctrl+C does (abort the running units safely, record them,
exit 130) instead of the workers dying mid-unit.
"""
from __future__ import annotations

import signal
from typing import Any


def dask_setup(worker: Any) -> None:
    """Called by dask.distributed in the worker process's main thread when it starts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
