"""Everything wrong in a campaign is found before anything moves, one line each with its line
number: the experiments' start-time preflight against the stored calibration, expression errors,
the unit limit, rig checks next to schema errors; and a unit the engine still refuses at start
is recorded as failed, never a traceback."""
from __future__ import annotations

import math
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from acquisition.campaigns import Campaign, CampaignError, Step, parse_campaign
from acquisition.campaigns.checks import experiment_checker
from acquisition.campaigns.index import CampaignIndex
from acquisition.campaigns.runner import CampaignRunner, CampaignStopped
from acquisition.campaigns.spec import MAX_UNITS
from acquisition.engine import Engine
from acquisition.experiments import EXPERIMENTS
from acquisition.rig import load_rig


W_M2_PER_KW_CM2 = 1e7


class Reach:
    """A stored power calibration reaching [low, high] kW/cm2 at the sample of ``rig``."""

    def __init__(self, rig: Any, low_kw_cm2: float, high_kw_cm2: float) -> None:
        area = math.pi * float(rig.config.beam.beam_radius_m) ** 2
        self.range_w = (low_kw_cm2 * W_M2_PER_KW_CM2 * area, high_kw_cm2 * W_M2_PER_KW_CM2 * area)

    def power_range_w(self, has_wheel: bool = True) -> tuple[float, float]:
        return self.range_w


class FakeStore:
    def __init__(self, calibration: Any) -> None:
        self.calibration = calibration
        self.reads = 0

    def load_for_rig(self, rig: Any) -> tuple[Any, None]:
        self.reads += 1
        return self.calibration, None

    def load_control_range(self, config: Any, wavelength_m: float) -> None:
        return None


BAD3 = """\
name = "bad3"

[[step]]
experiment = "sweep"
params = { start_kw_cm2 = 2.0, stop_kw_cm2 = 10.0, points = 10, settle_s = 0.1, dwell_s = 0.1 }

[[step]]
experiment = "pulsed"
params = { start_kw_cm2 = 2.0, stop_kw_cm2 = 14 }
"""


def parse(text: str, rig: Any = None, store: Any = None, **kwargs: Any) -> Campaign:
    rig = rig if rig is not None else load_rig("sim")
    return parse_campaign(text, experiment_names=list(EXPERIMENTS), schema_check=experiment_checker(rig, store),
                          **kwargs)


def errors_of(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        parse(text, **kwargs)
    return caught.value.errors


# ------------------------------------------------------------------------ 1: preflight up front
def test_validation_runs_each_units_preflight_against_the_stored_calibration() -> None:
    rig = load_rig("sim")
    store = FakeStore(Reach(rig, 0.01, 12.85))
    assert errors_of(BAD3, rig=rig, store=store) == [
        "line 9: step[2].params.stop_kw_cm2: stop_kw_cm2=14 kW/cm2 is above what the power calibration "
        "reaches; allowed range [0.01, 12.85] kW/cm2 (recalibrate with more laser power or a lower ND)"]
    assert parse(BAD3, rig=rig, store=FakeStore(None))  # nothing stored: the run calibrates first


def test_the_stored_calibration_is_read_once_for_all_units() -> None:
    rig = load_rig("sim")
    store = FakeStore(Reach(rig, 0.01, 12.85))
    parse('name = "n"\n[[step]]\nloop = { i = "${range(50)}" }\nexperiment = "sweep"\n'
          'params = { stop_kw_cm2 = 9.0 }\n', rig=rig, store=store)
    assert store.reads == 1


def test_runner_checks_every_unit_before_anything_moves(tmp_path: Path) -> None:
    rig = load_rig("sim")
    engine = Engine(rig, FakeStore(Reach(rig, 0.01, 12.85)))
    campaign = Campaign(name="api", steps=[
        Step(experiment="sweep", params={"stop_kw_cm2": 9.0, "points": 10}),
        Step(experiment="pulsed", loop={"top": [12.0, 14.0]}, params={"stop_kw_cm2": "${top}"})])
    try:
        with pytest.raises(CampaignError) as caught:
            CampaignRunner(campaign, engine, tmp_path / "c").run()
    finally:
        engine.close()
    assert caught.value.errors == [
        "unit s2/top=14: stop_kw_cm2=14 kW/cm2 is above what the power calibration reaches; "
        "allowed range [0.01, 12.85] kW/cm2 (recalibrate with more laser power or a lower ND)"]
    assert not (tmp_path / "c").exists()  # nothing written, nothing moved


class RefusingEngine(Engine):
    """The engine refuses ``pulsed`` at start (as when the calibration changed after the check)."""

    def preflight(self, experiment: str, params: dict[str, Any], out_path: Path | None = None) -> None:
        if experiment == "pulsed":
            raise ValueError("stop_kw_cm2=14 kW/cm2 is above what the power calibration reaches")
        super().preflight(experiment, params, out_path)


def test_a_unit_refused_at_start_is_recorded_failed_and_stops_the_campaign(tmp_path: Path) -> None:
    campaign = Campaign(name="refused", steps=[
        Step(experiment="sweep", params={"start_kw_cm2": 2.0, "stop_kw_cm2": 10.0, "points": 10,
                                         "settle_s": 0.1, "dwell_s": 0.1}),
        Step(experiment="pulsed", params={"start_kw_cm2": 2.0, "stop_kw_cm2": 10.0, "points": 10,
                                          "settle_s": 0.1, "dwell_s": 0.1, "frequencies_hz": [1000.0]})])
    engine = RefusingEngine(load_rig("sim"))
    try:
        with pytest.raises(CampaignStopped, match=r"unit s2 refused at start: stop_kw_cm2=14 .*--resume"):
            CampaignRunner(campaign, engine, tmp_path).run()
    finally:
        engine.close()
    index = CampaignIndex(tmp_path)
    try:
        rows = [(r.unit_key, r.status, r.reason) for r in index.runs()]
    finally:
        index.close()
    assert rows == [("s1", "complete", ""),
                    ("s2", "failed", "stop_kw_cm2=14 kW/cm2 is above what the power calibration reaches")]
    assert not any((tmp_path / "runs").glob("*pulsed*"))  # refused before a file was created


# ------------------------------------------------------------------------ 2: expression errors
def test_every_expression_error_is_one_line_at_its_line_and_hides_nothing_else() -> None:
    errors = errors_of('name = "x"\n[vars]\nbig = "${2.0 ** 10000}"\n[[step]]\nexperiment = "sweep"\n'
                       'params = { start_kw_cm2 = "${1/0}", dwell_s = -1 }\n'
                       '[[step]]\nloop = { s = "${range(\'abc\')}" }\nwait_s = 1\n'
                       '[[step]]\nwait_s = "${\'a\' < 1}"\n')
    assert errors == [
        "line 3: vars.big: expression '2.0 ** 10000': result too large for a number (overflow)",
        "line 6: step[1].params.start_kw_cm2: expression '1/0': division by zero",
        "line 6: step[1].params.dwell_s: dwell_s=-1 s is outside the allowed range [0.1, 10] s",
        "line 8: step[2].loop.s: expression \"range('abc')\": range() takes numbers; got 'abc'",
        "line 11: step[3].wait_s: expression \"'a' < 1\": '<' not supported between instances of 'str' "
        "and 'int' (TypeError)"]


def test_a_set_value_of_the_wrong_type_is_one_line() -> None:
    text = 'name = "x"\n[vars]\nn_spots = 3\n[[step]]\nloop = { spot = "${range(n_spots)}" }\nwait_s = 1\n'
    assert errors_of(text, overrides={"n_spots": "abc"}) == [
        "line 5: step[1].loop.spot: expression 'range(n_spots)': range() takes numbers; got 'abc'"]


def avalab(tmp_path: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os
    env = {**os.environ, "AVALAB_HOME": str(home or tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "acquisition.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path, env=env)


def test_cli_expression_errors_give_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('name = "bad"\n[[step]]\nexperiment = "sweep"\n'
                                       'params = { start_kw_cm2 = "${1/0}" }\n')
    done = avalab(tmp_path, "campaign", "bad.toml", "--dry-run")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == ("avalab: error: bad.toml: line 4: step[1].params.start_kw_cm2: "
                                   "expression '1/0': division by zero")


# ------------------------------------------------------------------------ 3: unit limit
@pytest.mark.parametrize("loop, expected", [
    ('{ spot = "${range(n)}" }', "line 5: step[1].loop.spot: expression 'range(n)': range() would give "
                                 "100000000 values; allowed at most 100000"),
    ('{ a = "${range(1000)}", b = "${linspace(0, 1, 1000)}" }',
     "line 5: step[1].loop: the loops give 1000000 units (a 1000 x b 1000); allowed at most 100000 units "
     "per campaign"),
])
def test_too_many_units_is_one_line_and_nothing_is_expanded(loop: str, expected: str) -> None:
    text = f'name = "big"\n[vars]\nn = 100000000\n[[step]]\nloop = {loop}\nwait_s = 1\n'
    tracemalloc.start()
    try:
        assert errors_of(text) == [expected]
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # nothing was expanded: 1e8 values or 1e6 units would take hundreds of MB (a memory bound,
    # not a wall-clock one, so a loaded machine cannot fail it)
    assert peak_bytes < 20e6


def test_the_unit_limit_is_for_the_whole_campaign() -> None:
    text = ('name = "big"\n[[step]]\nloop = { a = "${range(60000)}" }\nwait_s = 1\n'
            '[[step]]\nloop = { b = "${range(60000)}" }\nwait_s = 1\n')
    assert MAX_UNITS == 100_000
    assert errors_of(text) == ["line 6: step[2].loop: this step brings the campaign to 120000 units; "
                               "allowed at most 100000 units per campaign"]


# ------------------------------------------------------------------------ 4: all problems, --set
def test_a_rig_limit_is_reported_next_to_a_schema_error_in_the_same_params() -> None:
    errors = errors_of('name = "x"\n[[step]]\nexperiment = "sweep"\n'
                       'params = { temperature_k = 50.0, dwell_s = -1 }\n')
    assert errors == [
        "line 4: step[1].params.dwell_s: dwell_s=-1 s is outside the allowed range [0.1, 10] s",
        "line 4: step[1].params.temperature_k: temperature_k=50 K is below the rig limit; allowed range [77, 300] K"]


def test_an_unknown_set_variable_reads_like_the_option() -> None:
    errors = errors_of('name = "x"\n[vars]\nn_spots = 3\ncolumns = 2\n[[step]]\nwait_s = 1\n',
                       overrides={"nope": 3})
    assert errors == ["--set nope=3: no such variable; allowed: n_spots, columns"]


# ------------------------------------------------------------------------ the reported case, end to end
def test_cli_campaign_beyond_the_calibration_moves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert avalab(tmp_path, "calibrate", "--out", "cal.h5", home=home).returncode == 0
    (tmp_path / "bad3.toml").write_text(BAD3)
    for extra in (["--dry-run"], ["--out", "campaigns/bad3"]):
        done = avalab(tmp_path, "campaign", "bad3.toml", *extra, home=home)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "avalab: error: bad3.toml: line 9: step[2].params.stop_kw_cm2: stop_kw_cm2=14 kW/cm2 is above "
            "what the power calibration reaches; allowed range ["), lines
    assert not (tmp_path / "campaigns").exists()
