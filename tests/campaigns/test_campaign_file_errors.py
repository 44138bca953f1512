"""Campaign-file error messages: a params_json table, a missing file (no 'line 0'), a step's own
range error behind the unit limit, and params_json values in JSON spelling."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from acquisition.campaigns import Campaign, CampaignError, expand, parse_campaign
from acquisition.campaigns.checks import experiment_checker
from acquisition.experiments import EXPERIMENTS
from acquisition.rig import load_rig

SCRIPT = Path(sys.executable).parent / "avalab"
AVALAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "acquisition.cli"]


def parse(text: str) -> Campaign:
    return parse_campaign(text, experiment_names=list(EXPERIMENTS), schema_check=experiment_checker(load_rig("sim")))


def errors_of(text: str) -> list[str]:
    with pytest.raises(CampaignError) as caught:
        parse(text)
    return caught.value.errors


def test_params_json_may_be_a_toml_table() -> None:
    campaign = parse('name = "t"\n[[step]]\nexperiment = "temperature_series"\n'
                     'params = { temperatures_k = [77], params_json = { points = "${10 * 3}" } }\n')
    (unit,) = expand(campaign)
    assert json.loads(unit.params["params_json"]) == {"points": 30}


def test_a_bad_value_in_a_params_json_table_is_named_in_json() -> None:
    errors = errors_of('name = "t"\n[[step]]\nexperiment = "temperature_series"\n'
                       'params = { temperatures_k = [77], params_json = { points = true } }\n')
    assert len(errors) == 1 and "params_json.points=true is not a number" in errors[0], errors


def test_params_json_values_are_spelled_as_json() -> None:
    from acquisition.experiments.temperature_series import validated_inner_params

    for given, spelled in (('{"points": true}', "points=true is"), ('{"points": null}', "points=null is"),
                           ('{"points": [true]}', "points=[true] is"),
                           ('{"densities_kw_cm2": [1, true]}', "densities_kw_cm2=true is")):
        with pytest.raises(ValueError) as caught:
            validated_inner_params({"experiment": "sweep", "temperatures_k": [77.0], "params_json": given})
        assert f"params_json.{spelled}" in str(caught.value), str(caught.value)


def test_a_step_s_own_range_error_is_not_hidden_by_the_unit_limit() -> None:
    errors = errors_of('name = "t"\n[[step]]\nloop = { a = "${linspace(0, 1, 100000)}" }\nwait_s = 1\n'
                       '[[step]]\nwait_s = 1\n'
                       '[[step]]\nloop = { b = "${linspace(0, 1, 10**12)}" }\nwait_s = 1\n')
    assert errors[0].startswith("line 5: step[2]: this step brings the campaign to 100001 units"), errors
    assert len(errors) == 2 and errors[1].startswith("line 8: step[3].loop.b: expression"), errors
    assert "linspace() would give 1000000000000 values" in errors[1], errors


def test_a_missing_campaign_file_is_one_line_without_a_line_number(tmp_path: Path) -> None:
    env = dict(os.environ, AVALAB_HOME=str(tmp_path / "home"))
    done = subprocess.run(AVALAB + ["campaign", "missing.toml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert done.stderr == ("avalab: error: file='missing.toml': cannot be read "
                           "(No such file or directory)\n"), done.stderr
