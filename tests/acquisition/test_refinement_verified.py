"""Refinement brackets are verified in their last pass and give the headline thresholds, even
when the threshold has moved out of the main scan's bracket (cycle-to-cycle jitter)."""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from acquisition.experiments.sweep import SweepRecorder, _refine_jump
from acquisition.experiments.sweep_summary import refined_thresholds

KW = 1e7


class FakeSample:
    """Bistable spot: bright from ``on`` upward, stays bright down to ``off``; beam off -> dark."""

    def __init__(self, on_kw: float, off_kw: float) -> None:
        self.on, self.off, self.bright, self.density = on_kw * KW, off_kw * KW, False, 0.0
        self.clock = SimpleNamespace(now=lambda: 0.0)
        self.emitted: list[tuple[str, dict[str, Any]]] = []
        # the PlanContext capabilities a sweep uses
        self.beam = SimpleNamespace(set_density=self.set_power_density, off=self.beam_off, measure=self.measure_power)
        self.detection = SimpleNamespace(count=self.count)
        self.cryostat = SimpleNamespace(read=self.read_temperature)

    def set_power_density(self, w_m2: float) -> None:
        self.density = w_m2
        if w_m2 >= self.on:
            self.bright = True
        elif w_m2 < self.off:
            self.bright = False

    def beam_off(self) -> None:
        self.bright, self.density = False, 0.0

    def measure_power(self) -> Any:
        return SimpleNamespace(pickoff_w=0.0, sample_w=0.0, density_w_m2=self.density)

    def count(self, dwell_s: float) -> Any:
        rate = 5000.0 if self.bright else 80.0
        return SimpleNamespace(counts=int(rate * dwell_s), dwell_s=dwell_s, rate_cps=rate)

    def sleep(self, s: float) -> None: ...
    def read_temperature(self) -> float: return 77.0
    def wall_time(self) -> float: return 0.0
    def note(self, message: str) -> None: ...
    def emit(self, stream: str, data: dict[str, Any]) -> None: self.emitted.append((stream, data))


def _recorder(sample: FakeSample) -> SweepRecorder:
    return SweepRecorder(sample, {"settle_s": 0.0, "dwell_s": 1.0, "resolution_kw_cm2": 0.02})  # type: ignore[arg-type]


def test_switch_on_moved_below_the_scan_bracket_is_found_and_verified() -> None:
    # QA: bracket [4.80, 4.82] whose dark end measured bright; here the scan bracket is
    # [4.8, 4.9] and the threshold is now 4.75
    sample = FakeSample(on_kw=4.75, off_kw=3.2)
    recorder = _recorder(sample)
    bracket = _refine_jump(recorder, 4.8 * KW, 4.9 * KW, math.sqrt(80 * 5000), 0, 2 * KW, 8 * KW,
                           rising=True)
    assert bracket["verified"]
    assert bracket["low_w_m2"] < 4.75 * KW <= bracket["high_w_m2"]
    assert bracket["high_w_m2"] - bracket["low_w_m2"] <= 0.02 * KW * (1 + 1e-9)
    last = max(r["pass"] for r in recorder.rows)
    for row in (r for r in recorder.rows if r["pass"] == last):
        assert row["bright"] == (row["setpoint_w_m2"] >= bracket["high_w_m2"] - 1)


def test_switch_off_moved_above_the_scan_bracket_is_found_and_verified() -> None:
    sample = FakeSample(on_kw=4.75, off_kw=3.45)
    recorder = _recorder(sample)
    bracket = _refine_jump(recorder, 3.2 * KW, 3.3 * KW, math.sqrt(80 * 5000), 0, 2 * KW, 8 * KW,
                           rising=False)
    assert bracket["verified"]
    assert bracket["low_w_m2"] < 3.45 * KW <= bracket["high_w_m2"]
    assert bracket["high_w_m2"] - bracket["low_w_m2"] <= 0.02 * KW * (1 + 1e-9)


def test_headline_thresholds_are_the_refined_b_and_c_inside_their_brackets() -> None:
    sample = FakeSample(on_kw=4.75, off_kw=3.45)
    recorder = _recorder(sample)
    on = _refine_jump(recorder, 4.8 * KW, 4.9 * KW, 600.0, 0, 2 * KW, 8 * KW, rising=True)
    off = _refine_jump(recorder, 3.2 * KW, 3.3 * KW, 600.0, 0, 2 * KW, 8 * KW, rising=False)
    found = refined_thresholds(recorder.brackets, {"switch_on_kw_cm2": 4.9, "switch_off_kw_cm2": 3.3,
                                                   "hysteresis_width_kw_cm2": 1.6})
    assert found["switch_on_kw_cm2"] == pytest.approx(on["high_w_m2"] / KW)
    assert on["low_w_m2"] / KW <= found["switch_on_kw_cm2"] <= on["high_w_m2"] / KW
    assert found["switch_off_kw_cm2"] == pytest.approx(off["high_w_m2"] / KW)
    assert found["switch_on_scan_kw_cm2"] == 4.9 and found["thresholds_from"] == "refinement"
    assert found["hysteresis_width_kw_cm2"] == pytest.approx(
        (on["low_w_m2"] + on["high_w_m2"] - off["low_w_m2"] - off["high_w_m2"]) / 2 / KW)


def test_a_scan_without_a_jump_is_not_refined(tmp_path, shared_calibration_dir) -> None:
    # below the window there is only dark noise: refining it would "verify" noise as thresholds
    from acquisition.calibration import CalibrationStore
    from acquisition.engine import Engine
    from acquisition.rig import load_rig
    from acquisition.storage import open_run

    rig = load_rig("sim")
    engine = Engine(rig, CalibrationStore(shared_calibration_dir))
    try:
        finished = engine.start("sweep", {"stop_kw_cm2": 3.0, "points": 21, "dwell_s": 0.1, "settle_s": 0.0,
                                          "refine": True}, tmp_path / "dark.h5").wait(600)
    finally:
        engine.close()
        rig.close_all()
    assert finished.status.value == "complete", finished.reason
    assert finished.summary["switch_on_kw_cm2"] is None and finished.summary["switch_off_kw_cm2"] is None
    assert finished.summary.get("thresholds_from") != "refinement"
    run = open_run(tmp_path / "dark.h5")
    assert "refinement" not in run.streams or len(run.streams["refinement"].get("point_index", [])) == 0
    assert not any(p for p in run.streams["sweep"]["pass"] if p > 0)  # no refinement points taken
