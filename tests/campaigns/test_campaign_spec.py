"""Campaign files: validation reports every error with its line, expressions are safe, loops expand."""
from __future__ import annotations

from pathlib import Path

import pytest

from acquisition.campaigns import Campaign, CampaignError, Step, expand, parse_campaign
from acquisition.campaigns.expressions import ExpressionError, evaluate, resolve
from acquisition.experiments import EXPERIMENTS, get_experiment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def schema_check(name: str, params: dict) -> list[str]:
    return get_experiment(name).validate_all(params)


def parse(text: str) -> Campaign:
    return parse_campaign(text, experiment_names=list(EXPERIMENTS), schema_check=schema_check)


THREE_ERRORS = """\
name = "three-errors"

[[step]]
experiment = "sweeep"
params = { dwell_s = 0.1 }

[[step]]
experiment = "sweep"
[step.params]
points = 20
dwell_s = -1.0

[[step]]
loop = { T = [77, 100] }
temperature_k = "${T * 10}"
"""


def test_three_independent_errors_are_all_reported_with_line_numbers() -> None:
    with pytest.raises(CampaignError) as caught:
        parse(THREE_ERRORS)
    errors = caught.value.errors
    assert len(errors) == 3, errors
    assert errors[0].startswith("line 4: step[1].experiment") and "'sweeep'" in errors[0]
    assert errors[1].startswith("line 11: step[2].params.dwell_s") and "[0.1, 10]" in errors[1]
    assert errors[2].startswith("line 15: step[3].temperature_k") and "[1, 400] K" in errors[2]


def test_unknown_keys_and_template_problems_are_reported() -> None:
    with pytest.raises(CampaignError) as caught:
        parse('name = "x"\nbogus = 1\n[[step]]\nexperiment = "sweep"\nwait_s = "${nope + 1}"\n')
    text = "\n".join(caught.value.errors)
    assert "line 2: bogus: unknown key" in text
    assert "unknown variable 'nope'" in text


@pytest.mark.parametrize("expression", ["__import__('os')", "().__class__", "open('x')",
                                        "[x for x in range(3)]", "spot.real"])
def test_expressions_reject_everything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, {"spot": 1})


def test_expressions_compute_loops_and_positions() -> None:
    assert evaluate("range(3)", {}) == [0, 1, 2]
    assert evaluate("linspace(77, 97, 3)", {}) == [77.0, 87.0, 97.0]
    assert resolve(["${4.0 * (s % 9)}", "${4.0 * (s // 9)}"], {"s": 10}) == [4.0, 4.0]


def test_loops_expand_as_a_cartesian_product_with_stable_keys() -> None:
    campaign = parse('name = "grid"\n[[step]]\nloop = { f = [100.0, 1000.0], d = [0.3, 0.5] }\n'
                     'experiment = "sweep"\nparams = { points = "${10}" }\n')
    units = expand(campaign)
    assert [u.key for u in units] == ["s1/f=100/d=0.3", "s1/f=100/d=0.5", "s1/f=1000/d=0.3", "s1/f=1000/d=0.5"]
    assert all(u.params["points"] == 10 for u in units)


def test_python_api_and_toml_describe_the_same_campaign() -> None:
    from_toml = parse('name = "api"\n[vars]\np = 5.0\n[[step]]\nloop = { spot = "${range(2)}" }\n'
                      'position_um = ["${p * spot}", 0.0]\nexperiment = "sweep"\nparams = { dwell_s = 0.2 }\n')
    from_python = Campaign(name="api", variables={"p": 5.0}, steps=[
        Step(experiment="sweep", params={"dwell_s": 0.2}, loop={"spot": "${range(2)}"},
             position_um=["${p * spot}", 0.0])])
    assert expand(from_toml) == expand(from_python)


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_campaign_validates(example: Path) -> None:
    campaign = parse(example.read_text())
    assert expand(campaign)


def test_a_setpoint_outside_the_rig_temperature_limits_is_reported_with_its_line() -> None:
    text = 'name = "cold"\n\n[[step]]\nloop = { T = [77, 50] }\ntemperature_k = "${T}"\n'
    assert expand(parse_campaign(text))  # within the spec's own range [1, 400] K
    with pytest.raises(CampaignError) as caught:
        parse_campaign(text, temperature_range_k=(77.0, 300.0))
    assert caught.value.errors == [
        "line 5: step[1].temperature_k: temperature_k=50 K is below the rig limit; allowed range [77, 300] K"]


def test_campaign_dry_run_checks_setpoints_against_the_rig(tmp_path: Path) -> None:
    import subprocess
    import sys

    campaign = tmp_path / "cold.toml"
    campaign.write_text('name = "cold"\n\n[[step]]\ntemperature_k = 40\n')
    done = subprocess.run([sys.executable, "-m", "acquisition.cli", "campaign", str(campaign), "--dry-run"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "line 4: step[1].temperature_k: temperature_k=40 K is below the rig limit; allowed range [77, 300] K" \
        in done.stderr


def test_every_temperature_message_of_a_campaign_states_the_rigs_range(tmp_path: Path) -> None:
    import subprocess
    import sys

    campaign = tmp_path / "temps.toml"
    campaign.write_text('name = "temps"\n\n'
                        '[[step]]\ntemperature_k = "abc"\n\n'
                        '[[step]]\ntemperature_k = 1e9\n\n'
                        '[[step]]\nexperiment = "sweep"\nparams = { temperature_k = -5.0, dwell_s = 0.1 }\n\n'
                        '[[step]]\nexperiment = "temperature_series"\n'
                        'params = { temperatures_k = [77.0, 500.0] }\n')
    done = subprocess.run([sys.executable, "-m", "acquisition.cli", "campaign", str(campaign), "--dry-run"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "temperature" in line]
    assert len(lines) == 4, done.stderr
    assert all(line.endswith("allowed range [77, 300] K") for line in lines), lines


@pytest.mark.parametrize("out", ["/etc/passwd/c", "/proc/c"])
def test_an_unwritable_campaign_folder_is_refused_before_anything_runs(tmp_path: Path, out: str) -> None:
    import subprocess
    import sys

    for extra in ([], ["--dry-run"]):
        done = subprocess.run([sys.executable, "-m", "acquisition.cli", "campaign",
                               str(EXAMPLES / "film_71_spots.toml"), "--set", "n_spots=2", "--out", out, *extra],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"avalab: error: out={out}: ") and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
