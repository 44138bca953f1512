"""Temperature series and lifetime are refused up front: bad inner parameters (``params_json``)
name their field as ``params_json.<field>`` with the value and the allowed range, and densities
beyond the stored power calibration are refused at start (engine and CLI, exit 2), before any
instrument moves."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine, preflight_run
from acquisition.experiments import get_experiment
from acquisition.rig import Rig
from test_preflight import MoveSpy, avalab, calibrated_range_kw_cm2, own_calibration_dir  # noqa: F401

SERIES = get_experiment("temperature_series")


def series(inner: str, params: dict[str, object], temperatures: list[float] | None = None) -> dict[str, object]:
    return {"experiment": inner, "temperatures_k": temperatures or [77.0, 100.0], "params_json": json.dumps(params)}


# ---- bad inner parameters -----------------------------------------------------------------------
@pytest.mark.parametrize(("inner", "params", "message"), [
    ("sweep", {"dwell_s": -1}, "params_json.dwell_s=-1 s is outside the allowed range [0.1, 10] s"),
    ("sweep", {"dwell_s": "x"}, 'params_json.dwell_s="x" is not a number; allowed range [0.1, 10] s'),
    ("sweep", {"points": 1}, "params_json.points=1 is outside the allowed range [2, 2000]"),
    ("lifetime", {"frequency_hz": 5}, "params_json.frequency_hz=5 Hz is outside the allowed range"),
    ("sweep", {"start_kw_cm2": 8, "stop_kw_cm2": 5},
     "params_json.stop_kw_cm2=5 must be above start_kw_cm2=8; allowed range (8, 1000] kW/cm2"),
    ("sweep", {"temperature_k": 80},
     "params_json.temperature_k=80 is not allowed; allowed: setpoints go in temperatures_k"),
])
def test_bad_inner_params_name_params_json_field_value_and_range(inner: str, params: dict[str, object],
                                                                  message: str) -> None:
    with pytest.raises(ValueError) as caught:
        SERIES.validate(series(inner, params))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    # the GUI form's list of every problem says the same
    assert SERIES.validate_all(series(inner, params))[0].startswith(message)


def test_an_unknown_inner_key_lists_the_keys_the_inner_experiment_takes() -> None:
    with pytest.raises(ValueError) as caught:
        SERIES.validate(series("sweep", {"dwel_s": 0.2}))
    message = str(caught.value)
    assert message.startswith("params_json.dwel_s=0.2 is not a parameter of sweep; allowed keys: spacing, ")
    assert "dwell_s" in message and "temperature_k" not in message  # the series sets the temperature


def test_inner_params_beyond_the_rig_limit_are_named_with_params_json(rig: Rig) -> None:
    limit = rig.config.limits.max_power_density_w_m2 / 1e7
    with pytest.raises(ValueError, match=rf"^params_json\.stop_kw_cm2=20 kW/cm2 is above the rig limit; "
                                         rf"allowed range \(0, 14\.85\] kW/cm2 \(the limit {limit:g} kW/cm2 "
                                         r"less the power meter's 1 % uncertainty\)$"):
        SERIES.validate(series("sweep", {"stop_kw_cm2": 20}), rig)


def test_good_inner_params_still_pass() -> None:
    values = SERIES.validate(series("sweep", {"dwell_s": 0.2, "points": 7}))
    assert json.loads(values["params_json"]) == {"dwell_s": 0.2, "points": 7}


def test_cli_bad_inner_param_is_one_line_exit_2_and_no_run(tmp_path: Path, own_calibration_dir: Path) -> None:
    done = avalab(["temperature_series", "--experiment", "sweep", "--params-json", '{"dwell_s": -1}',
                   "--out", str(tmp_path / "run.h5")], tmp_path, own_calibration_dir)
    assert done.returncode == 2, done.stderr
    assert done.stderr == ("avalab: error: params_json.dwell_s=-1 s is outside the allowed range "
                           "[0.1, 10] s\n")
    assert done.stdout == "" and not (tmp_path / "run.h5").exists()


# ---- densities beyond the stored power calibration -------------------------------------------------
def _beyond(rig: Rig, store: CalibrationStore) -> float:
    """A density above what the calibration reaches but within the rig limit (so only the
    calibration can refuse it)."""
    _low, high = calibrated_range_kw_cm2(rig, store)
    limit = rig.config.limits.max_power_density_w_m2 / 1e7
    assert high < limit
    return round(0.5 * (high + limit), 3)


@pytest.mark.parametrize(("inner", "field"), [("sweep", "stop_kw_cm2"), ("pulsed", "stop_kw_cm2"),
                                              ("switch", "biases_kw_cm2"), ("lifetime", "density_kw_cm2")])
def test_series_runs_the_inner_preflight_at_start_before_anything_moves(
        rig: Rig, own_calibration_dir: Path, monkeypatch: pytest.MonkeyPatch, inner: str, field: str) -> None:
    store = CalibrationStore(own_calibration_dir)
    too_high = _beyond(rig, store)
    _low, high = calibrated_range_kw_cm2(rig, store)
    value: object = [3.0, too_high] if field == "biases_kw_cm2" else too_high
    spy = MoveSpy(rig, monkeypatch)
    engine = Engine(rig, store)
    try:
        with pytest.raises(ValueError) as caught:
            engine.start("temperature_series", series(inner, {field: value}))
        assert not engine.is_busy
    finally:
        engine.close()
    message = str(caught.value)
    assert message.startswith(f"params_json.{field}={too_high:g} kW/cm2 is above what the power calibration "
                              "reaches; allowed range [")
    assert spy.calls == []
    # the upper bound shown is one the calibration really reaches
    shown_high = float(message.split("allowed range [")[1].split("]")[0].split(", ")[1])
    assert shown_high <= high and shown_high > 0.99 * high
    # inside the calibration: no refusal
    ok: object = [3.0, 0.9 * high] if field == "biases_kw_cm2" else 0.9 * high
    preflight_run(rig, store, "temperature_series", SERIES.validate(series(inner, {field: ok})))


def test_lifetime_density_beyond_the_calibration_is_refused_at_start(
        rig: Rig, own_calibration_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CalibrationStore(own_calibration_dir)
    too_high = _beyond(rig, store)
    low, high = calibrated_range_kw_cm2(rig, store)
    spy = MoveSpy(rig, monkeypatch)
    engine = Engine(rig, store)
    try:
        with pytest.raises(ValueError, match=rf"^density_kw_cm2={too_high:g} kW/cm2 is above what the power "
                                             r"calibration reaches; allowed range \["):
            engine.start("lifetime", {"density_kw_cm2": too_high})
        with pytest.raises(ValueError, match=r"^density_kw_cm2=0\.002 kW/cm2 is below what the power "
                                             r"calibration reaches"):
            engine.start("lifetime", {"density_kw_cm2": 0.002})
        assert low > 0.002
    finally:
        engine.close()
    assert spy.calls == []
    preflight_run(rig, store, "lifetime", get_experiment("lifetime").validate({"density_kw_cm2": 0.9 * high}))


def test_lifetime_without_a_stored_calibration_is_not_refused(rig: Rig, tmp_path: Path) -> None:
    """No calibration yet: the run calibrates first and checks then, so start does not refuse."""
    preflight_run(rig, CalibrationStore(tmp_path), "lifetime",
                  get_experiment("lifetime").validate({"density_kw_cm2": 14.0}))


def test_cli_series_beyond_the_calibration_exits_2_before_any_run(tmp_path: Path,
                                                                   own_calibration_dir: Path) -> None:
    done = avalab(["temperature_series", "--experiment", "sweep", "--params-json", '{"stop_kw_cm2": 14}',
                   "--out", str(tmp_path / "run.h5")], tmp_path, own_calibration_dir)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "avalab: error: params_json.stop_kw_cm2=14 kW/cm2 is above what the power calibration reaches; "
        "allowed range [")
    assert lines[0].endswith("kW/cm2 (recalibrate with more laser power or a lower ND)")
    assert done.stdout == "" and not (tmp_path / "run.h5").exists()
    done = avalab(["lifetime", "--density-kw-cm2", "14", "--out", str(tmp_path / "life.h5")],
                  tmp_path, own_calibration_dir)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("avalab: error: density_kw_cm2=14 kW/cm2 is above what the power calibration")
    assert not (tmp_path / "life.h5").exists()
