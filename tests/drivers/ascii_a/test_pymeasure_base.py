"""The shared ASCII base: framing, locking, timeouts, garbage, reconnect, reply checks."""
from __future__ import annotations

import threading

import pytest
from pymeasure.instruments import Instrument
from pymeasure.test import expected_protocol
from pyvisa import constants

from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from drivers.pymeasure_base import AsciiInstrument, SerialSettings, connection_lock
from sim_backends.emulators.server import LineProtocol

from .conftest import FAST_TIMEOUT_S, REPLY_TIMEOUT_S, transport_address

#: every test here is fast; a hang must fail, not stall the suite


class UpperEcho(LineProtocol):
    """Answers every line with its upper-case text; ``BAD?`` with an error; ``SET=x`` with nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[str] = []

    def handle_line(self, line: str) -> bytes:
        self.received.append(line)
        if line == "BAD?":
            return b"Error: no such thing\r\n"
        if line.startswith("SET="):
            return b""
        return (line.upper() + "\r\n").encode()


class Demo(AsciiInstrument):
    serial_settings = SerialSettings(baud_rate=19200)
    write_termination = "\r\n"
    reply_terminator = b"\r\n"
    error_prefixes = ("Error",)

    level = Instrument.control("level?", "SET=%d", "A level.",
                               validator=lambda v, vs: int(v) if 0 <= v <= 9 else
                               (_ for _ in ()).throw(ValueError(f"level={v} outside [0, 9]")))


def test_transcript_pins_exact_bytes_including_terminators() -> None:
    with expected_protocol(Demo, [(b"hello?\r\n", b"HELLO?\r\n"), (b"SET=4\r\n", None)],
                           name="demo") as demo:
        assert demo.ask("hello?") == "HELLO?"
        demo.level = 4


def test_transcript_error_reply_raises_instrument_error_naming_command() -> None:
    with expected_protocol(Demo, [(b"BAD?\r\n", b"Error: no such thing\r\n")], name="demo") as demo:
        with pytest.raises(InstrumentError, match=r"demo at .*command 'BAD\?'.*Error: no such thing"):
            demo.ask("BAD?")


def test_transcript_garbled_reply_is_a_clear_error() -> None:
    with expected_protocol(Demo, [(b"x?\r\n", b"OK\xff")], name="demo") as demo:
        with pytest.raises(InstrumentError, match=r"garbled reply \(non-ASCII byte 0xff after b'OK'\)"):
            demo.ask("x?")


def test_invalid_value_raises_before_anything_is_written() -> None:
    with expected_protocol(Demo, [], name="demo") as demo:
        with pytest.raises(ValueError, match=r"level=12 outside \[0, 9\]"):
            demo.level = 12


def test_adapter_link_cannot_be_reopened_and_says_so() -> None:
    with expected_protocol(Demo, [], name="demo") as demo:
        demo.close()
        with pytest.raises(InstrumentConnectionError, match="link is closed"):
            demo.ask("x?")


def test_serial_settings_map_to_pyvisa() -> None:
    kwargs = SerialSettings(baud_rate=57600, data_bits=7, parity="odd", stop_bits=1).visa_kwargs()
    assert kwargs["baud_rate"] == 57600 and kwargs["data_bits"] == 7
    assert kwargs["parity"] == constants.Parity.odd
    assert kwargs["stop_bits"] == constants.StopBits.one
    with pytest.raises(ValueError, match="parity='mark'"):
        SerialSettings(parity="mark").visa_kwargs()


def test_same_address_shares_one_lock() -> None:
    assert connection_lock("ASRL/dev/x::INSTR") is connection_lock("ASRL/dev/x::INSTR")
    assert connection_lock("ASRL/dev/x::INSTR") is not connection_lock("ASRL/dev/y::INSTR")


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_query_setter_and_error(serve, transport: str) -> None:
    server = serve(UpperEcho, "echo")
    demo = Demo(transport_address(server, transport), name="demo", timeout_s=REPLY_TIMEOUT_S)
    try:
        assert demo.ask("hello?") == "HELLO?"
        demo.level = 3
        assert demo.ask("level?") == "LEVEL?"
        with pytest.raises(InstrumentError, match="Error: no such thing"):
            demo.ask("BAD?")
    finally:
        demo.close()


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_delayed_reply_times_out_naming_instrument_address_command(serve, transport: str) -> None:
    server = serve(UpperEcho, "echo")
    address = transport_address(server, transport)
    demo = Demo(address, name="demo", timeout_s=FAST_TIMEOUT_S)
    try:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as caught:
            demo.ask("slow?")
        assert caught.value.instrument == "demo" and caught.value.address == address
        assert caught.value.command == "slow?" and f"{FAST_TIMEOUT_S:g} s" in str(caught.value)
        server.faults.clear()
        server.release_held_replies()  # the late reply arrives now: flushed, not read as the next answer
        assert demo.ask("next?") == "NEXT?"
    finally:
        demo.close()


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_garbage_is_a_clear_error_then_link_recovers(serve, transport: str) -> None:
    server = serve(UpperEcho, "echo")
    demo = Demo(transport_address(server, transport), name="demo", timeout_s=REPLY_TIMEOUT_S)
    try:
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentError, match="garbled reply"):
            demo.ask("g?")
        assert demo.ask("after?") == "AFTER?"
    finally:
        demo.close()


def test_dropped_tcp_link_reconnects_once_and_succeeds(serve) -> None:
    server = serve(UpperEcho, "echo")
    demo = Demo(server.visa_tcp_address, name="demo", timeout_s=FAST_TIMEOUT_S)
    try:
        server.faults.drop_connection = True
        assert demo.ask("again?") == "AGAIN?"
        assert demo.ask("still?") == "STILL?"
    finally:
        demo.close()


def test_non_idempotent_command_is_not_repeated_after_reconnect(serve) -> None:
    server = serve(UpperEcho, "echo")
    demo = Demo(server.visa_tcp_address, name="demo", timeout_s=FAST_TIMEOUT_S)
    try:
        server.faults.drop_connection = True
        with pytest.raises(InstrumentConnectionError, match="not repeated"):
            demo.transact("toggle?", expect_reply=True, retry=False)
        assert demo.ask("alive?") == "ALIVE?"  # the link itself was restored
    finally:
        demo.close()


def test_unreachable_tcp_link_is_a_connection_error(serve) -> None:
    server = serve(UpperEcho, "echo")
    demo = Demo(server.visa_tcp_address, name="demo", timeout_s=FAST_TIMEOUT_S)
    try:
        server.faults.drop_connection = True
        server.close()  # nobody listens any more: the reconnect must fail clearly
        with pytest.raises(InstrumentConnectionError, match="reconnect failed|link lost"):
            demo.ask("anyone?")
    finally:
        demo.close()


def test_open_failure_is_a_connection_error() -> None:
    with pytest.raises(InstrumentConnectionError, match="cannot open"):
        Demo("ASRL/dev/does-not-exist-avalab::INSTR", name="demo", timeout_s=REPLY_TIMEOUT_S)


def test_concurrent_threads_never_interleave_transactions(serve) -> None:
    server = serve(UpperEcho, "echo")
    demo = Demo(server.visa_pty_address, name="demo", timeout_s=1.0)
    errors: list[str] = []

    def worker(tag: str) -> None:
        for i in range(15):
            reply = demo.ask(f"{tag}{i}?")
            if reply != f"{tag}{i}?".upper():
                errors.append(reply)

    threads = [threading.Thread(target=worker, args=(tag,)) for tag in ("a", "b", "c")]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in threads)
        assert errors == []
    finally:
        demo.close()


def test_reply_that_does_not_parse_is_an_instrument_error_naming_the_command() -> None:
    class Meter(Demo):
        reading = Instrument.measurement("READ?", "A number.")

    with expected_protocol(Meter, [(b"READ?\r\n", b"12.5\r\n"), (b"READ?\r\n", b"twelve\r\n")],
                           name="meter") as meter:
        assert meter.reading == 12.5
        with pytest.raises(InstrumentError, match=r"command 'READ\?'.*'twelve' is not a float"):
            _ = meter.reading


def test_unknown_options_are_refused_instead_of_silently_dropped() -> None:
    from drivers.laser_quantum_opus import OpusPumpLaser

    with pytest.raises(ValueError, match=r"pump: unknown option\(s\) max_powr; allowed options: .*"
                                         r"line_ending.*setter_ack.*timeout_s"):
        OpusPumpLaser(name="pump", address="ASRL/dev/x::INSTR", max_powr=1.0)
    with pytest.raises(TypeError, match=r"Demo: unknown option\(s\) baud"):
        Demo("ASRL/dev/x::INSTR", name="demo", baud=9600)


def test_link_lost_again_after_the_one_reconnect_is_a_connection_error(serve) -> None:
    servers = []

    class DropsOnDie(UpperEcho):
        def handle_line(self, line: str) -> bytes:
            if line == "die?":
                servers[0].faults.drop_connection = True  # every time: the retry dies too
            return super().handle_line(line)

    servers.append(serve(DropsOnDie, "dropper"))
    demo = Demo(servers[0].visa_tcp_address, name="demo", timeout_s=FAST_TIMEOUT_S)
    try:
        with pytest.raises(InstrumentConnectionError, match="link lost again after one reconnect"):
            demo.ask("die?")
        servers[0].faults.clear()
        assert demo.ask("fine?") == "FINE?"  # the next transaction reconnects again
    finally:
        demo.close()
