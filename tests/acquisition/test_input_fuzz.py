"""Fuzz the three ways input reaches avalab (command-line values, rig files, campaign files):
whatever comes in, the answer is exit 2 with one ``avalab: error:`` line per problem and never a
traceback, or the input is valid. Everything runs in this process through ``acquisition.cli.main``;
a run that passes every check is stopped where it would connect the instruments (nothing here
ever moves an instrument), so every example takes milliseconds."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acquisition import cli
from acquisition.experiments import EXPERIMENTS
from acquisition.rig import default_rig_toml

RUN_COMMANDS = ("sweep", "pulsed", "switch", "lifetime", "calibrate", "temperature_series")
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class WouldRun(Exception):
    """Every check passed: the command would connect the instruments now."""


@pytest.fixture(autouse=True)
def stop_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(rig: Any) -> None:
        raise WouldRun()

    from acquisition.campaigns import cli as campaign_cli  # noqa: F401 - imported for its name
    from acquisition.commands import run as run_command

    monkeypatch.setattr(run_command, "connect_checked", refuse)
    monkeypatch.setattr(cli, "connect_checked", refuse)


def invoke(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int | None, str]:
    """(exit code, stderr); None when every check passed (the run would start)."""
    try:
        code: int | None = cli.main(argv)
    except WouldRun:
        code = None
    except SystemExit as exit_:  # argparse's own errors (OneLineParser)
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_errors(code: int | None, err: str, argv: list[str]) -> None:
    assert "Traceback" not in err, f"{argv}: {err}"
    if code is None:
        return  # valid input: it got as far as connecting
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"{argv}: exit {code}: {err}"
    assert lines and all(line.startswith("avalab: error: ") for line in lines), f"{argv}: {err!r}"


# ------------------------------------------------------------------------------ values
WEIRD_TEXT = st.one_of(
    st.sampled_from(["", " ", "1,,2", ",", "inf", "-inf", "nan", "1e999", "-0", "0x10", "1_000",
                     "9" * 400, "[1]", "{}", "true", "None", "1;2", "é", "\x00", "-1", "1e-400"]),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**30, 10**30).map(str))


@FUZZ
@given(data=st.data())
def test_command_line_values(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: Any) -> None:
    command = data.draw(st.sampled_from(RUN_COMMANDS))
    parameters = [p for p in EXPERIMENTS[command].schema.parameters if p.name != "temperature_k"]
    chosen = data.draw(st.lists(st.sampled_from(parameters), min_size=1, max_size=3, unique_by=lambda p: p.name))
    argv = [command, "--no-progress", "--out", str(tmp_path / f"{len(list(tmp_path.iterdir()))}.h5")]
    for parameter in chosen:
        option = "--" + parameter.name.replace("_", "-")
        if parameter.kind == "bool":
            argv.append(f"{option}={data.draw(WEIRD_TEXT)}")
        elif parameter.kind == "float_list":
            argv += [option, *data.draw(st.lists(WEIRD_TEXT.filter(lambda t: not t.startswith("-")),
                                                 min_size=1, max_size=3))]
        else:
            argv.append(f"{option}={data.draw(WEIRD_TEXT)}")
    if data.draw(st.booleans()):
        argv.append(f"--temperature={data.draw(WEIRD_TEXT)}")
    code, err = invoke(capsys, argv)
    assert_one_line_errors(code, err, argv)


@FUZZ
@given(noise=WEIRD_TEXT)
def test_analyze_noise_values(capsys: pytest.CaptureFixture[str], tmp_path: Path, noise: str) -> None:
    argv = ["analyze", str(tmp_path / "missing.h5"), f"--noise-cps={noise}"]
    code, err = invoke(capsys, argv)
    assert code == 2
    assert_one_line_errors(code, err, argv)


# ------------------------------------------------------------------------------ rig files
DEFAULT_RIG = tomllib.loads(default_rig_toml())


def _paths(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in table.items():
        paths += _paths(value, prefix + (key,)) if isinstance(value, dict) else [prefix + (key,)]
    return paths


RIG_PATHS = _paths(DEFAULT_RIG)
TOML_VALUES = st.one_of(
    st.integers(-10**30, 10**30), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=16), st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=4), st.integers(-3, 3), max_size=2),
    st.sampled_from(["", "sim", "emulator", "garbage", "TCPIP::::5::SOCKET", "socket://h:0",
                     "socket://h:x", "ASRL/dev/ttyUSB0::INSTR", "opus", "k10cr1", "Nd:KPb2Cl5"]))


@FUZZ
@given(data=st.data())
def test_rig_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: Any) -> None:
    rig = json.loads(json.dumps(DEFAULT_RIG))  # a deep copy
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(RIG_PATHS))
        table = rig
        for key in path[:-1]:
            table = table.setdefault(key, {}) if isinstance(table, dict) else {}
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "unknown"]))
        if action == "replace":
            table[path[-1]] = data.draw(TOML_VALUES)
        elif action == "delete":
            table.pop(path[-1], None)
        else:
            table[data.draw(st.text(min_size=1, max_size=8))] = data.draw(TOML_VALUES)
    rig_file = tmp_path / f"rig{len(list(tmp_path.iterdir()))}.toml"
    rig_file.write_text(tomli_w.dumps(rig), encoding="utf-8")
    argv = ["sweep", "--rig", str(rig_file), "--points", "3", "--no-progress",
            "--out", str(tmp_path / f"run{len(list(tmp_path.iterdir()))}.h5")]
    code, err = invoke(capsys, argv)
    assert_one_line_errors(code, err, argv)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_rig_files_that_are_not_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path, raw: bytes) -> None:
    rig_file = tmp_path / "raw.toml"
    rig_file.write_bytes(raw)
    argv = ["sweep", "--rig", str(rig_file), "--no-progress", "--out", str(tmp_path / "x.h5")]
    code, err = invoke(capsys, argv)
    assert_one_line_errors(code, err, argv)


# ------------------------------------------------------------------------------ campaign files
STEP_VALUES = {
    "experiment": st.sampled_from(["sweep", "lifetime", "nope", "", "temperature_series"]),
    "params": st.one_of(TOML_VALUES, st.fixed_dictionaries({}, optional={
        "points": TOML_VALUES, "dwell_s": TOML_VALUES, "start_kw_cm2": TOML_VALUES,
        "params_json": st.one_of(TOML_VALUES, st.just("[" * 3000 + "]" * 3000),
                                 st.just('{"points": ' + "9" * 400 + "}")),
        "experiment": TOML_VALUES})),
    "loop": st.one_of(TOML_VALUES, st.dictionaries(st.sampled_from(["a", "b", "spot"]), st.one_of(
        TOML_VALUES, st.sampled_from(["${range(3)}", "${range(10**9)}", "${1/0}", "${range('x')}",
                                      "${linspace(0, 1, 3)}"])), max_size=2)),
    "repeat": TOML_VALUES, "temperature_k": TOML_VALUES, "ramp_k_per_min": TOML_VALUES,
    "position_um": TOML_VALUES, "wait_s": TOML_VALUES, "label": TOML_VALUES,
}


@FUZZ
@given(data=st.data())
def test_campaign_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: Any) -> None:
    campaign: dict[str, Any] = {"name": data.draw(st.one_of(st.just("fuzz"), TOML_VALUES))}
    if data.draw(st.booleans()):
        campaign["rig"] = data.draw(st.one_of(st.just("sim"), TOML_VALUES))
    if data.draw(st.booleans()):
        campaign["vars"] = data.draw(st.one_of(TOML_VALUES, st.dictionaries(
            st.sampled_from(["n", "a", "pitch"]), TOML_VALUES, max_size=2)))
    steps = []
    for _ in range(data.draw(st.integers(0, 2))):
        step = data.draw(st.fixed_dictionaries({}, optional=STEP_VALUES))
        steps.append(step)
    campaign["step"] = steps if steps else data.draw(st.one_of(st.just([]), TOML_VALUES))
    if data.draw(st.booleans()):
        campaign[data.draw(st.text(min_size=1, max_size=6))] = data.draw(TOML_VALUES)
    try:
        text = tomli_w.dumps(campaign)
    except (TypeError, ValueError):
        return  # not representable as TOML (e.g. a list of tables mixed with values)
    spec = tmp_path / f"campaign{len(list(tmp_path.iterdir()))}.toml"
    spec.write_text(text, encoding="utf-8")
    argv = ["campaign", str(spec), "--dry-run", "--out", str(tmp_path / "out")]
    code, err = invoke(capsys, argv)
    if code == 0:
        return  # a valid campaign: its dry run printed the plan
    assert_one_line_errors(code, err, argv)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_campaign_files_that_are_not_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path, raw: bytes) -> None:
    spec = tmp_path / "raw.toml"
    spec.write_bytes(raw)
    argv = ["campaign", str(spec), "--dry-run", "--out", str(tmp_path / "out")]
    code, err = invoke(capsys, argv)
    assert_one_line_errors(code, err, argv)
