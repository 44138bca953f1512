"""Thorlabs SC10 shutter: transcripts, real pty/TCP links to the emulator, faults."""
from __future__ import annotations


import pytest
from pymeasure.adapters import ProtocolAdapter
from pymeasure.test import expected_protocol

from drivers.clock import RealClock
from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from drivers.registry import create_driver
from drivers.thorlabs_sc10 import SC10, SC10Shutter
from sim_backends.emulators.sc10 import SC10Emulator

from .conftest import FAST_TIMEOUT_S, REPLY_TIMEOUT_S, transport_address
from .fakes import FakeShutter

#: every test here is fast; a hang must fail, not stall the suite


def q(command: str, value: str) -> tuple[bytes, bytes]:
    """A query and the unit's echo + value + prompt (instruments.md section 9)."""
    return command.encode() + b"\r", f"{command}\r{value}\r> ".encode()


def s(command: str) -> tuple[bytes, bytes]:
    """A set command and the unit's echo + prompt (the same shape as a query's reply)."""
    return command.encode() + b"\r", f"{command}\r> ".encode()


# ---------------------------------------------------------------- byte-exact transcripts
def test_transcript_documented_example_and_whole_command_set() -> None:
    with expected_protocol(SC10, [
        (b"id?\r", b"id?\rTHORLABS SC10 VERSION 1.07\r> "),
        q("ens?", "0"), (b"ens\r", b"ens\r> "), q("closed?", "1"), q("interlock?", "0"),
        s("mode=1"), q("mode?", "1"),
        s("open=250"), q("open?", "250"), s("shut=750"), q("shut?", "750"),
        s("rep=5"), q("rep?", "5"), s("trig=1"), q("trig?", "1"), s("xto=0"), q("xto?", "0"),
        q("baud?", "0"), s("save"), s("savp"), s("resp"),
        (b"?\r", b"?\r?          Get commands\rid?        Get ID\r> "),
    ]) as sc10:
        assert sc10.id == "THORLABS SC10 VERSION 1.07"
        assert sc10.enabled is False
        sc10.toggle_enable()
        assert sc10.closed is True
        assert sc10.interlock_tripped is False
        sc10.mode = "manual"
        assert sc10.mode == "manual"
        sc10.open_time_ms = 250
        assert sc10.open_time_ms == 250
        sc10.shut_time_ms = 750
        assert sc10.shut_time_ms == 750
        sc10.repeat_count = 5
        assert sc10.repeat_count == 5
        sc10.trigger = 1
        assert sc10.trigger == 1
        sc10.output_trigger = 0
        assert sc10.output_trigger == 0
        assert sc10.baud_rate_setting == 9600
        sc10.save()
        sc10.store_configuration()
        sc10.load_configuration()
        assert sc10.command_list() == ["?          Get commands", "id?        Get ID"]


def test_transcript_errors() -> None:
    with expected_protocol(SC10, [
        (b"mode=9\r", b"mode=9\rCommand error CMD_ARG_INVALID\r> "),
        (b"rep?\r", b"rep?\rCommand error CMD_NOT_DEFINED\r> "),
    ]) as sc10:
        with pytest.raises(InstrumentError, match=r"command 'mode=9'.*CMD_ARG_INVALID"):
            sc10.write("mode=9")
        with pytest.raises(InstrumentError, match=r"command 'rep\?'.*CMD_NOT_DEFINED"):
            _ = sc10.repeat_count


@pytest.mark.parametrize("attribute,value", [("mode", "burst"), ("open_time_ms", -1),
                                             ("shut_time_ms", 1e6), ("repeat_count", 0),
                                             ("repeat_count", 2.5), ("trigger", 2)])
def test_invalid_values_write_nothing(attribute: str, value: object) -> None:
    with expected_protocol(SC10, []) as sc10:
        with pytest.raises(ValueError):
            setattr(sc10, attribute, value)


def test_baud_rate_option_is_validated() -> None:
    with pytest.raises(ValueError, match="baud_rate=19200"):
        SC10Shutter("pump_shutter", "x", baud_rate=19200)


def test_adapter_transcript_open_reads_first_and_confirms() -> None:
    transport = ProtocolAdapter([
        s("mode=1"),
        q("interlock?", "0"), q("ens?", "0"), (b"ens\r", b"ens\r> "), q("ens?", "1"),
        q("closed?", "0"),
        q("interlock?", "0"), q("ens?", "1"),              # already open: no toggle
        q("ens?", "1"), (b"ens\r", b"ens\r> "), q("ens?", "0"),
        q("ens?", "0"),                                    # safe_state when already closed
    ])
    shutter = SC10Shutter(name="pump_shutter", address="x", transport=transport)
    shutter.connect()
    shutter.open()
    assert shutter.is_open() is True
    shutter.open()
    shutter.close_shutter()
    shutter.safe_state()
    assert transport._index == len(transport.comm_pairs)


def test_adapter_refuses_to_open_with_interlock_open() -> None:
    transport = ProtocolAdapter([s("mode=1"), q("interlock?", "1")])
    shutter = SC10Shutter(name="pump_shutter", address="x", transport=transport)
    shutter.connect()
    with pytest.raises(InstrumentError, match="interlock is open"):
        shutter.open()
    assert transport._index == 2


def test_adapter_gives_up_when_the_toggle_does_not_take() -> None:
    transport = ProtocolAdapter([s("mode=1"), q("interlock?", "0")] +
                                [q("ens?", "0"), (b"ens\r", b"ens\r> "), q("ens?", "0")] * 2)
    shutter = SC10Shutter(name="pump_shutter", address="x", transport=transport)
    shutter.connect()
    with pytest.raises(InstrumentError, match="enable did not become 1 after 2 attempts"):
        shutter.open()


# ---------------------------------------------------------------- real links to the emulator
@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_whole_command_set(serve, transport: str) -> None:
    fake = FakeShutter()
    server = serve(lambda: SC10Emulator(fake), "sc10")
    shutter = create_driver("emission_shutter", "sc10", transport_address(server, transport),
                            RealClock(), timeout_s=REPLY_TIMEOUT_S)
    assert isinstance(shutter, SC10Shutter)
    with shutter:
        assert shutter.identify().startswith("THORLABS SC10")
        assert shutter.is_open() is False
        shutter.open()
        assert shutter.is_open() is True and fake.opened is True
        shutter.open()  # idempotent: ens is read first, no second toggle
        assert fake.opened is True
        shutter.close_shutter()
        assert shutter.is_open() is False and fake.opened is False
        sc10 = shutter.sc10
        assert sc10.interlock_tripped is False
        sc10.open_time_ms = 120
        sc10.shut_time_ms = 80
        sc10.repeat_count = 3
        sc10.trigger = 0
        sc10.output_trigger = 1
        assert (sc10.open_time_ms, sc10.shut_time_ms, sc10.repeat_count, sc10.trigger,
                sc10.output_trigger) == (120, 80, 3, 0, 1)
        assert sc10.mode == "manual"
        sc10.save()
        with pytest.raises(InstrumentError, match="CMD_NOT_DEFINED"):
            sc10.ask("shutter?")
        shutter.open()
    assert fake.opened is False  # safe_state on exit closes


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_interlock(serve, transport: str) -> None:
    emulators: list[SC10Emulator] = []

    def factory() -> SC10Emulator:
        emulators.append(SC10Emulator(FakeShutter()))
        emulators[-1].interlock_open = True
        return emulators[-1]

    server = serve(factory, "sc10")
    with SC10Shutter("pump_shutter", transport_address(server, transport), timeout_s=REPLY_TIMEOUT_S) as shutter:
        with pytest.raises(InstrumentError, match="interlock"):
            shutter.open()
        assert shutter.is_open() is False


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_faster_baud_option(serve, transport: str) -> None:
    server = serve(lambda: SC10Emulator(FakeShutter()), "sc10")
    with SC10Shutter("pump_shutter", transport_address(server, transport), timeout_s=REPLY_TIMEOUT_S,
                     baud_rate=115200) as shutter:
        shutter.open()
        assert shutter.is_open() is True
        if transport == "pty":  # the option reached pyvisa-py
            assert shutter.sc10.adapter.connection.baud_rate == 115200


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_timeout_and_garbage(serve, transport: str) -> None:
    server = serve(lambda: SC10Emulator(FakeShutter()), "sc10")
    address = transport_address(server, transport)
    with SC10Shutter("pump_shutter", address, timeout_s=FAST_TIMEOUT_S) as shutter:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as caught:
            shutter.is_open()
        assert (caught.value.instrument, caught.value.address, caught.value.command) == \
            ("pump_shutter", address, "closed?")
        server.faults.clear()
        server.release_held_replies()  # the late reply arrives now: flushed, not read as the next answer
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentError, match="garbled reply"):
            shutter.is_open()
        assert shutter.is_open() is False


def test_real_link_dropped_tcp_connection_reconnects_once(serve) -> None:
    fake = FakeShutter()
    server = serve(lambda: SC10Emulator(fake), "sc10")
    with SC10Shutter("pump_shutter", server.visa_tcp_address, timeout_s=FAST_TIMEOUT_S) as shutter:
        server.faults.drop_connection = True
        assert shutter.is_open() is False  # closed? dropped, reconnected, asked again
        server.faults.drop_connection = True
        shutter.open()  # the drop hits the first ens? (a query: repeated after the reconnect)
        assert fake.opened is True and shutter.is_open() is True


def test_real_link_drop_on_the_toggle_rereads_instead_of_toggling_back(serve) -> None:
    fake = FakeShutter()
    server = serve(lambda: SC10Emulator(fake), "sc10")
    with SC10Shutter("pump_shutter", server.visa_tcp_address, timeout_s=FAST_TIMEOUT_S) as shutter:
        server.faults.drop_connection = True  # the next reply is the ens toggle's
        with pytest.raises(InstrumentConnectionError, match="not repeated"):
            shutter.sc10.toggle_enable()
        assert fake.opened is True  # the unit executed it once
        shutter.open()  # reads ens?=1 on the restored link: no second toggle
        assert fake.opened is True and shutter.is_open() is True


def test_real_link_manual_mode_is_restored_after_a_reconnect(serve) -> None:
    fake = FakeShutter()
    emulators: list[SC10Emulator] = []

    def factory() -> SC10Emulator:
        emulator = SC10Emulator(fake)
        if emulators:
            emulator.settings["mode"] = 2  # restarted behind the drop, in its saved auto mode
        emulators.append(emulator)
        return emulator

    server = serve(factory, "sc10")
    with SC10Shutter("pump_shutter", server.visa_tcp_address, timeout_s=FAST_TIMEOUT_S) as shutter:
        server.faults.drop_connection = True
        assert shutter.is_open() is False
        restarted = emulators[-1]  # the unit behind the new connection (one more serves the pty)
        assert restarted is not emulators[0] and restarted.settings["mode"] == 1
        shutter.open()
        assert fake.opened is True
