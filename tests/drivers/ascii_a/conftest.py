"""Fixtures for the ASCII driver tests: emulators served on a real pty and a real TCP socket."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sim_backends.emulators.server import DeviceProtocol, EmulatorServer

#: for links that will answer: generous, as CI is a loaded 2-core machine (the emulators answer
#: in well under 10 ms on an idle one)
REPLY_TIMEOUT_S = 10.0
#: for a test whose point is a timeout or a dropped link (pyvisa-py notices a closed TCP peer
#: when a read times out): a stalled reply is held back by the emulator (see
#: ``EmulatorServer.release_held_replies``), so this only bounds how long the test waits for it
#: and for the driver's drain of the late reply; the commands after it must still be answered
#: within it, hence not shorter
FAST_TIMEOUT_S = 1.0


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
