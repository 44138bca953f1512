"""Live snapshots: the run file readable by plain h5py (h5web, silx, HDFView) while a run goes on.

The journal stays the crash-safe copy of every point; this is its readable mirror. A background
thread (acquisition never waits for HDF5) republishes the run file whenever points have arrived:
a complete, closed HDF5 file built from the writer's in-memory copy of the journal, written to a
temporary name and renamed over the run path (status attribute "running"), so a reader sees
either the previous snapshot or the new one, never a half-written file, and no reader needs SWMR
or file-locking arrangements.

Timing: a point is published within SNAPSHOT_MIN_INTERVAL_S plus one build of the file after it
was taken (building a file costs mostly HDF5 object creation: some 0.2-1.5 ms per dataset and
attribute, whatever the number of points). Each build rewrites the whole file (uncompressed, not fsynced: the journal is the
durable copy), so its cost grows with the run; the interval grows with it (at least
SNAPSHOT_BUSY_FACTOR x the last build time), which bounds the thread to about 1 / (1 +
SNAPSHOT_BUSY_FACTOR) of one core however large the run becomes, and the rewrites to at most
SNAPSHOT_MAX_BYTES_PER_S on average: a run whose file is larger than about 10 MB is published
less often than every half second (``benchmarks/bench_live_snapshots.py`` measures latency and
cost).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: the shortest time between two snapshots (wall time); also the batching window for points
SNAPSHOT_MIN_INTERVAL_S = 0.5
#: the next snapshot waits at least this many times as long as the last one took to build
SNAPSHOT_BUSY_FACTOR = 3.0
#: and long enough that rewriting the whole file stays below this average write rate (a run of
#: large histograms would otherwise rewrite hundreds of MB every few seconds)
SNAPSHOT_MAX_BYTES_PER_S = 20e6


class SnapshotPublisher:
    """Calls ``publish()`` on its own thread after ``changed()``, batched (see module doc).

    ``publish`` returns how many points the published file holds and its size in bytes. The
    first exception it raises stops publishing and goes to ``on_error`` (the writer turns it into
    a storage fault).
    """

    def __init__(self, name: str, publish: Callable[[], tuple[int, int]],
                 on_error: Callable[[BaseException], None],
                 min_interval_s: float = SNAPSHOT_MIN_INTERVAL_S) -> None:
        self._publish = publish
        self._on_error = on_error
        self._min_interval_s = min_interval_s
        self._cond = threading.Condition()
        self._pending = False
        self._stopping = False
        self._published_points = 0
        self._failed = False
        self._next_allowed = 0.0
        #: wall time (s) each publication took, for benchmarks and the log
        self.build_times_s: list[float] = []
        self._thread = threading.Thread(target=self._loop, name=f"snapshot {name}", daemon=True)
        self._thread.start()

    @property
    def published_points(self) -> int:
        with self._cond:
            return self._published_points

    def changed(self) -> None:
        """Something new is in the journal: publish it soon."""
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def wait_published(self, n_points: int, timeout_s: float) -> bool:
        """Block until a published snapshot holds at least ``n_points`` (False on timeout, or
        when publishing stopped)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._published_points < n_points and not self._failed and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self._published_points >= n_points

    def stop(self) -> None:
        """No more snapshots; returns once a publication in progress has ended."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._pending or time.monotonic() < self._next_allowed):
                    timeout = None if not self._pending else max(self._next_allowed - time.monotonic(), 0.0)
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                self._pending = False
            started = time.monotonic()
            try:
                points, size_bytes = self._publish()
            except BaseException as exc:  # a storage fault: reported once, no more snapshots
                logger.error("live snapshot failed: %s", exc)
                try:
                    self._on_error(exc)
                finally:  # waiters wake once the fault has been reported
                    with self._cond:
                        self._failed = True
                        self._cond.notify_all()
                return
            took = time.monotonic() - started
            self.build_times_s.append(took)
            with self._cond:
                self._published_points = max(self._published_points, points)
                self._next_allowed = started + max(self._min_interval_s, (1 + SNAPSHOT_BUSY_FACTOR) * took,
                                                   size_bytes / SNAPSHOT_MAX_BYTES_PER_S)
                self._cond.notify_all()
