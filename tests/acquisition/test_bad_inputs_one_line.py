"""Every input the QA of issue 10 found crashing or silently accepted: exit 2, one
``avalab: error:`` line naming the field, the value and what is allowed, no traceback, and no
run file (nothing ran)."""
from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import pytest
import tomli_w

from acquisition.cli import main, one_line
from acquisition.rig import RoleConfig, load_rig_config, render_rig_toml


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, err: str, *fragments: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("avalab: error: "), (code, err)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def rig_file(tmp_path: Path, **roles: tuple[str, str]) -> Path:
    config = load_rig_config("sim")
    for role, (driver, address) in roles.items():
        config.roles[role] = RoleConfig(driver=driver, address=address)
    path = tmp_path / "rig.toml"
    path.write_text(render_rig_toml(config))
    return path


# ------------------------------------------------------------------------------ campaign files
@pytest.mark.parametrize("body,fragments", [
    ('name = "x"\nrig = 5\n[[step]]\nexperiment = "sweep"\n', ["line 2: rig: rig=5", "allowed"]),
    ('name = "x"\n[[step]]\nloop = { a = [1, 1] }\nexperiment = "sweep"\n',
     ["step[1].loop.a", "gives the value 1 more than once", "allowed: distinct values"]),
    ('name = "../../x"\n[[step]]\nexperiment = "sweep"\n', ["name='../../x' is not a plain file name"]),
    ('name = "/tmp/abs"\n[[step]]\nexperiment = "sweep"\n', ["name='/tmp/abs' is not a plain file name"]),
])
def test_campaign_file_errors(capsys, tmp_path: Path, body: str, fragments: list[str]) -> None:
    spec = tmp_path / "c.toml"
    spec.write_text(body)
    code, _, err = run(capsys, "campaign", str(spec), "--dry-run")
    assert_one_line(code, err, *fragments)


def test_a_campaign_file_that_is_not_utf8(capsys, tmp_path: Path) -> None:
    spec = tmp_path / "c.toml"
    spec.write_bytes(b'name = "x"\nlabel = "\xff\xfe"\n')
    code, _, err = run(capsys, "campaign", str(spec), "--dry-run")
    assert_one_line(code, err, "is not UTF-8 text (byte 0xff", "allowed: a UTF-8 encoded TOML file")


def test_a_named_campaign_never_writes_outside_its_folder(capsys, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "c.toml"
    spec.write_text('name = "../../escaped"\n[[step]]\nexperiment = "sweep"\n')
    code, _, err = run(capsys, "campaign", str(spec))
    assert_one_line(code, err, "name=")
    assert not (tmp_path.parent.parent / "escaped").exists()


# ------------------------------------------------------------------------------ parameters
def test_params_json_with_a_400_digit_integer(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "temperature_series", "--params-json", '{"points": ' + "9" * 400 + "}",
                       "--out", str(tmp_path / "t.h5"))
    assert_one_line(code, err, "params_json.points=", "is too large", "allowed range")
    assert not (tmp_path / "t.h5").exists()


def test_params_json_nested_too_deeply(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "temperature_series", "--params-json", "[" * 5000 + "]" * 5000,
                       "--out", str(tmp_path / "t.h5"))
    assert_one_line(code, err, "params_json=", "nested too deeply", "allowed: a JSON object")


@pytest.mark.parametrize("value", ["1,,2", "1,2,", ",1"])
def test_a_density_list_with_an_empty_value(capsys, tmp_path: Path, value: str) -> None:
    code, _, err = run(capsys, "sweep", "--densities-kw-cm2", value, "--out", str(tmp_path / "d.h5"))
    assert_one_line(code, err, f"densities_kw_cm2='{value}' has an empty value at position",
                    "allowed: numbers separated by commas")


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "1e10"])
def test_analyze_noise_must_be_a_finite_positive_rate(capsys, tmp_path: Path, value: str) -> None:
    code, _, err = run(capsys, "analyze", str(tmp_path / "any.h5"), f"--noise-cps={value}")
    assert_one_line(code, err, "noise_cps=", "allowed range (0, 1e+09] cps")


# ------------------------------------------------------------------------------ run files
def test_analyze_a_file_whose_streams_is_a_dataset(capsys, tmp_path: Path) -> None:
    path = tmp_path / "streams.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs.update({"format": "avalab-run", "format_version": 1, "status": "complete"})
        handle.create_dataset("streams", data=[1, 2, 3])
    code, _, err = run(capsys, "analyze", str(path))
    assert_one_line(code, err, f"run_file={path}", "/streams is not a group")


def test_analyze_a_file_with_only_a_format_attribute(capsys, tmp_path: Path) -> None:
    path = tmp_path / "format_only.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["format"] = "avalab-run"
    code, _, err = run(capsys, "analyze", str(path))
    assert_one_line(code, err, f"run_file={path}", "no format_version attribute")


# ------------------------------------------------------------------------------ rig files
@pytest.mark.parametrize("role,driver,address,fragment", [
    ("pump", "opus", "garbage", "address='garbage' is not a VISA resource string"),
    ("pump", "opus", "TCPIP::127.0.0.1::99999::SOCKET", "port 99999 is outside [1, 65535]"),
    ("hwp", "k10cr1", "socket://127.0.0.1:notaport", "port 'notaport' is not a number"),
    ("hwp", "k10cr1", "ftp://host:21", "has scheme 'ftp'"),
    ("tagger", "hydraharp", "dev0", "address='dev0' is not a device index"),
])
def test_malformed_addresses_are_refused_when_the_rig_file_loads(capsys, tmp_path: Path, role: str,
                                                                 driver: str, address: str, fragment: str) -> None:
    path = rig_file(tmp_path, **{role: (driver, address)})
    code, _, err = run(capsys, "sweep", "--rig", str(path), "--out", str(tmp_path / "r.h5"))
    assert_one_line(code, err, f"roles.{role}", fragment, "allowed")
    assert not (tmp_path / "r.h5").exists()


def test_an_unreachable_instrument_is_one_line_and_names_no_run_file(capsys, tmp_path: Path) -> None:
    path = rig_file(tmp_path, hwp=("k10cr1", "socket://127.0.0.1:1"))
    code, out, err = run(capsys, "sweep", "--rig", str(path), "--out", str(tmp_path / "r.h5"))
    assert_one_line(code, err, "roles.hwp.address='socket://127.0.0.1:1' (k10cr1): cannot connect",
                    "allowed: the address of a reachable")
    assert out == "" and not (tmp_path / "r.h5").exists()


def edited_rig_file(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    data = tomllib.loads(render_rig_toml(load_rig_config("sim")))
    edit(data)
    path = tmp_path / "rig.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def test_options_on_a_simulated_role_are_refused(capsys, tmp_path: Path) -> None:
    path = edited_rig_file(tmp_path, lambda data: data["roles"]["pump"].update(options={"timeout_s": 2.0}))
    code, _, err = run(capsys, "sweep", "--rig", str(path), "--out", str(tmp_path / "r.h5"))
    assert_one_line(code, err, "roles.pump: options=", "takes no options")


def test_an_empty_rig_name_is_refused(capsys, tmp_path: Path) -> None:
    path = edited_rig_file(tmp_path, lambda data: data["rig"].update(name="  "))
    code, _, err = run(capsys, "sweep", "--rig", str(path), "--out", str(tmp_path / "r.h5"))
    assert_one_line(code, err, "rig.name='  ' is empty", "allowed: a non-empty name")


def test_one_line_escapes_characters_that_break_or_control_a_line() -> None:
    assert one_line("key \x85 and \u2028 and \x1b[31m\nsecond line") == "key \\x85 and \\u2028 and \\x1b[31m"
