"""The fault harness behind the real command line: ``avalab sweep`` / ``switch`` / ``campaign``
on a rig file whose wire roles are ``address = "emulator"``, run in this process (fast) with a
fault proxy in every link. What the operator gets: the exit code, one ``SAFE STATE FAILED`` line
naming the role, no traceback, and a run file that says ``failed``; the emulators say what is
really unsafe."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fault_harness import FaultAt
from fault_rig import ProxiedBench, proxied_emulators

from acquisition import exit_codes
from acquisition.cli import main
from acquisition.engine import Engine
from acquisition.rig import RoleConfig, load_rig_config, render_rig_toml
from acquisition.storage import open_run
from sim_backends.emulators import bench_server


@dataclass
class Harness:
    rig_file: Path
    benches: list[ProxiedBench] = field(default_factory=list)
    triggers: list[FaultAt] = field(default_factory=list)
    #: (role, fault, moment) armed on the next engine the CLI builds
    plan: tuple[str, str, str | int] | None = None
    #: emulator states read when the CLI closed its engine (before anything is healed)
    unsafe: dict[str, dict[str, Any]] = field(default_factory=dict)


def write_emulated_rig(path: Path) -> Path:
    config = load_rig_config("sim")
    for role, spec in bench_server.EMULATED_ROLES.items():
        config.roles[role] = RoleConfig(driver=spec.driver, address="emulator")
    path.write_text(render_rig_toml(config))
    return path


@pytest.fixture(scope="session")
def emulated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AVALAB_HOME holding the emulated rig's power calibration, measured once through the
    emulators; every test starts from a copy, so no run calibrates first (the points a fault
    moment counts are the experiment's own) and no test changes what the next one sees."""
    home = tmp_path_factory.mktemp("emulated_home")
    rig_file = write_emulated_rig(home / "emulated.toml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AVALAB_HOME", str(home))
        code = main(["calibrate", "--rig", str(rig_file), "--no-progress", "--out", str(home / "calibration.h5")])
    assert code == 0
    return home


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulated_home: Path) -> Iterator[Harness]:
    home = tmp_path / "home"
    shutil.copytree(emulated_home, home)
    state = Harness(write_emulated_rig(tmp_path / "emulated.toml"))

    def attach(rig: Any, roles: Any = None, transport: str = "tcp",
               drivers: dict[str, str] | None = None) -> ProxiedBench:
        bench = proxied_emulators(rig, roles, drivers, faulted=state.plan[0] if state.plan else None)
        state.benches.append(bench)
        return bench

    original_init, original_close = Engine.__init__, Engine.close

    def init(self: Engine, rig: Any, calibration_store: Any = None) -> None:
        original_init(self, rig, calibration_store)
        if state.plan is not None and state.benches:
            trigger = FaultAt(state.benches[-1], *state.plan)
            state.triggers.append(trigger)
            self.subscribe(trigger)

    def close(self: Engine, timeout: float = 30.0) -> Any:
        report = original_close(self, timeout)
        if state.benches and not state.unsafe:
            state.unsafe = state.benches[-1].unsafe_roles()
        return report

    monkeypatch.setattr(bench_server, "attach_emulated_drivers", attach)
    monkeypatch.setattr(Engine, "__init__", init)
    monkeypatch.setattr(Engine, "close", close)
    monkeypatch.setenv("AVALAB_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    yield state
    for bench in state.benches:
        bench.close()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_safe_state_reported(harness: Harness, code: int, err: str, role: str) -> None:
    """Exit 4, one SAFE STATE FAILED line naming ``role`` (and any other role that could not
    be confirmed safe), every role the emulators call unsafe among them, no traceback."""
    assert harness.triggers and harness.triggers[0].fired
    assert "Traceback" not in err, err
    assert code == exit_codes.SAFE_STATE_FAILED, err
    lines = [text for text in err.splitlines() if text.startswith("avalab: SAFE STATE FAILED for ")]
    assert len(lines) == 1, err
    named = set(lines[0].removeprefix("avalab: SAFE STATE FAILED for ").split(":", 1)[0].split(", "))
    assert role in named, lines[0]
    assert set(harness.unsafe) <= named, (harness.unsafe, lines[0])


SWEEP_ARGS = ("--temperature", "77", "--start-kw-cm2", "2", "--stop-kw-cm2", "10", "--points", "6",
              "--settle-s", "0.1", "--dwell-s", "0.1", "--no-progress")


def test_sweep_through_the_emulators_completes_with_exit_0(harness: Harness, capsys, tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "sweep", "--rig", str(harness.rig_file), *SWEEP_ARGS,
                             "--out", str(tmp_path / "ok.h5"))
    assert code == 0, err
    assert harness.unsafe == {}
    assert open_run(tmp_path / "ok.h5").status == "complete"


@pytest.mark.parametrize("role,fault,moment", [("pump", "stall", 5), ("pump", "drop", "start"),
                                               ("pump_shutter", "kill", 11)])
def test_sweep_with_a_broken_link_exits_4_naming_the_role(harness: Harness, capsys, tmp_path: Path,
                                                          role: str, fault: str, moment: str | int) -> None:
    harness.plan = (role, fault, moment)
    out_file = tmp_path / "run.h5"
    code, out, err = run_cli(capsys, "sweep", "--rig", str(harness.rig_file), *SWEEP_ARGS,
                             "--out", str(out_file))
    assert_safe_state_reported(harness, code, err, role)
    assert out.startswith("sweep failed: safe state failed for ")
    run = open_run(out_file)
    assert run.status == "failed" and "safe state failed for" in run.reason
    assert run.n_points_total() == harness.triggers[0].points


def test_switch_run_with_a_stalled_control_shutter_exits_4(harness: Harness, capsys, tmp_path: Path) -> None:
    harness.plan = ("control_shutter", "stall", 0)  # after the first bias: the second pulse meets it
    code, out, err = run_cli(capsys, "switch", "--rig", str(harness.rig_file), "--temperature", "77",
                             "--biases-kw-cm2", "3", "6", "--sweep-points", "6", "--baseline-s", "0.5",
                             "--hold-s", "0.5", "--pulse-s", "0.2", "--no-progress",
                             "--out", str(tmp_path / "switch.h5"))
    assert_safe_state_reported(harness, code, err, "control_shutter")
    assert open_run(tmp_path / "switch.h5").status == "failed"


def test_campaign_stops_at_the_unit_whose_pump_link_dropped_and_exits_4(harness: Harness, capsys,
                                                                        tmp_path: Path) -> None:
    spec = tmp_path / "campaign.toml"
    spec.write_text('name = "faults"\n[[step]]\nloop = { spot = "${range(3)}" }\n'
                    'position_um = ["${2.0 * spot}", 0.0]\nexperiment = "sweep"\n'
                    'params = { temperature_k = 77.0, start_kw_cm2 = 2.0, stop_kw_cm2 = 10.0, points = 6, '
                    'settle_s = 0.1, dwell_s = 0.1 }\n')
    harness.plan = ("pump", "drop", 17)  # unit 2 of 3 (12 points per unit)
    folder = tmp_path / "campaign"
    code, out, err = run_cli(capsys, "campaign", str(spec), "--rig", str(harness.rig_file),
                             "--out", str(folder))
    assert_safe_state_reported(harness, code, err, "pump")
    assert "campaign stopped: unit s1/spot=1 ended failed: safe state failed for " in err
    import sqlite3
    with sqlite3.connect(folder / "campaign.sqlite") as db:
        rows = list(db.execute("SELECT unit_key, status FROM runs ORDER BY id"))
    assert rows == [("s1/spot=0", "complete"), ("s1/spot=1", "failed")]  # unit 3 never started
