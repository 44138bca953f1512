"""The same sweep through in-process simulated devices and through real drivers talking to the
protocol emulators of the same bench (real TCP sockets in between) gives the same thresholds."""
from __future__ import annotations

import importlib.util

import pytest

from acquisition.engine import Engine
from acquisition.rig import load_rig
from sim_backends.emulators.bench_server import EMULATED_ROLES, attach_emulated_drivers


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
        finished = engine.start("sweep", SWEEP).wait(600)
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


def rig_file_with(tmp_path, roles: dict[str, tuple[str, str]]):
    """A rig file: the built-in simulated rig with ``roles`` -> (driver, address) replaced."""
    from acquisition.rig import RoleConfig, load_rig_config, render_rig_toml

    config = load_rig_config("sim")
    for role, (driver, address) in roles.items():
        config.roles[role] = RoleConfig(driver=driver, address=address)
    path = tmp_path / "rig.toml"
    path.write_text(render_rig_toml(config))
    return path


def test_rig_file_roles_with_emulator_address_use_the_real_drivers(tmp_path) -> None:
    from acquisition.rig import RigConfigError

    path = rig_file_with(tmp_path, {"pump": ("opus", "emulator"), "hwp": ("k10cr1", "emulator"),
                                    "cryostat": ("lakeshore335", "emulator")})
    rig = load_rig(path)
    try:
        rig.connect_all()
        identities = rig.identities()
        assert "MPC-D" in identities["pump"] and identities["hwp"].startswith("Thorlabs K10CR1")
        assert identities["cryostat"].startswith("LSCI,MODEL335")
        assert identities["counter"].startswith("simulated")  # the APD stays on the same bench
        rig.hwp.move_to(10.0)
        assert rig.hwp.get_position() == pytest.approx(10.0, abs=0.01)
        assert all(error is None for error in rig.safe_state_all().values())
    finally:
        rig.close_all()
        rig.stop_emulators()
    with pytest.raises(RigConfigError, match=r"roles.counter.address='emulator'.*no wire protocol"):
        load_rig(rig_file_with(tmp_path, {"counter": ("nidaq_counter", "emulator")}))


@pytest.mark.parametrize("model", [335, 336])
def test_cli_sweep_with_an_emulated_lake_shore(tmp_path, model: int) -> None:
    """`avalab sweep --rig FILE` whose cryostat is a Lake Shore 335 or 336 served by its emulator
    on the rig's own bench: the real driver sets the temperature and the sweep completes with the
    thresholds of the simulated rig."""
    import json
    import os
    import subprocess
    import sys

    import h5py

    path = rig_file_with(tmp_path, {"cryostat": (f"lakeshore{model}", "emulator")})
    out = tmp_path / "run.h5"
    env = dict(os.environ, AVALAB_HOME=str(tmp_path / "home"))
    result = subprocess.run(
        [sys.executable, "-m", "acquisition.cli", "sweep", "--rig", str(path), "--temperature", "90",
         "--points", "31", "--json", "--no-progress", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "complete" and summary["bistable"] is True
    assert 3.0 < summary["switch_on_kw_cm2"] < 8.0
    with h5py.File(out) as run:
        identities = json.loads(run.attrs["identities"])
        temperatures = run["streams/sweep/temperature_k"][()]
    assert identities["cryostat"].startswith(f"LSCI,MODEL{model}")
    assert abs(float(temperatures.mean()) - 90.0) < 1.0  # the emulated controller held 90 K


def test_rig_file_with_an_emulated_336(tmp_path) -> None:
    from acquisition.rig import RigConfigError

    rig = load_rig(rig_file_with(tmp_path, {"cryostat": ("lakeshore336", "emulator")}))
    try:
        rig.connect_all()
        assert rig.identities()["cryostat"].startswith("LSCI,MODEL336")
        cryostat = rig.instruments["cryostat"]
        readings = cryostat.get_all_temperatures()  # KRDG? 0 over the wire
        assert set(readings) == {"A", "B", "C", "D"} and 70.0 < readings["A"] < 90.0
        assert readings["C"] == 0.0  # nothing attached to C on the simulated cryostat
        assert all(error is None for error in rig.safe_state_all().values())
    finally:
        rig.close_all()
        rig.stop_emulators()
    with pytest.raises(RigConfigError, match=r"roles.cryostat.driver='sc10' is not allowed"):
        load_rig(rig_file_with(tmp_path, {"cryostat": ("sc10", "emulator")}))


def test_a_driver_on_an_emulator_waits_for_replies_as_the_shared_cpu_needs(tmp_path) -> None:
    """An emulator answers from a thread of this process: its driver's reply timeout is the
    generous emulator one (a loaded CI box delayed an APT status reply past the K10CR1's 1 s
    hardware default)."""
    from acquisition.rig import RoleConfig, load_rig_config, render_rig_toml
    from sim_backends.emulators.bench_server import EMULATED_REPLY_TIMEOUT_S

    config = load_rig_config("sim")
    config.roles["hwp"] = RoleConfig(driver="k10cr1", address="emulator")
    config.roles["cryostat"] = RoleConfig(driver="lakeshore335", address="emulator")
    path = tmp_path / "rig.toml"
    path.write_text(render_rig_toml(config))
    rig = load_rig(path)
    try:
        assert EMULATED_REPLY_TIMEOUT_S > 1.0
        assert rig.hwp.timeout_s == EMULATED_REPLY_TIMEOUT_S  # an APT controller's own default is 1 s
        assert rig.instruments["cryostat"].timeout_s == EMULATED_REPLY_TIMEOUT_S
    finally:
        rig.close_all()
        rig.stop_emulators()
