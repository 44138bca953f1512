"""Helpers for the conformance suite: how a client reaches an emulator, and how a client's own
bug is recorded (see tests/conformance/README.md for the pattern)."""
from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from types import ModuleType

import pytest

from sim_backends.emulators.server import EmulatorServer

#: the transports a lab uses for the ASCII instruments: the instrument's Ethernet port (or a
#: serial-to-Ethernet bridge) and a serial port (USB virtual COM port)
TRANSPORTS: tuple[str, ...] = ("tcp", "pty")

#: what a skipped client test says when the conformance extra is not installed
INSTALL_HINT = "pip install -e '.[conformance]'"


@dataclass(frozen=True)
class Link:
    """One way into a served emulator, in every form a client library may ask for."""

    transport: str
    server: EmulatorServer

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        if self.server.tcp_port is None:
            raise RuntimeError(f"{self.server.name} is not served on TCP")
        return self.server.tcp_port

    @property
    def device(self) -> str:
        """The serial device path (/dev/pts/N) a client opens as its COM port."""
        if self.server.pty_path is None:
            raise RuntimeError(f"{self.server.name} is not served on a pty")
        return self.server.pty_path

    @property
    def visa_address(self) -> str:
        """``TCPIP::127.0.0.1::<port>::SOCKET`` or ``ASRL/dev/pts/N::INSTR``."""
        return self.server.visa_tcp_address if self.transport == "tcp" else self.server.visa_pty_address

    @property
    def serial_url(self) -> str:
        """What pyserial's ``serial_for_url`` opens: ``socket://127.0.0.1:<port>`` or the pty."""
        return self.server.serial_tcp_url if self.transport == "tcp" else self.device


def serve_both(server: EmulatorServer) -> EmulatorServer:
    """Serve ``server`` on a pty and on a free 127.0.0.1 port (the caller closes it)."""
    server.serve_pty()
    server.serve_tcp()
    return server


def require_client(module: str, distribution: str | None = None) -> ModuleType:
    """Import a client library of the ``[conformance]`` extra, or skip saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.skip(f"client library {distribution or module} is not installed ({error}); "
                    f"{INSTALL_HINT}")


def client_version(distribution: str) -> str:
    """Installed version of a client distribution (for skip reasons and reports)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def client_bug(distribution: str, what: str, where: str) -> pytest.MarkDecorator:
    """Skip marker for an operation that fails because of the CLIENT, not the emulator.

    ``what`` says what the client does wrong, ``where`` points at the client's code (module and
    function) so that anyone can check it; the installed version is part of the reason, so a
    report shows which release the note was written against.
    """
    return pytest.mark.skip(reason=f"client bug in {distribution} {client_version(distribution)}: "
                                   f"{what} [{where}]")
