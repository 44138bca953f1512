"""Lake Shore 335/336 driver: byte-exact transcripts (with the ``;*ESR?`` pattern), ESR error
bits, the real driver against the emulator over a real pty and a real TCP socket, fault
injection, and validation before anything is written."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from ascii_b_fakes import (
    FAST_TIMEOUT_S,
    REPLY_TIMEOUT_S,
    FakeTemperatureController,
    address_of,
    scripted,
    serving,
)
from pymeasure.adapters.protocol import ProtocolAdapter
from pymeasure.test import expected_protocol

from drivers.clock import RealClock
from drivers.errors import InstrumentError, InstrumentTimeout
from drivers.lakeshore import (
    LakeShore335,
    LakeShore335Controller,
    LakeShore336,
    LakeShore336Controller,
    is_pseudo_terminal,
)
from drivers.registry import create_driver
from sim_backends.emulators.lakeshore import lakeshore_server


IDN_335 = (b"*IDN?;*ESR?\r\n", b"LSCI,MODEL335,LSA1A2B/#######,2.9;0\r\n")
#: before a setpoint is written or read: which input controls output 1 and its preferred units
#: (the setpoint is in those units: manuals, SETP); here input A, kelvin
UNITS_1 = [(b"OUTMODE? 1;*ESR?\r\n", b"1,1,0;0\r\n"),
           (b"INTYPE? A;*ESR?\r\n", b"1,0,0,0,1;0\r\n")]


def scripted_335(adapter: ProtocolAdapter) -> LakeShore335Controller:
    return LakeShore335Controller(name="cryostat", address="ASRL/dev/ttyUSB0::INSTR",
                                  transport=adapter)


# ------------------------------------------------------------------ transcripts
def test_transcript_of_the_role_api_pins_exact_bytes() -> None:
    pairs = [
        IDN_335,
        (b"KRDG? A;*ESR?\r\n", b"+077.012;0\r\n"),
        *UNITS_1,
        (b"SETP 1,80.000;*ESR?\r\n", b"0\r\n"),
        *UNITS_1,
        (b"SETP? 1;*ESR?\r\n", b"+080.000;0\r\n"),
        (b"RANGE 1,2;*ESR?\r\n", b"0\r\n"),
        (b"RANGE? 1;*ESR?\r\n", b"2;0\r\n"),
        (b"HTR? 1;*ESR?\r\n", b"+045.3;0\r\n"),
        (b"RAMP 1,1,3.0;*ESR?\r\n", b"0\r\n"),        # 0.05 K/s = 3 K/min on the wire
        (b"RAMP? 1;*ESR?\r\n", b"1,+003.0;0\r\n"),
        (b"RAMPST? 1;*ESR?\r\n", b"1;0\r\n"),
        (b"PID 2,50.0,20.0,0.0;*ESR?\r\n", b"0\r\n"),
        (b"PID? 2;*ESR?\r\n", b"+0050.0,+0020.0,+000.0;0\r\n"),
        (b"RDGST? B;*ESR?\r\n", b"000;0\r\n"),
        (b"RANGE 1,0;*ESR?\r\n", b"0\r\n"),            # safe_state: every output off
        (b"RANGE 2,0;*ESR?\r\n", b"0\r\n"),
    ]
    with scripted(scripted_335, pairs) as ls:
        assert ls.identify() == "LSCI,MODEL335,LSA1A2B/#######,2.9"
        assert ls.get_temperature("A") == pytest.approx(77.012)
        ls.set_setpoint(80.0)
        assert ls.get_setpoint() == 80.0
        ls.set_heater_range(2)
        assert ls.get_heater_range() == 2
        assert ls.get_heater_output() == pytest.approx(45.3)
        ls.set_ramp(True, 0.05)
        assert ls.get_ramp() == (True, pytest.approx(0.05))
        assert ls.is_ramping() is True
        ls.set_pid(50, 20, 0, output=2)
        assert ls.get_pid(2) == (50.0, 20.0, 0.0)
        assert ls.reading_status("B") == 0
        ls.safe_state()


def test_transcript_of_the_configuration_commands() -> None:
    pairs = [
        (b"OUTMODE 1,1,1,0;*ESR?\r\n", b"0\r\n"),
        (b"HTRSET 1,0,2,0,1.200,2;*ESR?\r\n", b"0\r\n"),
        (b"MOUT 1,12.50;*ESR?\r\n", b"0\r\n"),
        (b"INTYPE A,1,0,0,0,1;*ESR?\r\n", b"0\r\n"),
        (b"INCRV A,21;*ESR?\r\n", b"0\r\n"),
        (b'INNAME A,"cold finger";*ESR?\r\n', b"0\r\n"),
        (b"INNAME? A;*ESR?\r\n", b"cold finger;0\r\n"),
        (b"TLIMIT A,350.000;*ESR?\r\n", b"0\r\n"),
        (b"CRDG? A;*ESR?\r\n", b"-196.150;0\r\n"),
        (b"SRDG? A;*ESR?\r\n", b"+1.02000;0\r\n"),
    ]
    with expected_protocol(LakeShore335, pairs) as ls:
        ls.output_1.output_mode = (1, 1, 0)
        ls.output_1.heater_setup = (0, 2, 0, 1.2, 2)
        ls.output_1.mout = 12.5
        ls.input_A.sensor_type = (1, 0, 0, 0, 1)
        ls.input_A.curve = 21
        ls.input_A.sensor_name = "cold finger"
        assert ls.input_A.sensor_name == "cold finger"
        ls.input_A.temperature_limit = 350
        assert ls.input_A.celsius == pytest.approx(-196.15)
        assert ls.input_A.sensor == pytest.approx(1.02)


@pytest.mark.parametrize("esr, words", [
    (b"16", "execution error"), (b"32", "command error"), (b"48", "execution error.*command error"),
])
def test_setter_rejected_by_the_controller_raises_naming_command(esr: bytes, words: str) -> None:
    pairs = [IDN_335, *UNITS_1, (b"SETP 1,80.000;*ESR?\r\n", esr + b"\r\n")]
    with scripted(scripted_335, pairs) as ls:
        with pytest.raises(InstrumentError, match=words) as info:
            ls.set_setpoint(80.0)
        assert info.value.command == "SETP 1,80.000;*ESR?"
        assert info.value.instrument == "cryostat"


def test_query_without_data_is_a_query_error() -> None:
    pairs = [IDN_335, (b"KRDG? B;*ESR?\r\n", b"4\r\n")]
    with scripted(scripted_335, pairs) as ls:
        with pytest.raises(InstrumentError, match="query error"):
            ls.get_temperature("B")


def test_reply_without_status_register_is_an_error() -> None:
    pairs = [IDN_335, (b"KRDG? A;*ESR?\r\n", b"+077.000\r\n")]
    with scripted(scripted_335, pairs) as ls:
        with pytest.raises(InstrumentError, match="not the \\*ESR\\? register"):
            ls.get_temperature("A")


@pytest.mark.parametrize("call", [
    lambda ls: ls.set_setpoint(-1.0),
    lambda ls: ls.set_setpoint(450.0),              # above the rig's max_setpoint_k (400 K)
    lambda ls: ls.set_setpoint(float("nan")),
    lambda ls: ls.set_setpoint(80.0, output=3),     # a 335 has outputs 1 and 2
    lambda ls: ls.set_heater_range(4),
    lambda ls: ls.set_heater_range(1.5),
    lambda ls: ls.get_temperature("C"),             # a 335 has inputs A and B
    lambda ls: ls.set_ramp(True, 2.0),              # 120 K/min > 100 K/min
    lambda ls: ls.set_ramp(True, -0.1),
    lambda ls: ls.set_ramp("on", 0.1),
    lambda ls: ls.set_pid(0.0, 20, 0),
    lambda ls: ls.set_pid(50, 20, 201),
    lambda ls: ls.set_pid(50, 1001, 0),
])
def test_invalid_values_raise_value_error_and_write_nothing(call) -> None:  # type: ignore[no-untyped-def]
    with scripted(scripted_335, [IDN_335]) as ls:
        with pytest.raises(ValueError) as info:
            call(ls)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("attribute, value", [
    ("sensor_name", "a name far too long"), ("sensor_name", 'bad"quote'), ("sensor_name", "why?"),
    ("curve", 60),
    ("sensor_type", (5, 0, 0, 0, 1)), ("temperature_limit", -1.0),
])
def test_invalid_input_settings_write_nothing(attribute: str, value: object) -> None:
    with expected_protocol(LakeShore336, []) as ls:
        with pytest.raises(ValueError):
            setattr(ls.input_D, attribute, value)


def test_336_outputs_3_and_4_are_on_off_only() -> None:
    pairs = [(b"*IDN?;*ESR?\r\n", b"LSCI,MODEL336,LSA3C4D/#######,2.9;0\r\n"),
             (b"RANGE 3,1;*ESR?\r\n", b"0\r\n")]
    adapter = ProtocolAdapter(pairs)
    ls = LakeShore336Controller(name="cryostat", address="TCPIP::10.0.0.5::7777::SOCKET",
                                transport=adapter)
    ls.connect()
    ls.set_heater_range(1, output=3)
    with pytest.raises(ValueError, match="heater_range=2"):
        ls.set_heater_range(2, output=4)
    assert adapter._index == len(pairs)


def test_serial_settings_are_57600_7_odd_1() -> None:
    from pyvisa import constants

    settings = LakeShore335.serial_settings.visa_kwargs()
    assert settings["baud_rate"] == 57600
    assert settings["data_bits"] == 7
    assert settings["parity"] == constants.Parity.odd
    assert settings["stop_bits"] == constants.StopBits.one
    assert LakeShore335.write_termination == "\r\n" and LakeShore335.reply_terminator == b"\r\n"


def test_pseudo_terminals_are_opened_8n1_and_everything_else_7o1() -> None:
    # Linux ptys refuse 7 data bits; a pty is only ever an emulator
    assert is_pseudo_terminal("ASRL/dev/pts/7::INSTR")
    assert not is_pseudo_terminal("ASRL/dev/ttyUSB0::INSTR")
    assert not is_pseudo_terminal("TCPIP::10.0.0.5::7777::SOCKET")


@pytest.mark.parametrize("driver, cls", [("lakeshore335", LakeShore335Controller),
                                         ("lakeshore336", LakeShore336Controller)])
def test_registry_builds_the_controllers(driver: str, cls: type) -> None:
    device = create_driver("cryostat", driver, "ASRL/dev/ttyUSB0::INSTR", RealClock(),
                           max_setpoint_k=320.0)
    assert isinstance(device, cls) and device.max_setpoint_k == 320.0


# ------------------------------------------------------------------ real links
@pytest.fixture(params=[335, 336])
def bench(request: pytest.FixtureRequest) -> Iterator[tuple[int, FakeTemperatureController, object]]:
    model = request.param
    controller = FakeTemperatureController(outputs=(1, 2) if model == 335 else (1, 2, 3, 4))
    with serving(lakeshore_server(controller, model)) as server:
        yield model, controller, server


def open_controller(model: int, address: str, timeout_s: float = REPLY_TIMEOUT_S
                    ) -> LakeShore335Controller | LakeShore336Controller:
    cls = LakeShore335Controller if model == 335 else LakeShore336Controller
    return cls(name="cryostat", address=address, timeout_s=timeout_s)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_whole_command_set_over_a_real_link(bench, transport: str) -> None:  # type: ignore[no-untyped-def]
    model, fake, server = bench
    with open_controller(model, address_of(server, transport)) as ls:
        assert ls.identify().startswith(f"LSCI,MODEL{model},")
        inputs = "AB" if model == 335 else "ABCD"
        for channel in inputs:
            assert ls.get_temperature(channel) == pytest.approx(fake.temperatures[channel])
            assert ls.reading_status(channel) == 0
        ls.set_setpoint(82.5)
        assert fake.setpoints[1] == 82.5 and ls.get_setpoint() == 82.5
        ls.set_heater_range(3, output=2)
        assert fake.ranges[2] == 3 and ls.get_heater_range(2) == 3
        assert ls.get_heater_output() == pytest.approx(12.5)
        ls.set_ramp(True, 0.2)
        assert fake.ramps[1] == (True, pytest.approx(0.2))
        assert ls.get_ramp() == (True, pytest.approx(0.2))
        ls.set_setpoint(90.0)  # 7.5 K at 12 K/min: still ramping right after the change
        assert ls.is_ramping() is True
        ls.set_pid(75, 25, 10)
        assert ls.get_pid() == (75.0, 25.0, 10.0)

        device = ls.controller
        device.output_1.output_mode = (1, 1, 0)
        setup = (0, 1, 2, 0.0, 2) if model == 335 else (1, 2, 0.0, 2)  # 335: output type first
        device.output_1.heater_setup = setup
        assert tuple(device.output_1.heater_setup) == setup
        device.output_1.mout = 5.0
        assert device.output_1.output_mode == [1, 1, 0]
        assert device.output_1.mout == pytest.approx(5.0)
        device.input_A.sensor_type = (1, 0, 0, 0, 1)
        device.input_A.curve = 21
        device.input_A.sensor_name = "sample stage"
        device.input_A.temperature_limit = 375.0
        assert device.input_A.sensor_name == "sample stage"
        assert device.input_A.curve == 21
        assert device.input_A.temperature_limit == pytest.approx(375.0)
        assert device.input_A.celsius == pytest.approx(77.0 - 273.15)
    # leaving the context ran safe_state: every heater output off
    assert set(fake.ranges.values()) == {0}


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_compound_commands_and_esr_bits_over_a_real_link(bench, transport: str) -> None:  # type: ignore[no-untyped-def]
    model, fake, server = bench
    with open_controller(model, address_of(server, transport)) as ls:
        device = ls.controller
        assert device.ask("KRDG? A;KRDG? B;SETP? 1") == "+077.000;+080.500;+077.000"
        device.write("SETP 1,78;RANGE 1,1")
        assert fake.setpoints[1] == 78.0 and fake.ranges[1] == 1
        with pytest.raises(InstrumentError, match="ESR=16"):
            device.write("PID 1,5000,20,0")            # P out of range: execution error
        with pytest.raises(InstrumentError, match="ESR=32"):
            device.write("NOSUCH 1")                   # command error
        fake.broken_inputs.add("B")
        with pytest.raises(InstrumentError, match="ESR=4"):
            ls.get_temperature("B")                    # query error
        fake.broken_inputs.clear()
        # reading *ESR? cleared the register: the next transaction is clean
        assert ls.get_temperature("B") == pytest.approx(80.5)


# ------------------------------------------------------------------ fault injection
@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_delayed_reply_times_out_naming_instrument_address_command(bench, transport: str) -> None:  # type: ignore[no-untyped-def]
    model, fake, server = bench
    address = address_of(server, transport)
    with open_controller(model, address, FAST_TIMEOUT_S) as ls:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as info:
            ls.get_temperature("A")
        server.faults.clear()
        error = info.value
        assert (error.instrument, error.address, error.command) == ("cryostat", address,
                                                                    "KRDG? A;*ESR?")
        server.release_held_replies()  # the late reply arrives now: it must be flushed
        fake.temperatures["A"] = 78.25  # a different value proves the answer is not the late one
        assert ls.get_temperature("A") == pytest.approx(78.25)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_garbage_reply_is_a_clear_error_and_the_link_recovers(bench, transport: str) -> None:  # type: ignore[no-untyped-def]
    model, _, server = bench
    with open_controller(model, address_of(server, transport)) as ls:
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentError, match="garbled"):
            ls.set_setpoint(79.0)
        assert ls.get_temperature("A") == pytest.approx(77.0)


def test_dropped_tcp_connection_reconnects_once_then_succeeds(bench) -> None:  # type: ignore[no-untyped-def]
    model, fake, server = bench
    with open_controller(model, server.visa_tcp_address, FAST_TIMEOUT_S) as ls:
        server.faults.drop_connection = True
        ls.set_setpoint(81.0)  # absolute setter: safe to repeat after the reconnect
        assert server.faults.drop_connection is False
        assert fake.setpoints[1] == 81.0
        assert ls.get_setpoint() == 81.0


def test_threads_sharing_the_controller_never_get_each_others_replies(bench) -> None:  # type: ignore[no-untyped-def]
    model, fake, server = bench
    fake.temperatures["B"] = 123.456
    errors: list[BaseException] = []
    with open_controller(model, server.visa_tcp_address) as ls:
        def poll() -> None:
            try:
                for _ in range(40):
                    assert ls.get_temperature("B") == pytest.approx(123.456)
            except BaseException as exc:  # collected: an assert in a thread is otherwise lost
                errors.append(exc)

        def control() -> None:
            try:
                for step in range(40):
                    ls.set_setpoint(80.0 + step * 0.5)
                    assert ls.get_setpoint() == pytest.approx(80.0 + step * 0.5)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=poll), threading.Thread(target=control)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20.0)
    assert not errors, errors[0]
    assert fake.setpoints[1] == pytest.approx(99.5)


def test_heater_range_from_the_htrset_power_and_the_cryostat_options() -> None:
    """With the bath and cold-finger conductance given (rig options) the driver picks the lowest
    range whose power holds the setpoint: full power I^2 R from HTRSET, a decade less per range."""
    from drivers.lakeshore import LakeShore335Controller

    class Output:  # 335 HTRSET: current output, 25 ohm, max current 2 (1 A): 25 W high, 2.5 W medium
        heater_setup = (0, 1, 2, 0.0, 1)

    controller = LakeShore335Controller("cryostat", "ASRL9::INSTR", bath_k=77.0, cold_finger_conductance_w_k=0.05)
    controller._output = lambda output=1: Output()  # type: ignore[method-assign]  # no link needed
    assert controller.heater_full_scale_w() == pytest.approx([0.25, 2.5, 25.0])
    assert controller.choose_heater_range(80.0).heater_range == 1    # 0.15 W <= 0.8 x 0.25 W
    assert controller.choose_heater_range(100.0).heater_range == 2   # 1.15 W
    assert controller.choose_heater_range(300.0).heater_range == 3   # 11.2 W
    with pytest.raises(ValueError, match="temperature_k=700 K cannot be reached"):
        controller.choose_heater_range(700.0)                         # 31 W > 25 W


def test_setpoint_follows_the_control_inputs_preferred_units() -> None:
    """Manuals, SETP: the setpoint is in the preferred units of the control loop sensor. With
    input B (controlling output 1) reading in Celsius, 80 K goes out as -193.150 and comes back as
    80 K; with sensor units nothing is written."""
    celsius = [(b"OUTMODE? 1;*ESR?\r\n", b"1,2,0;0\r\n"),
               (b"INTYPE? B;*ESR?\r\n", b"1,0,0,0,2;0\r\n")]
    sensor = [(b"OUTMODE? 1;*ESR?\r\n", b"1,2,0;0\r\n"),
              (b"INTYPE? B;*ESR?\r\n", b"1,0,0,0,3;0\r\n")]
    pairs = [IDN_335, *celsius, (b"SETP 1,-193.150;*ESR?\r\n", b"0\r\n"),
             *celsius, (b"SETP? 1;*ESR?\r\n", b"-193.150;0\r\n"), *sensor]
    with scripted(scripted_335, pairs) as ls:
        ls.set_setpoint(80.0)
        assert ls.get_setpoint() == pytest.approx(80.0)
        with pytest.raises(InstrumentError, match="sensor units"):
            ls.set_setpoint(80.0)
