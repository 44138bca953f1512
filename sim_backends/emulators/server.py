"""Serve a sans-IO instrument protocol on a pseudo-terminal and/or a TCP socket on 127.0.0.1.

An emulator is a :class:`DeviceProtocol`: bytes from the host go in through ``feed`` and the
device's reply bytes come out; ``unsolicited`` yields bytes the device sends on its own (APT
status frames). :class:`EmulatorServer` moves bytes between that object and a real pty or socket,
so drivers under test talk to it exactly as they would to hardware (pyserial/pyvisa on a device
path or ``socket://`` / ``TCPIP::...::SOCKET`` address).

Fault injection (``EmulatorServer.faults``) lets tests delay replies past a driver's timeout,
garble replies, or drop the TCP connection, to check that drivers fail clearly or recover. A
delayed reply can also be released on demand (``release_held_replies``), so a test of a late reply
does not depend on how fast a loaded machine schedules the emulator's thread.
"""
from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
import tty
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

_POLL_S = 0.02


class DeviceProtocol(ABC):
    """Byte-level model of one instrument's interface (no I/O here)."""

    @abstractmethod
    def feed(self, data: bytes) -> bytes:
        """Consume bytes sent by the host; return whatever the device answers (may be b"")."""

    def unsolicited(self) -> bytes:
        """Bytes the device sends on its own initiative (polled every few tens of ms)."""
        return b""

    def garbage(self) -> bytes:
        """What a corrupted reply looks like on this link (fault injection)."""
        return b"\xff\xfe#@!\x00\x13"


class LineProtocol(DeviceProtocol):
    """An ASCII line protocol: splits host input on CR, LF or CRLF and answers line by line.

    Empty lines are ignored, which also absorbs the LF of a CRLF that arrived in a later read.
    """

    encoding = "ascii"

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        replies: list[bytes] = []
        while (cut := _first_terminator(self._buffer)) is not None:
            end, width = cut
            raw, self._buffer = self._buffer[:end], self._buffer[end + width:]
            if not raw.strip():
                continue
            reply = self.handle_line(raw.decode(self.encoding, errors="replace"))
            if reply:
                replies.append(reply)
        return b"".join(replies)

    @abstractmethod
    def handle_line(self, line: str) -> bytes:
        """Answer one command line (without its terminator); b"" for no reply."""


def _first_terminator(buffer: bytes) -> tuple[int, int] | None:
    """Position and width of the first CR, LF or CRLF in ``buffer``."""
    positions = [p for p in (buffer.find(b"\r"), buffer.find(b"\n")) if p >= 0]
    if not positions:
        return None
    pos = min(positions)
    return (pos, 2) if buffer[pos:pos + 2] == b"\r\n" else (pos, 1)


@dataclass
class Faults:
    """Faults to inject on the next replies (tests set these, the server consumes them)."""

    reply_delay_s: float = 0.0       # every reply is held back this long (or until released)
    garbage_replies: int = 0         # the next N replies are replaced by garbage bytes
    drop_connection: bool = False    # close the TCP connection instead of the next reply
    silent_replies: int = 0          # the next N replies are swallowed (device hangs)

    def clear(self) -> None:
        self.reply_delay_s = 0.0
        self.garbage_replies = 0
        self.drop_connection = False
        self.silent_replies = 0


class _Dropped(Exception):
    pass


class EmulatorServer:
    """Serve one instrument protocol on a pty and/or a TCP port until ``close()``."""

    def __init__(self, protocol_factory: Callable[[], DeviceProtocol], name: str) -> None:
        self.name = name
        self._factory = protocol_factory
        self.faults = Faults()
        self._stop = threading.Event()
        # replies held back by ``faults.reply_delay_s``: counted, and released early on demand
        self._held = threading.Condition()
        self._held_count = 0
        self._release = threading.Event()
        self._threads: list[threading.Thread] = []
        self._fds_to_close: list[int] = []
        self._sockets: list[socket.socket] = []
        self.pty_path: str | None = None
        self.tcp_port: int | None = None

    # ----------------------------------------------------------------- transports
    def serve_pty(self) -> str:
        """Open a pseudo-terminal and serve on it; returns the device path (e.g. /dev/pts/7)."""
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: the bytes are the protocol's own
        # keep the slave open ourselves so the master does not see EIO between client opens
        self._fds_to_close += [master, slave]
        self.pty_path = os.ttyname(slave)
        self._spawn(self._serve_fd, master)
        log.info("%s emulator on %s", self.name, self.pty_path)
        return self.pty_path

    def serve_tcp(self, port: int = 0) -> int:
        """Listen on 127.0.0.1:``port`` (0 = any free port); returns the port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(4)
        listener.settimeout(_POLL_S * 5)
        self._sockets.append(listener)
        self.tcp_port = listener.getsockname()[1]
        self._spawn(self._accept_loop, listener)
        log.info("%s emulator on 127.0.0.1:%d", self.name, self.tcp_port)
        return self.tcp_port

    # ----------------------------------------------------------------- addresses
    @property
    def visa_tcp_address(self) -> str:
        return f"TCPIP::127.0.0.1::{self.tcp_port}::SOCKET"

    @property
    def serial_tcp_url(self) -> str:
        return f"socket://127.0.0.1:{self.tcp_port}"

    @property
    def visa_pty_address(self) -> str:
        return f"ASRL{self.pty_path}::INSTR"

    # ----------------------------------------------------------------- life cycle
    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
        for fd in self._fds_to_close:
            try:
                os.close(fd)
            except OSError:
                pass
        self._threads.clear()
        self._sockets.clear()
        self._fds_to_close.clear()

    def __enter__(self) -> "EmulatorServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- internals
    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"emu-{self.name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets.append(conn)
            self._spawn(self._serve_socket, conn)

    def _serve_socket(self, conn: socket.socket) -> None:
        protocol = self._factory()

        def send(data: bytes) -> None:
            conn.sendall(data)

        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([conn], [], [], _POLL_S)
                if ready:
                    data = conn.recv(4096)
                    if not data:
                        return
                    self._answer(protocol, data, send, can_drop=True)
                self._push_unsolicited(protocol, send)
        except _Dropped:
            log.info("%s emulator: dropping connection (fault injection)", self.name)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _serve_fd(self, master: int) -> None:
        protocol = self._factory()

        def send(data: bytes) -> None:
            view = memoryview(data)
            while view:
                written = os.write(master, view)
                view = view[written:]

        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], _POLL_S)
                if ready:
                    data = os.read(master, 4096)
                    if data:
                        self._answer(protocol, data, send, can_drop=False)
                self._push_unsolicited(protocol, send)
            except _Dropped:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                time.sleep(_POLL_S)

    def _answer(self, protocol: DeviceProtocol, data: bytes, send: Callable[[bytes], None],
                can_drop: bool) -> None:
        reply = protocol.feed(data)
        if not reply:
            return
        faults = self.faults
        if faults.drop_connection and can_drop:
            faults.drop_connection = False
            raise _Dropped()
        if faults.silent_replies > 0:
            faults.silent_replies -= 1
            return
        if faults.garbage_replies > 0:
            faults.garbage_replies -= 1
            reply = protocol.garbage()
        if faults.reply_delay_s > 0:
            with self._held:
                self._held_count += 1
                self._held.notify_all()
            try:
                self._wait_released(faults.reply_delay_s)
                send(reply)
            finally:
                with self._held:
                    self._held_count -= 1
                    self._held.notify_all()
            return
        send(reply)

    def _wait_released(self, delay_s: float) -> None:
        deadline = time.monotonic() + delay_s
        while not (self._stop.is_set() or self._release.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._release.wait(min(remaining, _POLL_S * 5))

    # ----------------------------------------------------------------- held replies (tests)
    def release_held_replies(self, count: int = 1, timeout_s: float = 30.0) -> None:
        """Wait until ``count`` replies are held back (their commands reached the unit), send
        every held reply now and return once they are written to the link, so the host is sure
        to find them on its side: the late replies a driver must discard. ``timeout_s`` is a
        generous bound for things that will happen; clear ``faults.reply_delay_s`` first."""
        with self._held:
            if not self._held.wait_for(lambda: self._held_count >= count, timeout_s):
                raise TimeoutError(f"{self.name} emulator: {self._held_count} of {count} replies "
                                   f"held after {timeout_s} s")
        self._release.set()
        try:
            with self._held:
                if not self._held.wait_for(lambda: self._held_count == 0, timeout_s):
                    raise TimeoutError(f"{self.name} emulator: held replies not sent in {timeout_s} s")
        finally:
            self._release.clear()

    def _push_unsolicited(self, protocol: DeviceProtocol, send: Callable[[bytes], None]) -> None:
        extra = protocol.unsolicited()
        if extra:
            send(extra)
