"""Coherent Chameleon Ultra II emulator against micro-manager's adapter call sequence.

Client: micro-manager's ``DeviceAdapters/CoherentChameleon`` (C++, built inside micro-manager,
so not installable here). Its ``Initialize`` sends ``ECHO=0`` and ``PROMPT=0`` with
``SendCommand(cmd, checkError=false)``, reads ``?TMIN``/``?TMAX`` with ``stoi``, then queries
and sets the keys of ``commands.h`` through ``SendCommand`` (CRLF out, one CRLF-terminated answer
in, errors recognised by the prefixes `` RANGE ERROR``, `` Command Error``, `` Query Error``).
That sequence is re-done in our own pyserial code (read to learn, not copied), over a pty and
over TCP.
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


def checked(client: LineClient, text: str) -> str:
    """``CoherentChameleon::SendCommand(cmd, checkError=true)``."""
    answer = client.command(text)
    for prefix in (" RANGE ERROR", " Command Error", " Query Error"):
        assert not answer.startswith(prefix), f"{text!r} -> {answer!r}"
    return answer


def test_initialize_handshake_and_tuning_limits(client: LineClient) -> None:
    client.command("ECHO=0")  # checkError=false: the answer is not looked at
    client.command("PROMPT=0")
    assert (int(checked(client, "?TMIN")), int(checked(client, "?TMAX"))) == (680, 1080)


def test_properties_read_at_initialize(client: LineClient) -> None:
    client.command("ECHO=0")
    client.command("PROMPT=0")
    for key in ("S", "L", "K", "UF", "MDLK", "TS", "SM", "HM", "ALIGN", "SN", "ST", "SV", "F",
                "FH", "VW", "LBOH"):
        assert checked(client, f"?{key}") != ""
    assert checked(client, "?F") == "0"  # split on '&': no fault codes


def test_set_parameter(client: LineClient, control_laser: Any) -> None:
    client.command("ECHO=0")
    client.command("PROMPT=0")
    checked(client, "L=1")  # SetParameter(LASER, "1")
    checked(client, "VW=745")
    assert checked(client, "?VW") == "745"
    checked(client, "SM=1")
    checked(client, "ALIGN=1")
    checked(client, "ALIGN=0")
    assert control_laser.get_emission() is True
