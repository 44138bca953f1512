"""The sample stage in a rig: the real KDC101 driver on two emulated controllers (a mixed rig),
the simulated stage moving the film under the focus, limits refused before anything moves."""
from __future__ import annotations

from pathlib import Path

import pytest

from acquisition.rig import RigConfigError, load_rig
from drivers.thorlabs_apt import protocol as p
from drivers.thorlabs_apt.xy_stage import KDC101XYStage
from sim_backends.devices.xy_stage import SimXYStage
from rig_files import SWEEP_ROLES, simulated_roles_toml


STAGE_TABLE = """
[roles.xy_stage]
driver = "{driver}"
{address}
options = {{ x_range_mm = [10, 15], y_range_mm = [11, 14] }}
"""


def rig_file(tmp_path: Path, driver: str, address: str = "") -> Path:
    path = tmp_path / f"{driver}.toml"
    path.write_text(simulated_roles_toml(SWEEP_ROLES, STAGE_TABLE.format(driver=driver, address=address)))
    return path


def test_mixed_rig_real_driver_moves_the_emulated_stage_and_the_film_under_the_focus(tmp_path: Path) -> None:
    rig = load_rig(rig_file(tmp_path, "kdc101_z8_xy", 'address = "emulator"'))
    try:
        stage = rig.xy_stage
        assert isinstance(stage, KDC101XYStage)
        rig.connect_all()
        assert "KDC101 serial 27000010" in stage.identify()
        reference = rig.config.sim.xy_stage.reference_m
        assert stage.get_position() == pytest.approx(tuple(reference), abs=1e-7)
        stage.move_to(12.6e-3, 12.3e-3)
        x, y = stage.get_position()
        assert (x, y) == pytest.approx((12.6e-3, 12.3e-3), abs=1e-7)
        # the sample moved +0.1, -0.2 mm: the focus is -0.1, +0.2 mm further on the film
        focus = rig.bench.focus_at(rig.clock.now())
        start_x, start_y = rig.config.sample.film_position_m
        assert focus == pytest.approx((start_x - 0.1e-3, start_y + 0.2e-3), abs=1e-7)
        rig.counter.count(0.01)  # a detector reading advances the sample: the new spot is in place
        assert rig.bench.spot.focus_m == pytest.approx(focus, abs=1e-9)
        rig.safe_state_all()
        assert not stage.is_moving()
    finally:
        rig.close_all()
        rig.stop_emulators()


def test_mixed_rig_refuses_a_point_outside_the_limits_before_any_byte(tmp_path: Path) -> None:
    rig = load_rig(rig_file(tmp_path, "kdc101_z8_xy", 'address = "emulator"'))
    try:
        rig.connect_all()
        # (the bytes: test_apt_xy_stage.py checks that a refused move writes none)
        with pytest.raises(ValueError, match=r"^xy_stage\.y_mm=15 mm is outside the stage limits; "
                                             r"allowed range \[11, 14\] mm$"):
            rig.xy_stage.move_to(12e-3, 15e-3)
        with pytest.raises(ValueError, match="xy_stage.home: homing drives the stage to"):
            rig.xy_stage.home()
        assert not rig.xy_stage.is_moving()
        assert rig.xy_stage.get_position() == pytest.approx((12.5e-3, 12.5e-3), abs=1e-7)
    finally:
        rig.close_all()
        rig.stop_emulators()


def test_simulated_stage_takes_the_same_options_and_moves_the_film(tmp_path: Path) -> None:
    rig = load_rig(rig_file(tmp_path, "sim"))
    rig.connect_all()
    stage = rig.xy_stage
    assert isinstance(stage, SimXYStage)
    assert stage.limits.x_range_m == pytest.approx((10e-3, 15e-3))
    before = list(rig.bench.spot._spot.keys)
    stage.move_to(12.5e-3 + 5e-6, 12.5e-3)
    after = list(rig.bench.spot._spot.keys)
    assert not set(before) & set(after)  # 5 um away: other particles
    stage.move_to(12.5e-3, 12.5e-3)
    assert list(rig.bench.spot._spot.keys) == before  # back: the same particles
    with pytest.raises(ValueError, match=r"xy_stage\.x_mm=9 mm is outside the stage limits"):
        stage.move_to(9e-3, 12e-3)
    rig.close_all()


def test_a_bad_stage_option_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[roles.xy_stage]\ndriver = "sim"\noptions = { x_range_mm = [0, 40] }\n')
    with pytest.raises(RigConfigError, match=r"bad\.toml: roles\.xy_stage: xy_stage\.x_range_mm\[1\]=40 mm "
                                             r"is outside the allowed range \[0, 25\] mm"):
        load_rig(path)


def test_emulated_stage_reports_the_z825b_to_a_host() -> None:
    from sim_backends.emulators.apt import AptEmulator

    rig = load_rig("sim")
    axis = rig.xy_stage.axes["x"]
    emulator = AptEmulator(axis, "Z825B", 27000010)
    [info] = [p.decode(f) for f in p.FrameParser().feed(emulator.feed(p.HwReqInfo().encode()))]
    assert (info.model, info.stage_id) == ("KDC101", 9)


def test_a_map_runs_end_to_end_through_the_real_driver_and_the_emulated_stage(tmp_path: Path) -> None:
    from acquisition.calibration import CalibrationStore
    from acquisition.engine import Engine
    from acquisition.events import RunStatus
    from acquisition.storage import open_run

    rig = load_rig(rig_file(tmp_path, "kdc101_z8_xy", 'address = "emulator"'))
    engine = Engine(rig, CalibrationStore(tmp_path / "calibration"))
    try:
        finished = engine.start("map", {"x_mm": [12.5, 12.504], "y_mm": [12.5, 12.502], "step_um": 2.0,
                                        "dwell_s": 0.05, "settle_s": 0.05},
                                out_path=tmp_path / "map.h5").wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        assert finished.summary["points"] == 6
        assert "KDC101 serial 27000010" in rig.xy_stage.identify()
    finally:
        engine.close()
        rig.close_all()
        rig.stop_emulators()
    stored = open_run(tmp_path / "map.h5").streams["map"]
    assert sorted({round(x * 1e6) for x in stored["x_m"]}) == [12500, 12502, 12504]


def test_particles_the_focus_leaves_out_of_the_beam_go_dark_near_ones_keep_their_state() -> None:
    """Out of the pump beam a particle loses its bright state within milliseconds: back at a spot
    after another one far away, its particles are dark; a step smaller than the spot keeps them."""
    rig = load_rig("sim")
    try:
        rig.connect_all()
        bench = rig.bench
        rig.pump.set_emission(True)
        rig.pump.set_power(rig.pump.max_power)
        rig.pump_shutter.open()
        rig.clock.sleep(120.0)  # warm-up, then far above every switch-on: the spot is bright
        rig.counter.count(0.01)  # a reading brings the sample up to now
        spot_a = list(bench.spot._spot.particles)
        assert spot_a and all(p.is_bright for p in spot_a)
        rig.xy_stage.move_to(12.5e-3 + 0.1e-6, 12.5e-3)  # 0.1 um: the same particles, still pumped
        rig.counter.count(0.01)
        assert any(p in bench.spot._spot.particles for p in spot_a)
        assert all(p.is_bright for p in spot_a)
        rig.pump_shutter.close_shutter()  # nothing new switches on on the way back
        rig.xy_stage.move_to(12.52e-3, 12.5e-3)  # 20 um: out of the beam
        rig.counter.count(0.01)
        assert not any(p.is_bright for p in spot_a)
        rig.xy_stage.move_to(12.5e-3, 12.5e-3)
        rig.counter.count(0.01)
        assert list(bench.spot._spot.particles) == spot_a and not any(p.is_bright for p in spot_a)
    finally:
        rig.close_all()
