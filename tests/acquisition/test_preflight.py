"""Start-time checks (nothing moves on bad input) and calibrations tied to the optics they were
measured with: unwritable run files, densities beyond what the stored power calibration or the
control path reaches, a calibration reused after the rig file's optics changed, and pick-off
readbacks off the calibrated prediction."""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from acquisition.calibration import (CONTROL_PATH_FILENAME, CalibrationStore, PowerCalibration, config_hash,
                                     pump_path_config)
from acquisition.engine import Engine
from acquisition.storage.naming import out_path_problem
from acquisition.events import RunStatus
from acquisition.rig import Rig, load_rig
from rig_files import edited_default_rig

SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]
QUICK = {"points": 5, "dwell_s": 0.1, "settle_s": 0.1}
RANGE = re.compile(r"allowed range \[([0-9.e+-]+), ([0-9.e+-]+)\]")


def avalab(args: list[str], cwd: Path, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AVALAB_HOME=str(home))
    return subprocess.run(AVALAB + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def own_calibration_dir(shared_calibration_dir: Path, tmp_path: Path) -> Path:
    """A copy of the session calibration: tests here overwrite or tamper with it."""
    directory = tmp_path / "home"
    shutil.copytree(shared_calibration_dir, directory)
    # other tests' switch runs leave a measured control path in the shared folder; these tests
    # start from a rig whose control path has not been measured yet
    (directory / CONTROL_PATH_FILENAME).unlink(missing_ok=True)
    return directory


class MoveSpy:
    """Records every connect and stage move of a rig (so a test can say 'nothing moved')."""

    def __init__(self, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        original_connect = rig.connect_all

        def connect_all() -> None:
            self.calls.append("connect_all")
            original_connect()
        monkeypatch.setattr(rig, "connect_all", connect_all)
        for role in ("hwp", "nd_wheel", "control_attenuator"):
            stage = getattr(rig, role)
            original = stage.move_to

            def move_to(angle: float, _role: str = role, _original: Any = original, **kw: Any) -> Any:
                self.calls.append(f"{_role}.move_to")
                return _original(angle, **kw)
            monkeypatch.setattr(stage, "move_to", move_to)


def calibrated_range_kw_cm2(rig: Rig, store: CalibrationStore) -> tuple[float, float]:
    """What the stored calibration reaches at the sample, from its parts (plate extremes, wheel
    levels, laser power), independent of the code under test."""
    calibration = store.load(rig.config.name)
    assert calibration is not None
    area = math.pi * rig.config.beam.beam_radius_m ** 2
    wheel = calibration.wheel.relative_transmission
    high = calibration.laser_power_w * (calibration.plate.t_max + calibration.plate.t_min) * max(wheel)
    low = calibration.laser_power_w * calibration.plate.t_min * min(wheel)
    return low / area / 1e7, high / area / 1e7


# ---- 1c: the run file -----------------------------------------------------------------------
def test_out_path_problem_names_what_is_wrong(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert "is not a directory" in out_path_problem(a_file / "x.h5")
    assert "is not a directory" in out_path_problem(a_file / "deeper" / "x.h5")
    assert "already exists" in out_path_problem(a_file)
    assert "a directory" in out_path_problem(tmp_path)
    (tmp_path / "run.h5.journal").write_text("")
    assert "run.h5.journal already exists" in out_path_problem(tmp_path / "run.h5")
    assert out_path_problem(tmp_path / "new" / "dirs" / "run.h5") is None
    assert not (tmp_path / "new").exists()  # the check creates nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_out_path_in_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert "is not writable" in out_path_problem(locked / "run.h5")
    finally:
        locked.chmod(0o755)


def test_engine_refuses_an_unwritable_run_file_before_anything_moves(
        rig: Rig, shared_calibration_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = MoveSpy(rig, monkeypatch)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    engine = Engine(rig, CalibrationStore(shared_calibration_dir))
    with pytest.raises(ValueError, match=r"^out_path=.*a_file/x\.h5: .*a_file is not a directory; "
                                         r"allowed: a writable \.h5 path"):
        engine.start("sweep", QUICK, a_file / "x.h5")
    assert not engine.is_busy and spy.calls == []
    engine.close()


def test_cli_unwritable_out_is_one_line_exit_2_and_no_run(tmp_path: Path, shared_calibration_dir: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    done = avalab(["sweep", "--rig", "sim", "--points", "5", "--out", str(a_file / "x.h5")],
                  tmp_path, shared_calibration_dir)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"avalab: error: out={a_file / 'x.h5'}: ")
    assert "is not a directory; allowed: a writable .h5 path" in lines[0]
    assert done.stdout == "" and not (tmp_path / "runs").exists()


# ---- 1a: beyond the stored power calibration ------------------------------------------------
def test_sweep_beyond_the_calibration_is_refused_at_start_and_the_bound_holds(
        rig: Rig, own_calibration_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CalibrationStore(own_calibration_dir)
    low, high = calibrated_range_kw_cm2(rig, store)
    limit = rig.config.limits.max_power_density_w_m2 / 1e7
    assert high < limit  # otherwise the rig limit, not the calibration, would refuse first
    spy = MoveSpy(rig, monkeypatch)
    engine = Engine(rig, store)
    too_high = round(0.5 * (high + limit), 3)
    with pytest.raises(ValueError) as refused:
        engine.start("sweep", {**QUICK, "stop_kw_cm2": too_high})
    message = str(refused.value)
    assert message.startswith(f"stop_kw_cm2={too_high:g} kW/cm2 is above what the power calibration reaches; ")
    assert "recalibrate" in message and "\n" not in message
    shown_low, shown_high = (float(x) for x in RANGE.search(message).groups())
    assert high * 0.999 <= shown_high <= high and low <= shown_low <= low * 1.001
    with pytest.raises(ValueError, match=r"^start_kw_cm2=.* is below what the power calibration reaches"):
        engine.start("sweep", {**QUICK, "start_kw_cm2": low / 2, "stop_kw_cm2": 2.0})
    with pytest.raises(ValueError, match=r"^densities_kw_cm2=.* is above what the power calibration"):
        engine.start("sweep", {**QUICK, "spacing": "list", "densities_kw_cm2": [1.0, too_high]})
    with pytest.raises(ValueError, match=r"^stop_kw_cm2=.* is above what the power calibration"):
        engine.start("pulsed", {**QUICK, "stop_kw_cm2": too_high, "frequencies_hz": [100]})
    with pytest.raises(ValueError, match=r"^biases_kw_cm2=.* is above what the power calibration"):
        engine.start("switch", {"biases_kw_cm2": [2.0, too_high]})
    assert spy.calls == [] and not engine.is_busy
    # the bound shown is one that really holds: a sweep up to it runs to the end
    finished = engine.start("sweep", {**QUICK, "start_kw_cm2": shown_high / 2, "stop_kw_cm2": shown_high}).wait(600)
    engine.close()
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert finished.summary["calibrated_first"] is False


def test_cli_sweep_above_the_calibration_exits_2(tmp_path: Path, own_calibration_dir: Path) -> None:
    rig = load_rig("sim")
    _, high = calibrated_range_kw_cm2(rig, CalibrationStore(own_calibration_dir))
    stop = round(high + 0.5, 2)
    done = avalab(["sweep", "--rig", "sim", "--stop-kw-cm2", str(stop), "--out", str(tmp_path / "r.h5")],
                  tmp_path, own_calibration_dir)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"avalab: error: stop_kw_cm2={stop:g} kW/cm2 is above what the power "
                                   f"calibration reaches; {RANGE.search(done.stderr).group(0)} kW/cm2 "
                                   "(recalibrate with more laser power or a lower ND)")
    assert not (tmp_path / "r.h5").exists() and not (tmp_path / "r.h5.journal").exists()


# ---- 1b: beyond the control path ------------------------------------------------------------
def test_control_density_beyond_the_measured_control_path_is_refused_at_the_next_start(
        rig: Rig, own_calibration_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CalibrationStore(own_calibration_dir)
    engine = Engine(rig, store)
    pump_on: list[bool] = []
    set_emission = rig.pump.set_emission
    monkeypatch.setattr(rig.pump, "set_emission", lambda on: (pump_on.append(on), set_emission(on))[1])
    # first run: the control path is measured in the run and the density found out of reach,
    # before the pump is switched on
    first = engine.start("switch", {"biases_kw_cm2": [4.0], "control_density_w_cm2": 1e5}).wait(600)
    assert first.status == RunStatus.FAILED
    assert "control_density=100000 W/cm2 is outside what the control path delivers" in first.reason
    assert True not in pump_on
    reach = store.load_control_range(rig.config, 808e-9)
    assert reach is not None and reach[1] < 1e9  # W/m2; 1e5 W/cm2 = 1e9 W/m2
    spy = MoveSpy(rig, monkeypatch)
    with pytest.raises(ValueError) as refused:
        engine.start("switch", {"biases_kw_cm2": [4.0], "control_density_w_cm2": 1e5})
    message = str(refused.value)
    assert message.startswith("control_density_w_cm2=100000 W/cm2 is above what the control path delivers "
                              "at 808 nm; allowed range [")
    shown_high = float(RANGE.search(message).group(2))
    assert reach[1] / 1e4 * 0.999 <= shown_high <= reach[1] / 1e4
    assert spy.calls == []
    # another wavelength has not been measured: no start-time verdict on it
    engine.preflight("switch", engine.validate("switch", {"biases_kw_cm2": [4.0], "control_density_w_cm2": 1e5,
                                                          "control_wavelength_nm": 745.0}))
    engine.close()


def test_a_control_path_measured_with_other_optics_is_not_used(rig: Rig, tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    store.save_control_range(rig.config, 808e-9, 1e3, 1e6)
    assert store.load_control_range(rig.config, 808e-9) == (1e3, 1e6)
    other = load_rig("sim")
    other.config.sim.control_laser.fixed_od = 5.0
    assert store.load_control_range(other.config, 808e-9) is None
    assert store.load_control_range(rig.config, 745e-9) is None


# ---- 2: calibrations belong to the optics they were measured with --------------------------


def test_sweep_on_changed_optics_recalibrates_instead_of_reusing(tmp_path: Path, own_calibration_dir: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    store = CalibrationStore(own_calibration_dir)
    base = load_rig("sim")
    before = store.load(base.config.name)
    assert before is not None and before.stale_reason(base.config) is None
    turned = {"hwp_offset_deg = 12.3": "hwp_offset_deg = 30.0"}
    changed_path = edited_default_rig(tmp_path, name="turned_plate.toml", replace=turned)
    changed = load_rig(changed_path)
    assert changed.config.name == base.config.name  # same rig name: the old key would have matched
    engine = Engine(changed, store)
    with caplog.at_level(logging.WARNING):
        finished = engine.start("sweep", {**QUICK, "start_kw_cm2": 2.0, "stop_kw_cm2": 8.0}).wait(600)
    engine.close()
    changed.close_all()
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert finished.summary["calibrated_first"] is True
    assert "sim.optics.hwp_offset_deg 12.3 -> 30" in finished.summary["stale_calibration"]
    assert any("not reused" in r.getMessage() for r in caplog.records)
    # the fresh calibration is of the turned plate, and every setting landed where it should
    assert finished.summary["calibration"]["plate"]["theta0_deg"] == pytest.approx(30.0, abs=0.5)
    assert finished.summary["density_readback"]["settings_off"] == 0
    stored = store.load(base.config.name)
    assert stored.stale_reason(changed.config) is None and stored.stale_reason(base.config) is not None
    # a setting that does not touch the pump path leaves the calibration valid
    drift_only = load_rig(edited_default_rig(tmp_path, name="drift.toml", replace={
        **turned, "focus_drift_rel = 0.03": "focus_drift_rel = 0.01", "seed = 1": "seed = 7"}))
    assert stored.stale_reason(drift_only.config) is None
    pickoff = load_rig(edited_default_rig(tmp_path, name="pickoff.toml", replace={
        **turned, "pickoff_ratio = 0.1": "pickoff_ratio = 0.08"}))
    assert "beam.pickoff_ratio 0.1 -> 0.08" in stored.stale_reason(pickoff.config)


def test_cli_run_on_changed_optics_recalibrates_and_says_why(tmp_path: Path, own_calibration_dir: Path) -> None:
    rig_file = edited_default_rig(tmp_path, name="wheel.toml", replace={"nd_max_od = 4.0": "nd_max_od = 4.5"})
    done = avalab(["sweep", "--rig", str(rig_file), "--start-kw-cm2", "2", "--stop-kw-cm2", "8", "--points", "5",
                   "--dwell-s", "0.1", "--json", "--no-progress", "--out", str(tmp_path / "r.h5")],
                  tmp_path, own_calibration_dir)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["calibrated_first"] is True
    assert "sim.optics.nd_max_od 4.0 -> 4.5" in result["stale_calibration"]
    assert "not reused" in done.stderr
    saved = json.loads((own_calibration_dir / "calibrations.json").read_text())
    entry = saved[load_rig(rig_file).config.name]
    assert entry["optics_hash"] == config_hash(pump_path_config(load_rig(rig_file).config))


def test_a_calibration_without_an_optics_record_or_beyond_the_pump_is_not_reused() -> None:
    rig = load_rig("sim")
    stamped = PowerCalibration.for_rig(rig.config, 1.0, *_parts())
    assert stamped.stale_reason(rig.config, pump_max_power_w=3.0) is None
    legacy = PowerCalibration(rig.config.name, 1.0, *_parts())
    assert "does not record the optics" in legacy.stale_reason(rig.config)
    strong = PowerCalibration.for_rig(rig.config, 5.0, *_parts())
    assert "laser_power_w=5 W, above the pump's maximum 3 W" in strong.stale_reason(rig.config, 3.0)
    round_trip = PowerCalibration.from_dict(json.loads(json.dumps(stamped.to_dict())))
    assert round_trip.optics_hash == stamped.optics_hash and round_trip.stale_reason(rig.config) is None


def _parts() -> tuple[Any, Any]:
    from acquisition.calibration import MalusFit, WheelTable

    return MalusFit(8e-5, 1.6e-7, 12.3), WheelTable((250.0, 270.0), (2.0, 1.0), 270.0)


def test_readbacks_off_the_calibrated_prediction_are_warned_and_in_the_summary(
        rig: Rig, own_calibration_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = CalibrationStore(own_calibration_dir)
    engine = Engine(rig, store)
    good = engine.start("sweep", {**QUICK, "start_kw_cm2": 2.0, "stop_kw_cm2": 8.0}).wait(600)
    assert good.status == RunStatus.COMPLETE, good.reason
    readback = good.summary["density_readback"]
    assert readback["settings_checked"] == 10 and readback["settings_off"] == 0
    assert readback["max_deviation_pct"] < 10 and "warnings" not in good.summary
    # the optics record still matches, but the plate no longer transmits what was measured
    # (as after a dirty polariser): every setting delivers ~30 % less than predicted
    data = json.loads(store.path.read_text())
    entry = data[rig.config.name]
    entry["plate"]["t_max"] *= 1 / 0.7
    entry["plate"]["t_min"] *= 1 / 0.7
    store.path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        bad = engine.start("sweep", {**QUICK, "start_kw_cm2": 2.0, "stop_kw_cm2": 8.0}).wait(600)
    engine.close()
    assert bad.status == RunStatus.COMPLETE, bad.reason
    readback = bad.summary["density_readback"]
    assert readback["settings_off"] == readback["settings_checked"] == 10
    assert readback["max_deviation_pct"] == pytest.approx(30.0, abs=3.0)
    first = readback["first_off"][0]
    assert first["measured_w_m2"] / first["predicted_w_m2"] == pytest.approx(0.7, abs=0.03)
    assert any("differed from the calibrated prediction by more than 10 % at 10 of 10" in w
               for w in bad.summary["warnings"])
    assert any("calibrated prediction" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
