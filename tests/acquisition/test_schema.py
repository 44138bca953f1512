"""Parameter schemas: conversion, defaults, one-line errors naming field, value and range."""
from __future__ import annotations

import pytest

from acquisition.experiments import EXPERIMENTS, get_experiment
from acquisition.schema import Parameter, ParameterSchema


def test_every_experiment_is_registered_with_a_valid_default_schema() -> None:
    # other packages may register more (the campaign runner adds "prepare")
    measuring = {"calibrate", "sweep", "pulsed", "switch", "lifetime", "temperature_series"}
    assert measuring <= set(EXPERIMENTS)
    for experiment in EXPERIMENTS.values():
        values = experiment.schema.validate({})
        assert set(values) == set(experiment.schema.names)
        # "prepare" with nothing to set or wait for takes no time; a measurement always does
        assert experiment.estimate_duration_s({}) > 0 if experiment.name in measuring \
            else experiment.estimate_duration_s({}) >= 0


def test_validate_converts_text_from_the_cli_and_fills_defaults() -> None:
    values = EXPERIMENTS["sweep"].schema.validate({"dwell_s": "0.2", "points": "11", "refine": "yes",
                                                   "spacing": "list", "densities_kw_cm2": "1, 2.5,4"})
    assert values["dwell_s"] == 0.2 and values["points"] == 11 and values["refine"] is True
    assert values["densities_kw_cm2"] == [1.0, 2.5, 4.0]
    assert values["settle_s"] == 0.5  # default from the reference protocol


@pytest.mark.parametrize(("params", "expected"), [
    ({"dwell_s": -1}, "dwell_s=-1 s is outside the allowed range [0.1, 10] s"),
    ({"points": 2.5}, "points=2.5 is not an integer"),
    ({"points": float("inf")}, "points=inf is not an integer"),
    ({"spacing": "cubic"}, "spacing='cubic' is not allowed; allowed values: 'linear', 'log', 'list'"),
    ({"start_kw_cm2": 5, "stop_kw_cm2": 2}, "stop_kw_cm2=2 must be above start_kw_cm2=5"),
    ({"colour": "red"}, "colour='red' is not a parameter of this experiment"),
])
def test_errors_are_one_line_and_name_field_value_and_range(params: dict, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        EXPERIMENTS["sweep"].schema.validate(params)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_validate_all_reports_every_bad_field() -> None:
    errors = EXPERIMENTS["sweep"].schema.validate_all({"dwell_s": 0, "settle_s": -1, "points": "many"})
    assert len(errors) == 3
    assert [e.split("=")[0] for e in errors] == ["points", "settle_s", "dwell_s"]


def test_pulsed_duty_cycle_is_checked_against_the_blade_the_frequency_selects() -> None:
    schema = EXPERIMENTS["pulsed"].schema
    assert schema.validate({"frequencies_hz": [50, 500], "duty_cycles": [0.2, 0.8]})
    with pytest.raises(ValueError, match=r"duty_cycles=0.3 is outside the allowed range \[0.5, 0.5\] of blade MC1F60"):
        schema.validate({"frequencies_hz": [2000], "duty_cycles": [0.3]})
    with pytest.raises(ValueError, match=r"frequencies_hz=7000 Hz is outside the allowed range \[20, 6000\] Hz"):
        schema.validate({"frequencies_hz": [7000]})


def test_rig_checks_refuse_densities_above_the_limit_and_wavelengths_outside_the_laser(rig) -> None:
    with pytest.raises(ValueError, match=r"stop_kw_cm2=20 kW/cm2 is above the rig limit; allowed range \(0, 14\.85\] kW/cm2 \(the limit 15 kW/cm2 less the power meter's 1 % uncertainty\)"):
        get_experiment("sweep").validate({"stop_kw_cm2": 20}, rig)
    with pytest.raises(ValueError, match=r"control_wavelength_nm=600 nm is outside the control laser's range; "
                                         r"allowed range \[680, 1080\] nm"):
        get_experiment("switch").validate({"control_wavelength_nm": 600}, rig)
    assert get_experiment("switch").validate_all({"control_wavelength_nm": 600}, rig)


def test_temperature_series_validates_the_inner_experiment() -> None:
    schema = EXPERIMENTS["temperature_series"].schema
    assert schema.validate({"params_json": '{"dwell_s": 0.2}'})["experiment"] == "sweep"
    with pytest.raises(ValueError, match="dwell_s=20"):
        schema.validate({"params_json": '{"dwell_s": 20}'})
    with pytest.raises(ValueError, match="params_json=.* is not valid JSON"):
        schema.validate({"params_json": "{dwell"})


def test_optional_parameter_accepts_none_and_list_bounds_apply_per_item() -> None:
    schema = ParameterSchema([
        Parameter("t_k", "T", "K", "float", None, minimum=4, maximum=350, optional=True),
        Parameter("xs", "xs", "Hz", "float_list", [1.0], minimum=0, maximum=10, min_items=1),
    ])
    assert schema.validate({}) == {"t_k": None, "xs": [1.0]}
    with pytest.raises(ValueError, match=r"xs=11 Hz is outside the allowed range \[0, 10\] Hz"):
        schema.validate({"xs": [1, 11]})
    with pytest.raises(ValueError, match="has 0 values"):
        schema.validate({"xs": []})
