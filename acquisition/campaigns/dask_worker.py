"""Preload of the local cluster's worker processes (``avalab campaign --workers N``).

Ctrl+C in the terminal reaches every process of its group: the workers ignore SIGINT, so that
the coordinator alone decides what a Ctrl+C does (abort the running units safely, record them,
exit 130) instead of the workers dying mid-unit.

Each worker also starts a session of its own. Linux with autogroup scheduling (the default of
most desktop distributions) shares the CPU fairly between sessions, not processes: N workers
left in the terminal's session would share one session's share with the coordinator, and
``--workers 2`` on a busy machine would get no more CPU than one worker. In their own sessions
they get what N ``dask worker`` processes started from N terminals get.
"""
from __future__ import annotations

import logging
import os
import signal
from typing import Any

log = logging.getLogger(__name__)


def dask_setup(worker: Any) -> None:
    """Called by dask.distributed in the worker process's main thread when it starts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.setsid()
    except OSError as exc:  # already a session leader (started on its own): nothing to do
        log.debug("worker keeps its session: %s", exc)
