"""Connect Lake Shore's official ``lakeshore`` package (Model335 / Model336) to an emulator.

TCP: the package's own socket transport (``ip_address``, ``tcp_port``): the 336's Ethernet port,
or a serial-to-Ethernet bridge in front of a 335. Serial: the package finds its instrument by USB
VID:PID among ``serial.tools.list_ports.comports()`` and opens the matching port with pyserial
(57600 baud, 7 data bits, odd parity). A pseudo-terminal has no USB descriptor, so the fixture
lists the pty as a port with the controller's VID:PID (what the OS reports for the real unit) and
the package's own serial code opens it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from conformance_support import Link, require_client

from sim_backends.emulators.lakeshore_models import model_spec

LAKE_SHORE_VID = 0x1FB9


@dataclass(frozen=True)
class UsbPort:
    """What ``comports()`` reports for a Lake Shore USB virtual COM port."""

    device: str
    vid: int
    pid: int
    serial_number: str | None = None


@contextmanager
def official_client(model: int, link: Link, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    lakeshore = require_client("lakeshore")
    generic = require_client("lakeshore.generic_instrument", "lakeshore")
    cls = {335: lakeshore.Model335, 336: lakeshore.Model336}[model]
    extra: dict[str, Any] = {"baud_rate": 57600} if model == 335 else {}
    if link.transport == "tcp":
        client = cls(ip_address=link.host, tcp_port=link.port, timeout=10.0, **extra)
    else:
        port = UsbPort(link.device, LAKE_SHORE_VID, model_spec(model).usb_pid)
        monkeypatch.setattr(generic, "comports", lambda: [port])
        client = cls(com_port=link.device, timeout=10.0, **extra)
    try:
        yield client
    finally:
        if client.device_serial is not None:
            client.disconnect_usb()
        if client.device_tcp is not None:
            client.disconnect_tcp()
