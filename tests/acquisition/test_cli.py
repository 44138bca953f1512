"""The ``avalab`` command as an operator uses it: a real subprocess, the simulated rig."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from acquisition.storage import open_run

#: the console script installed by ``pip install -e .`` (as an operator runs it)
SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]
FIGURES = ("switch_on_kw_cm2", "switch_off_kw_cm2", "hysteresis_width_kw_cm2", "contrast_db",
           "nonlinearity_s", "bistable")


def avalab(args: list[str], cwd: Path, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AVALAB_HOME=str(home))
    return subprocess.run(AVALAB + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_sweep_at_77k_is_bistable_and_analyze_gives_the_same_numbers(tmp_path: Path, shared_calibration_dir: Path) -> None:
    run_file, plot = tmp_path / "sweep.h5", tmp_path / "sweep.png"
    done = avalab(["sweep", "--rig", "sim", "--temperature", "77", "--json", "--out", str(run_file),
                   "--plot", str(plot)], tmp_path, shared_calibration_dir)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # ONE JSON object, nothing else on stdout
    assert result["status"] == "complete" and result["run_file"] == str(run_file)
    assert 4.5 <= result["switch_on_kw_cm2"] <= 8.0
    assert result["switch_off_kw_cm2"] <= result["switch_on_kw_cm2"] - 1.0
    assert result["nonlinearity_s"] >= 100
    assert result["bistable"] is True
    assert plot.stat().st_size > 10_000
    analysed = avalab(["analyze", str(run_file), "--json"], tmp_path, shared_calibration_dir)
    assert analysed.returncode == 0, analysed.stderr
    again = json.loads(analysed.stdout)
    assert {k: again[k] for k in FIGURES} == {k: result[k] for k in FIGURES}
    stored = open_run(run_file)
    assert stored.status == "complete" and stored.params["temperature_k"] == 77.0
    assert abs(float(stored.streams["sweep"]["temperature_k"].mean()) - 77.0) < 0.5


def test_switch_latches_only_for_the_bias_inside_the_window(tmp_path: Path, shared_calibration_dir: Path) -> None:
    done = avalab(["switch", "--rig", "sim", "--temperature", "77", "--json", "--out", str(tmp_path / "s.h5")],
                  tmp_path, shared_calibration_dir)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    off, on = result["window_kw_cm2"]
    by_bias = {float(bias): state for bias, state in result["latched_by_bias_kw_cm2"].items()}
    assert len(by_bias) == 3
    for bias, state in by_bias.items():
        assert state == (off < bias < on), (bias, state, off, on)
    assert result["latched"] == result["latched_by_bias_kw_cm2"]
    assert result["latched_any"] is True
    analysed = avalab(["analyze", str(tmp_path / "s.h5"), "--json"], tmp_path, shared_calibration_dir)
    assert analysed.returncode == 0, analysed.stderr
    assert json.loads(analysed.stdout)["latched"] == result["latched"]


BAD_RIG = "[limits]\nmax_power_density_kw_cm2 = -5\n"


@pytest.mark.parametrize(("args", "field"), [
    (["sweep", "--dwell-s", "-1"], "dwell_s=-1"),
    (["sweep", "--points", "many"], "points='many'"),
    (["sweep", "--temperature", "1000"], "temperature_k=1000"),
    (["sweep", "--stop-kw-cm2", "40"], "stop_kw_cm2=40"),
    (["pulsed", "--frequencies-hz", "500", "--duty-cycles", "0.95"], "duty_cycles=0.95"),
    (["pulsed", "--frequencies-hz", "2000", "--duty-cycles", "0.3"], "duty_cycles=0.3"),
    (["pulsed", "--frequencies-hz", "10"], "frequencies_hz=10"),
    (["pulsed", "--frequencies-hz", "7000"], "frequencies_hz=7000"),
    (["lifetime", "--frequency-hz", "3000", "--duty-cycle", "0.2"], "duty_cycle=0.2"),
    (["switch", "--control-wavelength-nm", "1200"], "control_wavelength_nm=1200"),
    (["switch", "--biases-kw-cm2", "3", "20"], "biases_kw_cm2=20"),
    (["sweep", "--rig", "missing.toml"], "rig=missing.toml"),
    (["sweep", "--rig", "malformed.toml"], "rig=malformed.toml"),
    (["sweep", "--rig", "bad_value.toml"], "limits.max_power_density_kw_cm2=-5"),
    (["analyze", "missing.h5"], "run_file=missing.h5"),
    (["analyze", "garbage.h5"], "run_file=garbage.h5"),
])
def test_invalid_input_is_one_line_exit_2_and_nothing_runs(tmp_path: Path, args: list[str], field: str) -> None:
    (tmp_path / "malformed.toml").write_text("[rig\nname=")
    (tmp_path / "bad_value.toml").write_text(BAD_RIG)
    (tmp_path / "garbage.h5").write_bytes(b"not an hdf5 file at all")
    out = tmp_path / "never.h5"
    if args[0] != "analyze":
        args = [*args, "--out", str(out)]
    done = avalab(args, tmp_path, tmp_path / "home", timeout=600)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("avalab: error: ") and field in lines[0] and "allowed" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not out.exists() and not (tmp_path / "runs").exists()  # nothing was connected or run
    assert not (tmp_path / "home").exists()  # not even a calibration attempted


def test_sigterm_aborts_the_run_and_the_file_says_aborted(tmp_path: Path, shared_calibration_dir: Path) -> None:
    run_file = tmp_path / "long.h5"
    env = dict(os.environ, AVALAB_HOME=str(shared_calibration_dir))
    process = subprocess.Popen(AVALAB + ["sweep", "--points", "2000", "--dwell-s", "2", "--json",
                                         "--out", str(run_file)],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = run_file.with_name(run_file.name + ".journal")
    deadline = time.monotonic() + 300  # the CLI's start-up is slow on a loaded box
    while not journal.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert journal.exists(), "the run never started"
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 143, stderr
    assert json.loads(stdout)["status"] == "aborted"
    assert "Traceback" not in stderr
    assert open_run(run_file).status == "aborted"


def test_rig_show_template_and_help(tmp_path: Path) -> None:
    shown = avalab(["rig", "show", "--json"], tmp_path, tmp_path)
    assert shown.returncode == 0
    info = json.loads(shown.stdout)
    assert info["name"] == "simulated ANP microscope" and info["max_power_density_kw_cm2"] == 15.0
    # the power meter's stated uncertainty, and the highest setpoint it leaves under the limit
    assert info["power_meter_relative_uncertainty"] == 0.01
    assert info["max_density_setpoint_kw_cm2"] == 15.0 / 1.01
    template = avalab(["rig", "template"], tmp_path, tmp_path)
    assert "max_power_density_kw_cm2" in tomllib.loads(template.stdout)["limits"]
    helped = avalab(["--help"], tmp_path, tmp_path)
    for command in ("sweep", "pulsed", "switch", "lifetime", "calibrate", "analyze", "rig", "gui"):
        assert command in helped.stdout


def test_json_output_is_plain_json_and_the_progress_bar_reports_interlocks() -> None:
    import io

    import numpy as np

    from acquisition.cli_output import ProgressBar, dumps
    from acquisition.events import InterlockTripped, Progress

    text = dumps({"s": np.float64(150.5), "n": np.int64(3), "ok": np.bool_(True), "x": float("nan"),
                  "arr": np.arange(2), "nested": {"t": (1.0, np.inf)}})
    assert json.loads(text) == {"s": 150.5, "n": 3, "ok": True, "x": None, "arr": [0, 1],
                                "nested": {"t": [1.0, None]}}
    stream = io.StringIO()
    bar = ProgressBar(stream)
    for done in range(1, 11):
        bar.handle(Progress("r", done, 10, "sweep up"))
    bar.handle(InterlockTripped("r", "count_rate", "count_rate=6e6 cps is above the rig limit"))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[###") and "1/10" in lines[0] and lines[-2].startswith("[" + "#" * 30 + "]")
    assert lines[-1] == "avalab: INTERLOCK count_rate: count_rate=6e6 cps is above the rig limit"


def test_schema_options_reach_the_experiment_unchanged() -> None:
    from acquisition.cli import build_parser
    from acquisition.commands.run import collect_params
    from acquisition.experiments import EXPERIMENTS

    args = build_parser().parse_args(["temperature_series", "--experiment", "lifetime", "--temperatures-k",
                                      "77", "90", "--params_json", '{"acquisition_s": 1}'])
    params = collect_params(args, EXPERIMENTS["temperature_series"].schema.parameters)
    assert params == {"experiment": "lifetime", "temperatures_k": "77,90", "params_json": '{"acquisition_s": 1}'}
    assert EXPERIMENTS["temperature_series"].schema.validate(params)["temperatures_k"] == [77.0, 90.0]
    args = build_parser().parse_args(["sweep", "--refine", "--temperature", "80", "--dwell-s", "0.3"])
    params = collect_params(args, EXPERIMENTS["sweep"].schema.parameters)
    assert params == {"temperature_k": "80", "refine": "true", "dwell_s": "0.3"}
