"""Support for the serial ASCII conformance tests (SC10, MC2000B, Chameleon, Opus).

Each emulator is backed by the simulated bench's own device for its role and served on a real
pseudo-terminal and a real 127.0.0.1 TCP socket; the client libraries under test open those the
way they open hardware (a serial port path, a pyserial ``socket://`` URL, or a VISA resource).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sim_backends.bench import BeamConfig, Bench, BenchConfig, SampleConfig
from sim_backends.clock import VirtualClock
from sim_backends.devices import build_sim_device
from sim_backends.emulators.server import DeviceProtocol, EmulatorServer

TRANSPORTS = ("pty", "tcp")


@dataclass
class Served:
    """One emulator on the simulated bench, reachable over both transports."""

    server: EmulatorServer
    bench: Bench
    device: Any

    def serial_url(self, transport: str) -> str:
        """A pyserial port: the pty path, or ``socket://127.0.0.1:<port>``."""
        return self.server.pty_path if transport == "pty" else self.server.serial_tcp_url  # type: ignore[return-value]

    def visa_address(self, transport: str) -> str:
        """A VISA resource: ``ASRL<pty>::INSTR`` or ``TCPIP::127.0.0.1::<port>::SOCKET``."""
        return self.server.visa_pty_address if transport == "pty" else self.server.visa_tcp_address


@contextmanager
def served(role: str, emulator: Callable[[Any], DeviceProtocol]) -> Iterator[Served]:
    """Serve ``emulator(<the bench's device for role>)`` on a pty and on TCP until exit."""
    bench = Bench(BeamConfig(), SampleConfig(), BenchConfig(), VirtualClock())
    device = build_sim_device(role, bench)
    device.connect()
    server = EmulatorServer(lambda: emulator(device), role)
    server.serve_pty()
    server.serve_tcp()
    try:
        yield Served(server, bench, device)
    finally:
        server.close()
