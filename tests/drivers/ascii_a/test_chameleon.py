"""Coherent Chameleon Ultra II: transcripts, real pty/TCP links to the emulator, faults."""
from __future__ import annotations


import pytest
from pymeasure.adapters import ProtocolAdapter
from pymeasure.test import expected_protocol

from drivers.coherent_chameleon import ChameleonControlLaser, ChameleonUltraII
from drivers.errors import InstrumentError, InstrumentTimeout
from drivers.registry import create_driver
from sim_backends.clock import VirtualClock
from sim_backends.emulators.chameleon import ChameleonEmulator

from .conftest import FAST_TIMEOUT_S, REPLY_TIMEOUT_S, transport_address
from .fakes import FakeControlLaser

#: every test here is fast; a hang must fail, not stall the suite

OK = b"\r\n"  # a setter's one (empty) reply line with echo and prompt off


def line(text: str) -> bytes:
    return text.encode() + b"\r\n"


#: from power-up (echo and prompt on) the unit sends ``ECHO=0\r\nCHAMELEON> `` (still echoed,
#: then the prompt) and ``\r\n`` (PROMPT=0 no longer echoed; its own answer has no prompt). A
#: reader of CRLF lines sees the byte stream split as below: the prompt opens the second line.
HANDSHAKE = [
    (b"ECHO=0\r\n", b"ECHO=0\r\n"),
    (b"PROMPT=0\r\n", b"CHAMELEON> \r\n"),
    (b"?TMIN\r\n", line("680")),
    (b"?TMAX\r\n", line("1080")),
]


# ---------------------------------------------------------------- byte-exact transcripts
def test_transcript_whole_command_set() -> None:
    with expected_protocol(ChameleonUltraII, [
        (b"VW=808\r\n", OK), (b"?VW\r\n", line("808")),
        (b"?TMIN\r\n", line("680")), (b"?TMAX\r\n", line("1080")),
        (b"L=1\r\n", OK), (b"?L\r\n", line("1")),
        (b"S=1\r\n", OK), (b"?S\r\n", line("1")),
        (b"?UF\r\n", line("1250.00")), (b"?TS\r\n", line("1")), (b"?MDLK\r\n", line("1")),
        (b"?K\r\n", line("1")), (b"?F\r\n", line("0")), (b"?FH\r\n", line("17&33")),
        (b"?ST\r\n", line("OK")), (b"?SN\r\n", line("CHUII-1234")),
        (b"HM=1\r\n", OK), (b"ALIGN=0\r\n", OK), (b"HEARTBEAT=0\r\n", OK),
        (b"HEARTBEATRATE=20\r\n", OK),
    ]) as cham:
        cham.wavelength_nm = 808
        assert cham.wavelength_nm == 808.0
        assert (cham.min_wavelength_nm, cham.max_wavelength_nm) == (680.0, 1080.0)
        cham.laser_on = True
        assert cham.laser_state == 1
        cham.shutter_open = True
        assert cham.shutter_open is True
        assert cham.power_mw == pytest.approx(1250.0)
        assert cham.tuning_status == 1
        assert cham.modelock_status == 1
        assert cham.key_switch == 1
        assert cham.faults == []
        assert cham.fault_history == [17, 33]
        assert cham.status_text == "OK"
        assert cham.serial_number == "CHUII-1234"
        cham.home_tuning_motor()
        cham.alignment_mode = False
        cham.heartbeat = False
        cham.heartbeat_rate_s = 20


@pytest.mark.parametrize("reply", [" RANGE ERROR", " Command Error", " Query Error"])
def test_transcript_error_replies_start_with_a_space(reply: str) -> None:
    with expected_protocol(ChameleonUltraII, [(b"VW=1000\r\n", line(reply))]) as cham:
        with pytest.raises(InstrumentError, match=f"command 'VW=1000'.*{reply.strip()}"):
            cham.wavelength_nm = 1000


def test_transcript_malformed_fault_list_is_a_clear_error() -> None:
    with expected_protocol(ChameleonUltraII, [(b"?F\r\n", line("OK?"))]) as cham:
        with pytest.raises(InstrumentError, match=r"\?F.*separated by '&'"):
            _ = cham.faults


def test_adapter_transcript_handshake_tune_and_wait() -> None:
    transport = ProtocolAdapter(HANDSHAKE + [
        (b"VW=875\r\n", OK), (b"?TS\r\n", line("1")), (b"?TS\r\n", line("2")),
        (b"?TS\r\n", line("0")), (b"?VW\r\n", line("875")),
        (b"S=1\r\n", OK), (b"?S\r\n", line("1")), (b"?UF\r\n", line("980.5")),
        (b"?L\r\n", line("2")), (b"S=0\r\n", OK), (b"?SN\r\n", line("CHUII-1234")),
    ])
    clock = VirtualClock()
    laser = ChameleonControlLaser(name="control_laser", address="x", clock=clock, transport=transport)
    laser.connect()
    assert laser.wavelength_range == pytest.approx((680e-9, 1080e-9))
    laser.set_wavelength(875e-9)
    laser.wait_tuned(timeout_s=5.0)
    assert clock.now() == pytest.approx(0.4)  # two polls of 0.2 s, on the rig clock
    assert laser.get_wavelength() == pytest.approx(875e-9)
    laser.set_shutter(True)
    assert laser.get_shutter() is True
    assert laser.get_power() == pytest.approx(0.9805)
    assert laser.get_emission() is False  # ?L=2: off by fault
    laser.safe_state()
    assert laser.identify() == "Coherent Chameleon Ultra II, S/N CHUII-1234"
    assert transport._index == len(transport.comm_pairs)


@pytest.mark.parametrize("echo_answer,prompt_answer", [
    (b"\r\n", b"CHAMELEON> \r\n"),    # left with echo off, prompt on
    (b"ECHO=0\r\n", b"\r\n"),          # echo on, prompt off
    (b"\r\n", b"\r\n"),                # both off already
])
def test_handshake_reads_one_line_per_command_from_any_state(echo_answer: bytes,
                                                             prompt_answer: bytes) -> None:
    transport = ProtocolAdapter([(b"ECHO=0\r\n", echo_answer), (b"PROMPT=0\r\n", prompt_answer),
                                 (b"?TMIN\r\n", line("680")), (b"?TMAX\r\n", line("1080"))])
    laser = ChameleonControlLaser(name="control_laser", address="x", transport=transport)
    laser.connect()
    assert laser.wavelength_range == pytest.approx((680e-9, 1080e-9))
    assert transport._index == len(transport.comm_pairs)


def test_handshake_error_line_is_a_clear_error() -> None:
    transport = ProtocolAdapter([(b"ECHO=0\r\n", line(" Command Error"))])
    laser = ChameleonControlLaser(name="control_laser", address="x", transport=transport)
    with pytest.raises(InstrumentError, match="ECHO=0.*Command Error"):
        laser.connect()


def test_wait_tuned_times_out_on_the_rig_clock() -> None:
    transport = ProtocolAdapter(HANDSHAKE + [(b"?TS\r\n", line("1"))] * 6)
    clock = VirtualClock()
    laser = ChameleonControlLaser(name="control_laser", address="x", clock=clock, transport=transport,
                                  tuning_poll_s=0.5)
    laser.connect()
    with pytest.raises(InstrumentTimeout, match=r"command '\?TS'.*still tuning after 2 s"):
        laser.wait_tuned(timeout_s=2.0)
    assert clock.now() == pytest.approx(2.0)


@pytest.mark.parametrize("nm", [679.0, 1080.6, float("nan")])
def test_wavelength_outside_tmin_tmax_writes_nothing(nm: float) -> None:
    transport = ProtocolAdapter([*HANDSHAKE[:2], (b"?TMIN\r\n", line("700")), (b"?TMAX\r\n", line("1000"))])
    laser = ChameleonControlLaser(name="control_laser", address="x", transport=transport)
    laser.connect()
    with pytest.raises(ValueError, match="wavelength"):
        laser.set_wavelength(nm * 1e-9)
    with pytest.raises(ValueError, match=r"wavelength=1.05e-06 m is outside the allowed range \[7e-07, 1e-06\] m"):
        laser.set_wavelength(1050e-9)
    assert transport._index == 4 and transport._write_buffer is None


def test_invalid_instrument_settings_write_nothing() -> None:
    with expected_protocol(ChameleonUltraII, []) as cham:
        for attribute, value in [("heartbeat_rate_s", 0), ("heartbeat_rate_s", 101),
                                 ("shutter_open", 2), ("wavelength_nm", 1200)]:
            with pytest.raises(ValueError):
                setattr(cham, attribute, value)


# ---------------------------------------------------------------- real links to the emulator
@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_whole_command_set(serve, transport: str) -> None:
    fake = FakeControlLaser(tuning_polls=2)
    server = serve(lambda: ChameleonEmulator(fake), "chameleon")
    clock = VirtualClock()
    laser = create_driver("control_laser", "chameleon", transport_address(server, transport), clock,
                          timeout_s=REPLY_TIMEOUT_S)
    assert isinstance(laser, ChameleonControlLaser)
    with laser:
        assert laser.identify() == "Coherent Chameleon Ultra II, S/N CHUII-SIM-0001"
        if transport == "pty":  # the per-instrument serial settings reached pyvisa-py
            assert laser.cham.adapter.connection.baud_rate == 19200
        assert laser.wavelength_range == pytest.approx((680e-9, 1080e-9))
        for nm in (745, 808, 875):
            laser.set_wavelength(nm * 1e-9)
            laser.wait_tuned(timeout_s=10.0)
            assert laser.get_wavelength() == pytest.approx(nm * 1e-9)
        assert clock.now() > 0.0  # the tuning polls waited on the rig clock
        assert laser.get_emission() is True
        laser.set_shutter(True)
        assert laser.get_shutter() is True and fake.shutter is True
        assert laser.get_power() == pytest.approx(1.25)
        cham = laser.cham
        assert cham.modelock_status == 1 and cham.key_switch == 1
        assert cham.faults == [] and cham.fault_history == []
        assert cham.status_text == "OK"
        cham.alignment_mode = True
        cham.heartbeat = False
        cham.heartbeat_rate_s = 30
        cham.home_tuning_motor()
        laser.set_emission(False)
        assert laser.get_emission() is False and fake.emission is False
        with pytest.raises(InstrumentError, match="Query Error"):
            cham.ask("?NOPE")
        with pytest.raises(InstrumentError, match="RANGE ERROR"):
            cham.write("HEARTBEATRATE=500")  # bypassing the driver's validation: the unit refuses
    assert fake.shutter is False  # safe_state on exit closes the shutter


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_real_link_timeout_garbage(serve, transport: str) -> None:
    server = serve(lambda: ChameleonEmulator(FakeControlLaser()), "chameleon")
    address = transport_address(server, transport)
    with ChameleonControlLaser("control_laser", address, timeout_s=FAST_TIMEOUT_S) as laser:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as caught:
            laser.get_power()
        assert (caught.value.instrument, caught.value.address, caught.value.command) == \
            ("control_laser", address, "?UF")
        server.faults.clear()
        server.release_held_replies()  # the late reply arrives now: flushed, not read as the next answer
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentError, match="garbled reply"):
            laser.get_shutter()


def test_real_link_dropped_tcp_connection_reconnects_once(serve) -> None:
    fake = FakeControlLaser()
    server = serve(lambda: ChameleonEmulator(fake), "chameleon")
    with ChameleonControlLaser("control_laser", server.visa_tcp_address, timeout_s=FAST_TIMEOUT_S) as laser:
        server.faults.drop_connection = True
        laser.set_shutter(True)  # the new connection meets a unit with echo and prompt on again
        assert fake.shutter is True
        assert laser.get_shutter() is True and laser.get_power() == pytest.approx(1.25)
