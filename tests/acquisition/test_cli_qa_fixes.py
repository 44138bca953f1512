"""QA findings on the CLI: unwritable --plot/--out refused up front, a plot failure after a run
is one line, --no-progress keeps interlock lines, missing rig roles, strict JSON params, implied
spacing=list, temperature messages at the rig's limits."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from acquisition.cli import main
from acquisition.storage.naming import out_path_problem, plot_path_problem
from acquisition.events import InterlockTripped, Progress, RunState, StateChanged

QUICK = ["--points", "5", "--dwell-s", "0.1", "--settle-s", "0", "--start-kw-cm2", "2", "--stop-kw-cm2", "8"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


# ---- 1, 2: paths that cannot be written -------------------------------------------------------
def test_plot_and_out_paths_that_cannot_be_written_are_named(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert "is not a directory" in plot_path_problem(a_file / "x.png")
    assert "is a directory" in plot_path_problem(tmp_path)
    assert plot_path_problem(tmp_path / "new" / "x.png") is None
    assert plot_path_problem(a_file) is None  # an existing plot is replaced
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == [a_file]  # the write probe leaves nothing behind
    if Path("/proc/self").exists():  # writable by permission bits (root), yet no file can be made
        assert "is not writable" in out_path_problem(Path("/proc/x.h5"))
        assert "is not writable" in plot_path_problem(Path("/proc/x.png"))


@pytest.mark.parametrize("command", ["sweep", "analyze"])
def test_cli_unwritable_plot_is_refused_before_anything_runs(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    plot = a_file / "x.png"
    if command == "sweep":
        argv = ["sweep", *QUICK, "--plot", str(plot)]
    else:  # the run file is checked later; the plot path already refuses
        run = tmp_path / "run.h5"
        run.write_bytes(b"")
        argv = ["analyze", str(run), "--plot", str(plot)]
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    assert err == [f"avalab: error: plot={plot}: {a_file} is not a directory; allowed: a writable .png "
                   "path (in a directory that exists or can be created)"]
    assert not (tmp_path / "runs").exists()


def test_a_plot_failing_after_the_run_is_one_line_exit_1_and_the_run_file_stays(
        tmp_path: Path, shared_calibration_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import acquisition.plotting

    def broken(run_path: Path, png_path: Path) -> Path:
        raise OSError(30, "Read-only file system")

    monkeypatch.setenv("AVALAB_HOME", str(shared_calibration_dir))
    monkeypatch.setattr(acquisition.plotting, "plot_run_file", broken)
    run, plot = tmp_path / "run.h5", tmp_path / "run.png"
    code, out, err = _run(["sweep", *QUICK, "--no-progress", "--out", str(run), "--plot", str(plot)], capsys)
    assert code == 1 and "sweep complete" in out
    assert err[-1].startswith(f"avalab: error: plot={plot}: the plot could not be written (OSError: ")
    assert err[-1].endswith(f"the run file {run} is complete")
    assert "Traceback" not in "\n".join(err)
    from acquisition.storage import open_run
    assert open_run(run).status == "complete"
    code, out, err = _run(["analyze", str(run), "--plot", str(plot)], capsys)
    assert code == 1 and "switch-on" in out
    assert len(err) == 1 and err[0].startswith(f"avalab: error: plot={plot}: the plot could not be written")


# ---- 3: --no-progress hides progress, not the interlock ---------------------------------------
def test_no_progress_still_shows_interlock_pause_and_hint() -> None:
    from acquisition.cli_output import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream, enabled=False)
    bar.resume_how = "run `kill -USR1 123`"
    bar.handle(Progress("r", 1, 10, "sweep up"))
    bar.handle(Progress("r", 0, 0, "a note"))
    bar.handle(InterlockTripped("r", "count_rate", "rate 6e+03 cps above 5e+03 cps"))
    bar.handle(StateChanged("r", RunState.PAUSED, "count rate above limit"))
    bar.handle(StateChanged("r", RunState.RUNNING, "resumed"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "avalab: INTERLOCK count_rate: rate 6e+03 cps above 5e+03 cps"
    assert lines[1] == "avalab: paused (count rate above limit)"
    assert lines[2].startswith("avalab: hint: remove the cause") and "kill -USR1 123" in lines[2]
    assert lines[3] == "avalab: running again (resumed)" and len(lines) == 4


# ---- 6: densities imply spacing=list; a contradictory spacing is refused ----------------------
def test_densities_imply_list_spacing_and_a_contradicting_spacing_is_refused() -> None:
    from acquisition.experiments import get_experiment

    for name in ("sweep", "pulsed"):
        schema = get_experiment(name).schema
        values = schema.validate({"densities_kw_cm2": "1,2,3"})
        assert values["spacing"] == "list" and values["densities_kw_cm2"] == [1.0, 2.0, 3.0]
        assert schema.validate({"densities_kw_cm2": [2.0, 4.0], "spacing": "list"})["spacing"] == "list"
        assert schema.validate({})["spacing"] == "linear"
        with pytest.raises(ValueError, match=r"^densities_kw_cm2=\[1.0, 2.0, 3.0\] cannot be used with "
                                             r"spacing=linear; allowed: spacing=list"):
            schema.validate({"densities_kw_cm2": "1,2,3", "spacing": "linear"})


def test_cli_sweep_with_densities_and_linear_spacing_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(["sweep", "--densities-kw-cm2", "1", "2", "3", "--spacing", "linear"], capsys)
    assert code == 2 and len(err) == 1 and "cannot be used with spacing=linear" in err[0]


# ---- 5: JSON parameters have JSON types -------------------------------------------------------
@pytest.mark.parametrize("inner, message", [
    ({"points": "30"}, 'params_json.points="30" is a JSON string, not a JSON integer; allowed range [2, 2000]'),
    ({"dwell_s": "0.2"}, 'params_json.dwell_s="0.2" is a JSON string, not a JSON number; allowed range [0.1, 10] s'),
    ({"refine": "true"}, 'params_json.refine="true" is a JSON string, not a JSON boolean (true or false)'),
    ({"points": True}, "params_json.points=true is not a number; allowed range [2, 2000]"),
    ({"densities_kw_cm2": [1, "2"]}, 'params_json.densities_kw_cm2=[1, "2"] is a JSON array, not a JSON '
                                     "array of numbers; allowed range [0.001, 1000] kW/cm2"),
    ({"dwell_s": "fast"}, "params_json.dwell_s=\"fast\" is not a number; allowed range [0.1, 10] s"),
])
def test_series_params_json_must_have_json_types(inner: dict[str, Any], message: str) -> None:
    import json

    from acquisition.experiments import get_experiment

    with pytest.raises(ValueError) as raised:
        get_experiment("temperature_series").validate({"params_json": json.dumps(inner)})
    assert str(raised.value) == message
    good = get_experiment("temperature_series").validate(
        {"params_json": json.dumps({"points": 30, "dwell_s": 1, "refine": True, "densities_kw_cm2": [1, 2.5]})})
    assert json.loads(good["params_json"])["points"] == 30


def test_cli_text_options_still_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from acquisition.experiments import get_experiment

    assert get_experiment("sweep").validate({"points": "30", "refine": "true"})["points"] == 30
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["temperature_series", "--params-json", '{"points": "30"}'], capsys)
    assert code == 2 and err == ['avalab: error: params_json.points="30" is a JSON string, not a JSON '
                                 "integer; allowed range [2, 2000]"]


# ---- 4: an experiment whose roles the rig lacks is refused before anything moves ---------------
def test_required_roles_follow_the_plans() -> None:
    from acquisition.engine import required_roles

    assert required_roles("sweep", {}) == ["pump", "hwp", "power_meter", "counter"]
    assert "cryostat" in required_roles("sweep", {"temperature_k": 77.0})
    assert required_roles("lifetime", {})[-2:] == ["chopper", "tagger"]
    assert {"control_laser", "control_attenuator"} <= set(required_roles("switch", {}))
    series = required_roles("temperature_series", {"experiment": "pulsed", "params_json": "{}"})
    assert series[0] == "cryostat" and "chopper" in series


def test_engine_refuses_a_rig_without_a_needed_role(shared_calibration_dir: Path) -> None:
    from acquisition.calibration import CalibrationStore
    from acquisition.engine import Engine
    from acquisition.rig import load_rig

    rig = load_rig("sim")
    rig.instruments.pop("hwp")
    engine = Engine(rig, CalibrationStore(shared_calibration_dir))
    try:
        with pytest.raises(ValueError, match=r"^rig: sweep needs roles hwp; this rig has: pump, nd_wheel, "):
            engine.start("sweep", {"points": 5})
        assert not engine.is_busy
        rig.instruments.pop("cryostat")
        with pytest.raises(ValueError, match=r"^rig: temperature_series needs roles cryostat, hwp; "):
            engine.start("temperature_series", {})
    finally:
        engine.close()
        rig.close_all()


def test_cli_rig_file_without_hwp_exits_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVALAB_HOME", str(tmp_path / "home"))
    assert main(["rig", "show"]) == 0
    full = capsys.readouterr().out
    rig_file = tmp_path / "nohwp.toml"
    rig_file.write_text(re.sub(r"\[roles\.hwp\]\n(?:(?!\[).*\n)*", "", full))
    code, out, err = _run(["sweep", "--rig", str(rig_file), *QUICK], capsys)
    assert code == 2 and out == "" and len(err) == 1
    assert err[0].startswith("avalab: error: rig: sweep needs roles hwp; this rig has: pump, nd_wheel")
    assert not (tmp_path / "runs").exists()


# ---- 7: every temperature message states the rig's range --------------------------------------
@pytest.mark.parametrize("argv, line", [
    (["sweep", "--temperature", "nan"], "temperature_k=nan K is not a temperature; allowed range [77, 300] K"),
    (["sweep", "--temperature=-5"], "temperature_k=-5 K is below the rig limit; allowed range [77, 300] K"),
    (["sweep", "--temperature", "50"], "temperature_k=50 K is below the rig limit; allowed range [77, 300] K"),
    (["sweep", "--temperature", "400"], "temperature_k=400 K is above the rig limit; allowed range [77, 300] K"),
    (["sweep", "--temperature", "abc"], "temperature_k='abc' is not a number; allowed range [77, 300] K"),
    (["temperature_series", "--temperatures-k", "nan", "80"],
     "temperatures_k=nan K is not a temperature; allowed range [77, 300] K"),
    (["temperature_series", "--temperatures-k", "80", "-5"],
     "temperatures_k=-5 K is below the rig limit; allowed range [77, 300] K"),
])
def test_temperature_errors_state_the_rig_range(argv: list[str], line: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == "" and err == [f"avalab: error: {line}"]


def test_help_states_the_temperature_range_of_the_rig_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["rig", "show"]) == 0
    text = capsys.readouterr().out.replace("min_temperature_k = 77.0", "min_temperature_k = 90.0")
    assert "min_temperature_k = 90.0" in text
    (tmp_path / "cold.toml").write_text(text)
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "--help"])
    assert exited.value.code == 0
    assert "allowed range [77, 300] K (limits of rig sim)" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["temperature_series", "--rig", "cold.toml", "-h"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "allowed range [90, 300] K (limits of rig cold.toml)" in help_text
    assert "[4, 350]" not in help_text
    code, _, err = _run(["sweep", "--rig", "cold.toml", "--temperature", "nan"], capsys)
    assert code == 2 and err == ["avalab: error: temperature_k=nan K is not a temperature; allowed range [90, 300] K"]


@pytest.mark.parametrize("value", [float("nan"), -5.0, 50.0, "abc", True])
def test_engine_and_gui_path_state_the_rigs_temperature_range_too(value: object) -> None:
    from acquisition.engine import Engine
    from acquisition.experiments import get_experiment
    from acquisition.rig import load_rig

    rig = load_rig("sim")
    engine = Engine(rig)
    try:
        with pytest.raises(ValueError) as refused:
            engine.start("sweep", {"temperature_k": value})
        assert str(refused.value).endswith("allowed range [77, 300] K"), refused.value
        errors = get_experiment("temperature_series").validate_all({"temperatures_k": [77.0, value]}, rig)
        assert len(errors) == 1 and errors[0].startswith("temperatures_k=") \
            and errors[0].endswith("allowed range [77, 300] K"), errors
    finally:
        engine.close()
