"""Tell a run in progress from a run whose writer died: an advisory lock on the journal.

The writer holds an exclusive ``flock`` on its journal for as long as it runs; the kernel drops
the lock when the process exits for any reason, ``kill -9`` included. A reader that can take the
lock knows nobody is writing. Where ``fcntl`` does not exist (Windows) liveness is unknown (None).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)


def hold_writer_lock(stream: BinaryIO) -> None:
    """Take the writer's exclusive lock on an open journal (kept until the stream is closed)."""
    if fcntl is not None:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def writer_is_active(journal: Path) -> bool | None:
    """True if a writer holds ``journal``'s lock, False if not, None if this cannot be known."""
    if fcntl is None:
        return None
    try:
        with open(journal, "rb") as stream:
            try:
                fcntl.flock(stream.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False
