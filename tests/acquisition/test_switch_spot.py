"""Switching on a spot of several particles (issue 15, item 5): the default biases lie outside
every particle's window, and a pulse that switches only some particles is a partial latch."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.experiments.switch import LATCHED, NOT_LATCHED, PARTIAL, default_biases_kw_cm2, judge
from acquisition.experiments.switch_window import SpotWindow, spot_window
from acquisition.rig import load_rig
from acquisition.storage import open_run
from test_cli import avalab

NOISE = 82.0
#: two or three switch runs of ~1 min CPU each: generous on a loaded CI box
pytestmark = pytest.mark.timeout(900)


def _rates(run_file: Path) -> dict[float, tuple[float, float]]:
    switch = open_run(run_file).streams["switch"]
    return {round(float(b) / 1e7, 3): (float(before), float(after)) for b, before, after in
            zip(switch["bias_w_m2"], switch["baseline_rate_cps"], switch["hold_rate_cps"])}


def test_default_biases_are_outside_every_window_and_only_the_inside_one_latches(
        tmp_path: Path, shared_calibration_dir: Path) -> None:
    run_file = tmp_path / "s.h5"
    done = avalab(["switch", "--rig", "sim", "--temperature", "77", "--json", "--no-progress",
                   "--out", str(run_file)], tmp_path, shared_calibration_dir, timeout=800)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    lowest_off, highest_on = result["spot_bistable_kw_cm2"]
    off, on = result["window_kw_cm2"]
    assert lowest_off <= off < on <= highest_on
    below, inside, above = sorted(float(b) for b in result["latch_by_bias_kw_cm2"])
    assert below < lowest_off and above > highest_on and off < inside < on
    states = {float(b): s for b, s in result["latch_by_bias_kw_cm2"].items()}
    assert states == {below: NOT_LATCHED, inside: LATCHED, above: NOT_LATCHED}
    # the published control: no change before or after the pulse outside the window, measured
    rates = _rates(run_file)
    for bias in (below, above):
        before, after = rates[round(bias, 3)]
        assert abs(after - before) <= max(3 * NOISE, 0.03 * before), (bias, before, after)
    before, after = rates[round(inside, 3)]
    assert after > 10 * (before + NOISE)
    # every particle the sweep shows bright at the inside bias latched
    assert result["latched_fraction_by_bias_kw_cm2"][f"{inside:.3f}"] >= 0.75
    # the spot's region comes from the stored sweep: the analysis of the file says the same
    stored = open_run(run_file)
    window = spot_window(stored.streams["sweep"], NOISE)
    assert window is not None
    assert [window.lowest_off_kw_cm2, window.highest_on_kw_cm2] == result["spot_bistable_kw_cm2"]
    analysed = avalab(["analyze", str(run_file), "--json"], tmp_path, shared_calibration_dir)
    assert analysed.returncode == 0, analysed.stderr
    again = json.loads(analysed.stdout)
    assert again["latch_by_bias_kw_cm2"] == result["latch_by_bias_kw_cm2"]
    assert again["spot_bistable_kw_cm2"] == result["spot_bistable_kw_cm2"]


def test_a_pulse_that_switches_some_particles_is_a_partial_latch_with_its_fraction(
        shared_calibration_dir: Path) -> None:
    """Between the main switch-on and the spot's last switch-on step some particles are bright
    before the pulse and the pulse latches others: partial, with the fraction, never 'not
    latched'."""
    rig = load_rig("sim")
    engine = Engine(rig, CalibrationStore(shared_calibration_dir))
    try:
        finished = engine.start("switch", {"temperature_k": 77.0, "baseline_s": 1.0, "hold_s": 2.0}).wait(600)
        assert finished.status.value == "complete", finished.reason
        on = finished.summary["window_kw_cm2"][1]
        highest_on = finished.summary["spot_bistable_kw_cm2"][1]
        bias = round(on + 0.25 * (highest_on - on), 3)
        again = engine.start("switch", {"temperature_k": 77.0, "biases_kw_cm2": [bias], "window_sweep": True,
                                        "baseline_s": 1.0, "hold_s": 2.0}).wait(600)
    finally:
        engine.close()
        rig.close_all()
    assert again.status.value == "complete", again.reason
    key = f"{bias:.3f}"
    assert again.summary["latch_by_bias_kw_cm2"] == {key: PARTIAL}
    assert again.summary["latched"] == {key: True}
    fraction = again.summary["latched_fraction_by_bias_kw_cm2"][key]
    assert 0.02 < fraction < 0.75


def _window() -> SpotWindow:
    return SpotWindow(lowest_off_kw_cm2=3.0, highest_on_kw_cm2=8.0, dark_cps=80.0,
                      down_kw_cm2=(1.0, 3.0, 5.0, 8.0, 10.0), down_cps=(80.0, 80.0, 20080.0, 40080.0, 50080.0))


PARAMS = {"bin_s": 0.05, "pulse_s": 1.0, "noise_cps": NOISE, "dark_max_cps": 1000.0}


def _trace(rate_cps: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(rate_cps * PARAMS["bin_s"], n).astype(float)


def test_verdicts_from_the_fraction_of_the_windows_emission_change() -> None:
    rng = np.random.default_rng(1)
    window = _window()
    # dark -> as bright as the down branch at 5 kW/cm2: latched, fraction ~1
    full = judge(_trace(80, 40, rng), _trace(20080, 60, rng), 5.0, PARAMS, window)
    assert full.state == LATCHED and abs(full.fraction - 1.0) < 0.05
    # half the particles already bright, a quarter of the change latched: partial, ~0.25
    part = judge(_trace(10080, 40, rng), _trace(15080, 60, rng), 5.0, PARAMS, window)
    assert part.state == PARTIAL and 0.2 < part.fraction < 0.3 and part.latched
    # no change: not latched, whatever the level
    for level in (80.0, 45000.0):
        flat = judge(_trace(level, 40, rng), _trace(level, 60, rng), 9.0, PARAMS, window)
        assert flat.state == NOT_LATCHED and not flat.latched
    # without a window sweep a rise from a bright baseline is partial (fraction unknown)
    unknown = judge(_trace(10080, 40, rng), _trace(15080, 60, rng), 5.0, PARAMS, None)
    assert unknown.state == PARTIAL and unknown.fraction is None


def test_the_spot_region_spans_every_step_of_both_branches() -> None:
    """Two particles: steps at 5 and 7 kW/cm2 up, 4 and 3 down; the region is [D, B] = [2.9, 7.1]."""
    density = np.round(np.arange(1.0, 10.01, 0.1), 3)
    up = 80.0 + 10000.0 * (density >= 5.0) + 3000.0 * (density >= 7.1)
    down = 80.0 + 10000.0 * (density >= 4.0) + 3000.0 * (density >= 3.0)
    columns = {"density_w_m2": np.concatenate([density, density[::-1]]) * 1e7,
               "rate_cps": np.concatenate([up, down[::-1]]),
               "direction": np.array(["up"] * density.size + ["down"] * density.size),
               "dwell_s": np.ones(2 * density.size)}
    window = spot_window(columns, NOISE)
    assert window is not None
    assert abs(window.lowest_off_kw_cm2 - 2.9) < 1e-9 and abs(window.highest_on_kw_cm2 - 7.1) < 1e-9
    assert window.dark_cps == 80.0


def test_the_above_bias_is_over_the_highest_step_and_at_least_at_the_top_of_the_sweep() -> None:
    """Edge particles of the focus switch on up to ~2x the main switch-on with a few % of the
    emission, too little to show between the branches: the top of the sweep is past them all."""
    window = _window()                                    # highest step 8, sweep top 10 kW/cm2
    biases, problem = default_biases_kw_cm2(window, switch_on=6.0, switch_off=4.0, highest_kw_cm2=14.0)
    assert problem is None and biases == pytest.approx([2.7, 5.0, 10.0])
    higher = SpotWindow(3.0, 9.5, 80.0, window.down_kw_cm2, window.down_cps)
    assert default_biases_kw_cm2(higher, 6.0, 4.0, 14.0)[0][2] == pytest.approx(10.45)   # 10 % above it
    capped, problem = default_biases_kw_cm2(window, 6.0, 4.0, highest_kw_cm2=9.0)   # the rig's reach
    assert capped[2] == pytest.approx(9.0) and problem is None
    alone, problem = default_biases_kw_cm2(window, 6.0, 4.0, highest_kw_cm2=7.5)
    assert alone == pytest.approx([2.7, 5.0]) and "8 kW/cm2" in problem
