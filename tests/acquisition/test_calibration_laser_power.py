"""Calibration chooses its laser power so that the plate scan stays below the rig's density limit.

The plate scan runs at the ND wheel's dense end; with a less dense wheel (``nd_max_od = 3.5``
instead of 4) the default 1 W would put ~21 kW/cm2 on the sample, above the 15 kW/cm2 limit. The
calibration probes the plate at low power first, lowers the laser power, records it, and the
runs that use the calibration set their densities right at that power.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.events import PointTaken, Progress, RunStatus
from acquisition.experiments.calibrate import DENSITY_MARGIN, PROBE_FRACTION
from acquisition.rig import load_rig
from engine_helpers import EventRecorder
from rig_files import edited_default_rig

SWEEP = {"start_kw_cm2": 1.0, "stop_kw_cm2": 10.0, "points": 13, "dwell_s": 0.1, "settle_s": 0.2,
         "temperature_k": 77.0}


class DensityWatch:
    """Every pick-off reading as a density, and the bench's true density at the sample sampled at
    every reading, every stage poll and every APD count (so also in the middle of moves)."""

    def __init__(self, rig: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rig = rig
        self.area = rig.config.beam.beam_radius_m ** 2 * 3.141592653589793
        self.readings: list[float] = []
        self.truth: list[float] = []
        real_read = rig.power_meter.read_power

        def read_power() -> float:
            value = float(real_read())
            self.readings.append(value / rig.config.beam.pickoff_ratio / self.area)
            self._sample()
            return value
        monkeypatch.setattr(rig.power_meter, "read_power", read_power)
        for stage in (rig.hwp, rig.nd_wheel):
            monkeypatch.setattr(stage, "is_moving", self._sampling(stage.is_moving))
        monkeypatch.setattr(rig.counter, "count", self._sampling(rig.counter.count))

    def _sampling(self, method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._sample()
            return method(*args, **kwargs)
        return wrapper

    def _sample(self) -> None:
        bench = self.rig.bench
        with bench.lock:
            power_w = bench.pump_power_into_objective(self.rig.clock.now())
        self.truth.append(power_w / self.area)


@pytest.mark.parametrize("nd_max_od, lowest_w, highest_w, fine_probe", [
    (3.5, 0.55, 0.70, True),     # ~21 kW/cm2 at 1 W: about 0.63 W
    (1.0, 0.0015, 0.0021, False),  # ~6500 kW/cm2 at 1 W: ~2 mW; the 10 mW probe would pass the limit
])
def test_calibration_lowers_the_laser_power_below_the_limit_and_a_sweep_then_hits_its_densities(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nd_max_od: float, lowest_w: float,
        highest_w: float, fine_probe: bool) -> None:
    rig = load_rig(edited_default_rig(tmp_path, {"nd_max_od = 4.0": f"nd_max_od = {nd_max_od}"}))
    store = CalibrationStore(tmp_path / "calibrations")
    engine = Engine(rig, store)
    events = EventRecorder()
    engine.subscribe(events)
    watch = DensityWatch(rig, monkeypatch)
    limit = rig.config.limits.max_power_density_w_m2
    try:
        finished = engine.start("calibrate", {}).wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        summary = finished.summary
        chosen = summary["laser_power_w"]
        assert summary["requested_laser_power_w"] == 1.0 and summary["laser_power_lowered"] is True
        assert lowest_w <= chosen <= highest_w
        # the stored calibration and every plate point record the power the scan was made at
        assert store.load(rig.config.name).laser_power_w == chosen
        points = [e.data for e in events.of(PointTaken) if e.stream == "calibration"]
        assert {p["laser_power_w"] for p in points if p["stage"] in ("plate", "wheel")} == {chosen}
        probes = sorted({p["laser_power_w"] for p in points if p["stage"] == "probe"})
        assert probes == ([0.001, PROBE_FRACTION] if fine_probe else [0.001])
        notes = [e.message for e in events.of(Progress)]
        assert any(f"laser_power_w lowered from 1 W to {chosen:.3g} W" in n for n in notes), notes
        # never above the limit: neither on the pick-off nor at the sample, also during moves
        assert watch.readings and max(watch.readings) <= limit
        assert len(watch.truth) > len(watch.readings) and max(watch.truth) <= limit
        # ... and not lowered more than needed: the scan's top is near the margin
        assert max(watch.readings) >= 0.8 * DENSITY_MARGIN * limit
        assert summary["max_density_kw_cm2"] * 1e7 <= limit

        watch.readings.clear()
        watch.truth.clear()
        setpoints: list[float] = []
        real_set_power = rig.pump.set_power
        monkeypatch.setattr(rig.pump, "set_power", lambda w: (setpoints.append(w), real_set_power(w))[1])
        finished = engine.start("sweep", SWEEP).wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        assert finished.summary["calibrated_first"] is False  # the stored one was reused
        assert finished.summary["density_readback"]["settings_off"] == 0
        rows = [e.data for e in events.of(PointTaken) if e.stream == "sweep"]
        assert len(rows) == 2 * SWEEP["points"]
        for row in rows:
            assert row["density_w_m2"] == pytest.approx(row["setpoint_w_m2"], rel=0.03)
        assert max(watch.truth) <= limit
        assert setpoints and set(setpoints) == {chosen}  # the pump runs at the calibration's power
    finally:
        engine.close()
        rig.close_all()


def test_default_rig_keeps_the_requested_laser_power(rig: Any, tmp_path: Path) -> None:
    engine = Engine(rig, CalibrationStore(tmp_path))
    try:
        finished = engine.start("calibrate", {}).wait(600)
    finally:
        engine.close()
    assert finished.status == RunStatus.COMPLETE, finished.reason
    assert finished.summary["laser_power_w"] == 1.0 and finished.summary["laser_power_lowered"] is False
    assert finished.summary["wheel_levels"] >= 2  # the dense end is ~6.5 kW/cm2: clearer levels fit
    assert finished.summary["max_density_kw_cm2"] * 1e7 <= rig.config.limits.max_power_density_w_m2


def test_a_wheel_no_laser_power_makes_safe_fails_with_one_line(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # OD 1 and a 7 kW/cm2 limit: 1 mW already gives ~6.5 kW/cm2, so nothing in [1 mW, 1 W] is safe
    rig = load_rig(edited_default_rig(tmp_path, {"nd_max_od = 4.0": "nd_max_od = 1.0",
                                        "max_power_density_kw_cm2 = 15.0": "max_power_density_kw_cm2 = 7.0"}))
    engine = Engine(rig, CalibrationStore(tmp_path / "calibrations"))
    watch = DensityWatch(rig, monkeypatch)
    try:
        finished = engine.start("calibrate", {}).wait(600)
        assert finished.status == RunStatus.FAILED
        assert "laser_power_w=1 W would put" in finished.reason
        assert "allowed range [0.001, 1] W" in finished.reason and "\n" not in finished.reason
        assert max(watch.truth) <= rig.config.limits.max_power_density_w_m2
        assert not rig.pump_shutter.is_open() and not rig.pump.get_emission()
        assert CalibrationStore(tmp_path / "calibrations").load(rig.config.name) is None
    finally:
        engine.close()
        rig.close_all()


def test_a_count_rate_trip_during_calibration_reopens_at_the_calibrations_own_power(
        rig: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate probe also runs in the calibration's scans; after the operator resumes, the beam
    reopens at the power the scan was using (not through a stored calibration, nor by starting
    a nested calibration because there is none yet)."""
    from acquisition.events import InterlockTripped, RunState, StateChanged

    rig.config.limits.max_count_rate_cps = 2000.0  # the sample goes bright (~1e4 cps) in the plate scan:
    rig.set_film_position(0.0, 0.0)    # a film-typical spot, bright from ~5 kW/cm2 (the default from 6.6)
    engine = Engine(rig, CalibrationStore(tmp_path))
    events = EventRecorder()
    engine.subscribe(events)
    setpoints: list[float] = []
    real_set_power = rig.pump.set_power
    monkeypatch.setattr(rig.pump, "set_power", lambda w: (setpoints.append(w), real_set_power(w))[1])
    try:
        handle = engine.start("calibrate", {})
        events.wait_for(lambda e: isinstance(e, StateChanged) and e.state == RunState.PAUSED
                        and "count rate" in e.reason, 60)
        at_trip = setpoints[-1]
        rig.bench.config.detection.collection_efficiency *= 0.01  # the operator attenuates the APD path
        engine.resume()
        finished = handle.wait(600)
        assert finished.status == RunStatus.COMPLETE, finished.reason
        assert [t.interlock for t in events.of(InterlockTripped)] == ["count_rate"]
        assert setpoints[setpoints.index(at_trip) + 1] == at_trip  # reopened at the same power
        assert set(setpoints) == {0.001, PROBE_FRACTION, 1.0}
        plate = [e for e in events.of(PointTaken) if e.stream == "calibration" and e.data["stage"] == "plate"]
        assert len(plate) == 37  # one plate scan: no nested calibration
        assert finished.summary["laser_power_w"] == 1.0
    finally:
        engine.close()
