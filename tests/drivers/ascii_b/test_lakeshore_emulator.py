"""Lake Shore 335/336 emulator, sans-IO: compound commands, *ESR? bits, backing controller."""
from __future__ import annotations

import pytest
from ascii_b_fakes import FakeTemperatureController

from sim_backends.clock import VirtualClock
from sim_backends.emulators.lakeshore import LakeShoreEmulator


def send(emulator: LakeShoreEmulator, line: str) -> bytes:
    return emulator.feed(line.encode() + b"\r\n")


@pytest.fixture
def controller() -> FakeTemperatureController:
    return FakeTemperatureController(outputs=(1, 2))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emulator(controller: FakeTemperatureController, clock: VirtualClock) -> LakeShoreEmulator:
    emulator = LakeShoreEmulator(controller, 335, clock=clock)
    assert send(emulator, "*ESR?") == b"128\r\n"  # power on (ESR bit 7), reported once
    return emulator


def test_identification_and_crlf_framing(emulator: LakeShoreEmulator) -> None:
    assert send(emulator, "*IDN?") == b"LSCI,MODEL335,LSA1A2B/#######,2.9\r\n"


def test_set_commands_answer_nothing(emulator: LakeShoreEmulator,
                                     controller: FakeTemperatureController) -> None:
    assert send(emulator, "SETP 1,80.5") == b""
    assert controller.setpoints[1] == 80.5
    assert send(emulator, "RANGE 1,2") == b""
    assert controller.ranges[1] == 2


def test_compound_line_answers_each_query_joined_by_semicolons(
        emulator: LakeShoreEmulator, controller: FakeTemperatureController) -> None:
    reply = send(emulator, "SETP 1,90;RANGE 1,3;KRDG? A;KRDG? B;SETP? 1;RANGE? 1;*ESR?")
    assert reply == b"+077.000;+080.500;+090.000;3;0\r\n"
    assert controller.setpoints[1] == 90.0 and controller.ranges[1] == 3


def test_readings_in_kelvin_celsius_and_sensor_units(emulator: LakeShoreEmulator) -> None:
    assert send(emulator, "KRDG? A;CRDG? A;SRDG? A;RDGST? A") == b"+077.000;-196.150;+1.02000;000\r\n"


def test_command_error_sets_bit_5_and_the_rest_still_runs(emulator: LakeShoreEmulator) -> None:
    assert send(emulator, "FOO 1;KRDG? A;*ESR?") == b"+077.000;32\r\n"
    assert send(emulator, "SETP 1;*ESR?") == b"32\r\n"           # missing parameter
    assert send(emulator, "SETP 1,warm;*ESR?") == b"32\r\n"      # not a number


def test_execution_error_sets_bit_4(emulator: LakeShoreEmulator,
                                    controller: FakeTemperatureController) -> None:
    assert send(emulator, "RANGE 1,4;*ESR?") == b"16\r\n"
    assert send(emulator, "PID 1,0.05,20,0;*ESR?") == b"16\r\n"     # P below 0.1
    assert send(emulator, "PID 1,50,20,250;*ESR?") == b"16\r\n"     # D above 200
    assert send(emulator, "KRDG? C;*ESR?") == b"16\r\n"             # no input C on a 335
    assert send(emulator, "SETP 3,80;*ESR?") == b"16\r\n"           # no output 3 on a 335
    assert controller.ranges[1] == 0


def test_query_error_sets_bit_2_when_the_sensor_has_no_data(
        emulator: LakeShoreEmulator, controller: FakeTemperatureController) -> None:
    controller.broken_inputs.add("B")
    assert send(emulator, "KRDG? B;*ESR?") == b"4\r\n"
    assert send(emulator, "RDGST? B") == b"001\r\n"


def test_esr_accumulates_and_reading_clears_it(emulator: LakeShoreEmulator) -> None:
    send(emulator, "FOO")
    send(emulator, "RANGE 1,9")
    assert send(emulator, "*ESR?") == b"48\r\n"
    assert send(emulator, "*ESR?") == b"0\r\n"
    send(emulator, "FOO;*CLS")
    assert send(emulator, "*ESR?") == b"0\r\n"


def test_backing_controller_refusal_is_an_execution_error(
        controller: FakeTemperatureController) -> None:
    # a 336 emulator told that the controller has all four outputs, which it has not
    emulator = LakeShoreEmulator(controller, 336)
    send(emulator, "*CLS")
    assert send(emulator, "SETP 3,80;*ESR?") == b"16\r\n"
    assert send(emulator, "KRDG? D") == b"+300.000\r\n"
    assert send(emulator, "RANGE 3,2;*ESR?") == b"16\r\n"  # outputs 3/4 are on/off only


def test_pid_ramp_and_ramp_status(emulator: LakeShoreEmulator, controller: FakeTemperatureController,
                                  clock: VirtualClock) -> None:
    assert send(emulator, "PID 1,60,30,5;PID? 1") == b"+0060.0,+0030.0,+005.0\r\n"
    assert send(emulator, "RAMP 1,1,6;RAMP? 1") == b"1,+006.0\r\n"
    assert controller.ramps[1] == (True, pytest.approx(0.1))  # 6 K/min = 0.1 K/s
    assert send(emulator, "SETP 1,83;RAMPST? 1") == b"1\r\n"   # 6 K at 6 K/min: 60 s
    clock.advance(59.0)
    assert send(emulator, "RAMPST? 1") == b"1\r\n"
    clock.advance(2.0)
    assert send(emulator, "RAMPST? 1") == b"0\r\n"


def test_heater_output_mode_and_setup(emulator: LakeShoreEmulator) -> None:
    assert send(emulator, "HTR? 1") == b"+012.5\r\n"
    # the 335's HTRSET starts with the output type (0 current | 1 voltage, output 2 only)
    send(emulator, "OUTMODE 1,3,2,1;HTRSET 1,0,2,0,1.5,2;MOUT 1,33.3")
    assert send(emulator, "OUTMODE? 1;HTRSET? 1;MOUT? 1;*ESR?") == \
        b"3,2,1;0,2,0,+1.500,2;+033.30;0\r\n"
    assert send(emulator, "HTRSET 1,1,2,0,1.5,2;*ESR?") == b"16\r\n"  # output 1: current only
    assert send(emulator, "HTRSET 2,1,1,0,0,1;HTRSET? 2;*ESR?") == b"1,1,0,+0.000,1;0\r\n"
    # the 336's four-field form read as a 335 one: output type 2 does not exist, nothing changes
    assert send(emulator, "HTRSET 1,2,0,1.5,2;HTRSET? 1;*ESR?") == b"0,2,0,+1.500,2;16\r\n"


def test_input_setup_and_quoted_names(emulator: LakeShoreEmulator) -> None:
    send(emulator, 'INTYPE A,1,1,0,0,1;INCRV A,22;INNAME A,"stage; cold";TLIMIT A,350')
    assert send(emulator, "INTYPE? A;INCRV? A;INNAME? A;TLIMIT? A;*ESR?") == \
        b"1,1,0,0,1;22;stage; cold;+350.000;0\r\n"
    # a curve whose format does not fit the sensor type is not used (manuals, INCRV): a
    # platinum input cannot use the DT-670 diode curve (2) but can use PT-100 (6)
    assert send(emulator, "INTYPE B,2,1,0,0,1;INCRV B,2;INCRV? B;INCRV B,6;INCRV? B") == b"00;06\r\n"
    assert send(emulator, 'INNAME A,"a name that is too long";*ESR?') == b"16\r\n"


def test_reset_switches_heaters_off(emulator: LakeShoreEmulator,
                                    controller: FakeTemperatureController) -> None:
    send(emulator, "RANGE 1,3;RANGE 2,1;PID 1,70,10,0")
    send(emulator, "*RST")
    assert controller.ranges == {1: 0, 2: 0}
    # PID is kept in non-volatile memory: power-up settings do not change it
    assert send(emulator, "PID? 1") == b"+0070.0,+0010.0,+000.0\r\n"
    send(emulator, "RANGE 1,3;DFLT 99")  # factory defaults: heaters off, settings reset
    assert controller.ranges == {1: 0, 2: 0}
    assert send(emulator, "PID? 1") == b"+0050.0,+0020.0,+000.0\r\n"


def test_unknown_model_is_rejected(controller: FakeTemperatureController) -> None:
    with pytest.raises(ValueError, match="model=340"):
        LakeShoreEmulator(controller, 340)


def test_setpoint_is_in_the_control_inputs_preferred_units(
        emulator: LakeShoreEmulator, controller: FakeTemperatureController) -> None:
    """Manuals, SETP: 'in the preferred units of the control loop sensor' (INTYPE units)."""
    send(emulator, "OUTMODE 1,1,1,0;INTYPE A,1,0,0,0,2;SETP 1,-193.15")  # input A in Celsius
    assert controller.setpoints[1] == pytest.approx(80.0)
    assert send(emulator, "SETP? 1") == b"-193.150\r\n"
    send(emulator, "INTYPE A,1,0,0,0,1")                                   # back to kelvin
    assert send(emulator, "SETP? 1;*ESR?") == b"+080.000;0\r\n"
