"""What the CLI shows: a progress bar on stderr, JSON-safe results, short human summaries."""
from __future__ import annotations

import json
import math
import os
import select
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, TextIO

import numpy as np

from acquisition.events import Event, InterlockTripped, Progress, RunFinished, RunState, StateChanged

BAR_WIDTH = 30

#: what Ctrl+C does during a run (acquisition.operator_signals)
ABORT_HINT = "Ctrl+C aborts the run safely (pump and shutters closed, instruments to their safe state)"
#: the signal that resumes a paused run from outside (``kill -USR1 <pid>``); None on Windows
RESUME_SIGNAL: int | None = getattr(signal, "SIGUSR1", None)


def pause_hint(interlock: str | None, reason: str, resume_how: str | None) -> str:
    """One line telling the operator how a paused run goes on.

    ``interlock``: the interlock that tripped just before the pause (``"count_rate"``,
    ``"temperature"``), None for an operator pause; ``resume_how``: how this command resumes a
    run (:attr:`OperatorResume.how`), None when it cannot.
    """
    if interlock == "temperature" or (interlock is None and reason.startswith("temperature")):
        return ("avalab: hint: the run resumes by itself once the temperature has been back in band "
                "for the rig's stability time (limits.temperature_stable_s); " + ABORT_HINT)
    if resume_how:
        prefix = "remove the cause (e.g. attenuate the beam), then " if interlock == "count_rate" else ""
        return f"avalab: hint: {prefix}{resume_how} to resume (the point is measured again); {ABORT_HINT}"
    return ("avalab: hint: this run waits for an operator resume, which this command cannot give; "
            + ABORT_HINT + " and the points taken so far stay in the run file")


class OperatorResume:
    """Resume a paused run from the CLI: ``kill -USR1 <pid>``, or ``r`` + Enter when stdin is a
    terminal. Use as a context manager in the main thread around the run::

        with OperatorResume(engine) as resume:
            progress.resume_how = resume.how
            ...

    Only a PAUSED run is resumed (a stray ``r`` while running does nothing).
    """

    def __init__(self, engine: Any, stdin: TextIO | None = None, stream: TextIO | None = None,
                 use_signal: bool = True) -> None:
        self.engine = engine
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stream = stream or sys.stderr
        self.use_signal = use_signal and RESUME_SIGNAL is not None
        self._previous: Any = None
        self._installed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.interactive = bool(getattr(self.stdin, "isatty", lambda: False)()) and hasattr(self.stdin, "fileno")

    @property
    def how(self) -> str | None:
        ways = []
        if self.interactive:
            ways.append("type r + Enter")
        if self._installed:
            ways.append(f"run `kill -USR1 {os.getpid()}`")
        return " or ".join(ways) or None

    def resume(self, origin: str) -> bool:
        """Resume the run if it is paused; True if it was."""
        from acquisition.events import RunState

        if self.engine.state != RunState.PAUSED:
            return False
        self.stream.write(f"avalab: resume requested ({origin})\n")
        self.stream.flush()
        self.engine.resume()
        return True

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.resume(signal.Signals(signum).name)

    def _read_stdin(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.stdin], [], [], 0.25)
                if not ready:
                    continue
                line = self.stdin.readline()
            except (OSError, ValueError):
                return
            if not line:
                return  # end of input
            if line.strip().lower() in ("r", "resume"):
                self.resume("r + Enter")

    def __enter__(self) -> "OperatorResume":
        if self.use_signal and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(RESUME_SIGNAL, self._on_signal)  # type: ignore[arg-type]
            self._installed = True
        if self.interactive:
            self._thread = threading.Thread(target=self._read_stdin, name="avalab-resume-input", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._installed:
            signal.signal(RESUME_SIGNAL, self._previous)  # type: ignore[arg-type]
            self._installed = False
        if self._thread is not None:
            self._thread.join(1.0)


class ProgressBar:
    """Engine subscriber drawing ``[#####-----] 12/92 message`` on stderr.

    On a terminal the bar redraws in place; otherwise (logs, pipes) a line is written every 10 %.
    """

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self._lock = threading.Lock()
        self._open_line = False
        self._origin: tuple[float, int] | None = None  # (wall time, done) of the current count
        self._last_interlock: str | None = None
        self._paused = False
        #: how this command resumes a paused run (OperatorResume.how); None: it cannot
        self.resume_how: str | None = None

    def _line(self, text: str) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """Write one line (ending an open bar line first, never an empty line otherwise); safe
        from a signal handler (the lock is only waited for briefly)."""
        locked = self._lock.acquire(timeout=1.0)
        try:
            self._line(text)
        finally:
            if locked:
                self._lock.release()

    def handle(self, event: Event) -> None:
        """``enabled=False`` (``--no-progress``) hides the bar and progress notes only: interlock,
        pause, hint and resume lines are not progress and are always written."""
        with self._lock:
            if isinstance(event, Progress):
                if not self.enabled:
                    return
                if event.total:
                    self._bar(event)
                elif event.message:
                    self._line(f"avalab: {event.message}")
            elif isinstance(event, InterlockTripped):
                self._last_interlock = event.interlock
                self._line(f"avalab: INTERLOCK {event.interlock}: {event.detail}")
            elif isinstance(event, StateChanged) and event.state == RunState.PAUSED:
                self._line(f"avalab: paused ({event.reason})")
                self._line(pause_hint(self._last_interlock, event.reason, self.resume_how))
                self._paused = True
            elif isinstance(event, StateChanged) and event.state == RunState.RUNNING:
                if self._paused:
                    self._line(f"avalab: running again ({event.reason})")
                self._paused = False
                self._last_interlock = None
            elif isinstance(event, RunFinished) and self._open_line:
                self.stream.write("\n")
                self._open_line = False

    def _bar(self, event: Progress) -> None:
        total = max(int(event.total or 1), 1)
        fraction = min(max(event.done / total, 0.0), 1.0)
        filled = int(round(BAR_WIDTH * fraction))
        # wall-clock ETA: on a virtual clock the engine's (rig-clock) ETA is not what the user waits
        now = time.monotonic()
        if self._origin is None or event.done <= self._origin[1]:
            self._origin = (now, event.done)
        start, done0 = self._origin
        eta = (f" ETA {(now - start) / (event.done - done0) * (total - event.done):.0f} s"
               if event.done > done0 else "")
        text = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {event.done}/{total} {event.message[:40]}{eta}"
        if self.interactive:
            self.stream.write("\r" + text.ljust(100))
            self._open_line = True
            self.stream.flush()
            return
        decile = int(fraction * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            self._line(text)


def json_safe(value: Any) -> Any:
    """Plain JSON types: numpy -> Python, non-finite floats -> None, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if value is None or isinstance(value, str):
        return value
    return str(value)


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(json_safe(result), sort_keys=False, allow_nan=False)


def human_summary(result: dict[str, Any]) -> str:
    """A few lines an operator reads at a glance: the experiment's own summary lines
    (``Experiment.summary_lines``), then what any run may add (calibration, warnings, notes)."""
    from acquisition.experiments import EXPERIMENTS

    lines = [f"{result.get('experiment', 'run')} {result.get('status', '')}"
             + (f": {result['reason']}" if result.get("reason") else "")]
    experiment = EXPERIMENTS.get(str(result.get("experiment", "")))
    if experiment is not None:
        lines += experiment.summary_lines(result)
    if result.get("calibrated_first"):
        stale = result.get("stale_calibration")
        lines.append(f"  ({stale}; the power calibration ran first)" if stale
                     else "  (no stored calibration: the power calibration ran first)")
    for warning in result.get("warnings") or []:
        lines.append(f"  warning: {warning}")
    # why a figure is missing: the analysis' notes and every "<figure>_problem"
    reasons = list(result.get("notes") or []) + [str(value) for key, value in result.items()
                                                  if key.endswith("_problem") and value]
    for reason in dict.fromkeys(reasons):
        lines.append(f"  note: {reason}")
    if result.get("run_file"):
        lines.append(f"  run file             {result['run_file']}")
    if result.get("run_journal"):
        lines.append(f"  points in journal    {result['run_journal']} (python -m acquisition.storage "
                     f"recover {result.get('run_file', '')})")
    return "\n".join(lines)
