"""RunWriter + open_run in one process: content, types, metadata, statuses, errors, plain h5py."""
from __future__ import annotations

import json
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from acquisition.events import (InterlockTripped, PointTaken, Progress, RunFinished, RunStarted,
                                RunState, RunStatus, StateChanged)
from acquisition.storage import RunWriter, journal_path_for, open_run

RIG = {"beam": {"waist_m": 0.63e-6, "objective": "60x NA 0.7"}, "limits": {"max_density_w_m2": 1e8},
       "bad_float": float("nan")}
IDENTITIES = {"pump": "SIM,PumpLaser,0001,1.0", "apd": "SIM,APD,0002,1.0"}
CALIBRATION = {"wheel_angle_deg": [0.0, 90.0], "power_w": [1e-6, 1e-4]}


def _writer(path: Path) -> RunWriter:
    return RunWriter(path, RIG, IDENTITIES, "avalab 0.1.0", CALIBRATION)


def _sweep_point(index: int) -> dict[str, object]:
    density = 1e7 * (1.0 + 0.1 * index)
    return {"setpoint_w": 1e-5 * index, "power_w": 1.01e-5 * index, "density_w_m2": density,
            "counts": 100 + index, "rate_cps": 1000.0 + index, "temperature_k": 77.0,
            "timestamp": 1.7e9 + index, "direction": "up" if index < 5 else "down",
            "bright": index > 3, "histogram": np.arange(16, dtype=np.uint32) * index}


def _start(writer: RunWriter, path: Path) -> None:
    writer.handle(RunStarted("r-42", "sweep", {"start_kw_cm2": 1.0, "stop_kw_cm2": 8.0,
                                               "dwell_s": 0.1}, str(path), 1.8e9))


def test_complete_run_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "sweep.h5"
    writer = _writer(path)
    _start(writer, path)
    for index in range(10):
        writer.handle(PointTaken("r-42", "sweep", index, _sweep_point(index)))
        writer.handle(Progress("r-42", index + 1, 10))
    writer.handle(PointTaken("r-42", "trace", 0, {"t_s": np.linspace(0, 1e-3, 100),
                                                  "rate_cps": np.ones(100)}))
    writer.handle(StateChanged("r-42", RunState.PAUSED, "operator"))
    writer.handle(InterlockTripped("r-42", "count_rate", "2.1e7 cps > 2e7 cps"))
    writer.handle(RunFinished("r-42", RunStatus.COMPLETE, "", {"switch_on_kw_cm2": 6.7,
                                                               "width": float("nan")}))
    writer.close()
    assert not journal_path_for(path).exists()

    run = open_run(path)
    assert (run.status, run.reason, run.run_id, run.experiment) == ("complete", "", "r-42", "sweep")
    assert run.params == {"start_kw_cm2": 1.0, "stop_kw_cm2": 8.0, "dwell_s": 0.1}
    assert run.started_at == 1.8e9 and run.finished_at is not None
    assert run.rig_config["beam"] == RIG["beam"] and run.rig_config["bad_float"] is None
    assert run.identities == IDENTITIES and run.calibration == CALIBRATION
    assert run.software_version == "avalab 0.1.0"
    assert run.summary == {"switch_on_kw_cm2": 6.7, "width": None}
    assert [entry["kind"] for entry in run.log] == ["state", "interlock"]
    assert run.log[1]["detail"] == "count_rate: 2.1e7 cps > 2e7 cps"

    sweep = run.streams["sweep"]
    assert list(sweep)[:4] == ["point_index", "written_at", "setpoint_w", "power_w"]
    np.testing.assert_array_equal(sweep["point_index"], np.arange(10))
    assert sweep["counts"].dtype == np.int64 and sweep["bright"].dtype == bool
    assert sweep["direction"].tolist() == ["up"] * 5 + ["down"] * 5
    assert sweep["histogram"].shape == (10, 16) and sweep["histogram"].dtype == np.uint32
    np.testing.assert_array_equal(sweep["histogram"][7], np.arange(16) * 7)
    points = run.points("sweep")
    assert points[3]["density_w_m2"] == pytest.approx(1.3e7) and points[3]["bright"] is False
    assert run.streams["trace"]["t_s"].shape == (1, 100)
    with pytest.raises(KeyError, match="streams: sweep, trace"):
        run.points("nope")


def test_live_view_equals_final_view(tmp_path: Path) -> None:
    path = tmp_path / "live.h5"
    writer = _writer(path)
    _start(writer, path)
    for index in range(6):
        writer.handle(PointTaken("r-42", "sweep", index, _sweep_point(index)))
    live = open_run(path)
    assert live.status == "incomplete" and live.writer_active is True and live.from_journal
    assert "in progress" in live.reason
    writer.handle(RunFinished("r-42", RunStatus.ABORTED, "operator pressed STOP"))
    final = open_run(path)
    assert (final.status, final.reason) == ("aborted", "operator pressed STOP")
    assert set(live.streams["sweep"]) == set(final.streams["sweep"])
    for name, column in live.streams["sweep"].items():
        assert column.dtype == final.streams["sweep"][name].dtype, name
        np.testing.assert_array_equal(column, final.streams["sweep"][name])


def test_header_file_is_readable_with_plain_h5py_while_running(tmp_path: Path) -> None:
    path = tmp_path / "header.h5"
    writer = _writer(path)
    _start(writer, path)
    writer.handle(PointTaken("r-42", "sweep", 0, _sweep_point(0)))
    with h5py.File(path, "r") as handle:
        assert handle.attrs["status"] == "running"
        assert json.loads(handle.attrs["params"])["dwell_s"] == 0.1
    writer.close()
    with h5py.File(path, "r") as handle:
        assert handle.attrs["status"] == "incomplete"
        assert handle["streams/sweep/density_w_m2"][0] == pytest.approx(1e7)
        assert handle["streams/sweep/histogram"].shape == (1, 16)


def test_failed_run_and_ragged_fields(tmp_path: Path) -> None:
    path = tmp_path / "tags.h5"
    with _writer(path) as writer:
        _start(writer, path)
        writer.handle(PointTaken("r-42", "tags", 0, {"tags_s": np.array([1e-6, 2e-6]), "note": "a"}))
        writer.handle(PointTaken("r-42", "tags", 1, {"tags_s": np.array([3e-6]), "extra": 2.5}))
        writer.handle(PointTaken("r-42", "tags", 2, {"note": "c"}))
        writer.handle(RunFinished("r-42", RunStatus.FAILED, "APD timeout"))
    run = open_run(path)
    assert (run.status, run.reason) == ("failed", "APD timeout")
    tags = run.streams["tags"]
    assert tags["tags_s"].dtype == object and tags["tags_s"][2] is None
    np.testing.assert_array_equal(tags["tags_s"][1], [3e-6])
    assert tags["note"].tolist() == ["a", "", "c"]
    assert np.isnan(tags["extra"][0]) and tags["extra"][1] == 2.5
    assert "tags_s" not in run.points("tags")[2]
    with h5py.File(path, "r") as handle:
        assert handle["streams/tags/tags_s"].attrs["layout"] == "ragged"
        assert handle["streams/tags/tags_s/0"][()].tolist() == [1e-6, 2e-6]


def test_close_without_run_finished_marks_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "closed.h5"
    writer = _writer(path)
    _start(writer, path)
    writer.handle(PointTaken("r-42", "sweep", 0, _sweep_point(0)))
    writer.close()
    writer.close()
    run = open_run(path)
    assert run.status == "incomplete" and "closed before the run finished" in run.reason
    assert run.n_points("sweep") == 1


def test_refuses_to_overwrite_and_rejects_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "once.h5"
    with _writer(path) as writer:
        _start(writer, path)
        writer.handle(RunFinished("r-42", RunStatus.COMPLETE))
    with pytest.raises(FileExistsError):
        _writer(path)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not HDF5" * 10)
    with pytest.raises(ValueError, match="garbage.h5: unreadable run file") as error:
        open_run(garbage)
    assert "\n" not in str(error.value)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as handle:
        handle["x"] = 1
    with pytest.raises(ValueError, match="not an avalab run file"):
        open_run(foreign)
    with pytest.raises(ValueError, match="no run file"):
        open_run(tmp_path / "missing.h5")


def test_point_write_is_well_under_10_ms(tmp_path: Path) -> None:
    # the median is what the CPU costs; tails depend on the disk and the machine's load and are
    # measured by benchmarks/bench_storage.py instead
    path = tmp_path / "fast.h5"
    writer = _writer(path)
    _start(writer, path)
    histogram = np.arange(4096, dtype=np.uint32)
    durations = []
    for index in range(200):
        data = {**_sweep_point(index), "histogram": histogram}
        started = time.perf_counter()
        writer.handle(PointTaken("r-42", "sweep", index, data))
        durations.append(time.perf_counter() - started)
    writer.close()
    assert np.median(durations) < 1e-3, f"median {np.median(durations) * 1e3:.2f} ms"


def test_stale_journal_next_to_a_final_file_is_ignored_and_cleaned_by_recover(tmp_path: Path) -> None:
    from acquisition.storage import recover_run
    path = tmp_path / "stale.h5"
    writer = _writer(path)
    _start(writer, path)
    writer.handle(PointTaken("r-42", "sweep", 0, _sweep_point(0)))
    journal_copy = journal_path_for(path).read_bytes()
    writer.handle(RunFinished("r-42", RunStatus.COMPLETE))
    # as if the writer died between renaming the final file into place and deleting the journal
    journal_path_for(path).write_bytes(journal_copy)
    assert open_run(path).status == "complete"
    recovered = recover_run(path)
    assert recovered.status == "complete" and not journal_path_for(path).exists()
    assert open_run(path).n_points("sweep") == 1


def test_a_field_named_like_a_reserved_column_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "clash.h5"
    with _writer(path) as writer:
        _start(writer, path)
        writer.handle(PointTaken("r-42", "sweep", 5, {"point_index": 99, "rate_cps": 1.0}))
    columns = open_run(path).streams["sweep"]
    assert columns["point_index"].tolist() == [5] and columns["point_index_field"].tolist() == [99]


def test_command_line_info_and_recover(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from acquisition.storage.__main__ import main
    path = tmp_path / "cli.h5"
    writer = _writer(path)
    _start(writer, path)
    writer.handle(PointTaken("r-42", "sweep", 0, _sweep_point(0)))
    assert main(["info", str(path)]) == 0
    assert "incomplete" in capsys.readouterr().out
    assert main(["recover", str(path)]) == 1  # refused: this process still holds the writer
    assert "still running" in capsys.readouterr().err
    writer.close()
    assert main(["info", str(path), str(tmp_path / "none.h5")]) == 1
    captured = capsys.readouterr()
    assert "sweep (1 points)" in captured.out and "no run file" in captured.err
