"""Coherent Chameleon Ultra II emulator against ScopeFoundry's driver call sequence.

Client: ScopeFoundry's ``ScopeFoundryHW/chameleon_ultra_ii`` ``ChameleonUltraIILaser`` (not
published on PyPI). It sends ``ECHO=0`` and ``PROMPT=0`` at start and then the manual's LONG
forms (``LASER=``, ``SHUTTER=``, ``WAVELENGTH=``, ``WAVELENGTH STEP=``, ``PRINT WAVELENGTH``,
``SEARCH MODELOCK=``, ``LBO HEATER=``, ``BAUDRATE=``) next to short ones, reading one line per
command (``write_cmd``: ``readline``; "Error" in the answer raises). That sequence is re-done in
our own pyserial code (read to learn, not copied), over a pty and over TCP.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import serial
from conformance_support import Link

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.chameleon import ChameleonEmulator
from sim_backends.emulators.server import EmulatorServer


class LineClient:
    """One CRLF line per command, as micro-manager's ``SendCommand`` and ScopeFoundry's
    ``write_cmd`` read them."""

    def __init__(self, port: str) -> None:
        self.port = serial.serial_for_url(port, baudrate=19200, timeout=10.0)

    def command(self, text: str) -> str:
        self.port.write(text.encode() + b"\r\n")
        line = self.port.read_until(b"\r\n")
        assert line.endswith(b"\r\n"), f"no complete answer to {text!r}: {line!r}"
        return line[:-2].decode("ascii")


@pytest.fixture
def control_laser(bench: Bench) -> Any:
    device = build_sim_device("control_laser", bench)
    device.connect()
    return device


@pytest.fixture
def client(control_laser: Any, make_link: Any) -> Iterator[LineClient]:
    link: Link = make_link(EmulatorServer(lambda: ChameleonEmulator(control_laser), "chameleon"))
    line_client = LineClient(link.serial_url)
    yield line_client
    line_client.port.close()


def write_cmd(client: LineClient, text: str) -> str:
    answer = client.command(text)
    assert "Error" not in answer, f"{text!r} -> {answer!r}"  # IOError in the client
    return answer.strip()


@pytest.fixture
def started(client: LineClient) -> LineClient:
    write_cmd(client, "ECHO=0")  # __init__: write_echo_mode(False), write_prompt(False)
    write_cmd(client, "PROMPT=0")
    return client


def test_wavelength_long_forms(started: LineClient, control_laser: Any) -> None:
    write_cmd(started, "WAVELENGTH=750")
    assert float(write_cmd(started, "PRINT WAVELENGTH")) == 750.0
    write_cmd(started, "WAVELENGTH STEP=10")
    assert float(write_cmd(started, "PRINT WAVELENGTH")) == 760.0
    assert control_laser.get_wavelength() == pytest.approx(760e-9)
    assert int(write_cmd(started, "?TS")) in (0, 1, 2, 3)


def test_laser_shutter_and_power(started: LineClient, control_laser: Any) -> None:
    write_cmd(started, "LASER=1")
    write_cmd(started, "SHUTTER=1")
    assert int(write_cmd(started, "?S")) == 1 and control_laser.get_shutter() is True
    assert float(write_cmd(started, "?UF")) >= 0.0
    assert int(write_cmd(started, "?MDLK")) in (0, 1, 2)
    write_cmd(started, "SHUTTER=0")
    assert control_laser.get_shutter() is False


def test_alignment_modelock_heartbeat_and_homing(started: LineClient) -> None:
    write_cmd(started, "ALIGN=1")
    assert int(write_cmd(started, "?ALIGN")) == 1
    write_cmd(started, "ALIGNW=790")
    assert int(write_cmd(started, "?ALIGNW")) == 790
    write_cmd(started, "ALIGN=0")
    write_cmd(started, "HEARTBEAT=0")
    write_cmd(started, "HEARTBEATRATE=30")
    write_cmd(started, "SEARCH MODELOCK=1")
    assert int(write_cmd(started, "?SM")) == 1
    write_cmd(started, "LBO HEATER=1")
    write_cmd(started, "AMDLK=1")
    assert int(write_cmd(started, "?AMDLK")) == 1
    write_cmd(started, "HM=1")
    assert int(write_cmd(started, "?HM")) == 1
    write_cmd(started, "BAUDRATE=19200")
