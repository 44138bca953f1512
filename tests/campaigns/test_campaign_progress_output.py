"""The campaign's progress on stderr: in a log or a pipe (cron, nohup) one plain line per finished
unit, never carriage-return redraws; ``--no-progress`` writes none; the result is unchanged."""
from __future__ import annotations

from pathlib import Path

import pytest

from acquisition.cli import main

WAITS = 'name = "waits"\n' + '[[step]]\nwait_s = 0.5\n' * 3


@pytest.fixture
def campaign_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AVALAB_HOME", str(tmp_path / "home"))
    path = tmp_path / "waits.toml"
    path.write_text(WAITS)
    return path


def test_progress_in_a_log_is_one_line_per_finished_unit(campaign_file: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["campaign", str(campaign_file), "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    done_counts = [int(line[1:].split("/", 1)[0]) for line in lines]
    assert done_counts == sorted(set(done_counts)), lines  # each count once, in order
    assert done_counts[-1] == 3 and "campaign complete" in lines[-1]


def test_no_progress_writes_no_progress_line(campaign_file: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["campaign", str(campaign_file), "--out", str(tmp_path / "c"), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert not [line for line in captured.err.splitlines() if line.startswith("[")], captured.err
    assert "3 unit(s) run" in captured.out  # the summary still says what was done
