"""``avalab sweep`` on a disk that fills up mid-run, as a user meets it: a child process whose
file size limit (``ulimit -f``, RLIMIT_FSIZE: writes past it fail with EFBIG) is below what the
run needs; and, where this machine lets a test mount one, a 200 kB tmpfs (ENOSPC). The run
ends ``failed: storage: ...`` with exit code 5, one line on stderr and no traceback; every point
written before the fault is recovered; the next run (no limit) is unaffected."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from acquisition import exit_codes
from acquisition.storage import journal_path_for, open_run, recover_run


#: the journal passes this after roughly 25 sweep points; the 12 kB header file fits
FILE_SIZE_LIMIT = 28_000


def avalab_with_file_limit(limit: int | None) -> list[str]:
    code = ("import resource, sys\n"
            + (f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n" if limit else "")
            + "from acquisition.cli import main\nsys.exit(main())")
    return [sys.executable, "-c", code]


def sweep(out: Path, limit: int | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(avalab_with_file_limit(limit) + [
        "sweep", "--points", "60", "--dwell-s", "0.1", "--settle-s", "0.1", "--no-progress",
        "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=out.parent)


def assert_failed_storage_and_recoverable(result: subprocess.CompletedProcess[str], out: Path) -> None:
    assert result.returncode == exit_codes.STORAGE_FAILED, result.stderr
    assert "Traceback" not in result.stderr
    failed_lines = [line for line in result.stderr.splitlines() if line.startswith("avalab: run failed: storage: ")]
    assert len(failed_lines) == 1, result.stderr
    assert "sweep failed: storage: " in result.stdout
    assert journal_path_for(out).exists(), "the journal holding the points must be kept"
    assert f"points in journal    {journal_path_for(out)}" in result.stdout
    run = recover_run(out)
    sweep_points = run.n_points("sweep") if "sweep" in run.streams else 0
    assert sweep_points > 0 or run.n_points_total() > 0
    if sweep_points:  # every point before the fault, in order, none missing
        np.testing.assert_array_equal(run.streams["sweep"]["point_index"], np.arange(sweep_points))
    assert sweep_points < 120  # the fault came before the end


def test_a_file_size_limit_mid_run_fails_the_run_and_keeps_the_points(tmp_path: Path) -> None:
    out = tmp_path / "sweep.h5"
    result = sweep(out, FILE_SIZE_LIMIT)
    assert_failed_storage_and_recoverable(result, out)
    later = sweep(tmp_path / "later.h5", None)
    assert later.returncode == 0, later.stderr
    assert open_run(tmp_path / "later.h5").n_points("sweep") == 120


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 200 kB tmpfs (root only; skipped where mounting is not allowed)."""
    mount_point = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_a_full_small_filesystem_fails_the_run_and_keeps_the_points(small_filesystem: Path) -> None:
    # fill most of it first, as another program would have
    (small_filesystem / "ballast").write_bytes(b"\0" * 150_000)
    out = small_filesystem / "sweep.h5"
    result = sweep(out, None)
    assert result.returncode == exit_codes.STORAGE_FAILED, result.stderr
    assert "Traceback" not in result.stderr
    (small_filesystem / "ballast").unlink()  # room again: the journal can be recovered in place
    assert_failed_storage_and_recoverable(result, out)
    # nothing of the failed run is left but its recovered file (no journal, no temporary
    # files), which the operator copies off the full disk: a live run needs room for its
    # journal and two copies of its HDF5 file (the live snapshot and the one replacing it)
    assert sorted(p.name for p in small_filesystem.iterdir()) == ["sweep.h5"]
    shutil.move(out, small_filesystem.parent / "sweep.h5")
    later = sweep(small_filesystem / "later.h5", None)
    assert later.returncode == 0, later.stderr
