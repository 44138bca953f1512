"""One way SIGINT/SIGTERM stop work, for single runs and campaigns alike.

The first signal stops what is running safely (``stop(reason)``: the run is aborted and every
instrument goes to its safe state; a campaign aborts its running unit and starts no other) and
says so on stderr; a second signal makes everything safe at once (``emergency``). The command
then exits 128 + the signal number: 130 for SIGINT (Ctrl+C), 143 for SIGTERM.
"""
from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    """The shell convention for a process ended by ``signum`` (130 SIGINT, 143 SIGTERM)."""
    return 128 + int(signum)


class OperatorSignals:
    """Context manager (main thread) that turns SIGINT/SIGTERM into a safe stop.

    ``stop(reason)`` is called on the first signal, ``emergency()`` on any further one; ``say``
    writes the one line that tells the operator (default: stderr). ``received`` is the first
    signal number, None when none came.
    """

    def __init__(self, what: str, stop: Callable[[str], None], emergency: Callable[[], Any] | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.what = what
        self._stop = stop
        self._emergency = emergency
        self._say = say or _to_stderr
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else exit_code(self.received)

    def __enter__(self) -> "OperatorSignals":
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            if self._emergency is not None:
                self._emergency()
            return
        self.received = signum
        self._say(f"avalab: {name}: aborting the {self.what}, instruments to safe state")
        self._stop(f"{name} received")

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
