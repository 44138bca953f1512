"""Cryostat setpoints: the rig's temperature limits (refused before anything moves), a heater
range that can hold the setpoint (chosen from the cryostat model, raised at run time when the
heater saturates short of the band), and a one-line reason when a setpoint cannot be reached."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from acquisition.engine import Engine
from acquisition.events import Progress, RunStatus
from acquisition.experiments import get_experiment
from acquisition.capabilities.cryostat import TEMPERATURE_TIMEOUT_S
from drivers.interfaces import HEATER_HEADROOM, TemperatureController, heater_range_for
from acquisition.rig import RigConfigError, load_rig, rig_config_from_dict
from engine_helpers import EventRecorder

SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]


def _reach(engine: Engine, rig: Any, kelvin: float) -> tuple[Any, float]:
    """Run ``prepare`` to ``kelvin``; (RunFinished, rig-clock seconds it took)."""
    started = rig.clock.now()
    finished = engine.start("prepare", {"target_k": kelvin}).wait(600)
    return finished, rig.clock.now() - started


def test_heater_range_is_the_lowest_that_holds_the_setpoint_with_headroom() -> None:
    # the simulated ST-500: 50 J/K over 600 s to a 77 K bath, 0.5 / 5 / 50 W ranges
    conductance, scales = 50.0 / 600.0, [0.5, 5.0, 50.0]
    assert heater_range_for(77.0, 77.0, conductance, scales) == (1, 0.0)
    assert heater_range_for(80.0, 77.0, conductance, scales)[0] == 1
    assert heater_range_for(100.0, 77.0, conductance, scales)[0] == 2
    # medium tops out at 77 + 5 W / G = 137 K: 150 K (and anything near 137 K) needs high
    assert heater_range_for(150.0, 77.0, conductance, scales)[0] == 3
    assert heater_range_for(77.0 + HEATER_HEADROOM * 5.0 / conductance + 1.0, 77.0, conductance, scales)[0] == 3
    assert heater_range_for(200.0, 77.0, conductance, scales) == (3, pytest.approx(10.25))


@pytest.mark.parametrize("kelvin", [150.0, 200.0])
def test_sim_reaches_and_holds_setpoints_the_medium_range_cannot(kelvin: float) -> None:
    rig = load_rig("sim")
    engine = Engine(rig)
    try:
        finished, took_s = _reach(engine, rig, kelvin)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        assert abs(finished.summary["temperature_k"] - kelvin) <= rig.config.limits.temperature_band_k
        assert took_s < 1800.0  # minutes, not the 4 h timeout
        assert rig.cryostat.get_heater_range() == 0  # the run ended in the safe state
    finally:
        engine.close()
        rig.close_all()


def test_without_a_model_a_saturated_heater_is_raised_to_the_next_range(monkeypatch: pytest.MonkeyPatch) -> None:
    # a real Lake Shore gives no model: medium first (below 200 K), then the run sees the heater
    # pinned at 100 % with the temperature levelling off near 137 K and switches to high
    rig = load_rig("sim")
    monkeypatch.setattr(rig.cryostat, "choose_heater_range",  # as a controller that knows no model
                        lambda kelvin, tolerance_k=0.0: TemperatureController.choose_heater_range(
                            rig.cryostat, kelvin, tolerance_k))
    engine = Engine(rig)
    events = EventRecorder()
    engine.subscribe(events)
    ranges: list[int] = []
    real_set_range = rig.cryostat.set_heater_range
    monkeypatch.setattr(rig.cryostat, "set_heater_range",
                        lambda r, output=1: (ranges.append(r), real_set_range(r, output))[1])
    try:
        finished, took_s = _reach(engine, rig, 150.0)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        assert ranges[:2] == [2, 3]
        notes = [e.message for e in events.of(Progress)]
        assert any("switching to the high range" in n and "medium" in n for n in notes), notes
        assert took_s < TEMPERATURE_TIMEOUT_S / 2
    finally:
        engine.close()
        rig.close_all()


def _weak_heater_rig() -> Any:
    # the high range gives 8 W: reach 77 + 8 / (50 / 600) = 173 K
    return load_rig_from({"sim": {"cryostat": {"heater_full_scale_w": [0.5, 5.0, 8.0]}}})


def load_rig_from(data: dict[str, Any]) -> Any:
    from acquisition.rig import Rig
    return Rig(rig_config_from_dict(data, "<test>"))


def test_a_setpoint_the_heater_cannot_reach_ends_the_run_with_set_reached_and_what_to_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rig = _weak_heater_rig()
    monkeypatch.setattr(rig.cryostat, "choose_heater_range",  # no model: found at run time
                        lambda kelvin, tolerance_k=0.0: TemperatureController.choose_heater_range(
                            rig.cryostat, kelvin, tolerance_k))
    engine = Engine(rig)
    try:
        finished, took_s = _reach(engine, rig, 200.0)
        assert finished.status == RunStatus.FAILED
        reason = finished.reason
        assert "\n" not in reason
        assert "temperature_k=200 K cannot be reached" in reason
        level = float(reason.split("levels off at ~")[1].split(" K")[0])
        assert 165.0 < level < 180.0
        assert "high range at 100 %" in reason and "set a lower temperature_k" in reason
        assert took_s < 2 * 3600.0  # said as soon as the trend shows it, not after the 4 h timeout
    finally:
        engine.close()
        rig.close_all()


def test_with_the_model_an_unreachable_setpoint_fails_before_waiting() -> None:
    rig = _weak_heater_rig()
    engine = Engine(rig)
    try:
        finished, took_s = _reach(engine, rig, 200.0)
        assert finished.status == RunStatus.FAILED
        assert "temperature_k=200 K cannot be reached: holding it needs ~10.2 W" in finished.reason
        assert "reach ~173 K" in finished.reason
        assert took_s < 1.0
    finally:
        engine.close()
        rig.close_all()


@pytest.mark.parametrize(("kelvin", "message"), [
    (50.0, "temperature_k=50 K is below the rig limit; allowed range [77, 300] K"),
    (320.0, "temperature_k=320 K is above the rig limit; allowed range [77, 300] K"),
])
def test_setpoint_outside_the_rig_limits_is_refused_before_anything_moves(kelvin: float, message: str) -> None:
    rig = load_rig("sim")
    engine = Engine(rig)
    model = rig.bench.cryostat  # the simulated controller refuses calls before connect: read the bench
    setpoint_before = model.setpoint_k
    try:
        with pytest.raises(ValueError) as excinfo:
            engine.start("sweep", {"temperature_k": kelvin})
        assert str(excinfo.value) == message
        assert get_experiment("sweep").validate_all({"temperature_k": kelvin}, rig) == [message]
        assert not engine.is_busy
        assert model.setpoint_k == setpoint_before and model.heater_range == 0
    finally:
        engine.close()
        rig.close_all()


def test_series_and_prepare_setpoints_are_checked_against_the_rig_limits() -> None:
    rig = load_rig("sim")
    try:
        with pytest.raises(ValueError, match=r"^temperatures_k=60 K is below the rig limit; allowed range \[77, 300\] K$"):
            get_experiment("temperature_series").validate({"temperatures_k": [77.0, 60.0]}, rig)
        with pytest.raises(ValueError, match=r"^target_k=301 K is above the rig limit"):
            get_experiment("prepare").validate({"target_k": 301.0}, rig)
        get_experiment("temperature_series").validate({"temperatures_k": [77.0, 150.0, 200.0, 300.0]}, rig)
    finally:
        rig.close_all()


def test_cli_refuses_a_setpoint_below_the_bath_with_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(AVALAB + ["sweep", "--rig", "sim", "--temperature", "50"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "avalab: error: temperature_k=50 K is below the rig limit; allowed range [77, 300] K")
    assert not list(tmp_path.iterdir())  # no run file: nothing was connected


def test_rig_file_temperature_limits_are_validated() -> None:
    config = rig_config_from_dict({"limits": {"min_temperature_k": 80.0, "max_temperature_k": 250.0}})
    assert (config.limits.min_temperature_k, config.limits.max_temperature_k) == (80.0, 250.0)
    with pytest.raises(RigConfigError, match=r"limits.min_temperature_k=200 K must be below max_temperature_k=150 K"):
        rig_config_from_dict({"limits": {"min_temperature_k": 200.0, "max_temperature_k": 150.0}}, "r.toml")
    # the simulated cryostat never goes below its bath, whatever the limit says
    sim = rig_config_from_dict({"limits": {"min_temperature_k": 4.0}}, "r.toml")
    assert sim.temperature_range_k == (77.0, 300.0)
    warm_bath = rig_config_from_dict({"sim": {"cryostat": {"bath_temperature_k": 90.0}}}, "r.toml")
    assert warm_bath.temperature_range_k == (90.0, 300.0)
    # a real cryostat (LHe, say) may go lower
    real = rig_config_from_dict({"roles": {"cryostat": {"driver": "lakeshore335", "address": "COM3"}},
                                 "limits": {"min_temperature_k": 4.0}})
    assert real.temperature_range_k == (4.0, 300.0)


def test_the_temperature_series_example_goes_to_200_k_within_the_sim_rig_limits() -> None:
    import tomllib
    example = Path(__file__).resolve().parents[2] / "examples" / "temperature_series.toml"
    setpoints = tomllib.loads(example.read_text())["step"][0]["loop"]["T"]
    assert max(setpoints) >= 200.0
    rig = load_rig("sim")
    try:
        get_experiment("temperature_series").validate({"temperatures_k": setpoints}, rig)
    finally:
        rig.close_all()


def test_a_run_without_a_temperature_on_a_free_running_cryostat_has_no_band(
        shared_calibration_dir: Path) -> None:
    from acquisition.calibration import CalibrationStore
    from acquisition.events import InterlockTripped

    rig = load_rig("sim")
    rig.connect_all()
    # what a temperature series leaves behind: warm, then the heater off by the safe state
    rig.cryostat.set_setpoint(120.0)
    rig.cryostat.set_heater_range(3)
    rig.clock.sleep(900.0)
    rig.cryostat.set_heater_range(0)
    warm = rig.cryostat.get_temperature()
    assert warm > 100.0
    engine = Engine(rig, CalibrationStore(shared_calibration_dir))
    trips: list[object] = []
    engine.subscribe(lambda event: trips.append(event) if isinstance(event, InterlockTripped) else None)
    try:
        finished = engine.start("sweep", {"points": 5, "dwell_s": 0.1, "settle_s": 0.0}).wait(600)
    finally:
        engine.close()
        rig.close_all()
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert trips == []  # cooling towards the bath is not "out of band"
