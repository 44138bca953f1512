"""Base classes for every ASCII / SCPI instrument driver in avalab, built on pymeasure.

A driver is written in two layers:

1. :class:`AsciiInstrument` — a ``pymeasure.instruments.Instrument`` subclass. The concrete driver
   is a flat list of declarative ``Instrument.control`` / ``measurement`` / ``setting`` properties
   with validators, exactly as in pymeasure, plus a few class attributes describing the wire
   framing. This base adds what pymeasure lacks for a shared, long-running lab instrument:

   - **one re-entrant lock per connection** around every transaction (write + read of its reply),
     so GUI polling and a running experiment can share an instrument object; the lock is keyed by
     resource string, so two objects opened on the same address share it too;
   - **framing owned by the driver**: the base writes ``command + write_termination`` as raw bytes
     and reads raw bytes until ``reply_terminator``, so echoes and prompts (``"\\r> "``) are handled
     here, and ``pymeasure.test.expected_protocol`` transcripts pin *exact* bytes, terminators
     included (``(b"freq?\\r", b"freq?\\r1000\\r> ")``);
   - **timeouts** (pyvisa ``VI_ERROR_TMO``, or no complete reply within ``timeout_s``) re-raised as
     :class:`~drivers.errors.InstrumentTimeout` naming instrument, address and command;
   - **garbled replies** (bytes outside printable ASCII) raise :class:`InstrumentError` at once;
     the input buffer is flushed before the next transaction after any failed one;
   - **one automatic reconnect** on a dropped link (pyvisa connection-lost / I/O errors, OS errors,
     or a TCP peer that closed its socket): close the adapter, reopen it, retry the transaction
     once (after the :meth:`AsciiInstrument.after_reopen` hook restored session state, e.g.
     echo off); if that fails too, :class:`InstrumentConnectionError`. Transactions that must not be
     repeated blindly (a toggle such as the SC10's ``ens``) pass ``retry=False``: the link is
     still restored, but :class:`InstrumentConnectionError` is raised so the caller re-reads state;
   - **a reply check hook**: :meth:`AsciiInstrument.check_reply` (default: a reply starting with any
     of ``error_prefixes`` is an :class:`InstrumentError`), e.g. Opus ``"Error..."`` or Chameleon
     ``" RANGE ERROR"``;
   - **serial settings per instrument** (:class:`SerialSettings`: baud, data bits, parity, stop
     bits, flow control) handed to pyvisa-py for ``ASRL...`` resources and ignored for TCP;
   - construction from a **resource string** (``"ASRL/dev/ttyUSB0::INSTR"``,
     ``"TCPIP::127.0.0.1::5000::SOCKET"``, opened with ``@py``) or from a **pymeasure Adapter**
     (``ProtocolAdapter`` in transcript tests; such a link cannot be reopened).

   Properties go through :meth:`AsciiInstrument.ask` (getters) and :meth:`AsciiInstrument.write`
   (setters), which are overridden to run a whole locked transaction: a setter also consumes the
   reply the protocol sends for it (``setter_replies``), so no stale bytes are left behind.
   :meth:`parse_reply` turns a raw frame into the value string (e.g. strips echo and prompt).
   :meth:`AsciiInstrument.values` is strict: a reply that does not parse (``preprocess_reply``
   raising ValueError, or a failed ``cast``) is an :class:`InstrumentError` naming the command,
   where pymeasure would silently hand back the raw string. Unknown constructor options raise
   instead of being dropped silently (as pymeasure does once the adapter is built).
   :class:`EchoPromptInstrument` adds the framing of units that echo every command and end each
   reply with a ``"> "`` prompt. Helpers for unusual replies: :meth:`AsciiInstrument.read_frame`
   (multi-line answers, optional acknowledgements), :meth:`AsciiInstrument.drain` (handshakes).

2. :class:`ConnectedDevice` — a mixin for the thin interface adapters (``drivers.interfaces``
   roles, SI units). It owns the life cycle (connect / close / is_connected, cached identify),
   builds the :class:`AsciiInstrument` lazily on ``connect()``, raises a clear
   :class:`InstrumentConnectionError` when used unconnected (``safe_state`` included: a safe
   state that cannot be reached raises, and ``Rig.safe_state_all`` reports it). Rig options are checked against the instrument class's
   constructor at construction time. An adapter class then only maps SI calls to properties::

       class OpusPumpLaser(ConnectedDevice, PumpLaser):
           instrument_class = OpusMPCD
           def set_power(self, power_w): ...   # validate, then self.instrument.<property> = ...

Late replies: after a timeout, the next transaction first waits up to one more timeout period
for the late reply and discards it, then flushes the input, so the late reply is not read as
the next answer. A reply later than twice the timeout would still be; echoing protocols
(:class:`EchoPromptInstrument`) skip such stale frames by their echo, and strict reply parsing
(:meth:`AsciiInstrument.values`) turns most other mix-ups into a clear InstrumentError.
"""
from __future__ import annotations

import inspect
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import pyvisa
from pymeasure.adapters import Adapter, VISAAdapter
from pymeasure.instruments import Instrument
from pyvisa import constants as visa_constants
from pyvisa.errors import VisaIOError

from drivers.addresses import check_visa_address
from drivers.clock import Clock, RealClock
from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout

log = logging.getLogger(__name__)

VISA_LIBRARY = "@py"

#: pyvisa status codes that mean the link itself is gone (reconnect), as opposed to a timeout.
_LINK_LOST_CODES = frozenset({
    visa_constants.StatusCode.error_connection_lost,
    visa_constants.StatusCode.error_io,
    visa_constants.StatusCode.error_invalid_object,
    visa_constants.StatusCode.error_resource_not_found,
})

#: bytes a well-formed ASCII reply may contain (printable ASCII, TAB, LF, CR)
_ALLOWED_REPLY_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def connection_lock(key: str) -> threading.RLock:
    """The one lock shared by every object talking over connection ``key``."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


_PARITIES: dict[str, visa_constants.Parity] = {
    "none": visa_constants.Parity.none,
    "odd": visa_constants.Parity.odd,
    "even": visa_constants.Parity.even,
}
_STOP_BITS: dict[float, visa_constants.StopBits] = {
    1: visa_constants.StopBits.one,
    1.5: visa_constants.StopBits.one_and_a_half,
    2: visa_constants.StopBits.two,
}


@dataclass(frozen=True)
class SerialSettings:
    """RS-232 / virtual COM settings of one instrument (ignored for TCP resources)."""

    baud_rate: int = 9600
    data_bits: int = 8
    parity: str = "none"          # "none" | "odd" | "even"
    stop_bits: float = 1          # 1 | 1.5 | 2
    flow_control: bool = False    # RTS/CTS hardware handshake

    def visa_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for pyvisa ``open_resource`` of an ASRL resource."""
        if self.parity not in _PARITIES:
            raise ValueError(f"parity={self.parity!r} is not allowed; allowed values: "
                             f"{', '.join(repr(p) for p in _PARITIES)}")
        if self.stop_bits not in _STOP_BITS:
            raise ValueError(f"stop_bits={self.stop_bits!r} is not allowed; "
                             "allowed values: 1, 1.5, 2")
        return {
            "baud_rate": int(self.baud_rate),
            "data_bits": int(self.data_bits),
            "parity": _PARITIES[self.parity],
            "stop_bits": _STOP_BITS[self.stop_bits],
            "flow_control": (visa_constants.ControlFlow.rts_cts if self.flow_control
                             else visa_constants.ControlFlow.none),
        }


class _LinkDropped(Exception):
    """Internal: the transport is gone; the transaction may be retried after a reopen."""


class AsciiInstrument(Instrument):
    """pymeasure Instrument with locked, framed, checked, reconnecting ASCII transactions.

    Subclasses set the class attributes below and declare properties as usual. ``adapter`` is a
    VISA resource string or a pymeasure :class:`Adapter`.
    """

    #: default serial settings for ASRL resources (override per instrument)
    serial_settings: ClassVar[SerialSettings] = SerialSettings()
    #: appended to every command
    write_termination: ClassVar[str] = "\n"
    #: a reply frame is complete when the received bytes end with this
    reply_terminator: ClassVar[bytes] = b"\n"
    #: whether setters (``write``) get a reply frame that must be consumed and checked
    setter_replies: ClassVar[bool] = False
    #: replies starting with one of these are instrument errors (see ``check_reply``)
    error_prefixes: ClassVar[tuple[str, ...]] = ()
    #: a reply longer than this without terminator is treated as garbage
    max_reply_bytes: ClassVar[int] = 4096

    def __init__(self, adapter: str | Adapter, name: str = "instrument", *,
                 timeout_s: float = 1.0, serial: SerialSettings | None = None,
                 **kwargs: Any) -> None:
        if kwargs:
            # pymeasure would silently drop them (the adapter is built here), hiding rig typos
            raise TypeError(f"{type(self).__name__}: unknown option(s) {', '.join(sorted(kwargs))}")
        self.timeout_s = float(timeout_s)
        self._serial = serial or self.serial_settings
        if isinstance(adapter, str):
            self.resource_name: str = adapter
            adapter = self._open_visa(adapter, name)
            self._can_reopen = True
        else:
            self.resource_name = getattr(adapter, "resource_name", None) or repr(adapter)
            self._can_reopen = False
        self._dirty = False
        self._late_reply_possible = False
        self._closed = False
        self._lock = connection_lock(self.resource_name)
        super().__init__(adapter, name, includeSCPI=False)

    # ------------------------------------------------------------------ public transactions
    @property
    def lock(self) -> threading.RLock:
        """Hold this to run several transactions without another thread interleaving."""
        return self._lock

    def ask(self, command: str, query_delay: float | None = None) -> str:
        """Send ``command`` and return its reply value (framing stripped, checked)."""
        return self.transact(command, expect_reply=True) or ""

    def write(self, command: str, **kwargs: Any) -> None:
        """Send a setter ``command``; consume and check its reply if the protocol sends one."""
        self.transact(command, expect_reply=self.setter_replies)

    def read(self, **kwargs: Any) -> str:
        """Read one reply frame (rarely needed: ``ask`` and ``write`` read their own replies)."""
        with self._lock:
            frame = self._read_frame("<read>")
            self.check_reply("<read>", frame)
            return self.parse_reply("<read>", frame)

    def values(self, command: str, separator: str = ",", cast: Callable[[str], Any] = float,
               preprocess_reply: Callable[[str], str] | None = None, maxsplit: int = -1,
               **kwargs: Any) -> list[Any]:
        """Like pymeasure's ``values`` but strict: a reply that ``preprocess_reply`` rejects
        (ValueError) or that does not cast is an :class:`InstrumentError` naming the command,
        instead of a string silently passed on."""
        response = self.ask(command).strip()
        if preprocess_reply is not None:
            try:
                response = preprocess_reply(response)
            except ValueError as exc:
                raise self.error(command, f"unexpected reply {response!r}: {exc}") from exc
        results: list[Any] = []
        for item in response.split(separator, maxsplit=maxsplit):
            try:
                results.append(bool(float(item)) if cast is bool else cast(item))
            except (TypeError, ValueError) as exc:
                raise self.error(command, f"unexpected reply {response!r}: {item!r} is not a "
                                          f"{getattr(cast, '__name__', cast)}") from exc
        return results

    def read_frame(self, command: str, timeout_s: float | None = None) -> str:
        """Read, check and parse one further reply frame belonging to ``command``.

        For multi-line answers and optional acknowledgements: call while holding :attr:`lock`
        right after the transaction that started the answer. ``timeout_s`` overrides the
        instrument timeout for this frame only (the link is not reconnected here).
        """
        with self._lock:
            try:
                frame = self._read_frame(command, timeout_s)
            except _LinkDropped as exc:
                raise self._connection_error(command, f"link lost ({exc})") from exc
            self.check_reply(command, frame)
            return self.parse_reply(command, frame)

    def drain(self, quiet_s: float = 0.2) -> bytes:
        """Read and return whatever arrives until the line has been quiet for ``quiet_s``.

        For handshakes whose replies have an unknown format (e.g. switching echo off). Over a
        pymeasure test adapter this returns the next scripted reply.
        """
        with self._lock:
            connection = getattr(self.adapter, "connection", None)
            if not isinstance(connection, pyvisa.resources.MessageBasedResource):
                return bytes(self.adapter.read_bytes(-1))
            previous = connection.timeout
            connection.timeout = max(1, int(round(quiet_s * 1000)))
            try:
                with self._translate_io("<drain>"):
                    return bytes(self.adapter.read_bytes(-1))
            except _LinkDropped as exc:
                raise self._connection_error("<drain>", f"link lost ({exc})") from exc
            finally:
                connection.timeout = previous

    def transact(self, command: str, *, expect_reply: bool, retry: bool = True,
                 reply_timeout_s: float | None = None, reply_optional: bool = False) -> str | None:
        """One locked transaction; reconnects once on a dropped link (see module docstring).

        Returns the parsed reply ("" when ``expect_reply`` is False). ``reply_timeout_s``
        overrides the timeout for this reply; with ``reply_optional`` a reply that does not come
        within it returns None instead of raising (for acknowledgements a unit may not send).
        """
        with self._lock:
            try:
                return self._exchange(command, expect_reply, reply_timeout_s, reply_optional)
            except _LinkDropped as first:
                if not self._can_reopen:
                    raise self._connection_error(command, f"link lost ({first})") from first
                log.warning("%s at %s: link lost during %r (%s); reconnecting once",
                            self.name, self.resource_name, command, first)
                self._reopen(command)
                self.after_reopen()
                if not retry:
                    raise self._connection_error(
                        command, "link lost and restored; command not repeated (not idempotent), "
                        "its effect is unknown") from first
                try:
                    return self._exchange(command, expect_reply, reply_timeout_s, reply_optional)
                except _LinkDropped as second:
                    raise self._connection_error(
                        command, f"link lost again after one reconnect ({second})") from second

    # ------------------------------------------------------------------ hooks for subclasses
    def after_reopen(self) -> None:
        """Restore session state after an automatic reconnect (the unit may have restarted,
        e.g. with echo back on). Runs under the lock; use :meth:`send_raw` / :meth:`drain`,
        not transactions, so that it never triggers a second reconnect (they raise
        :class:`InstrumentConnectionError` instead). Default: nothing."""

    def send_raw(self, command: str) -> None:
        """Write ``command`` + terminator without reading anything and without reconnecting."""
        with self._lock:
            try:
                with self._translate_io(command):
                    self.adapter.write_bytes((command + self.write_termination).encode("ascii"))
            except _LinkDropped as exc:
                raise self._connection_error(command, f"link lost ({exc})") from exc

    def parse_reply(self, command: str, frame: str) -> str:
        """Turn one raw reply frame into the value string. Default: strip whitespace/terminators."""
        return frame.strip()

    def check_reply(self, command: str, frame: str) -> None:
        """Raise :class:`InstrumentError` if the raw reply ``frame`` reports a failure.

        Default: the frame (ignoring leading CR/LF left over from a previous CRLF) starts with one
        of ``error_prefixes``. Leading spaces are significant (Chameleon errors start with one).
        """
        body = frame.lstrip("\r\n")
        for prefix in self.error_prefixes:
            if body.startswith(prefix):
                raise self.error(command, f"instrument replied {body.strip()!r}")

    def error(self, command: str, detail: str) -> InstrumentError:
        """An :class:`InstrumentError` naming this instrument, its address and ``command``."""
        return InstrumentError(self.name, self.resource_name, command, detail)

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        """Close the link (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.adapter.close()
            except Exception:  # closing a broken link must not mask why it broke
                log.debug("%s: error while closing adapter", self.name, exc_info=True)

    @property
    def is_open(self) -> bool:
        return not self._closed

    def shutdown(self) -> None:
        self.close()
        super().shutdown()

    # ------------------------------------------------------------------ internals
    def _visa_kwargs(self) -> dict[str, Any]:
        return {
            "visa_library": VISA_LIBRARY,
            "timeout": max(1, int(round(self.timeout_s * 1000))),
            "asrl": self._serial.visa_kwargs(),
        }

    def _open_visa(self, resource: str, name: str) -> VISAAdapter:
        try:
            return VISAAdapter(resource, **self._visa_kwargs())
        except (VisaIOError, OSError, ValueError) as exc:
            raise InstrumentConnectionError(name, resource, "<open>",
                                            f"cannot open: {exc}") from exc

    def _reopen(self, command: str) -> None:
        try:
            self.adapter.close()
        except Exception:
            log.debug("%s: error closing dropped link", self.name, exc_info=True)
        try:
            self.adapter = self._open_visa(self.resource_name, self.name)
        except InstrumentConnectionError as exc:
            raise self._connection_error(command, f"reconnect failed: {exc.detail}") from exc
        self._dirty = self._late_reply_possible = False

    def _connection_error(self, command: str, detail: str) -> InstrumentConnectionError:
        return InstrumentConnectionError(self.name, self.resource_name, command, detail)

    def _timeout(self, command: str, partial: bytes,
                 timeout_s: float | None = None) -> InstrumentTimeout:
        self._dirty = True
        self._late_reply_possible = True
        got = f"; partial reply {partial!r}" if partial else "; nothing received"
        limit = self.timeout_s if timeout_s is None else timeout_s
        return InstrumentTimeout(self.name, self.resource_name, command,
                                 f"no complete reply within {limit:g} s{got}")

    @contextmanager
    def _temporary_timeout(self, timeout_s: float | None) -> Iterator[None]:
        """Use ``timeout_s`` for the VISA reads inside the block (None: keep the default)."""
        connection = getattr(self.adapter, "connection", None)
        if timeout_s is None or not isinstance(connection, pyvisa.resources.MessageBasedResource):
            yield
            return
        previous = connection.timeout
        connection.timeout = max(1, int(round(timeout_s * 1000)))
        try:
            yield
        finally:
            connection.timeout = previous

    def _exchange(self, command: str, expect_reply: bool, reply_timeout_s: float | None = None,
                  reply_optional: bool = False) -> str | None:
        if self._closed:
            raise self._connection_error(command, "link is closed")
        # a closed TCP peer must be noticed before flushing: pyvisa-py's socket flush would
        # spin forever on it
        if _peer_closed(self.adapter):
            raise _LinkDropped("peer closed the connection")
        if self._late_reply_possible:
            self._discard_late_reply()
        if self._dirty:
            self._flush_input()
        payload = (command + self.write_termination).encode("ascii")
        with self._translate_io(command):
            self.adapter.write_bytes(payload)
        if not expect_reply:
            return ""
        try:
            frame = self._read_frame(command, reply_timeout_s)
        except InstrumentTimeout:
            if not reply_optional:
                raise
            self._dirty = self._late_reply_possible = False  # silence was an allowed answer
            return None
        self.check_reply(command, frame)
        return self.parse_reply(command, frame)

    def _read_frame(self, command: str, timeout_s: float | None = None) -> str:
        """Read bytes until ``reply_terminator``; decode; reject garbage."""
        terminator = self.reply_terminator
        buffer = bytearray()
        limit = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        with self._temporary_timeout(timeout_s):
            while not buffer.endswith(terminator):
                if time.monotonic() > deadline:
                    raise self._timeout(command, bytes(buffer), limit)
                try:
                    with self._translate_io(command, partial=buffer, timeout_s=limit):
                        chunk = self.adapter.read_bytes(1)
                except InstrumentTimeout:
                    if _peer_closed(self.adapter):
                        raise _LinkDropped("peer closed the connection while a reply was awaited")
                    raise
                if not chunk:
                    raise self._timeout(command, bytes(buffer), limit)
                if chunk[0] not in _ALLOWED_REPLY_BYTES:
                    self._dirty = True
                    raise self.error(command, f"garbled reply (non-ASCII byte 0x{chunk[0]:02x} "
                                              f"after {bytes(buffer)!r}); input will be flushed")
                buffer += chunk
                if len(buffer) > self.max_reply_bytes:
                    self._dirty = True
                    raise self.error(command, f"reply longer than {self.max_reply_bytes} bytes "
                                              f"without terminator {terminator!r}: "
                                              f"{bytes(buffer[:60])!r}...")
        return buffer.decode("ascii")

    @contextmanager
    def _translate_io(self, command: str, partial: bytearray | None = None,
                      timeout_s: float | None = None) -> Iterator[None]:
        """Map transport exceptions to InstrumentTimeout / _LinkDropped."""
        try:
            yield
        except VisaIOError as exc:
            if exc.error_code == visa_constants.StatusCode.error_timeout:
                raise self._timeout(command, bytes(partial or b""), timeout_s) from exc
            if exc.error_code in _LINK_LOST_CODES:
                raise _LinkDropped(str(exc)) from exc
            self._dirty = True
            raise self.error(command, f"VISA error {exc}") from exc
        except (ConnectionError, OSError) as exc:
            raise _LinkDropped(str(exc)) from exc

    def _discard_late_reply(self) -> None:
        """After a timeout, give the late reply one more timeout period to arrive and drop it,
        so that it is not read as the answer to the next command (protocols without an echo
        cannot tell the two apart)."""
        self._late_reply_possible = False
        connection = getattr(self.adapter, "connection", None)
        if not isinstance(connection, pyvisa.resources.MessageBasedResource):
            return
        try:
            late = self.drain(self.timeout_s)
        except InstrumentError:
            return  # the transaction that follows will meet (and handle) the broken link
        if late:
            log.info("%s: discarded late reply %r", self.name, late[:80])

    def _flush_input(self) -> None:
        """Discard whatever is waiting in the input (late or garbled replies)."""
        connection = getattr(self.adapter, "connection", None)
        if not isinstance(connection, pyvisa.resources.MessageBasedResource):
            self.adapter.flush_read_buffer()
            self._dirty = False
            return
        # read with an immediate timeout instead of pyvisa's flush, which is unsupported or
        # unsafe (endless on a closed peer) for pyvisa-py sockets
        previous = connection.timeout
        discarded = bytearray()
        try:
            connection.timeout = 0
            while len(discarded) < self.max_reply_bytes:
                discarded += connection.read_bytes(1)
        except (VisaIOError, OSError):
            pass
        finally:
            connection.timeout = previous
        if discarded:
            log.info("%s: discarded stale input %r", self.name, bytes(discarded[:80]))
        self._dirty = False


def _peer_closed(adapter: Adapter) -> bool:
    """True if ``adapter`` is a pyvisa-py TCP socket whose peer has closed the connection.

    pyvisa-py reports a closed peer only as a read timeout, so we peek at the socket ourselves.
    Any other transport (serial, ProtocolAdapter) returns False.
    """
    connection = getattr(adapter, "connection", None)
    if not isinstance(connection, pyvisa.resources.MessageBasedResource):
        return False
    try:
        session = connection.visalib.sessions[connection.session]  # pyvisa-py internals
    except Exception:
        return False
    sock = getattr(session, "interface", None)
    if not isinstance(sock, socket.socket):
        return False
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return data == b"" and not getattr(session, "_pending_buffer", b"")


def instrument_option_names(cls: type[AsciiInstrument]) -> set[str]:
    """Keyword options an :class:`AsciiInstrument` subclass accepts (its bases' __init__ too)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not (isinstance(klass, type) and issubclass(klass, AsciiInstrument)):
            continue
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                names.add(parameter.name)
    return names - {"self", "adapter", "name"}


# ====================================================================== interface adapters
class ConnectedDevice:
    """Mixin for the role adapters (``drivers.interfaces``) wrapping one :class:`AsciiInstrument`.

    Use as ``class OpusPumpLaser(ConnectedDevice, PumpLaser)``; set ``instrument_class``. The
    constructor follows the registry: ``cls(name=role, address=address, clock=clock, **options)``.
    ``transport`` (an already built pymeasure Adapter, e.g. a ProtocolAdapter) replaces opening
    ``address`` — used by transcript tests of the adapter layer.
    Subclasses may override :meth:`_on_connect` (initial handshake) and :meth:`_read_identity`.
    """

    instrument_class: ClassVar[type[AsciiInstrument]]

    def __init__(self, name: str, address: str, clock: Clock | None = None, *,
                 timeout_s: float = 1.0, transport: Adapter | None = None,
                 **instrument_options: Any) -> None:
        super().__init__(name, address)  # type: ignore[call-arg]  # interfaces.Instrument
        unknown = set(instrument_options) - instrument_option_names(self.instrument_class)
        if unknown:
            known = instrument_option_names(self.instrument_class) | {"timeout_s"}
            allowed = ", ".join(sorted(known))
            raise ValueError(f"{name}: unknown option(s) {', '.join(sorted(unknown))}; "
                             f"allowed options: {allowed}")
        if transport is None:  # a malformed address is refused when the rig loads, not at connect
            check_visa_address("address", address)
        self.clock: Clock = clock or RealClock()
        self.timeout_s = float(timeout_s)
        self._transport = transport
        self._instrument_options = instrument_options
        self._instrument: AsciiInstrument | None = None
        self._identity: str | None = None
        self._life_lock = threading.RLock()

    # ------------------------------------------------------------------ life cycle
    def connect(self) -> None:
        with self._life_lock:
            if self._instrument is not None:
                return
            target: str | Adapter = self._transport if self._transport is not None else self.address
            instrument = self.instrument_class(target, name=self.name, timeout_s=self.timeout_s,
                                               **self._instrument_options)
            try:
                self._on_connect(instrument)
            except Exception:
                instrument.close()
                raise
            self._instrument = instrument
            log.info("%s: connected to %s at %s", self.name, type(self).__name__, self.address)

    def close(self) -> None:
        with self._life_lock:
            instrument, self._instrument = self._instrument, None
            if instrument is not None:
                instrument.close()

    @property
    def is_connected(self) -> bool:
        return self._instrument is not None and self._instrument.is_open

    def identify(self) -> str:
        if self._identity is None:
            self._identity = self._read_identity(self.instrument)
        return self._identity

    @property
    def instrument(self) -> AsciiInstrument:
        """The connected low-level instrument; InstrumentConnectionError if not connected."""
        instrument = self._instrument
        if instrument is None:
            raise InstrumentConnectionError(self.name, self.address, "<any>",
                                            "not connected (call connect() first)")
        return instrument

    # ------------------------------------------------------------------ hooks
    def _on_connect(self, instrument: AsciiInstrument) -> None:
        """Initial handshake after the link opens (e.g. ECHO=0). Default: nothing."""

    def _read_identity(self, instrument: AsciiInstrument) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement _read_identity")


class EchoPromptInstrument(AsciiInstrument):
    """Framing of units that echo each command and end every reply with a ``"> "`` prompt
    (Thorlabs MC2000B, SC10): ``"freq?\\r"`` -> ``"freq?\\r1000\\r> "``.

    Frames whose echo is not the command in flight are late replies to earlier commands and are
    skipped (up to ``max_stale_frames``), so the link resynchronises after a timeout.
    :meth:`parse_reply` drops the prompt, requires the echo to match the command (a mismatch
    means the link is out of step: :class:`InstrumentError`, input flushed) and returns the
    remaining lines joined by CR ("" for a setter). Queries and set commands have the same
    shape (``"rep=10\\r> "``); a stray ``"> "`` in front of the echo (a prompt left behind by an
    interrupted exchange) is tolerated. Error texts are recognised by ``error_markers`` anywhere
    in the value lines.
    """

    write_termination: ClassVar[str] = "\r"
    reply_terminator: ClassVar[bytes] = b"\r> "
    setter_replies: ClassVar[bool] = True
    prompt: ClassVar[str] = "> "
    error_markers: ClassVar[tuple[str, ...]] = ("CMD_NOT_DEFINED", "CMD_ARG_INVALID",
                                                "Command error")

    def _split(self, command: str, frame: str) -> list[str]:
        body = frame[: -len(self.reply_terminator)] if frame.endswith(
            self.reply_terminator.decode("ascii")) else frame
        lines = body.split("\r")
        first = lines[0].lstrip("\n")
        while first.startswith(self.prompt.rstrip()):
            first = first[len(self.prompt.rstrip()):].lstrip()
        lines[0] = first
        return lines

    #: stale frames (late replies to earlier, timed-out commands) skipped before giving up
    max_stale_frames: ClassVar[int] = 3

    def _read_frame(self, command: str, timeout_s: float | None = None) -> str:
        """Read frames until one echoes ``command``: the echo lets this framing resynchronise
        after a timeout whose late reply arrived after the input was flushed."""
        frame = super()._read_frame(command, timeout_s)
        for _ in range(self.max_stale_frames):
            echo = self._split(command, frame)[0].strip()
            if command in ("<read>", "") or echo == command.strip():
                break
            log.info("%s: skipping stale reply %r while waiting for %r", self.name, frame, command)
            frame = super()._read_frame(command, timeout_s)
        return frame

    def check_reply(self, command: str, frame: str) -> None:
        for line in self._split(command, frame)[1:]:
            if any(marker in line for marker in self.error_markers):
                raise self.error(command, f"instrument replied {line.strip()!r}")

    def parse_reply(self, command: str, frame: str) -> str:
        lines = self._split(command, frame)
        if command not in ("<read>", "") and lines[0].strip() != command.strip():
            self._dirty = True
            raise self.error(command, f"echo {lines[0]!r} does not match the command (link out of "
                                      f"step); input will be flushed")
        return "\r".join(line.strip("\n") for line in lines[1:]).strip()


#: pymeasure ``values`` map for instruments that write booleans as 1 / 0
ON_OFF: dict[bool, int] = {True: 1, False: 0}


def strict_integer_range(value: float, values: tuple[int, int]) -> int:
    """pymeasure validator: like strict_range, but a non-integer is rejected, never rounded."""
    from pymeasure.instruments.validators import strict_range

    number = strict_range(value, values)
    if int(number) != number:
        raise ValueError(f"Value of {value} is not an integer")
    return int(number)
