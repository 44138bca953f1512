"""Power calibration: Malus fit, persistence keyed by rig name, and the attenuator built on it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from acquisition.calibration import (CalibrationStore, MalusFit, PowerCalibration, WheelTable,
                                     fit_malus, malus)
from acquisition.engine import Engine
from drivers.attenuator import PowerAttenuator


def test_fit_malus_recovers_plate_parameters_from_noisy_data() -> None:
    rng = np.random.default_rng(3)
    angles = np.linspace(0, 90, 31)
    truth = malus(angles, 8e-5, 2e-7, 12.3)
    fit = fit_malus(angles, truth * (1 + 0.002 * rng.standard_normal(angles.size)))
    assert fit.theta0_deg == pytest.approx(12.3, abs=0.1)
    assert fit.t_max == pytest.approx(8e-5, rel=0.01)
    assert fit.angle_for(fit.highest) == pytest.approx(fit.theta0_deg)
    assert fit.transmission(fit.angle_for(3e-5)) == pytest.approx(3e-5, rel=1e-9)


def test_angle_for_stays_on_one_monotonic_branch() -> None:
    fit = MalusFit(t_max=1.0, t_min=0.001, theta0_deg=10.0)
    targets = np.geomspace(0.002, 1.0, 25)
    angles = [fit.angle_for(t) for t in targets]
    assert all(10.0 <= a <= 55.0 for a in angles)
    assert np.all(np.diff(angles) < 0)  # more transmission, closer to theta0
    with pytest.raises(ValueError, match="transmission=2 is outside"):
        fit.angle_for(2.0)


def test_store_round_trip_is_keyed_by_rig_name(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    calibration = PowerCalibration("rig A", 1.0, MalusFit(8e-5, 1e-7, 12.0),
                                   WheelTable((250.0, 270.0), (2.0, 1.0), 270.0))
    store.save(calibration)
    store.save(PowerCalibration("rig B", 0.5, MalusFit(1e-5, 1e-8, 3.0), WheelTable((0.0,), (1.0,))))
    assert store.load("rig A") == calibration
    assert store.load("rig B").laser_power_w == 0.5
    assert store.load("rig C") is None
    assert set(json.loads(store.path.read_text())) == {"rig A", "rig B"}
    store.path.write_text("{not json")
    assert store.load("rig A") is None  # unreadable file -> recalibrate, never crash


def test_calibrate_run_fits_the_bench_plate_and_stores_it(rig, tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    engine = Engine(rig, store)
    finished = engine.start("calibrate", {"plate_points": 25}).wait(600)
    engine.close()
    assert finished.status.value == "complete", finished.reason
    optics = rig.config.sim.optics
    assert finished.summary["plate_theta0_deg"] == pytest.approx(optics.hwp_offset_deg, abs=0.3)
    assert finished.summary["extinction_ratio"] == pytest.approx(optics.hwp_extinction_ratio, rel=0.2)
    assert finished.summary["max_density_kw_cm2"] <= rig.config.limits.max_power_density_w_m2 / 1e7
    stored = store.load(rig.config.name)
    assert stored is not None and stored.run_id == finished.run_id


def test_attenuator_sets_the_measured_density_within_two_percent(rig, shared_calibration_dir: Path) -> None:
    calibration = CalibrationStore(shared_calibration_dir).load(rig.config.name)
    rig.connect_all()
    attenuator = PowerAttenuator(rig.hwp, rig.nd_wheel, calibration, calibration.laser_power_w)
    attenuator.sync_from_stages()
    rig.pump.set_power(calibration.laser_power_w)
    rig.pump.set_emission(True)
    rig.pump_shutter.open()
    rig.clock.sleep(3.0)  # pump warm-up
    area = rig.config.beam.beam_area_m2
    attenuator.select_range(10e7 * area)
    for density in (1e7, 4e7, 7.5e7, 10e7):
        attenuator.set_power(density * area)
        rig.clock.sleep(0.2)
        measured = rig.config.beam.density_from_meter(rig.power_meter.read_power())
        assert measured == pytest.approx(density, rel=0.02)


def test_attenuator_never_passes_above_the_larger_setting_when_the_wheel_moves(rig, shared_calibration_dir: Path) -> None:
    calibration = CalibrationStore(shared_calibration_dir).load(rig.config.name)
    rig.connect_all()
    attenuator = PowerAttenuator(rig.hwp, rig.nd_wheel, calibration, calibration.laser_power_w)
    attenuator.sync_from_stages()
    moves: list[tuple[str, float]] = []
    for role, stage in (("plate", rig.hwp), ("wheel", rig.nd_wheel)):
        original = stage.move_to

        def recording_move(angle: float, wait: bool = True, _role=role, _original=original) -> None:
            moves.append((_role, angle))
            _original(angle, wait)
        stage.move_to = recording_move  # type: ignore[method-assign]
    area = rig.config.beam.beam_area_m2
    attenuator.select_range(3e7 * area)
    attenuator.set_power(3e7 * area)
    before = len(moves)
    attenuator.set_power(12e7 * area)  # beyond this range: the wheel has to open up
    wheel_t = calibration.wheel.transmission
    plate_t = calibration.plate.transmission
    plate, wheel = rig.hwp.get_position(), rig.nd_wheel.get_position()
    assert [m[0] for m in moves[before:]][0] in ("plate", "wheel")
    # replay the moves: the predicted power after each one never exceeds the final power
    plate_now, wheel_now = moves[before - 1][1], attenuator.calibration.wheel.reference_deg
    for role, angle in moves[:before]:
        if role == "wheel":
            wheel_now = angle
    peak = 0.0
    for role, angle in moves[before:]:
        plate_now, wheel_now = (angle, wheel_now) if role == "plate" else (plate_now, angle)
        peak = max(peak, plate_t(plate_now) * wheel_t(wheel_now))
    assert peak <= plate_t(plate) * wheel_t(wheel) * (1 + 1e-9)


def test_analyze_refits_a_stored_calibration_run_to_the_same_plate(rig, tmp_path: Path) -> None:
    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    engine = Engine(rig, CalibrationStore(tmp_path))
    finished = engine.start("calibrate", {"plate_points": 19, "save": False}, tmp_path / "cal.h5").wait(600)
    engine.close()
    assert finished.status.value == "complete" and CalibrationStore(tmp_path).load(rig.config.name) is None
    again = reanalyze(open_run(tmp_path / "cal.h5"))
    for key in ("plate_t_max", "plate_t_min", "plate_theta0_deg"):
        assert again[key] == pytest.approx(finished.summary[key], rel=1e-9)
