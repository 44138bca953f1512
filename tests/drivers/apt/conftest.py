"""Fixtures for the APT tests: emulator servers on a real pty or TCP socket, closed after use."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from apt_fakes import FakeRotationStage, ServeApt

from drivers.interfaces import RotationStage
from sim_backends.emulators.apt import AptEmulator
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def fake_stage() -> FakeRotationStage:
    return FakeRotationStage(speed_deg_s=720.0)


@pytest.fixture
def serve_apt() -> Iterator[ServeApt]:
    """``serve_apt(stage, model, link, emulator_cls=AptEmulator)`` -> (server, address, emulators)."""
    servers: list[EmulatorServer] = []

    def serve(stage: RotationStage, model: str, link: str,
              emulator_cls: type[AptEmulator] = AptEmulator) -> tuple[EmulatorServer, str, list[AptEmulator]]:
        emulators: list[AptEmulator] = []

        def factory() -> AptEmulator:
            emulator = emulator_cls(stage, model)
            emulators.append(emulator)
            return emulator

        server = EmulatorServer(factory, f"apt-{model}")
        servers.append(server)
        if link == "pty":
            address = server.serve_pty()
        else:
            server.serve_tcp()
            address = server.serial_tcp_url
        return server, address, emulators

    yield serve
    for server in servers:
        server.close()
