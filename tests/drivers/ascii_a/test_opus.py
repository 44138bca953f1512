"""Laser Quantum Opus 1064 / MPC-D: transcripts, real pty/TCP links to the emulator, faults."""
from __future__ import annotations


import pytest
from pymeasure.adapters import ProtocolAdapter
from pymeasure.test import expected_protocol

from drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from drivers.laser_quantum_opus import OpusMPCD, OpusPumpLaser
from drivers.registry import create_driver
from drivers.clock import RealClock
from sim_backends.emulators.opus import OpusEmulator

from .conftest import FAST_TIMEOUT_S, REPLY_TIMEOUT_S, transport_address
from .fakes import FakePumpLaser

#: every test here is fast; a hang must fail, not stall the suite

ACK = b"\r\n"


# ---------------------------------------------------------------- byte-exact transcripts
def test_transcript_queries() -> None:
    with expected_protocol(OpusMPCD, [
        (b"POWER?\r\n", b"0123.4mW\r\n"),
        (b"STATUS?\r\n", b"ENABLED\r\n"),
        (b"STATUS?\r\n", b"DISABLED\r\n"),
        (b"CURRENT?\r\n", b"050.0%\r\n"),
        (b"LASTEMP?\r\n", b"025.123C\r\n"),
        (b"PSUTEMP?\r\n", b"031.000C\r\n"),
        (b"VERSION?\r\n", b"MPC-D Version 1.0.33\r\n"),
        (b"SETPOWER?\r\n", b"0500.0mW\r\n"),
        (b"SETCURRENT1?\r\n", b"062.5%\r\n"),
        (b"CONTROL?\r\n", b"POWER\r\n"),
        (b"INTERLOCK?\r\n", b"ENABLED\r\n"),
        (b"SOFTVER?\r\n", b"1.0.33\r\n"),
        (b"SERIAL?\r\n", b"OPUS-1234\r\n"),
        (b"STATUSLCD?\r\n", b"ENABLED 0500.0mW\r\n"),
    ], setter_ack="empty_line") as opus:
        assert opus.power_mw == pytest.approx(123.4)
        assert opus.enabled is True
        assert opus.enabled is False
        assert opus.current_percent == pytest.approx(50.0)
        assert opus.laser_temperature_c == pytest.approx(25.123)
        assert opus.psu_temperature_c == pytest.approx(31.0)
        assert opus.version == "MPC-D Version 1.0.33"
        assert opus.power_setpoint_readback_mw == pytest.approx(500.0)
        assert opus.current_setpoint_percent == pytest.approx(62.5)
        assert opus.control_mode_readback == "POWER"
        assert opus.interlock_closed is True
        assert opus.software_version == "1.0.33"
        assert opus.serial_number == "OPUS-1234"
        assert opus.lcd_text == "ENABLED 0500.0mW"


def test_transcript_setters_with_empty_line_acknowledgement() -> None:
    with expected_protocol(OpusMPCD, [
        (b"POWER=1500.0\r\n", ACK),
        (b"ON\r\n", ACK),
        (b"OFF\r\n", ACK),
        (b"CURRENT=42.5\r\n", ACK),
        (b"CONTROL=POWER\r\n", ACK),
    ], setter_ack="empty_line") as opus:
        opus.power_setpoint_mw = 1500
        opus.emission = True
        opus.emission = False
        opus.current_percent = 42.5
        opus.control_mode = "POWER"


def test_transcript_setters_of_silent_firmware() -> None:
    with expected_protocol(OpusMPCD, [(b"POWER=10.0\r\n", None), (b"ON\r\n", None)],
                           setter_ack="none") as opus:
        opus.power_setpoint_mw = 10
        opus.emission = True


def test_transcript_old_firmware_cr_only_and_stray_lf() -> None:
    # CR-terminated replies, and an LF left over from a CRLF in front of the next reply
    with expected_protocol(OpusMPCD, [(b"POWER?\r\n", b"2999.9mW\r"), (b"STATUS?\r\n", b"\nENABLED\r")],
                           setter_ack="none", line_ending="cr") as opus:
        assert opus.power_mw == pytest.approx(2999.9)
        assert opus.enabled is True


def test_transcript_power_in_watts_is_converted() -> None:
    with expected_protocol(OpusMPCD, [(b"POWER?\r\n", b"1.500W\r\n")]) as opus:
        assert opus.power_mw == pytest.approx(1500.0)


def test_transcript_timers_lines() -> None:
    with expected_protocol(OpusMPCD, [
        (b"TIMERS?\r\n", b"PSU Time = 01234.5 Hours\r\nLaser Enabled Time = 00456.7 Hours\r\n"
                         b"Laser Threshold Time = 00345.6 Hours\r\n\r\n"),
    ]) as opus:
        assert opus.timers() == ["PSU Time = 01234.5 Hours", "Laser Enabled Time = 00456.7 Hours",
                                 "Laser Threshold Time = 00345.6 Hours"]


def test_transcript_error_replies_raise_instrument_error() -> None:
    with expected_protocol(OpusMPCD, [(b"POWER=100.0\r\n", b"Error: interlock open\r\n"),
                                      (b"POWER?\r\n", b"Error: Unknown command\r\n")],
                           setter_ack="empty_line") as opus:
        with pytest.raises(InstrumentError, match=r"command 'POWER=100.0'.*Error: interlock open"):
            opus.power_setpoint_mw = 100
        with pytest.raises(InstrumentError, match=r"command 'POWER\?'.*Unknown command"):
            _ = opus.power_mw


def test_transcript_reply_without_unit_is_a_clear_error() -> None:
    with expected_protocol(OpusMPCD, [(b"POWER?\r\n", b"0123.4\r\n")]) as opus:
        with pytest.raises(InstrumentError, match=r"POWER\?.*unexpected reply '0123.4'"):
            _ = opus.power_mw


def test_adapter_transcript_connect_power_and_emission() -> None:
    transport = ProtocolAdapter([
        (b"VERSION?\r\n", b"MPC-D Version 1.0.33\r\n"),
        (b"CONTROL=POWER\r\n", ACK),
        (b"POWER=1250.0\r\n", ACK),
        (b"ON\r\n", ACK),
        (b"POWER?\r\n", b"1249.8mW\r\n"),
        (b"STATUS?\r\n", b"ENABLED\r\n"),
        (b"OFF\r\n", ACK),
        (b"STATUS?\r\n", b"DISABLED\r\n"),
    ])
    pump = OpusPumpLaser(name="pump", address="ASRL/dev/fake::INSTR", transport=transport,
                         setter_ack="empty_line")
    pump.connect()
    assert pump.identify() == "Laser Quantum Opus 1064, MPC-D Version 1.0.33"
    pump.set_power(1.25)
    pump.set_emission(True)
    assert pump.get_power() == pytest.approx(1.2498)
    assert pump.get_emission() is True
    pump.safe_state()
    assert transport._index == len(transport.comm_pairs)


@pytest.mark.parametrize("power_w", [-0.1, 3.01, float("nan"), "lots"])
def test_invalid_power_raises_value_error_and_writes_nothing(power_w: object) -> None:
    transport = ProtocolAdapter([(b"VERSION?\r\n", b"MPC-D\r\n"), (b"CONTROL=POWER\r\n", ACK)])
    pump = OpusPumpLaser(name="pump", address="x", transport=transport, setter_ack="empty_line")
    pump.connect()
    with pytest.raises(ValueError, match="power"):
        pump.set_power(power_w)  # type: ignore[arg-type]
    assert transport._index == 2 and transport._write_buffer is None


def test_max_power_option_limits_setpoint_before_sending() -> None:
    with pytest.raises(ValueError, match="max_power=4 W"):
        OpusPumpLaser(name="pump", address="x", max_power=4.0)
    transport = ProtocolAdapter([(b"VERSION?\r\n", b"MPC-D\r\n"), (b"CONTROL=POWER\r\n", ACK)])
    pump = OpusPumpLaser(name="pump", address="x", transport=transport, max_power=0.5,
                         setter_ack="empty_line")
    pump.connect()
    with pytest.raises(ValueError, match=r"power=0.6 W is outside the allowed range \[0, 0.5\] W"):
        pump.set_power(0.6)
    with expected_protocol(OpusMPCD, []) as opus:
        with pytest.raises(ValueError):
            opus.power_setpoint_mw = 3000.1
        with pytest.raises(ValueError):
            opus.current_percent = 101


def test_emission_off_is_confirmed() -> None:
    transport = ProtocolAdapter([(b"VERSION?\r\n", b"MPC-D\r\n"), (b"CONTROL=POWER\r\n", ACK),
                                 (b"OFF\r\n", ACK), (b"STATUS?\r\n", b"ENABLED\r\n")])
    pump = OpusPumpLaser(name="pump", address="x", transport=transport, setter_ack="empty_line")
    pump.connect()
    with pytest.raises(InstrumentError, match="still ENABLED after OFF"):
        pump.set_emission(False)


def test_wrong_instrument_on_the_port_is_refused() -> None:
    transport = ProtocolAdapter([(b"VERSION?\r\n", b"SMD6000 v2\r\n")])
    pump = OpusPumpLaser(name="pump", address="x", transport=transport)
    with pytest.raises(InstrumentError, match="not an MPC-D"):
        pump.connect()
    assert not pump.is_connected


def test_unconnected_use_is_a_clear_error_and_so_is_an_unreachable_safe_state() -> None:
    pump = OpusPumpLaser(name="pump", address="ASRL/dev/nothing::INSTR")
    with pytest.raises(InstrumentConnectionError, match="not connected"):
        pump.get_power()
    # emission off could not be sent: an error naming the pump (the rig reports it), never a
    # silent log line
    with pytest.raises(InstrumentConnectionError, match="pump at ASRL/dev/nothing::INSTR.*not connected"):
        pump.safe_state()


# ---------------------------------------------------------------- real links to the emulator
@pytest.mark.parametrize("transport", ["pty", "tcp"])
@pytest.mark.parametrize("ack_setters", [True, False])
def test_real_link_whole_command_set(serve, transport: str, ack_setters: bool) -> None:
    laser = FakePumpLaser()
    server = serve(lambda: OpusEmulator(laser, ack_setters=ack_setters), "opus")
    pump = create_driver("pump", "opus", transport_address(server, transport), RealClock(),
                         timeout_s=REPLY_TIMEOUT_S, max_power=2.0,
                         # learning whether setters are acknowledged waits this long for the ack:
                         # long where one will come, short where silence is the answer
                         setter_ack_timeout_s=REPLY_TIMEOUT_S if ack_setters else 0.25)
    assert isinstance(pump, OpusPumpLaser)
    with pump:
        assert "MPC-D" in pump.identify()
        if transport == "pty":  # the per-instrument serial settings reached pyvisa-py
            assert pump.opus.adapter.connection.baud_rate == 19200
        assert pump.wavelength == pytest.approx(1064e-9) and pump.max_power == 2.0
        pump.set_power(1.5)
        # silent setters give no synchronisation point: the next query is one
        assert pump.get_emission() is False
        assert laser.setpoint_w == pytest.approx(1.5)
        pump.set_emission(True)
        assert pump.get_emission() is True and laser.emission is True
        assert pump.get_power() == pytest.approx(1.5)
        opus = pump.opus
        assert opus.setter_ack == ("empty_line" if ack_setters else "none")
        assert 20.0 < opus.current_percent <= 100.0
        assert opus.laser_temperature_c > 20.0 and opus.psu_temperature_c > 20.0
        assert len(opus.timers()) == 3
        opus.control_mode = "CURRENT"
        opus.current_percent = 60.0
        assert opus.current_percent == pytest.approx(60.0)
        assert laser.setpoint_w == pytest.approx(1.5)  # 60 % is half of the 20..100 % span of 3 W
        opus.control_mode = "POWER"
    assert laser.emission is False  # safe_state on exit
    assert not pump.is_connected


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_old_firmware_cr_replies(serve, transport: str) -> None:
    laser = FakePumpLaser()
    server = serve(lambda: OpusEmulator(laser, line_ending="\r"), "opus")
    with OpusPumpLaser("pump", transport_address(server, transport), timeout_s=REPLY_TIMEOUT_S,
                       setter_ack_timeout_s=REPLY_TIMEOUT_S) as pump:
        pump.set_power(0.25)
        pump.set_emission(True)
        assert pump.get_power() == pytest.approx(0.25)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_error_reply_from_backing_laser(serve, transport: str) -> None:
    laser = FakePumpLaser(max_power_w=1.0)  # the bench allows less than the head
    server = serve(lambda: OpusEmulator(laser), "opus")
    with OpusPumpLaser("pump", transport_address(server, transport), timeout_s=REPLY_TIMEOUT_S,
                       setter_ack_timeout_s=REPLY_TIMEOUT_S) as pump:
        with pytest.raises(InstrumentError, match="Error: Value out of range"):
            pump.set_power(2.0)
        pump.set_power(0.5)  # the link is still in step after the error
        assert laser.setpoint_w == pytest.approx(0.5)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_timeout_names_instrument_address_command(serve, transport: str) -> None:
    server = serve(lambda: OpusEmulator(FakePumpLaser()), "opus")
    address = transport_address(server, transport)
    with OpusPumpLaser("pump", address, timeout_s=FAST_TIMEOUT_S,
                       setter_ack_timeout_s=FAST_TIMEOUT_S) as pump:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as caught:
            pump.get_power()
        assert (caught.value.instrument, caught.value.address, caught.value.command) == \
            ("pump", address, "POWER?")
        server.faults.clear()
        server.release_held_replies()  # the late reply arrives now: flushed, not read as the next answer
        assert pump.get_emission() is False  # a late "POWER?" answer would not parse as this one


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_garbage_is_a_clear_error(serve, transport: str) -> None:
    server = serve(lambda: OpusEmulator(FakePumpLaser()), "opus")
    with OpusPumpLaser("pump", transport_address(server, transport), timeout_s=REPLY_TIMEOUT_S,
                       setter_ack_timeout_s=REPLY_TIMEOUT_S) as pump:
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentError, match="garbled reply"):
            pump.get_power()
        assert pump.get_power() == 0.0


def test_real_link_dropped_tcp_connection_reconnects_once(serve) -> None:
    laser = FakePumpLaser()
    server = serve(lambda: OpusEmulator(laser), "opus")
    with OpusPumpLaser("pump", server.visa_tcp_address, timeout_s=FAST_TIMEOUT_S,
                       setter_ack_timeout_s=FAST_TIMEOUT_S) as pump:
        server.faults.drop_connection = True
        pump.set_emission(True)
        assert laser.emission is True
        assert pump.get_emission() is True
