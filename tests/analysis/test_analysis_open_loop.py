"""Bistability judged on the loop itself: a switch-off spread over several points near the
detector floor, and what must not count as an open loop (dark noise, a brighter down branch)."""
from __future__ import annotations

import numpy as np
import pytest

from acquisition.analysis import analyze_hysteresis
from acquisition.analysis.jumps import find_largest_drop
from analysis_synthetic import KW, bistable_branches, bright_rate, densities, poisson_rates

NOISE = 82.0


def test_largest_drop_skips_a_noise_level_step_at_the_floor() -> None:
    # QA film spot: the largest log step (81 -> 262 cps) is only 181 cps high (< 3 x 82); the
    # next candidate (262 -> 586) is the switch-off
    rates = np.array([70.0, 75.0, 81.0, 262.0, 586.0, 1100.0, 1500.0, 1900.0])
    jump = find_largest_drop(rates, NOISE)
    assert jump is not None and jump.low == 3


def test_largest_drop_is_none_when_every_step_is_noise_level() -> None:
    assert find_largest_drop(np.array([60.0, 150.0, 90.0, 200.0, 120.0]), NOISE) is None


def _film_spot() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up: one jump at 4.8 kW/cm2; down: several particles turning dark between 3.6 and 2.9."""
    density = densities(1.5, 10.0, 0.1)
    kw = density / KW
    up = np.where(kw >= 4.8 - 1e-9, bright_rate(density), 70.0)
    staircase = {3.6: 1400.0, 3.5: 1100.0, 3.4: 900.0, 3.3: 586.0, 3.2: 262.0, 3.1: 81.0}
    down = np.where(kw >= 3.7 - 1e-9, bright_rate(density), 70.0)
    for level, rate in staircase.items():
        down[np.isclose(kw, level)] = rate
    return density, up, down


def test_spread_switch_off_near_the_floor_is_bistable_with_c_d_at_the_high_step() -> None:
    density, up, down = _film_spot()
    result = analyze_hysteresis(density, up, density[::-1], down[::-1], noise_cps=NOISE)
    assert result.bistable
    assert result.switch_off_w_m2 == pytest.approx(3.3 * KW)
    assert result.points["D"][0] == pytest.approx(3.2 * KW)
    assert result.width_w_m2 > 0
    assert any("switch-off spread" in note for note in result.notes)


def test_open_loop_is_bistable_even_if_the_switch_off_cannot_be_located() -> None:
    # the down branch loses its bright state in steps of < 3 x I_noise each: no C, D, but at
    # 4 kW/cm2 the down branch is at 4470 cps and the up branch at 70 cps: two states
    density = densities(2.0, 6.0, 0.1)
    kw = density / KW
    down = 70.0 + (kw - 2.0) * 2200.0  # 220 cps per 0.1 kW/cm2 step
    up = np.where(kw >= 5.0 - 1e-9, down, 70.0)
    result = analyze_hysteresis(density, up, density, down, noise_cps=NOISE)
    assert result.switch_on_w_m2 == pytest.approx(5.0 * KW)
    assert result.bistable
    assert any("loop open" in note for note in result.notes)


@pytest.mark.parametrize("seed", range(20))
def test_dark_spot_poisson_noise_and_a_single_outlier_never_open_a_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    density = densities(1.5, 10.0, 0.1)
    up = poisson_rates(np.full(density.size, 80.0), 0.1, rng)
    down = poisson_rates(np.full(density.size, 80.0), 0.1, rng)
    down[40] = 220.0  # one unlucky point: 22 counts where 8 are expected
    result = analyze_hysteresis(density, up, density, down, noise_cps=NOISE)
    assert not result.bistable


def test_down_branch_merely_brighter_than_the_bright_up_branch_is_not_bistable() -> None:
    density, up, _ = bistable_branches(on_kw=6.7, off_kw=6.7)
    down = np.where(density >= 6.7 * KW - 1e-3, up * 2.5, up)
    result = analyze_hysteresis(density, up, density, down, noise_cps=NOISE)
    assert not result.bistable


@pytest.mark.parametrize("seed", range(10))
def test_no_nonlinearity_for_pure_dark_noise(seed: int) -> None:
    # QA: sweep to 3 kW/cm2 at 0.1 s dwell, dark counts only -> s 68.8 was reported
    rng = np.random.default_rng(seed)
    density = densities(1.0, 3.0, 0.1)
    up = poisson_rates(np.full(density.size, 80.0), 0.1, rng)
    down = poisson_rates(np.full(density.size, 80.0), 0.1, rng)
    result = analyze_hysteresis(density, up, density, down, noise_cps=NOISE)
    assert result.nonlinearity_s is None and result.fit_range_w_m2 is None
    assert any("no emission above the noise floor" in note for note in result.notes)
    assert result.to_json_dict()["nonlinearity_s"] is None


def test_smooth_avalanche_still_has_its_nonlinearity() -> None:
    density = densities(1.0, 9.0, 0.1)
    rate = 80.0 + 2000.0 * (density / (6.0 * KW)) ** 12
    result = analyze_hysteresis(density, rate, density, rate, noise_cps=NOISE)
    assert not result.bistable
    assert result.nonlinearity_s is not None and 8.0 < result.nonlinearity_s < 12.5
