"""Log panel: records from any thread arrive through the handler's signal; level filter works."""
from __future__ import annotations

import logging
import threading

from gui.log_panel import LogPanel, QtLogHandler
from gui.run_queue import QueuedRun, RunQueue, format_duration


def test_records_from_a_worker_thread_reach_the_panel(qtbot) -> None:
    handler = QtLogHandler()
    panel = LogPanel(handler)
    qtbot.addWidget(panel)
    logger = logging.getLogger("avalab.test.gui.log")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        thread = threading.Thread(target=lambda: logger.warning("pump interlock at %d kW/cm2", 12))
        thread.start()
        thread.join()
        logger.debug("too chatty for the default filter")
        qtbot.waitUntil(lambda: any("pump interlock at 12" in line for line in panel.lines()), timeout=30000)
        assert not any("too chatty" in line for line in panel.lines())
        assert "WARNING" in panel.lines()[-1] and "avalab.test.gui.log" in panel.lines()[-1]
    finally:
        logger.removeHandler(handler)


def test_queue_is_fifo_and_holds() -> None:
    queue = RunQueue()
    first = QueuedRun("sweep", {"points": 10}, 60.0)
    second = QueuedRun("lifetime", {}, 30.0)
    queue.add(first)
    queue.add(second)
    assert queue.total_estimate_s() == 90.0
    queue.held = True
    assert queue.pop_next() is None
    queue.held = False
    assert queue.pop_next() is first
    queue.remove(second.queue_id)
    assert len(queue) == 0
    assert "sweep (~1 min 00 s): points=10" == first.describe()


def test_durations_are_readable() -> None:
    assert format_duration(42.4) == "42 s"
    assert format_duration(125) == "2 min 05 s"
    assert format_duration(3 * 3600 + 60 * 7) == "3 h 07 min"
    assert format_duration(None) == "unknown"
