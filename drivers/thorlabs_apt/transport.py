"""APT link over pyserial: framing, one lock per connection, unsolicited frames, reconnect.

Every frame the device sends is decoded and appended to a bounded, sequence-numbered log of
received messages. A request remembers the sequence number before it writes and waits for the
first matching message after it; anything else (MOT_MOVE_COMPLETED, MOT_MOVE_STOPPED,
MOT_MOVE_HOMED, status updates, which APT devices send whenever they like) stays in the log, so a
thread waiting for a move still sees the MOVE_COMPLETED that a GUI poll happened to read.

Failure policy:

- no matching reply before the deadline -> :class:`InstrumentTimeout` naming instrument, port and
  command (APT message name);
- garbage bytes: the parser resynchronises (drops bytes until a plausible header, see
  ``protocol``); they are logged, and if the awaited reply never arrives the timeout message says
  how many bytes were discarded (a garbled reply is reported as a timeout that mentions garbage);
- HW_RICHRESPONSE naming the command in flight -> :class:`InstrumentError` with the device's text;
- link dropped (serial/socket error): one automatic reconnect per command, then the command is
  retried once; a failed reconnect or a second drop -> :class:`InstrumentConnectionError`.

APT has no transaction ids: a reply that arrives after its request timed out is taken by the next
request for the same message type (it carries the same kind of data, one timeout old).

Deadlines are wall time (``time.monotonic``) because they bound real serial reads, not rig time.
"""
from __future__ import annotations

import errno
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import serial

from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from drivers.thorlabs_apt.protocol import (
    FrameParser,
    HwResponse,
    HwRichResponse,
    Message,
    ProtocolError,
    UnknownMessage,
    decode,
)

log = logging.getLogger(__name__)

BAUD_RATE = 115200
#: serial read timeout: the granularity at which waiting threads release the lock
READ_SLICE_S = 0.02
RECEIVED_LOG_SIZE = 256

M = TypeVar("M", bound=Message)


class SerialLike(Protocol):
    """The part of ``serial.Serial`` the transport uses (lets tests script the bytes)."""

    rts: bool

    def write(self, data: bytes) -> int | None: ...

    def read(self, size: int = 1) -> bytes: ...

    @property
    def in_waiting(self) -> int: ...

    def reset_input_buffer(self) -> None: ...

    def reset_output_buffer(self) -> None: ...

    def close(self) -> None: ...


SerialFactory = Callable[..., SerialLike]

_LINK_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError)


class _LinkDown(Exception):
    """Internal: the port is gone (never opened, or closed after a failed reconnect)."""


def open_serial_port(address: str, timeout_s: float) -> SerialLike:
    """pyserial port (device path or URL) with the APT line settings."""
    return serial.serial_for_url(address, baudrate=BAUD_RATE, rtscts=True, timeout=READ_SLICE_S,
                                 write_timeout=timeout_s)


class AptTransport:
    """Framed APT messages over one serial link, shared safely by several threads."""

    def __init__(self, instrument: str, address: str, *, timeout_s: float = 1.0,
                 serial_factory: SerialFactory | None = None) -> None:
        self.instrument = instrument
        self.address = address
        self.timeout_s = timeout_s
        self._serial_factory = serial_factory or open_serial_port
        #: one lock per connection; held for a whole request, or one read slice of a long wait
        self.lock = threading.RLock()
        self._port: SerialLike | None = None
        self._wanted_open = False
        self._parser = FrameParser()
        self._received: deque[tuple[int, Message]] = deque(maxlen=RECEIVED_LOG_SIZE)
        self._seq = 0
        self._garbage_seen = 0
        self._contenders = 0
        self.reconnects = 0
        self._listeners: list[Callable[[Message], None]] = []

    # ----------------------------------------------------------------- life cycle
    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        with self.lock:
            self._wanted_open = True
            if self._port is None:
                self._open_port("open")

    def close(self) -> None:
        with self.lock:
            self._wanted_open = False
            self._close_port()

    def add_listener(self, callback: Callable[[Message], None]) -> None:
        """Call ``callback`` with every decoded message (under the lock: keep it cheap)."""
        self._listeners.append(callback)

    # ----------------------------------------------------------------- public operations
    def mark(self) -> int:
        """Sequence number of the newest received message; later ones are 'after' the mark."""
        with self.lock:
            return self._seq

    def send(self, message: Message) -> int:
        """Write ``message`` (no reply expected); returns the mark taken just before writing."""
        with self._contended_lock():
            def attempt() -> int:
                mark = self._seq
                self._write(message)
                return mark
            return self._with_reconnect(message.name, attempt)

    def request(self, message: Message, reply_type: type[M], *,
                predicate: Callable[[M], bool] | None = None,
                timeout_s: float | None = None) -> M:
        """Write ``message`` and return the first ``reply_type`` message received after it."""
        timeout = self.timeout_s if timeout_s is None else timeout_s

        def matches(candidate: Message) -> bool:
            return isinstance(candidate, reply_type) and (predicate is None or predicate(candidate))

        with self._contended_lock():
            def attempt() -> M:
                mark = self._seq
                garbage_before = self._garbage_seen
                self._write(message)
                deadline = time.monotonic() + timeout
                while True:
                    found = self._find(matches, mark, (int(message.MSG_ID),), message.name)
                    if found is not None:
                        return found  # type: ignore[return-value]
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._timeout(message.name, reply_type.__name__, timeout,
                                            self._garbage_seen - garbage_before)
                    self._read_available()
            return self._with_reconnect(message.name, attempt)

    def wait_for(self, matches: Callable[[Message], bool], after: int, timeout_s: float,
                 command: str, *, expected: str = "reply", error_for: tuple[int, ...] = (),
                 keepalive: Message | None = None, keepalive_period_s: float = 0.9,
                 poll: Callable[[], bool] | None = None, poll_after_s: float = 1.0,
                 poll_period_s: float = 1.0, idle: Callable[[], None] | None = None) -> Message | None:
        """Wait (releasing the lock between read slices) for a message received after ``after``.

        ``keepalive`` is written every ``keepalive_period_s``; ``poll`` (if given) is called
        after ``poll_after_s`` and then every ``poll_period_s``, and returning True ends the wait
        with None: it is the fallback for a completion frame that was lost with a dropped link.
        """
        start = time.monotonic()
        deadline = start + timeout_s
        next_keepalive = start + keepalive_period_s
        next_poll = start + poll_after_s
        garbage_before = self._garbage_seen
        reconnected = False
        while True:
            with self._contended_lock():
                found = self._find(matches, after, error_for, command)
                if found is not None:
                    return found
                try:
                    self._read_available()
                except _LINK_ERRORS + (_LinkDown,) as exc:
                    if reconnected:
                        self._close_port()
                        raise self._connection_error(command, f"link lost again while waiting "
                                                              f"for {expected}: {exc}") from exc
                    self._reconnect(command, exc)
                    reconnected = True
                    next_poll = time.monotonic()  # the completion frame may have died with the link
                    continue
            if idle is not None:
                idle()
            now = time.monotonic()
            if keepalive is not None and now >= next_keepalive:
                self.send(keepalive)
                next_keepalive = now + keepalive_period_s
            if poll is not None and now >= next_poll:
                if poll():
                    with self.lock:  # the poll's own reads may have picked up the real event
                        found = self._find(matches, after, error_for, command)
                    if found is not None:
                        return found
                    log.info("%s: %s finished (seen by status poll, no %s received)",
                             self.instrument, command, expected)
                    return None
                next_poll = time.monotonic() + poll_period_s
            if time.monotonic() >= deadline:
                raise self._timeout(command, expected, timeout_s,
                                    self._garbage_seen - garbage_before)

    # ----------------------------------------------------------------- internals
    def _contended_lock(self) -> _Contended:
        return _Contended(self)

    def _open_port(self, command: str) -> None:
        try:
            port = self._serial_factory(self.address, timeout_s=self.timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise self._connection_error(command, f"cannot open port: {exc}") from exc
        self._prepare_line(port)
        self._port = port
        self._parser.reset()
        log.info("%s: opened %s", self.instrument, self.address)

    def _prepare_line(self, port: SerialLike) -> None:
        """FTDI start-up dance from the APT manual: raise RTS, flush both buffers, drop RTS.

        RTS means nothing on a socket:// link, and a pty refuses the ioctl (ENOTTY/EINVAL):
        both are skipped; the flush still happens.
        """
        uses_rts = not self.address.startswith("socket://")
        if uses_rts:
            self._set_rts(port, True)
        port.reset_input_buffer()
        port.reset_output_buffer()
        if uses_rts:
            self._set_rts(port, False)

    def _set_rts(self, port: SerialLike, level: bool) -> None:
        try:
            port.rts = level
        except OSError as exc:
            if exc.errno not in (errno.ENOTTY, errno.EINVAL):
                raise
            log.debug("%s: %s has no RTS line (%s); skipped", self.instrument, self.address, exc)

    def _close_port(self) -> None:
        port, self._port = self._port, None
        self._parser.reset()
        if port is not None:
            try:
                port.close()
            except _LINK_ERRORS as exc:
                log.debug("%s: error while closing %s: %s", self.instrument, self.address, exc)

    def _reconnect(self, command: str, cause: BaseException) -> None:
        if not self._wanted_open:
            raise self._connection_error(command, "not connected (call connect() first)")
        log.warning("%s at %s: link lost during %s (%s); reconnecting once",
                    self.instrument, self.address, command, cause)
        self._close_port()
        try:
            self._open_port(command)
        except InstrumentConnectionError as exc:
            raise self._connection_error(command, f"link lost ({cause}) and reconnect failed: "
                                                  f"{exc.detail}") from cause
        self.reconnects += 1

    def _with_reconnect(self, command: str, attempt: Callable[[], Any]) -> Any:
        try:
            return attempt()
        except _LINK_ERRORS + (_LinkDown,) as exc:
            self._reconnect(command, exc)
        try:
            return attempt()
        except _LINK_ERRORS + (_LinkDown,) as exc:
            self._close_port()
            raise self._connection_error(command, f"link lost again after reconnect: {exc}") from exc

    def _write(self, message: Message) -> None:
        if self._port is None:
            raise _LinkDown("port is closed")
        data = message.encode()
        log.debug("%s -> %s %s", self.instrument, message.name, data.hex(" "))
        self._port.write(data)

    def _read_available(self) -> None:
        """One read slice: block up to READ_SLICE_S for bytes, decode complete frames."""
        if self._port is None:
            raise _LinkDown("port is closed")
        data = self._port.read(max(1, self._port.in_waiting))
        if not data:
            return
        for frame in self._parser.feed(data):
            try:
                message = decode(frame)
            except ProtocolError as exc:
                log.warning("%s: undecodable frame %s: %s", self.instrument, frame.hex(" "), exc)
                self._garbage_seen += len(frame)
                continue
            self._record(message)
        dropped = self._parser.take_discarded()
        if dropped:
            self._garbage_seen += len(dropped)
            log.warning("%s at %s: discarded %d garbage bytes while resynchronising: %s",
                        self.instrument, self.address, len(dropped), dropped.hex(" "))

    def _record(self, message: Message) -> None:
        self._seq += 1
        self._received.append((self._seq, message))
        if isinstance(message, (HwResponse, HwRichResponse, UnknownMessage)):
            log.warning("%s: device sent %r", self.instrument, message)
        else:
            log.debug("%s <- %r", self.instrument, message)
        for callback in self._listeners:
            callback(message)

    def _find(self, matches: Callable[[Message], bool], after: int, error_for: tuple[int, ...],
              command: str) -> Message | None:
        for seq, message in self._received:
            if seq <= after:
                continue
            if isinstance(message, HwRichResponse) and message.msg_ident in error_for:
                raise InstrumentError(self.instrument, self.address, command,
                                      f"device error {message.code}: {message.text}")
            if matches(message):
                return message
        return None

    def _timeout(self, command: str, expected: str, timeout_s: float, garbage: int) -> InstrumentTimeout:
        detail = f"no {expected} within {timeout_s:.3g} s"
        notes = []
        if garbage:
            notes.append(f"discarded {garbage} garbage bytes meanwhile")
        if self._parser.pending:
            notes.append(f"{self._parser.pending} bytes of an incomplete frame pending")
        if notes:
            detail += f" ({'; '.join(notes)})"
        return InstrumentTimeout(self.instrument, self.address, command, detail)

    def _connection_error(self, command: str, detail: str) -> InstrumentConnectionError:
        return InstrumentConnectionError(self.instrument, self.address, command, detail)


class _Contended:
    """Acquire the transport lock while announcing it, so long waits step aside."""

    def __init__(self, transport: AptTransport) -> None:
        self._transport = transport

    def __enter__(self) -> None:
        self._transport._contenders += 1
        self._transport.lock.acquire()
        self._transport._contenders -= 1

    def __exit__(self, *exc: object) -> None:
        self._transport.lock.release()
        if self._transport._contenders:
            # RLock is not fair: without stepping aside, a tight polling loop in one thread
            # would starve a move waiting in another (and vice versa)
            time.sleep(0.0005)
