"""Thorlabs SC10 emulator against pyLabLib's Thorlabs serial interface.

Client: ``pylablib-lightweight`` (maintained), ``pylablib.devices.Thorlabs.serial.
ThorlabsSerialInterface``, pyLabLib's generic interface for Thorlabs' echo/prompt serial
controllers (its FW102 and MDT69xA drivers are built on it; pyLabLib has no SC10 class).
Connected as pyLabLib connects a COM port: the pty path with the baud rate, or a pyserial
``socket://`` URL. Operations: ``ask`` (every query of the SC10 manual's table, p. 15), ``write``
(every setting and command), its reply check (a reply containing ``CMD_`` raises ThorlabsError).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conformance_support import Link, require_client

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.sc10 import SC10Emulator
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def shutter(bench: Bench) -> Any:
    device = build_sim_device("pump_shutter", bench)
    device.connect()
    return device


@pytest.fixture
def sc10(shutter: Any, make_link: Any) -> Iterator[Any]:
    serial_interface = require_client("pylablib.devices.Thorlabs.serial", "pylablib-lightweight")
    link: Link = make_link(EmulatorServer(lambda: SC10Emulator(shutter), "sc10"))
    conn = (link.device, 9600) if link.transport == "pty" else link.serial_url
    device = serial_interface.ThorlabsSerialInterface(conn)
    yield device
    device.close()


def test_identity_and_command_list(sc10: Any) -> None:
    assert sc10.ask("id?").startswith("THORLABS SC10")
    assert sc10.ask("?") == "?          Get commands"  # the first line of the list


def test_enable_toggle_opens_and_closes_the_bench_shutter(sc10: Any, shutter: Any) -> None:
    sc10.write("mode=1")
    assert sc10.ask("mode?") == "1"
    assert sc10.ask("ens?") == "0" and sc10.ask("closed?") == "1"
    sc10.write("ens")
    assert shutter.is_open() and sc10.ask("ens?") == "1" and sc10.ask("closed?") == "0"
    sc10.write("ens")
    assert not shutter.is_open() and sc10.ask("ens?") == "0"
    assert sc10.ask("interlock?") == "0"


def test_every_setting_reads_back(sc10: Any) -> None:
    for key, value in (("rep", "12"), ("trig", "1"), ("xto", "1"), ("open", "250"),
                       ("shut", "999999"), ("mode", "4")):
        sc10.write(f"{key}={value}")
        assert sc10.ask(f"{key}?") == value
    assert sc10.ask("baud?") == "0"


def test_memory_savp_resp_save_default(sc10: Any) -> None:
    sc10.write("mode=4")
    sc10.write("open=250")
    sc10.write("savp")
    sc10.write("default")
    assert sc10.ask("mode?") == "1" and sc10.ask("open?") == "10"
    sc10.write("resp")
    assert sc10.ask("mode?") == "4" and sc10.ask("open?") == "250"
    sc10.write("save")
    assert sc10.ask("xto?") == "0"


def test_errors_raise_and_the_link_stays_in_step(sc10: Any) -> None:
    error = require_client("pylablib.devices.Thorlabs.serial", "pylablib-lightweight").ThorlabsError
    with pytest.raises(error):
        sc10.ask("rep=500")
    with pytest.raises(error):
        sc10.ask("ID?")  # "All commands and queries are in lower case letters" (manual p. 15)
    sc10.write("mode=2")
    assert sc10.ask("mode?") == "2"
