"""The same sweep through in-process simulated devices and through real drivers talking to the
protocol emulators of the same bench (real TCP sockets in between) gives the same thresholds."""
from __future__ import annotations

import importlib.util

import pytest

from acquisition.engine import Engine
from acquisition.rig import load_rig
from sim_backends.emulators.bench_server import EMULATED_ROLES, attach_emulated_drivers

pytestmark = pytest.mark.timeout(300)

SWEEP = {"temperature_k": 77.0, "start_kw_cm2": 1.0, "stop_kw_cm2": 10.0, "points": 46,
         "settle_s": 0.5, "dwell_s": 0.1}


def available_roles() -> list[str]:
    """Emulated roles whose emulator module exists in this tree."""
    return [role for role, spec in EMULATED_ROLES.items()
            if importlib.util.find_spec(spec.emulator.split(":")[0]) is not None]


def run_sweep(emulated: list[str]) -> dict:
    rig = load_rig("sim")
    served = attach_emulated_drivers(rig, emulated) if emulated else None
    engine = Engine(rig)
    try:
        finished = engine.start("sweep", SWEEP).wait(240)
        identities = rig.identities()
    finally:
        engine.close()
        rig.close_all()
        if served is not None:
            served.close()
    assert finished.status.value == "complete", finished.reason
    return {"summary": finished.summary, "identities": identities}


def test_sweep_through_emulators_matches_in_process_devices() -> None:
    roles = available_roles()
    assert {"pump", "hwp", "nd_wheel", "power_meter"} <= set(roles)
    direct = run_sweep([])
    emulated = run_sweep(roles)
    # the emulated roles really were real drivers (their identities come over the wire)
    assert "avalab emulator" in emulated["identities"]["pump"] or "MPC-D" in emulated["identities"]["pump"]
    assert emulated["identities"]["hwp"].startswith("Thorlabs K10CR1")
    step = (SWEEP["stop_kw_cm2"] - SWEEP["start_kw_cm2"]) / (SWEEP["points"] - 1)
    for key in ("switch_on_kw_cm2", "switch_off_kw_cm2"):
        a, b = direct["summary"][key], emulated["summary"][key]
        assert a is not None and b is not None, key
        assert abs(a - b) <= 2 * step + 0.05 * a, f"{key}: in-process {a:.3f} vs emulated {b:.3f}"
    assert direct["summary"]["bistable"] and emulated["summary"]["bistable"]
