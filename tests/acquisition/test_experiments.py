"""The experiments beyond the plain sweep, run on the simulated rig (virtual clock)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from acquisition.engine import Engine
from acquisition.events import PointTaken, RunStatus
from engine_helpers import EventRecorder


def run(engine: Engine, name: str, params: dict[str, Any], timeout: float = 600) -> Any:
    finished = engine.start(name, params).wait(timeout)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    return finished


def test_refinement_brackets_both_jumps_to_the_resolution(engine: Engine, recorder: EventRecorder,
                                                          tmp_path) -> None:
    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    path = tmp_path / "refined.h5"
    finished = engine.start("sweep", {"start_kw_cm2": 2, "stop_kw_cm2": 8, "points": 13, "dwell_s": 0.5,
                                      "settle_s": 1.0, "refine": True, "resolution_kw_cm2": 0.05,
                                      "temperature_k": 77}, path).wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    summary = finished.summary
    step = 0.5  # the main scan's step: refinement works inside the main scan's bracket
    low, high = summary["switch_on_bracket_kw_cm2"]
    assert 0 < high - low <= 0.05 + 1e-9
    assert abs(0.5 * (low + high) - summary["switch_on_kw_cm2"]) <= step
    off_low, off_high = summary["switch_off_bracket_kw_cm2"]
    assert 0 < off_high - off_low <= 0.05 + 1e-9 and off_high < low
    points = [p for p in recorder.of(PointTaken) if p.stream == "sweep"]
    assert max(p.data["pass"] for p in points) >= 2
    # refined points near the switch-on: dark below the final bracket, bright above it
    refined_on = [p.data for p in points if p.data["bracket"] == "on"]
    last_pass = max(d["pass"] for d in refined_on)
    for d in refined_on:
        if d["pass"] == last_pass:
            assert d["bright"] == (d["setpoint_w_m2"] >= high * 1e7 - 1)
    again = reanalyze(open_run(path))
    assert again["switch_on_bracket_kw_cm2"] == [low, high]
    assert again["switch_off_bracket_kw_cm2"] == [off_low, off_high]


def test_pulsed_picks_the_blade_and_reports_average_and_peak(engine: Engine, recorder: EventRecorder) -> None:
    finished = run(engine, "pulsed", {"frequencies_hz": [2000], "duty_cycles": [0.5], "start_kw_cm2": 2,
                                      "stop_kw_cm2": 10, "points": 6, "dwell_s": 0.1, "settle_s": 0.1})
    (condition,) = finished.summary["conditions"]
    assert condition["blade"] == "MC1F60" and condition["frequency_hz"] == 2000.0
    points = recorder.of(PointTaken)
    assert len(points) == 12
    for point in points:
        # the chopper sits before the pick-off: the meter reads the average, half the setpoint
        assert point.data["density_w_m2"] == pytest.approx(0.5 * point.data["setpoint_w_m2"], rel=0.05)
        assert point.data["peak_density_w_m2"] == pytest.approx(2 * point.data["density_w_m2"])


def test_lifetime_measures_rise_and_decay_on_the_chopper_edge(engine: Engine, recorder: EventRecorder,
                                                              tmp_path) -> None:
    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    finished = engine.start("lifetime", {"acquisition_s": 2.0}, tmp_path / "lifetime.h5").wait(600)
    assert finished.status == RunStatus.COMPLETE, finished.reason
    summary = finished.summary
    period = 1 / summary["frequency_hz"]
    assert 0 < summary["rise_time_s"] < 0.5 * period
    assert 0 < summary["decay_time_s"] < 0.5 * period
    (histogram,) = [p for p in recorder.of(PointTaken) if p.stream == "histogram"]
    counts = np.asarray(histogram.data["counts"])
    open_bins = int(0.5 * counts.size)
    assert counts[:open_bins].sum() > 10 * counts[open_bins + open_bins // 2:].sum()  # light while open
    again = reanalyze(open_run(tmp_path / "lifetime.h5"))
    assert again["rise_time_s"] == summary["rise_time_s"] and again["decay_time_s"] == summary["decay_time_s"]


def test_switch_blocks_the_apd_during_the_control_pulse(engine: Engine, rig: Any) -> None:
    sequence: list[str] = []
    for role in ("emission_shutter", "control_shutter"):
        shutter = getattr(rig, role)
        for method in ("open", "close_shutter"):
            original = getattr(shutter, method)

            def logged(_original=original, _label=f"{role}.{method}") -> None:
                sequence.append(_label)
                _original()
            setattr(shutter, method, logged)
    finished = run(engine, "switch", {"biases_kw_cm2": [4.2], "temperature_k": 77, "baseline_s": 1.0,
                                      "hold_s": 2.0})
    assert finished.summary["latched_by_bias_kw_cm2"] == {"4.200": True}
    pulse = sequence.index("control_shutter.open", sequence.index("control_shutter.close_shutter"))
    assert sequence[pulse - 1] == "emission_shutter.close_shutter"
    assert sequence[pulse + 1:pulse + 3] == ["control_shutter.close_shutter", "emission_shutter.open"]


def test_temperature_series_runs_the_sweep_at_each_stable_setpoint(engine: Engine, recorder: EventRecorder) -> None:
    finished = run(engine, "temperature_series", {
        "temperatures_k": [77, 85], "params_json": '{"points": 7, "dwell_s": 0.1, "settle_s": 0.1}'})
    assert [e["temperature_k"] for e in finished.summary["by_temperature"]] == [77.0, 85.0]
    by_stream: dict[str, list[float]] = {}
    for point in recorder.of(PointTaken):
        by_stream.setdefault(point.stream, []).append(point.data["temperature_k"])
    assert set(by_stream) == {"T77K_sweep", "T85K_sweep"}
    assert np.allclose(by_stream["T85K_sweep"], 85.0, atol=0.5)
    assert np.allclose(by_stream["T77K_sweep"], 77.0, atol=0.5)
