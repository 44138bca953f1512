"""Thorlabs SC10 emulator against InstrumentKit's SC10 call sequence.

Client: InstrumentKit ``instruments.thorlabs.SC10`` cannot be installed here: its newest PyPI
release (0.6.0, 2020) pins ``enum34`` and ``ruamel.yaml~=0.15``, which do not build or run on
Python 3.11. Its read algorithm (``Instrument.sendcmd`` / ``query`` with terminator ``\\r``,
acknowledgement = the command itself, prompt ``"> "``: write ``cmd\\r``, read the
acknowledgement line, read the value line for a query, then read exactly the two prompt bytes)
is re-done here in our own pyserial code (read to learn, not copied), with every property of its
SC10 class, over a pty and over TCP (pyserial ``socket://``).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import serial
from conformance_support import Link

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.sc10 import SC10Emulator
from sim_backends.emulators.server import EmulatorServer


class InstrumentKitSequence:
    """InstrumentKit's ``sendcmd`` / ``query`` as its SC10 class configures them."""

    def __init__(self, port: str) -> None:
        self.port = serial.serial_for_url(port, baudrate=9600, timeout=10.0)

    def _line(self) -> str:
        data = self.port.read_until(b"\r")
        assert data.endswith(b"\r"), f"timed out after {data!r}"
        return data[:-1].decode("ascii")

    def _prompt(self) -> None:
        assert self.port.read(2) == b"> "  # PromptError otherwise

    def sendcmd(self, command: str) -> None:
        self.port.write(command.encode() + b"\r")
        assert self._line() == command  # AcknowledgementError otherwise
        self._prompt()

    def query(self, command: str) -> str:
        self.port.write(command.encode() + b"\r")
        assert self._line() == command
        value = self._line()
        self._prompt()
        return value


@pytest.fixture
def shutter(bench: Bench) -> Any:
    device = build_sim_device("pump_shutter", bench)
    device.connect()
    return device


@pytest.fixture
def sc(shutter: Any, make_link: Any) -> Iterator[InstrumentKitSequence]:
    link: Link = make_link(EmulatorServer(lambda: SC10Emulator(shutter), "sc10"))
    client = InstrumentKitSequence(link.serial_url)
    yield client
    client.port.close()


def test_name_mode_and_enable(sc: InstrumentKitSequence, shutter: Any) -> None:
    assert sc.query("id?").startswith("THORLABS SC10")  # SC10.name
    sc.sendcmd("mode=1")  # SC10.mode = Mode.manual
    assert int(sc.query("mode?")) == 1
    if not bool(int(sc.query("ens?"))):  # SC10.enable = True reads first, toggles if needed
        sc.sendcmd("ens")
    assert bool(int(sc.query("ens?"))) and shutter.is_open()
    assert sc.query("closed?") == "0" and sc.query("interlock?") == "0"
    sc.sendcmd("ens")  # SC10.enable = False
    assert not shutter.is_open()


def test_int_and_unitful_properties(sc: InstrumentKitSequence) -> None:
    for key, value in (("rep", 20), ("trig", 1), ("xto", 0), ("open", 20), ("shut", 30)):
        sc.sendcmd(f"{key}={value}")
        assert int(sc.query(f"{key}?")) == value


def test_baud_rate(sc: InstrumentKitSequence) -> None:
    sc.sendcmd("baud=0")  # SC10.baud_rate = 9600 (the emulated link keeps its rate)
    assert sc.query("baud?") == "0"


@pytest.mark.skip(reason="InstrumentKit client bug (its newest release is not installable, so "
                         "recorded by hand): SC10.save()/save_mode()/restore()/default() use "
                         "query() and wait for a value line after savp/save/resp/default; the "
                         "manual's table lists them as commands with no returned value, so the unit "
                         "answers echo + prompt only (InstrumentKit's own tests invent a '1') "
                         "[instruments.thorlabs.sc10.SC10.save]")
def test_memory_commands_as_queries(sc: InstrumentKitSequence) -> None:
    for command in ("savp", "save", "resp", "default"):
        assert sc.query(command) == "1"  # what InstrumentKit's check_cmd expects
