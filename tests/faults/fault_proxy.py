"""A TCP proxy that sits between a real driver and an instrument emulator and breaks the link on
command: drop it, stall it, garble it or kill it, now or for the rest of the test.

    proxy = FaultProxy(("127.0.0.1", emulator_port)); proxy.start()
    driver talks to proxy.port ...
    proxy.set_fault("stall")        # from now on: bytes held both ways, new connections stall too
    proxy.set_fault(None)           # the link works again (new connections pass bytes)

Faults (persistent until cleared, so a driver's own reconnect meets them too):
- ``drop``: every connection is closed (FIN) and new ones are closed as soon as accepted;
- ``kill``: the same with a reset (RST): the driver sees "connection reset";
- ``stall``: connections stay open but no byte passes either way (the driver's timeouts fire);
- ``garble``: the instrument's replies are replaced by bytes no protocol accepts.

Commands take effect before ``set_fault`` returns for new traffic; a chunk already being copied
finishes. Every wait here is a short ``select`` poll: nothing races the wall clock.
"""
from __future__ import annotations

import select
import socket
import struct
import threading
from collections.abc import Callable

FAULTS = ("drop", "kill", "stall", "garble")
_POLL_S = 0.02
_GARBAGE = b"\xff\xfe\x00\x9c#!\x81"


class FaultProxy:
    """Forwards 127.0.0.1:``port`` to ``target`` until told to break the link."""

    def __init__(self, target: tuple[str, int], name: str = "proxy") -> None:
        self.target = target
        self.name = name
        self._fault: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port: int = self._listener.getsockname()[1]
        #: connections accepted, and bytes passed host -> instrument (what the test can check)
        self.connections = 0
        self.bytes_to_instrument = 0

    # ------------------------------------------------------------------ commands
    @property
    def fault(self) -> str | None:
        with self._lock:
            return self._fault

    def set_fault(self, fault: str | None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault={fault!r} is not allowed; allowed values: {', '.join(FAULTS)}, None")
        with self._lock:
            self._fault = fault
            pairs = list(self._pairs) if fault in ("drop", "kill") else []
        for host, instrument in pairs:
            self._close_pair(host, instrument, reset=fault == "kill")

    def drop_connections(self) -> None:
        """Close the connections there are now (FIN); new ones pass: a transient link loss."""
        with self._lock:
            pairs = list(self._pairs)
        for host, instrument in pairs:
            self._close_pair(host, instrument, reset=False)

    def start(self) -> "FaultProxy":
        self._spawn(self._accept_loop)
        return self

    def close(self) -> None:
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            pairs = list(self._pairs)
        for host, instrument in pairs:
            self._close_pair(host, instrument, reset=False)
        for thread in self._threads:
            thread.join(timeout=5.0)

    # ------------------------------------------------------------------ internals
    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"fault-proxy-{self.name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], _POLL_S)
                if not ready:
                    continue
                host, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            fault = self.fault
            if fault in ("drop", "kill"):
                self._close_socket(host, reset=fault == "kill")
                continue
            try:
                instrument = socket.create_connection(self.target, timeout=5.0)
            except OSError:
                self._close_socket(host, reset=True)
                continue
            for sock in (host, instrument):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._pairs.append((host, instrument))
            self._spawn(self._pump, host, instrument)

    def _pump(self, host: socket.socket, instrument: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                if self.fault == "stall":
                    self._stop.wait(_POLL_S)  # bytes stay in the kernel buffers, unread
                    continue
                ready, _, _ = select.select([host, instrument], [], [], _POLL_S)
                for sock in ready:
                    if self.fault == "stall":
                        break
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is host:
                        self.bytes_to_instrument += len(data)
                        instrument.sendall(data)
                    else:
                        host.sendall(_GARBAGE * (len(data) // len(_GARBAGE) + 1)
                                     if self.fault == "garble" else data)
        except (OSError, ValueError):  # ValueError: a kill closed a socket under select (fd -1)
            return
        finally:
            self._close_pair(host, instrument, reset=False)

    def _close_pair(self, host: socket.socket, instrument: socket.socket, reset: bool) -> None:
        with self._lock:
            if (host, instrument) in self._pairs:
                self._pairs.remove((host, instrument))
        self._close_socket(host, reset)
        self._close_socket(instrument, reset=False)

    @staticmethod
    def _close_socket(sock: socket.socket, reset: bool) -> None:
        try:
            if reset:  # SO_LINGER 0: close sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass


class ProxyGroup:
    """The proxies of one role (an XY stage has one link per axis): commanded together."""

    def __init__(self, proxies: list[FaultProxy]) -> None:
        self.proxies = proxies

    def set_fault(self, fault: str | None) -> None:
        for proxy in self.proxies:
            proxy.set_fault(fault)

    def drop_connections(self) -> None:
        for proxy in self.proxies:
            proxy.drop_connections()

    @property
    def connections(self) -> int:
        return sum(proxy.connections for proxy in self.proxies)

    def close(self) -> None:
        for proxy in self.proxies:
            proxy.close()
