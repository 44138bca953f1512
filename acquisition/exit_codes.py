"""The ``avalab`` exit codes, one meaning each (README, "Exit codes").

When several apply, the most urgent wins: an instrument that may not be safe (SAFE_STATE_FAILED)
over everything, then a run file that could not be written (STORAGE_FAILED), then the operator's
signal (130 / 143), then any other failure.
"""
from __future__ import annotations

import signal

from acquisition.events import RunFinished, RunStatus

#: the run completed and every instrument is in its safe state
OK = 0
#: the run failed or was aborted (instrument error, unreachable setpoint, a plot that could not be
#: written ...); instruments are safe, the run file holds every point taken
FAILED = 1
#: bad input (parameters, rig file, campaign file, paths, unreachable instrument address): one
#: line on stderr, nothing moved
USAGE = 2
#: a campaign stopped at a unit that failed, was aborted or was refused; ``--resume`` continues
CAMPAIGN_STOPPED = 3
#: the safe state of at least one instrument failed or could not be verified: check those
#: instruments by hand (stderr names them and why)
SAFE_STATE_FAILED = 4
#: the run file could not be written (disk full, I/O error, folder removed): acquisition stopped
#: at the first write error; every point before it is in the file or its journal (recoverable)
STORAGE_FAILED = 5
#: the operator's Ctrl+C / SIGTERM: the run was aborted safely
SIGNALLED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def for_run(finished: RunFinished, signalled: int | None = None,
            closing_failures: dict[str, str] | None = None) -> int:
    """The exit code of a single run (``closing_failures``: the safe state on engine close)."""
    if finished.safe_state_failures or closing_failures:
        return SAFE_STATE_FAILED
    if finished.storage_error:
        return STORAGE_FAILED
    if signalled is not None:
        return SIGNALLED.get(signal.Signals(signalled), FAILED)
    return OK if finished.status == RunStatus.COMPLETE else FAILED
