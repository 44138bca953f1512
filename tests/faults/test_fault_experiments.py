"""Links broken in the other experiments, each on the role it leans on: the chopper of a chopped
sweep and of a TCSPC run, the cryostat of a temperature series, the control laser of a switch run,
the XY stage of a map. Same promises as the sweep's: never ``complete``, every instrument the
emulators report unsafe is named in a ``safe state failed`` report, every point kept."""
from __future__ import annotations

import json

import pytest

SETTLE = {"settle_s": 0.1, "dwell_s": 0.1}

SCENARIOS = {
    # the chopper drops mid-sweep: it keeps spinning (emulator), so the report must name it
    "pulsed/chopper drop": ("pulsed", {"temperature_k": 77.0, "start_kw_cm2": 3.0, "stop_kw_cm2": 9.0,
                                       "points": 4, "frequencies_hz": [5000.0], "duty_cycles": [0.5], **SETTLE},
                            "chopper", "drop", 2),
    "lifetime/chopper kill": ("lifetime", {"temperature_k": 77.0, "density_kw_cm2": 8.0, "acquisition_s": 0.5},
                              "chopper", "kill", "start"),
    # the cryostat drops at the second temperature: its heater stays on range 2 (emulator)
    "temperature_series/cryostat drop": ("temperature_series", {
        "experiment": "sweep", "temperatures_k": [77.0, 90.0],
        "params_json": json.dumps({"start_kw_cm2": 2.0, "stop_kw_cm2": 10.0, "points": 4, **SETTLE})},
        "cryostat", "drop", 9),
    "switch/control_laser garble": ("switch", {"temperature_k": 77.0, "biases_kw_cm2": [3.0, 6.0],
                                               "sweep_points": 6, "baseline_s": 0.5, "hold_s": 0.5,
                                               "pulse_s": 0.2}, "control_laser", "garble", 0),
    "map/xy_stage kill": ("map", {"positions_mm": [12.5, 12.5, 12.51, 12.5, 12.52, 12.5], "density_kw_cm2": 5.5,
                                  "dwell_s": 0.05, "settle_s": 0.05}, "xy_stage", "kill", 1),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_broken_link_never_ends_another_experiment_complete(fault_run, scenario: str) -> None:
    experiment, params, role, fault, moment = SCENARIOS[scenario]
    outcome = fault_run(experiment, params, role, fault, moment)
    outcome.assert_honest()
    # the role whose link broke could not be confirmed safe, and the report says so by name
    assert role in outcome.reported, (outcome.reported, outcome.finished.reason)
    assert f"safe state failed for {role}" in outcome.finished.reason
