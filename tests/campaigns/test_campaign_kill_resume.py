"""`avalab campaign` killed with SIGKILL midway, then --resume: same runs as an uninterrupted
campaign, nothing duplicated, the interrupted run's points kept."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from acquisition.storage import open_run

CAMPAIGN = """\
name = "kill-resume"
[vars]
n = 4
[[step]]
loop = { spot = "${range(n)}" }
position_um = ["${2.0 * spot}", 0.0]
experiment = "sweep"
params = { start_kw_cm2 = 2.0, stop_kw_cm2 = 11.0, points = 10, settle_s = 0.1, dwell_s = 0.1 }
"""


def avalab(*args: str) -> list[str]:
    return [sys.executable, "-c", "from acquisition.cli import main; raise SystemExit(main())", *args]


def complete_units(folder: Path) -> list[str]:
    try:
        with sqlite3.connect(folder / "campaign.sqlite") as db:
            return [r[0] for r in db.execute("SELECT unit_key FROM runs WHERE status = 'complete'")]
    except sqlite3.OperationalError:  # the file is there, the coordinator is still creating its table
        return []


def test_sigkill_midway_then_resume_gives_every_unit_exactly_once(tmp_path: Path) -> None:
    spec = tmp_path / "campaign.toml"
    spec.write_text(CAMPAIGN)
    folder = tmp_path / "out"
    process = subprocess.Popen(avalab("campaign", str(spec), "--out", str(folder)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            if (folder / "campaign.sqlite").exists() and len(complete_units(folder)) >= 2:
                break
            assert process.poll() is None, "campaign ended before it could be killed"
            time.sleep(0.05)
        time.sleep(0.3)  # into the third unit's sweep
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    before = complete_units(folder)
    assert 2 <= len(before) < 4
    resumed = subprocess.run(avalab("campaign", str(spec), "--out", str(folder), "--resume", "--json"),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    after = complete_units(folder)
    assert sorted(after) == sorted(f"s1/spot={i}" for i in range(4))
    assert len(after) == len(set(after)), "a unit was completed twice"
    with sqlite3.connect(folder / "campaign.sqlite") as db:
        killed = db.execute("SELECT path FROM runs WHERE status = 'superseded'").fetchall()
    for (path,) in killed:  # the killed attempt's file is kept and still opens
        run = open_run(folder / path)
        assert run.status == "incomplete"


def test_sigterm_aborts_the_campaign_like_a_single_run_and_resume_finishes_it(tmp_path: Path) -> None:
    spec = tmp_path / "campaign.toml"
    spec.write_text(CAMPAIGN)
    folder = tmp_path / "out"
    process = subprocess.Popen(avalab("campaign", str(spec), "--out", str(folder)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 200
        while time.monotonic() < deadline:
            if (folder / "campaign.sqlite").exists() and len(complete_units(folder)) >= 1:
                break
            assert process.poll() is None, "campaign ended before it could be stopped"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "avalab: SIGTERM: campaign aborted, instruments safe" in stderr
    resumed = subprocess.run(avalab("campaign", str(spec), "--out", str(folder), "--resume"),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(complete_units(folder)) == sorted(f"s1/spot={i}" for i in range(4))
