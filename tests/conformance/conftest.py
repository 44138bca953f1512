"""Conformance suite fixtures: emulators on the simulated bench, served the way a lab connects.

``transport`` runs a test once over TCP and once over a pseudo-terminal; ``serve`` starts an
:class:`EmulatorServer` on both and closes it after the test; ``link`` combines them. See
README.md in this folder for the pattern every client test follows.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from conformance_support import TRANSPORTS, Link, serve_both

from sim_backends.bench import BeamConfig, Bench, BenchConfig, SampleConfig
from sim_backends.clock import VirtualClock
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bench() -> Bench:
    """A simulated bench on virtual time: the emulators' readings come from its physics."""
    return Bench(BeamConfig(), SampleConfig(), BenchConfig(), VirtualClock())


@pytest.fixture
def serve() -> Iterator[Callable[[EmulatorServer], EmulatorServer]]:
    """``serve(server)`` serves it on a pty and on TCP; every server is closed after the test."""
    servers: list[EmulatorServer] = []

    def start(server: EmulatorServer) -> EmulatorServer:
        servers.append(server)
        return serve_both(server)

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def make_link(serve: Callable[[EmulatorServer], EmulatorServer], transport: str
              ) -> Callable[[EmulatorServer], Link]:
    """``make_link(server)``: serve it and return the Link for this test's transport."""
    def build(server: EmulatorServer) -> Link:
        return Link(transport, serve(server))
    return build
