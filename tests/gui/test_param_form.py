"""The schema-generated form: defaults, per-field errors next to the field, validity signal."""
from __future__ import annotations

from typing import Any

import pytest

from acquisition.schema import Parameter, ParameterSchema
from gui.param_form import ParameterForm, errors_by_field


def _dwell_not_longer_than_total(values: dict[str, Any]) -> None:
    if values["dwell_s"] > values["total_s"]:
        raise ValueError(f"dwell_s={values['dwell_s']:g} s is longer than total_s={values['total_s']:g} s")


@pytest.fixture
def schema() -> ParameterSchema:
    return ParameterSchema([
        Parameter("start_kw_cm2", "Start density", "kW/cm2", "float", 1.0, minimum=0.0, maximum=20.0),
        Parameter("points", "Points", "", "int", 40, minimum=2, maximum=10000),
        Parameter("direction", "Direction", "", "str", "up_down", choices=("up", "up_down")),
        Parameter("chopped", "Chopped", "", "bool", False),
        Parameter("levels_kw_cm2", "Levels", "kW/cm2", "float_list", [4.0, 5.0], minimum=0.0, maximum=20.0),
        Parameter("temperature_k", "Temperature", "K", "float", None, minimum=4.0, maximum=350.0, optional=True),
        Parameter("dwell_s", "Dwell", "s", "float", 0.1, minimum=0.001, maximum=10.0),
        Parameter("total_s", "Total", "s", "float", 1.0, minimum=0.001, maximum=100.0),
    ], cross_checks=(_dwell_not_longer_than_total,))


def test_defaults_are_valid_and_typed(qtbot, schema) -> None:
    form = ParameterForm(schema)
    qtbot.addWidget(form)
    assert form.is_valid
    assert form.values() == {"start_kw_cm2": 1.0, "points": 40, "direction": "up_down", "chopped": False,
                             "levels_kw_cm2": [4.0, 5.0], "temperature_k": None, "dwell_s": 0.1,
                             "total_s": 1.0}


def test_out_of_range_value_is_marked_next_to_its_field(qtbot, schema) -> None:
    form = ParameterForm(schema)
    qtbot.addWidget(form)
    with qtbot.waitSignal(form.validity_changed) as blocker:
        form.set_value("start_kw_cm2", "25")
    assert blocker.args == [False]
    message = form.field_error("start_kw_cm2")
    assert "start_kw_cm2=25" in message and "[0, 20]" in message
    assert form.error_labels["start_kw_cm2"].isVisibleTo(form)
    assert form.field_error("points") == ""
    form.set_value("start_kw_cm2", "2.5")
    assert form.is_valid and form.values()["start_kw_cm2"] == 2.5


def test_text_and_non_integers_are_rejected_with_the_schema_message(qtbot, schema) -> None:
    form = ParameterForm(schema)
    qtbot.addWidget(form)
    form.set_value("points", "12.5")
    form.set_value("levels_kw_cm2", "4, five")
    assert not form.is_valid
    assert "not an integer" in form.field_error("points")
    assert "not a number" in form.field_error("levels_kw_cm2")


def test_cross_field_error_lands_on_the_field_it_names(qtbot, schema) -> None:
    form = ParameterForm(schema)
    qtbot.addWidget(form)
    form.set_value("dwell_s", "5")
    assert not form.is_valid
    assert "longer than total_s" in form.field_error("dwell_s")
    assert form.field_error("total_s") == ""


def test_optional_field_accepts_empty_and_space_separated_lists(qtbot, schema) -> None:
    form = ParameterForm(schema)
    qtbot.addWidget(form)
    form.set_value("temperature_k", "77")
    form.set_value("levels_kw_cm2", "4 4.5; 5")
    assert form.is_valid
    assert form.values()["temperature_k"] == 77.0
    assert form.values()["levels_kw_cm2"] == [4.0, 4.5, 5.0]
    form.set_value("temperature_k", "")
    assert form.is_valid and form.values()["temperature_k"] is None


def test_errors_are_attributed_to_the_longest_matching_name() -> None:
    by_field, general = errors_by_field(
        ["dwell_s_max=3 is too long", "dwell_s=0 is outside", "rig has no chopper"],
        ["dwell_s", "dwell_s_max"])
    assert by_field == {"dwell_s_max": "dwell_s_max=3 is too long", "dwell_s": "dwell_s=0 is outside"}
    assert general == ["rig has no chopper"]
