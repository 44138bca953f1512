"""Hysteresis analysis on synthetic curves with known A-D points, noise, and awkward inputs."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from acquisition.analysis import analyze_hysteresis, analyze_sweep, split_sweep
from analysis_synthetic import (BACKGROUND_CPS, KW, STEP_KW, bistable_branches, bright_rate, dark_rate, densities,
                       poisson_rates)


def test_exact_thresholds_width_contrast_and_slope() -> None:
    density, up, down = bistable_branches(on_kw=6.7, off_kw=4.2)
    result = analyze_hysteresis(density, up, density[::-1], down[::-1], noise_cps=82.0)
    assert result.bistable
    assert result.switch_on_w_m2 == pytest.approx(6.7 * KW)
    assert result.switch_off_w_m2 == pytest.approx(4.2 * KW)
    p_a, p_b, p_c, p_d = 6.6 * KW, 6.7 * KW, 4.2 * KW, 4.1 * KW
    assert result.points["A"][0] == pytest.approx(p_a) and result.points["D"][0] == pytest.approx(p_d)
    # reported width = -[(P_C - P_B)/2 - (P_A - P_D)/2] (published expression, sign flipped)
    published = (p_c - p_b) / 2 - (p_a - p_d) / 2
    assert result.width_w_m2 == pytest.approx(-published) == pytest.approx(2.5 * KW)
    i_a, i_b = dark_rate(np.array([p_a]))[0], bright_rate(np.array([p_b]))[0]
    assert result.contrast_db == pytest.approx(10 * math.log10((i_b - i_a) / 82.0))
    assert result.nonlinearity_s == pytest.approx(math.log(i_b / i_a) / math.log(p_b / p_a))
    assert result.nonlinearity_s > 100  # instrument-limited: the jump spans adjacent points
    assert result.fit_range_w_m2 == pytest.approx((p_a, p_b))
    # indices point into the arrays as passed (the down branch was passed reversed)
    assert density[result.index_b] == pytest.approx(p_b)
    assert density[::-1][result.index_c] == pytest.approx(p_c)
    assert density[::-1][result.index_d] == pytest.approx(p_d)


def test_json_dict_is_in_kw_cm2_and_strict_json() -> None:
    density, up, down = bistable_branches(on_kw=5.2, off_kw=4.2)
    summary = analyze_hysteresis(density, up, density, down).to_json_dict()
    assert summary["switch_on_kw_cm2"] == pytest.approx(5.2)
    assert summary["switch_off_kw_cm2"] == pytest.approx(4.2)
    assert summary["hysteresis_width_kw_cm2"] == pytest.approx(1.0)
    assert summary["bistable"] is True and summary["points"]["B"]["density_kw_cm2"] == pytest.approx(5.2)
    json.dumps(summary, allow_nan=False)
    flat = analyze_hysteresis(density, dark_rate(density), density, dark_rate(density)).to_json_dict()
    assert flat["switch_on_kw_cm2"] is None and flat["contrast_db"] is None
    json.dumps(flat, allow_nan=False)


def test_unsorted_input_with_repeated_points_gives_the_same_answer() -> None:
    density, up, down = bistable_branches()
    reference = analyze_hysteresis(density, up, density, down)
    rng = np.random.default_rng(3)
    repeats = np.concatenate([np.arange(density.size), rng.integers(0, density.size, 40)])
    order = rng.permutation(repeats)
    shuffled = analyze_hysteresis(density[order], up[order], density[order[::-1]], down[order[::-1]])
    for name in ("switch_on_w_m2", "switch_off_w_m2", "width_w_m2", "contrast_db", "nonlinearity_s"):
        assert getattr(shuffled, name) == pytest.approx(getattr(reference, name)), name
    assert density[order][shuffled.index_b] == pytest.approx(6.7 * KW)


@pytest.mark.parametrize("seed", range(8))
def test_poisson_noise_thresholds_within_one_step(seed: int) -> None:
    rng = np.random.default_rng(seed)
    on_kw, off_kw = rng.uniform(5.0, 7.5), rng.uniform(3.0, 4.8)
    density, up, down = bistable_branches(on_kw=on_kw, off_kw=off_kw)
    dwell = 0.1  # 30 dark counts per point: +-18 % scatter on the dark branch
    result = analyze_hysteresis(density, poisson_rates(up, dwell, rng), density,
                                poisson_rates(down, dwell, rng))
    assert result.bistable
    assert abs(result.switch_on_w_m2 - on_kw * KW) <= STEP_KW * KW * 1.0001
    assert abs(result.switch_off_w_m2 - off_kw * KW) <= STEP_KW * KW * 1.0001
    assert result.width_w_m2 == pytest.approx((on_kw - off_kw) * KW, abs=2 * STEP_KW * KW)
    assert 10 < result.contrast_db < 16 and result.nonlinearity_s > 50


def test_smooth_avalanche_is_not_bistable() -> None:
    density = densities(1.0, 9.0, 0.1)
    # Tm-like photon avalanche: s ~ 26 around threshold, saturating above, no hysteresis
    rate = 200.0 + 1e4 * (density / (5 * KW)) ** 26 / (1 + (density / (5 * KW)) ** 24)
    result = analyze_hysteresis(density, rate, density[::-1], rate[::-1])
    assert not result.bistable
    assert result.switch_on_w_m2 is None and result.switch_off_w_m2 is None
    assert result.width_w_m2 is None and result.contrast_db is None
    assert 10 < result.nonlinearity_s < 30  # the steepest 3-point slope of the S-curve


def test_pure_noise_has_no_jump() -> None:
    rng = np.random.default_rng(11)
    density = densities()
    flat = np.full(density.size, 400.0)
    result = analyze_hysteresis(density, poisson_rates(flat, 0.1, rng), density,
                                poisson_rates(flat, 0.1, rng))
    assert not result.bistable and result.switch_on_w_m2 is None


def test_down_branch_that_never_turns_off() -> None:
    density, up, _ = bistable_branches(on_kw=6.7, start_kw=3.0)
    result = analyze_hysteresis(density, up, density[::-1], bright_rate(density[::-1]))
    assert result.bistable and result.switch_off_below_range
    assert result.switch_on_w_m2 == pytest.approx(6.7 * KW)
    assert result.switch_off_w_m2 is None and result.width_w_m2 is None
    assert result.to_json_dict()["switch_off_below_range"] is True


def test_jump_up_but_down_branch_dark_throughout() -> None:
    density, up, _ = bistable_branches(on_kw=6.7)
    low = density[density < 5 * KW]
    result = analyze_hysteresis(density, up, low, dark_rate(low))
    assert not result.bistable and result.switch_on_w_m2 == pytest.approx(6.7 * KW)
    assert result.switch_off_w_m2 is None
    assert "no switch-off jump on the down branch" in result.notes


def test_jump_at_the_same_place_both_ways_is_not_hysteresis() -> None:
    density, up, _ = bistable_branches(on_kw=6.0)
    result = analyze_hysteresis(density, up, density, up)
    assert result.width_w_m2 == pytest.approx(0.0, abs=1e-6) and not result.bistable


def test_fit_neighbours_include_branch_points_and_lower_s() -> None:
    density, up, down = bistable_branches()
    narrow = analyze_hysteresis(density, up, density, down)
    wide = analyze_hysteresis(density, up, density, down, fit_neighbours=2)
    assert wide.fit_range_w_m2 == pytest.approx((6.4 * KW, 6.9 * KW))
    assert wide.nonlinearity_s < narrow.nonlinearity_s


def test_bad_noise_is_a_one_line_error() -> None:
    density, up, down = bistable_branches()
    with pytest.raises(ValueError, match="noise_cps=-1 cps is outside the allowed range"):
        analyze_hysteresis(density, up, density, down, noise_cps=-1)


def test_split_sweep_by_direction_column_and_by_inference() -> None:
    density, up, down = bistable_branches()
    cycles_kw = [(6.7, 4.2), (6.5, 4.4), (6.6, 4.0)]
    d_all, r_all, direction = [], [], []
    for on_kw, off_kw in cycles_kw:
        d, u, dn = bistable_branches(on_kw=on_kw, off_kw=off_kw)
        d_all += [d, d[::-1]]
        r_all += [u, dn[::-1]]
        direction += ["up"] * d.size + ["down"] * d.size
    density_all, rate_all = np.concatenate(d_all), np.concatenate(r_all)
    by_column = split_sweep(density_all, rate_all, direction)
    assert len(by_column) == 3
    assert all(c.density_up_w_m2.size == density.size == c.density_down_w_m2.size for c in by_column)
    # without a column the top point of each cycle ends the up run, the turn starts the down run
    inferred = split_sweep(density_all, rate_all)
    assert len(inferred) == 3
    results = analyze_sweep(density_all, rate_all, direction)
    for result, (on_kw, off_kw) in zip(results, cycles_kw):
        assert result.switch_on_w_m2 == pytest.approx(on_kw * KW)
        assert result.switch_off_w_m2 == pytest.approx(off_kw * KW)
        assert density_all[result.index_b] == pytest.approx(on_kw * KW)
        assert rate_all[result.index_c] == pytest.approx(bright_rate(np.array([off_kw * KW]))[0])
    with pytest.raises(ValueError, match="allowed values: 'up', 'down'"):
        split_sweep(density_all, rate_all, ["sideways"] * density_all.size)


def test_bright_branch_bending_down_before_switch_off_still_gives_c_and_d() -> None:
    # near its fold the bright branch falls steeply (square-root shape) before it collapses
    density = densities(2.0, 9.0, 0.1)
    fold = 4.15 * KW
    bright = np.where(density > fold, 80.0 + 1500.0 * np.sqrt(np.clip(density - fold, 0, None) / KW), 80.0)
    up = np.where(density >= 6.3 * KW - 1, bright, 80.0)
    result = analyze_hysteresis(density, up, density[::-1], bright[::-1])
    assert result.switch_off_w_m2 == pytest.approx(4.2 * KW)
    assert result.point_d.density_w_m2 == pytest.approx(4.1 * KW)
    assert result.switch_on_w_m2 == pytest.approx(6.3 * KW) and result.bistable


@pytest.mark.parametrize("seed", range(4))
def test_few_dark_counts_like_the_simulated_apd(seed: int) -> None:
    # ~8 dark counts per 0.1 s point: some points read 0 cps
    rng = np.random.default_rng(100 + seed)
    density = densities(2.0, 9.0, 0.1)
    dark = np.full(density.size, 80.0)
    bright = 4000.0 * density / (6.3 * KW)
    up = np.where(density >= 6.3 * KW - 1, bright, dark)
    down = np.where(density >= 4.2 * KW - 1, bright, dark)
    result = analyze_hysteresis(density, poisson_rates(up, 0.1, rng), density,
                                poisson_rates(down, 0.1, rng))
    assert result.switch_on_w_m2 == pytest.approx(6.3 * KW)
    assert result.switch_off_w_m2 == pytest.approx(4.2 * KW)
    assert result.bistable


def test_zero_rate_at_a_leaves_s_undefined_with_a_note() -> None:
    density, up, down = bistable_branches()
    up = up.copy()
    up[np.argmin(np.abs(density - 6.6 * KW))] = 0.0
    result = analyze_hysteresis(density, up, density, down)
    assert result.switch_on_w_m2 == pytest.approx(6.7 * KW) and result.nonlinearity_s is None
    assert any("undefined" in note for note in result.notes)
    assert result.to_json_dict()["nonlinearity_s"] is None


def test_staircase_switch_off_of_a_multi_particle_spot_is_found_at_the_largest_drop() -> None:
    # up: one clean jump at 6.7; down: particles turn dark at consecutive points (3.9 .. 3.6), so
    # no single step dominates its neighbours; the largest drop is between 3.7 and 3.8
    density, up, _ = bistable_branches(on_kw=6.7, off_kw=4.2)
    bright = bright_rate(density) - BACKGROUND_CPS
    tol = 1e3
    share = np.select([density >= 3.9 * KW - tol, density >= 3.8 * KW - tol, density >= 3.7 * KW - tol,
                       density >= 3.6 * KW - tol], [1.0, 0.6, 0.25, 0.05], 0.0)
    down = dark_rate(density) + share * bright
    from acquisition.analysis.jumps import find_jump
    assert find_jump(down, 82.0) is None  # the strict single-jump test does not accept it
    result = analyze_hysteresis(density, up, density, down, noise_cps=82.0)
    assert result.bistable
    assert result.switch_off_w_m2 == pytest.approx(3.8 * KW)
    assert result.points["D"][0] == pytest.approx(3.7 * KW)
    assert any("several steps" in note for note in result.notes)


def test_a_smooth_avalanche_without_switch_on_jump_is_still_not_bistable() -> None:
    density = densities(1.0, 9.0)
    smooth = 300.0 + 3000.0 / (1.0 + np.exp(-(density / KW - 6.0) / 0.4))
    result = analyze_hysteresis(density, smooth, density, smooth, noise_cps=82.0)
    assert not result.bistable and result.switch_off_w_m2 is None


def test_staircase_switch_on_counts_only_when_the_loop_is_open() -> None:
    density, _, down = bistable_branches(on_kw=6.7, off_kw=4.2)
    bright = bright_rate(density) - BACKGROUND_CPS
    tol = 1e3
    share = np.select([density >= 6.9 * KW - tol, density >= 6.8 * KW - tol, density >= 6.7 * KW - tol,
                       density >= 6.6 * KW - tol], [1.0, 0.6, 0.25, 0.05], 0.0)
    up = dark_rate(density) + share * bright
    result = analyze_hysteresis(density, up, density, down, noise_cps=82.0)
    assert result.bistable and result.switch_on_w_m2 == pytest.approx(6.7 * KW)  # largest log rise
    assert any("switch-on spread" in note for note in result.notes)
    # the same staircase on both branches (no loop): not bistable, no switch-on claimed
    closed = analyze_hysteresis(density, up, density, up, noise_cps=82.0)
    assert not closed.bistable and closed.switch_on_w_m2 is None
