"""A writer killed with SIGKILL at random moments leaves a readable file with every reported point."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest

from acquisition.storage import journal_path_for, open_run, recover_run

sys.path.insert(0, str(Path(__file__).parent))
from storage_writer_child import point_data  # noqa: E402

CHILD = Path(__file__).with_name("storage_writer_child.py")
N_POINTS = 300
N_KILLS = 20

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _start_child(path: Path, n_points: int, finish: bool, pause_s: float,
                 mode: str = "lockstep") -> subprocess.Popen[str]:
    # stderr goes to a file: a second pipe would make communicate() bypass the stdout buffer
    with open(path.with_suffix(".stderr"), "w") as errors:
        return subprocess.Popen([sys.executable, str(CHILD), str(path), str(n_points),
                                 "1" if finish else "0", str(pause_s), mode],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)


def _kill_after_line(child: subprocess.Popen[str], wanted: str, delay_s: float) -> list[str]:
    """Let a lockstep child write point after point until it prints ``wanted``; let it go on,
    wait ``delay_s`` (the kill lands at that phase of the next write), SIGKILL; return every
    line printed."""
    assert child.stdout is not None and child.stdin is not None
    lines: list[str] = []
    for line in child.stdout:
        lines.append(line.strip())
        if lines[-1].isdigit():
            child.stdin.write("\n")  # write the next point (or, after the last, finish)
            child.stdin.flush()
        if lines[-1] == wanted:
            break
    time.sleep(delay_s)
    child.send_signal(signal.SIGKILL)
    remaining = child.stdout.read()
    child.wait(timeout=600)
    assert child.returncode == -signal.SIGKILL, "child ended before the kill"
    return lines + [line.strip() for line in remaining.splitlines()]


def _reported_indices(lines: list[str]) -> list[int]:
    return [int(line) for line in lines if line.isdigit()]


def _assert_points_match(run_points: list[dict[str, object]]) -> None:
    for position, point in enumerate(run_points):
        expected = point_data(position)
        assert point["point_index"] == position
        assert point["rate_cps"] == expected["rate_cps"]
        assert point["counts"] == expected["counts"]
        assert point["direction"] == expected["direction"]
        assert point["latched"] == expected["latched"]
        np.testing.assert_array_equal(point["histogram"], expected["histogram"])
        np.testing.assert_allclose(point["trace"], expected["trace"])


def _kill_and_check(tmp_path: Path, number: int, target_index: int, delay_s: float) -> int:
    path = tmp_path / f"killed_{number:02d}.h5"
    child = _start_child(path, N_POINTS, finish=False, pause_s=0.001)
    reported = _reported_indices(_kill_after_line(child, str(target_index), delay_s))
    assert reported == list(range(len(reported)))
    run = open_run(path)
    assert run.status == "incomplete"
    assert run.writer_active is False
    assert run.experiment == "sweep" and run.identities == {"apd": "sim-apd 1.0"}
    n_stored = run.n_points("sweep")
    # every point reported as written is there; at most the point in progress is extra
    assert len(reported) <= n_stored <= len(reported) + 1
    _assert_points_match(run.points("sweep"))
    # the HDF5 file on disk is intact too: the last live snapshot (or the header), a prefix of
    # the journal's points with the same values
    with h5py.File(path, "r") as handle:
        assert handle.attrs["status"] == "running" and handle.attrs["experiment"] == "sweep"
        if "streams/sweep" in handle:
            rates = handle["streams/sweep/rate_cps"][()]
            assert len(rates) <= n_stored
            np.testing.assert_array_equal(rates, [point_data(i)["rate_cps"] for i in range(len(rates))])
    return n_stored


def test_sigkill_at_20_random_moments_loses_no_reported_point(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    # one kill per stratum of the run, at a random point and sub-millisecond phase inside it
    targets = [int((k + rng.random()) * (N_POINTS - 1) / N_KILLS) for k in range(N_KILLS)]
    delays = [rng.uniform(0.0, 0.002) for _ in range(N_KILLS)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        stored = list(pool.map(_kill_and_check, [tmp_path] * N_KILLS, range(N_KILLS), targets, delays))
    assert len(stored) == N_KILLS
    # the kills really were spread over the run
    assert min(stored) < N_POINTS * 0.2 and max(stored) > N_POINTS * 0.8


def test_recover_turns_a_killed_run_into_a_plain_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "recover.h5"
    child = _start_child(path, N_POINTS, finish=False, pause_s=0.001)
    reported = _reported_indices(_kill_after_line(child, "40", 0.0))
    run = recover_run(path)
    assert not journal_path_for(path).exists()
    assert run.status == "incomplete" and run.n_points("sweep") >= len(reported)
    with h5py.File(path, "r") as handle:
        assert handle.attrs["status"] == "incomplete"
        assert handle["streams/sweep/rate_cps"].shape == (run.n_points("sweep"),)
    again = open_run(path)
    assert again.from_journal is False
    _assert_points_match(again.points("sweep"))


def test_sigkill_during_finalisation_keeps_every_point(tmp_path: Path) -> None:
    rng = random.Random(7)
    for attempt in range(5):
        path = tmp_path / f"finalise_{attempt}.h5"
        child = _start_child(path, 60, finish=True, pause_s=0.0)
        lines = _kill_after_line(child, "finishing", rng.uniform(0.0, 0.03))
        run = open_run(path)
        assert run.n_points("sweep") == 60
        assert run.status in ("complete", "incomplete")
        if "finished" in lines:
            assert run.status == "complete"
        _assert_points_match(run.points("sweep"))
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        for name in leftovers:  # a temporary file of an interrupted rename is harmless litter
            os.unlink(tmp_path / name)


def test_reader_sees_a_run_grow_while_another_process_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "live.h5"
    child = _start_child(path, 150, finish=True, pause_s=0.004, mode="hold")
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "started"
    seen: list[int] = []
    for line in child.stdout:
        text = line.strip()
        if text.isdigit() and int(text) % 10 == 0:
            # the child keeps writing while we read: the run can only have grown since the line
            run = open_run(path)
            assert run.status == "incomplete" and run.writer_active is True
            assert run.n_points("sweep") >= int(text) + 1
            seen.append(run.n_points("sweep"))
            _assert_points_match(run.points("sweep"))
        if text == "holding":
            break
    held = open_run(path)
    assert held.status == "incomplete" and held.writer_active is True
    assert held.n_points("sweep") == 150 and "in progress" in held.reason
    child.stdin.write("go\n")
    child.stdin.flush()
    assert [line.strip() for line in child.stdout][-1] == "finished"
    child.wait(timeout=600)
    assert seen == sorted(seen) and len(seen) == 15
    final = open_run(path)
    assert final.status == "complete" and final.n_points("sweep") == 150
    assert final.summary == {"n": 150}
    assert not journal_path_for(path).exists()
