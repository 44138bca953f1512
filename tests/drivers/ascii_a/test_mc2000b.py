"""Thorlabs MC2000B chopper: transcripts, real pty/TCP links to the emulator, faults."""
from __future__ import annotations


import pytest
from pymeasure.adapters import ProtocolAdapter
from pymeasure.test import expected_protocol

from drivers.clock import RealClock
from drivers.errors import InstrumentError, InstrumentTimeout
from drivers.registry import create_driver
from drivers.thorlabs_mc2000b import MC2000B, MC2000BChopper
from sim_backends.emulators.mc2000b import MC2000BEmulator

from .conftest import FAST_TIMEOUT_S, REPLY_TIMEOUT_S, transport_address
from .fakes import FakeChopper

#: every test here is fast; a hang must fail, not stall the suite


def q(command: str, value: str) -> tuple[bytes, bytes]:
    """A query and the unit's echo + value + prompt."""
    return command.encode() + b"\r", f"{command}\r{value}\r> ".encode()


def s(command: str) -> tuple[bytes, bytes]:
    """A setter and the unit's echo + prompt."""
    return command.encode() + b"\r", f"{command}\r> ".encode()


# ---------------------------------------------------------------- byte-exact transcripts
def test_transcript_documented_examples() -> None:
    with expected_protocol(MC2000B, [(b"freq=1000\r", b"freq=1000\r> "),
                                     (b"freq?\r", b"freq?\r1000\r> ")]) as mc:
        mc.frequency = 1000
        assert mc.frequency == 1000.0


def test_transcript_whole_command_set() -> None:
    with expected_protocol(MC2000B, [
        q("id?", "THORLABS MC2000B VERSION 1.1.0"),
        s("blade=9"), q("blade?", "9"),
        s("phase=90"), q("phase?", "90"),
        s("enable=1"), q("enable?", "1"), s("enable=0"),
        s("ref=1"), q("ref?", "1"),
        s("output=0"), q("output?", "0"),
        s("nharmonic=2"), q("nharmonic?", "2"), s("dharmonic=3"), q("dharmonic?", "3"),
        s("oncycle=25"), q("oncycle?", "25"),
        q("refoutfreq?", "1000"), q("input?", "0"),
        s("verbose=0"), q("verbose?", "0"), s("intensity=7"), q("intensity?", "7"),
        s("restore"),
        (b"?\r", b"?\rid?          get model number\rfreq=n       set frequency\r> "),
    ]) as mc:
        assert mc.id == "THORLABS MC2000B VERSION 1.1.0"
        mc.blade = 9
        assert mc.blade == 9
        mc.phase = 90
        assert mc.phase == 90
        mc.enabled = True
        assert mc.enabled is True
        mc.enabled = False
        mc.reference = 1
        assert mc.reference == 1
        mc.output = 0
        assert mc.output == 0
        mc.n_harmonic = 2
        assert mc.n_harmonic == 2
        mc.d_harmonic = 3
        assert mc.d_harmonic == 3
        mc.duty_cycle_percent = 25
        assert mc.duty_cycle_percent == 25
        assert mc.reference_output_frequency == 1000
        assert mc.input_frequency == 0
        mc.verbose = False
        assert mc.verbose is False
        mc.intensity = 7
        assert mc.intensity == 7
        mc.restore()
        assert mc.command_list() == ["id?          get model number", "freq=n       set frequency"]


def test_transcript_decimal_frequency_reply_is_refused() -> None:
    """The unit answers integers; a decimal means the link is not what the driver expects."""
    with expected_protocol(MC2000B, [q("refoutfreq?", "999.7")]) as mc:
        with pytest.raises(InstrumentError, match="refoutfreq"):
            _ = mc.reference_output_frequency


def test_transcript_unknown_command_is_instrument_error() -> None:
    with expected_protocol(MC2000B, [(b"oncycle?\r", b"oncycle?\rCommand error CMD_NOT_DEFINED\r> ")]) as mc:
        with pytest.raises(InstrumentError, match=r"command 'oncycle\?'.*CMD_NOT_DEFINED"):
            _ = mc.duty_cycle_percent


def test_transcript_stale_frames_are_skipped_then_out_of_step_is_an_error() -> None:
    with expected_protocol(MC2000B, [(b"freq?\r", b"phase?\r90\r> freq?\r500\r> "),
                                     (b"freq?\r", b"a?\r1\r> b?\r2\r> c?\r3\r> d?\r4\r> ")]) as mc:
        assert mc.frequency == 500.0  # a late reply to an earlier phase? is skipped
        with pytest.raises(InstrumentError, match="does not match the command"):
            _ = mc.frequency


@pytest.mark.parametrize("attribute,value", [("frequency", 0), ("frequency", 100.5), ("blade", 15),
                                             ("phase", 361), ("n_harmonic", 16), ("intensity", 11),
                                             ("duty_cycle_percent", 100), ("reference", 4), ("output", 5)])
def test_transcript_invalid_values_write_nothing(attribute: str, value: float) -> None:
    with expected_protocol(MC2000B, []) as mc:
        with pytest.raises(ValueError):
            setattr(mc, attribute, value)


def connected(pairs: list[tuple[bytes, bytes]]) -> tuple[MC2000BChopper, ProtocolAdapter]:
    transport = ProtocolAdapter(pairs)
    chopper = MC2000BChopper(name="chopper", address="x", transport=transport)
    chopper.connect()
    return chopper, transport


def test_adapter_transcript_si_calls() -> None:
    chopper, transport = connected([
        q("enable?", "0"), s("blade=9"), q("blade?", "9"),
        q("blade?", "9"), s("freq=733"),
        q("blade?", "9"), s("oncycle=30"),
        q("blade?", "9"), q("oncycle?", "30"),
        s("phase=45"), s("enable=1"), q("refoutfreq?", "732"), q("freq?", "733"),
        q("id?", "THORLABS MC2000B"),
    ])
    chopper.set_blade("MC1F10A")
    chopper.set_frequency(733.2)
    chopper.set_duty_cycle(0.3)
    assert chopper.get_duty_cycle() == pytest.approx(0.3)
    chopper.set_phase(45)
    chopper.set_enabled(True)
    assert chopper.get_actual_frequency() == 732.0
    assert chopper.get_frequency() == 733.0
    assert chopper.identify() == "THORLABS MC2000B"
    assert transport._index == len(transport.comm_pairs)


@pytest.mark.parametrize("hz", [19.9, 1000.1, -5.0, float("nan")])
def test_frequency_outside_the_blade_range_writes_nothing(hz: float) -> None:
    chopper, transport = connected([q("blade?", "9")])
    with pytest.raises(ValueError, match=r"frequency \(MC1F10A\).*allowed range \[20, 1000\] Hz"):
        chopper.set_frequency(hz)
    assert transport._index == 1 and transport._write_buffer is None


def test_duty_cycle_is_validated_against_the_blade() -> None:
    chopper, transport = connected([q("blade?", "4"), q("blade?", "4"), q("blade?", "4")])
    with pytest.raises(ValueError, match=r"duty_cycle \(MC1F60\)=0.3 is outside the allowed range \[0.5, 0.5\]"):
        chopper.set_duty_cycle(0.3)
    chopper.set_duty_cycle(0.5)  # fixed 50 % blade: accepted, nothing to send
    assert chopper.get_duty_cycle() == 0.5
    assert transport._index == 3


def test_blade_change_refused_while_running_and_unknown_blade_names() -> None:
    chopper, transport = connected([q("enable?", "1")])
    with pytest.raises(InstrumentError, match="only allowed while the blade is stopped"):
        chopper.set_blade("MC1F60")
    with pytest.raises(ValueError, match="blade='MC1F2'"):
        chopper.set_blade("MC1F2")
    assert transport._index == 1


# ---------------------------------------------------------------- real links to the emulator
@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_whole_command_set(serve, transport: str) -> None:
    fake = FakeChopper()
    server = serve(lambda: MC2000BEmulator(fake), "mc2000b")
    chopper = create_driver("chopper", "mc2000b", transport_address(server, transport), RealClock(),
                            timeout_s=REPLY_TIMEOUT_S)
    assert isinstance(chopper, MC2000BChopper)
    with chopper:
        assert "MC2000B" in chopper.identify()
        if transport == "pty":  # the per-instrument serial settings reached pyvisa-py
            assert chopper.mc.adapter.connection.baud_rate == 115200
        chopper.set_blade("MC1F60")
        assert chopper.get_blade() == "MC1F60" and fake.blade == "MC1F60"
        chopper.set_frequency(2500)
        assert chopper.get_frequency() == 2500.0
        assert chopper.get_duty_cycle() == 0.5
        chopper.set_blade("MC1F10A")
        chopper.set_frequency(500)
        chopper.set_duty_cycle(0.25)
        assert chopper.get_duty_cycle() == pytest.approx(0.25)
        chopper.set_phase(120)
        mc = chopper.mc
        assert mc.phase == 120
        mc.reference = 1
        assert mc.reference == 1
        mc.output = 1
        assert mc.output == 1
        with pytest.raises(InstrumentError, match="CMD_ARG_INVALID"):
            mc.output = 2  # the MC1F10A has no inner/outer rings (manual chapter 8.4)
        mc.n_harmonic = 3
        assert mc.n_harmonic == 3
        mc.d_harmonic = 2
        mc.verbose = True
        mc.intensity = 3
        assert mc.intensity == 3
        assert mc.input_frequency == 0
        assert "oncycle?     get the on cycle" in mc.command_list()
        mc.restore()
        assert mc.reference == 0 and mc.phase == 0 and mc.n_harmonic == 1
        assert chopper.get_actual_frequency() == 0.0
        chopper.set_enabled(True)
        assert chopper.get_enabled() is True and fake.enabled is True
        assert chopper.get_actual_frequency() == pytest.approx(500.0)
        with pytest.raises(InstrumentError, match="stopped"):
            chopper.set_blade("MC1F60")
        with pytest.raises(InstrumentError, match="CMD_ARG_INVALID"):
            mc.reference = 0  # the unit itself refuses too
    assert fake.enabled is False  # safe_state on exit


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_unknown_command(serve, transport: str) -> None:
    server = serve(lambda: MC2000BEmulator(FakeChopper()), "mc2000b")
    with MC2000BChopper("chopper", transport_address(server, transport), timeout_s=REPLY_TIMEOUT_S) as chopper:
        with pytest.raises(InstrumentError, match="CMD_NOT_DEFINED"):
            chopper.mc.ask("spin?")
        assert chopper.get_enabled() is False


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_timeout_and_garbage(serve, transport: str) -> None:
    server = serve(lambda: MC2000BEmulator(FakeChopper()), "mc2000b")
    address = transport_address(server, transport)
    with MC2000BChopper("chopper", address, timeout_s=FAST_TIMEOUT_S) as chopper:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as caught:
            chopper.get_frequency()
        assert (caught.value.instrument, caught.value.address, caught.value.command) == \
            ("chopper", address, "freq?")
        server.faults.clear()
        server.release_held_replies()  # the late reply arrives now: flushed, not read as the next answer
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentError, match="garbled reply"):
            chopper.get_enabled()
        assert chopper.get_enabled() is False


def test_real_link_dropped_tcp_connection_reconnects_once(serve) -> None:
    fake = FakeChopper()
    server = serve(lambda: MC2000BEmulator(fake), "mc2000b")
    with MC2000BChopper("chopper", server.visa_tcp_address, timeout_s=FAST_TIMEOUT_S) as chopper:
        server.faults.drop_connection = True
        chopper.set_phase(30)
        assert chopper.mc.phase == 30
