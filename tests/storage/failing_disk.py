"""A disk that fails on command, for storage fault tests in one process.

``FailingDisk`` wraps the two places where a run's bytes reach the operating system (the
journal's record writes and the HDF5 file builder) so a test can make them fail like a full disk:

    disk = FailingDisk(monkeypatch)
    disk.fail_next_writes(1)      # a brief ENOSPC: the next record write fails half way
    disk.fill()                   # full until disk.free(): every write fails (HDF5 files too)

A failing record write writes half of its bytes first (what a real ENOSPC mid-record does), so
the journal really holds a torn record the writer must cut off.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from acquisition.storage import h5layout, journal


class FailingDisk:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._failures_left = 0
        self._full = False
        self.failed_writes = 0
        real_write_all = journal._write_all
        real_write_h5 = h5layout._write_h5

        def write_all(descriptor: int, parts: list[Any]) -> None:
            if self._should_fail():
                data = b"".join(bytes(part) for part in parts)
                os.write(descriptor, data[: len(data) // 2])  # the torn half reaches the disk
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_write_all(descriptor, parts)

        def write_h5(temporary: Path, run: Any, status: str, compress: bool = True) -> None:
            # every HDF5 file the writer builds: live snapshots (uncompressed) and the final file
            if self._full:
                self.failed_writes += 1
                temporary.write_bytes(b"\x89HDF partial")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_write_h5(temporary, run, status, compress)

        monkeypatch.setattr(journal, "_write_all", write_all)
        monkeypatch.setattr(h5layout, "_write_h5", write_h5)

    def _should_fail(self) -> bool:
        if self._full or self._failures_left > 0:
            self._failures_left = max(0, self._failures_left - 1)
            self.failed_writes += 1
            return True
        return False

    def fail_next_writes(self, count: int) -> None:
        self._failures_left = count

    def fill(self) -> None:
        self._full = True

    def free(self) -> None:
        self._full = False
        self._failures_left = 0
