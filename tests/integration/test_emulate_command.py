"""`avalab emulate` serves the emulated bench in its own process; real drivers in this process
connect to the addresses it prints, exactly as another program would."""
from __future__ import annotations

import signal
import subprocess
import sys
import tomllib

from drivers.clock import RealClock
from drivers.registry import create_driver


def read_tables(process: subprocess.Popen[str]) -> dict[str, dict[str, str]]:
    """Read stdout until the printed rig tables end (a blank line after the last table)."""
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("[roles.emission_shutter]"):
            lines += [process.stdout.readline(), process.stdout.readline()]
            break
    return tomllib.loads("".join(lines))["roles"]


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM, as Ctrl-C in a terminal; killed if it does not end within 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(600)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_emulate_prints_rig_tables_that_real_drivers_can_use() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from acquisition.cli import main; raise SystemExit(main())", "emulate"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        roles = read_tables(process)
        assert set(roles) >= {"pump", "hwp", "nd_wheel", "power_meter", "chopper", "cryostat",
                              "control_laser", "pump_shutter", "emission_shutter"}
        assert roles["pump"]["driver"] == "opus" and roles["pump"]["address"].startswith("TCPIP::127.0.0.1::")
        assert roles["hwp"]["address"].startswith("socket://127.0.0.1:")
        clock = RealClock()
        checks = {
            "pump": lambda d: "MPC-D" in d.identify() or "Opus" in d.identify(),
            "cryostat": lambda d: 1.0 < d.get_temperature() < 400.0,
            "hwp": lambda d: isinstance(d.get_position(), float),
            "power_meter": lambda d: d.read_power() >= 0.0,
        }
        for role, check in checks.items():
            driver = create_driver(role, roles[role]["driver"], roles[role]["address"], clock)
            driver.connect()
            try:
                assert check(driver), role
            finally:
                driver.close()
    finally:
        stop(process)
    assert process.returncode == 0


def test_emulate_serves_a_336_on_request() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from acquisition.cli import main; raise SystemExit(main())", "emulate",
         "--roles", "cryostat", "--use", "cryostat=lakeshore336"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("address"):
                break
        table = tomllib.loads("".join(lines))["roles"]["cryostat"]
        assert table["driver"] == "lakeshore336"
        driver = create_driver("cryostat", table["driver"], table["address"], RealClock())
        driver.connect()
        try:
            assert driver.identify().startswith("LSCI,MODEL336")
            assert set(driver.get_all_temperatures()) == {"A", "B", "C", "D"}
        finally:
            driver.close()
    finally:
        stop(process)
    assert process.returncode == 0


def test_emulate_refuses_a_driver_the_role_cannot_be_emulated_with() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from acquisition.cli import main; raise SystemExit(main())", "emulate",
         "--use", "cryostat=lakeshore340"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert "cryostat='lakeshore340' cannot be emulated; allowed values: lakeshore335, lakeshore336" \
        in result.stderr
