"""Which report figures a campaign gets depends on what its runs vary."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from acquisition.campaigns.index import CampaignIndex
from acquisition.campaigns.report import write_report
from acquisition.experiments.sweep_report import sweep_statistics


def make_index(folder: Path, runs: list[dict]) -> None:
    index = CampaignIndex(folder)
    try:
        for i, metrics in enumerate(runs):
            run_id = index.begin(f"s1/i={i}", i, 0, "sweep", {"i": i}, "sweep", None)
            index.finish(run_id, "complete", metrics=metrics)
    finally:
        index.close()


def figure_names(folder: Path) -> set[str]:
    return {p.name for p in write_report(folder, folder / "report").figures}


def figures(on: float, width: float) -> dict:
    return {"switch_on_kw_cm2": on, "switch_off_kw_cm2": on - width, "hysteresis_width_kw_cm2": width,
            "contrast_db": 14.0, "nonlinearity_s": 150.0, "bistable": True}


def test_repeats_at_one_spot_give_a_drift_figure_only(tmp_path: Path) -> None:
    make_index(tmp_path, [{**figures(6.5 + 0.1 * (i % 3), 2.2), "position_um": [0.0, 0.0],
                           "temperature_k": 77.0} for i in range(5)])
    assert figure_names(tmp_path) == {"drift.png"}


def test_spots_give_film_statistics_and_temperatures_give_a_temperature_figure(tmp_path: Path) -> None:
    spots = tmp_path / "spots"
    make_index(spots, [{**figures(5.0 + 0.2 * i, 1.0), "position_um": [4.0 * i, 0.0],
                        "temperature_k": 77.0} for i in range(4)])
    assert figure_names(spots) == {"film_statistics.png"}
    series = tmp_path / "series"
    make_index(series, [{**figures(5.0 + 0.01 * t, 1.5), "temperature_k": float(t)} for t in (77, 90, 110)])
    assert figure_names(series) == {"vs_temperature.png"}


def test_bistable_fraction_has_a_binomial_spread(tmp_path: Path) -> None:
    make_index(tmp_path, [{**figures(5.0, 1.0), "bistable": i < 3} for i in range(4)])
    index = CampaignIndex(tmp_path)
    try:
        stats = sweep_statistics(index.runs("complete"))
    finally:
        index.close()
    assert stats["bistable_fraction"]["mean"] == pytest.approx(0.75)
    assert stats["bistable_fraction"]["stderr"] == pytest.approx((0.75 * 0.25 / 4) ** 0.5)
    assert "std" not in stats["bistable_fraction"]  # not a sample standard deviation


def test_report_labels_the_bistable_fraction_spread_as_a_binomial_standard_error(tmp_path: Path) -> None:
    make_index(tmp_path, [{**figures(5.0 + 0.1 * i, 1.0), "bistable": i < 4} for i in range(5)])
    page = write_report(tmp_path, tmp_path / "report").page.read_text()
    cells = {m[0]: m[1:] for m in re.findall(
        r"<tr><td>([a-z0-9_]+)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td></tr>", page)}
    assert "<th>std (sample)</th><th>standard error (binomial)</th>" in page
    # [1, 1, 1, 1, 0]: the standard error sqrt(0.8 * 0.2 / 5) = 0.179, in its own column
    assert cells["bistable_fraction"] == ("0.800", "&mdash;", "0.179", "5")
    # the figures' spread is the sample std: 0.1 * std([0, 1, 2, 3, 4], ddof=1) = 0.158
    assert cells["switch_on_kw_cm2"] == ("5.200", "0.158", "&mdash;", "5")
    assert "binomial standard error of the fraction" in page
