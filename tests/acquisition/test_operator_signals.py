"""One signal path for runs and campaigns: the first SIGINT/SIGTERM stops safely, a second one
makes everything safe at once, and the exit code is 128 + the signal (130 / 143)."""
from __future__ import annotations

import os
import signal

import pytest

from acquisition.operator_signals import OperatorSignals


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_first_signal_stops_second_makes_safe_and_the_exit_code_names_the_signal(signum: int, code: int) -> None:
    stops: list[str] = []
    emergencies: list[bool] = []
    said: list[str] = []
    before = signal.getsignal(signum)
    with OperatorSignals("campaign", stops.append, lambda: emergencies.append(True), said.append) as signals:
        os.kill(os.getpid(), signum)  # handlers run in the main thread at the next bytecode
        assert stops == [f"{signal.Signals(signum).name} received"] and not emergencies
        os.kill(os.getpid(), signum)
        assert emergencies == [True] and len(stops) == 1
    assert said == [f"avalab: {signal.Signals(signum).name}: aborting the campaign, instruments to safe state"]
    assert signals.exit_code == code
    assert signal.getsignal(signum) is before  # the previous handler is back


def test_no_signal_no_exit_code() -> None:
    with OperatorSignals("run", lambda reason: None) as signals:
        pass
    assert signals.received is None and signals.exit_code is None
