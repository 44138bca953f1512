"""Fixtures for the ASCII driver tests: emulators served on a real pty and a real TCP socket."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sim_backends.emulators.server import DeviceProtocol, EmulatorServer

#: short timeouts keep fault-injection tests fast; the emulators answer in well under 10 ms
FAST_TIMEOUT_S = 0.3


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[], DeviceProtocol], str], EmulatorServer]]:
    """Start an EmulatorServer on a pty and on TCP; closed after the test."""
    servers: list[EmulatorServer] = []

    def start(factory: Callable[[], DeviceProtocol], name: str) -> EmulatorServer:
        server = EmulatorServer(factory, name)
        server.serve_pty()
        server.serve_tcp()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def transport_address(server: EmulatorServer, transport: str) -> str:
    """The VISA address of ``server`` over ``transport`` ("pty" or "tcp")."""
    return server.visa_pty_address if transport == "pty" else server.visa_tcp_address
