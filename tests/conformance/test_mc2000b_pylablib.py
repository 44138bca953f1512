"""Thorlabs MC2000B emulator against pyLabLib's Thorlabs serial interface.

Client: ``pylablib-lightweight`` (maintained), ``ThorlabsSerialInterface`` (pyLabLib has no
MC2000B class; this is its generic interface for Thorlabs' echo/prompt controllers), over a pty
and over TCP (pyserial ``socket://``). Operations: ``ask``/``write`` with the whole MC2000B
command list, and its reply check (a reply containing ``CMD_`` raises ThorlabsError).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conformance_support import Link, require_client

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.mc2000b import MC2000BEmulator
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def blade_drive(bench: Bench) -> Any:
    device = build_sim_device("chopper", bench)
    device.connect()
    return device


@pytest.fixture
def mc(blade_drive: Any, make_link: Any) -> Iterator[Any]:
    serial_interface = require_client("pylablib.devices.Thorlabs.serial", "pylablib-lightweight")
    link: Link = make_link(EmulatorServer(lambda: MC2000BEmulator(blade_drive), "mc2000b"))
    conn = (link.device, 115200) if link.transport == "pty" else link.serial_url
    device = serial_interface.ThorlabsSerialInterface(conn)
    yield device
    device.close()


def _error() -> type[Exception]:
    return require_client("pylablib.devices.Thorlabs.serial", "pylablib-lightweight").ThorlabsError


def test_identity_and_fixed_duty_blade(mc: Any, blade_drive: Any) -> None:
    assert mc.ask("id?").startswith("THORLABS MC2000B")
    mc.write("blade=4")  # MC1F60
    assert mc.ask("blade?") == "4" and blade_drive.get_blade() == "MC1F60"
    mc.write("freq=2500")
    assert mc.ask("freq?") == "2500"
    assert mc.ask("oncycle?") == "50"


def test_every_setting_reads_back(mc: Any) -> None:
    mc.write("blade=9")
    for key, value in (("freq", "500"), ("oncycle", "25"), ("phase", "180"), ("nharmonic", "5"),
                       ("dharmonic", "7"), ("ref", "1"), ("output", "1"), ("intensity", "3"),
                       ("verbose", "0")):
        mc.write(f"{key}={value}")
        assert mc.ask(f"{key}?") == value
    assert mc.ask("input?") == "0"
    mc.write("restore")
    assert mc.ask("phase?") == "0" and mc.ask("ref?") == "0"


def test_running_blade_and_refusals(mc: Any, bench: Bench) -> None:
    mc.write("blade=9")
    mc.write("freq=500")
    mc.write("enable=1")
    assert mc.ask("enable?") == "1"
    bench.clock.sleep(5.0)
    assert abs(int(mc.ask("refoutfreq?")) - 500) <= 5
    with pytest.raises(_error()):
        mc.ask("ref=0")  # only while stopped
    mc.write("enable=0")
    with pytest.raises(_error()):
        mc.ask("output=3")  # the MC1F10A has target/actual only (manual chapter 8.4)
    with pytest.raises(_error()):
        mc.ask("FREQ?")
    assert mc.ask("enable?") == "0"
