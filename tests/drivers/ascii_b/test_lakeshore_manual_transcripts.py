"""Byte-level transcripts built from the Lake Shore manuals' command descriptions and examples,
one per model where the two differ, for the driver (what it writes) and the emulator (what it
answers).

Manuals: Model 335 User's Manual P/N 119-055 rev. 1.3, Model 336 User's Manual P/N 119-048
rev. 1.5, chapter 6 "Computer Interface Operation", section 6.6.1 "Interface Commands"; page
numbers are the printed ones.
"""
from __future__ import annotations

import pytest
from ascii_b_fakes import FakeTemperatureController, scripted
from pymeasure.adapters.protocol import ProtocolAdapter
from pymeasure.test import expected_protocol

from drivers.lakeshore import LakeShore335, LakeShore336, LakeShore336Controller
from sim_backends.emulators.lakeshore import LakeShoreEmulator


# ------------------------------------------------------------------ driver side
def test_ramp_example_335_p122() -> None:
    """335 p. 122, RAMP: 'RAMP 1,1,10.5[term]': ramp output 1's setpoint at 10.5 K/minute.
    RAMP? returns '<off/on>,<rate value>'."""
    with expected_protocol(LakeShore335, [
        (b"RAMP 1,1,10.5;*ESR?\r\n", b"0\r\n"),
        (b"RAMP? 1;*ESR?\r\n", b"1,+010.5;0\r\n"),
        (b"RAMPST? 1;*ESR?\r\n", b"1;0\r\n"),  # 1 = setpoint is ramping
    ]) as ls:
        ls.output_1.ramp = (True, 10.5)
        assert ls.output_1.ramp == [1, 10.5]
        assert ls.output_1.ramping is True


def test_heater_setup_335_has_the_output_type_first() -> None:
    """335, HTRSET: '<output>,<output type>,<heater resistance>,<max current>,<max user
    current>,<current/power>'; output type 0 = current, 1 = voltage (output 2 only). HTRSET?
    returns the five fields after <output>."""
    with expected_protocol(LakeShore335, [
        (b"HTRSET 1,0,1,0,0.600,2;*ESR?\r\n", b"0\r\n"),
        (b"HTRSET? 1;*ESR?\r\n", b"0,1,0,+0.600,2;0\r\n"),
        (b"HTRSET 2,1,2,2,0.000,1;*ESR?\r\n", b"0\r\n"),
        (b"HTRST? 1;*ESR?\r\n", b"0;0\r\n"),
    ]) as ls:
        ls.output_1.heater_setup = (0, 1, 0, 0.6, 2)  # 25 ohm, user 0.6 A, display power
        assert ls.output_1.heater_setup == [0, 1, 0, 0.6, 2]
        ls.output_2.heater_setup = (1, 2, 2, 0.0, 1)  # output 2 as a voltage output
        assert ls.output_1.heater_status == "no error"
    with pytest.raises(ValueError, match="output_type=1"):
        LakeShore335(ProtocolAdapter([])).output_1.heater_setup = (1, 1, 0, 0.6, 2)


def test_heater_setup_336_has_four_fields() -> None:
    """336, HTRSET: '<output>,<heater resistance>,<max current>,<max user current>,
    <current/power>' (outputs 1 and 2); max current 4 = 2 A on the 336."""
    with expected_protocol(LakeShore336, [
        (b"HTRSET 1,1,4,0.000,2;*ESR?\r\n", b"0\r\n"),
        (b"HTRSET? 1;*ESR?\r\n", b"1,4,+0.000,2;0\r\n"),
        (b"HTRST? 2;*ESR?\r\n", b"1;0\r\n"),  # 1 = heater open load
    ]) as ls:
        ls.output_1.heater_setup = (1, 4, 0.0, 2)
        assert ls.output_1.heater_setup == [1, 4, 0.0, 2]
        assert ls.output_2.heater_status == "open load"
    with pytest.raises(ValueError, match="heater_setup"):
        LakeShore336(ProtocolAdapter([])).output_1.heater_setup = (0, 1, 4, 0.0, 2)


def test_all_inputs_query_336_p130() -> None:
    """336 p. 130 (CRDG?, and KRDG? alike): input 0 = all inputs, returned as
    '<A value>,<B value>,<C value>,<D value>'."""
    pairs = [(b"*IDN?;*ESR?\r\n", b"LSCI,MODEL336,1234567/1234567,1.0;0\r\n"),
             (b"KRDG? 0;*ESR?\r\n", b"+77.0000,+80.5000,+4.20000,+300.000;0\r\n")]

    def make(adapter: ProtocolAdapter) -> LakeShore336Controller:
        return LakeShore336Controller(name="cryostat", address="TCPIP::h::7777::SOCKET",
                                      transport=adapter)

    with scripted(make, pairs) as ls:
        assert ls.get_all_temperatures() == {"A": 77.0, "B": 80.5, "C": 4.2, "D": 300.0}


def test_voltage_outputs_336() -> None:
    """336, RANGE: outputs 3 and 4 take 0 = off, 1 = on; AOUT? <output> returns their level in
    percent of full scale."""
    with expected_protocol(LakeShore336, [
        (b"RANGE 3,1;*ESR?\r\n", b"0\r\n"),
        (b"AOUT? 3;*ESR?\r\n", b"+025.67;0\r\n"),
    ]) as ls:
        ls.output_3.heater_range = 1
        assert ls.output_3.output == pytest.approx(25.67)
    with pytest.raises(ValueError):
        LakeShore336(ProtocolAdapter([])).output_3.heater_range = 2


# ------------------------------------------------------------------ emulator side
def send(emulator: LakeShoreEmulator, line: str) -> bytes:
    return emulator.feed(line.encode() + b"\r\n")


@pytest.fixture
def emulator_336() -> LakeShoreEmulator:
    emulator = LakeShoreEmulator(FakeTemperatureController(outputs=(1, 2, 3, 4)), 336)
    send(emulator, "*CLS")
    return emulator


def test_curve_header_example_336_p130(emulator_336: LakeShoreEmulator) -> None:
    """336 p. 130, CRVHDR: 'CRVHDR 21,DT-470,00011134,2,325.0,1[term]' configures user curve 21
    (name DT-470, serial 00011134, V/K, 325 K limit, negative coefficient); CRVHDR? returns
    '<name>,<SN>,<format>,<limit value>,<coefficient>' as s[15],s[10],n,+nnn.nnn,n. CRVDEL 21
    deletes it (user curves 21-59 only)."""
    assert send(emulator_336, "CRVHDR 21,DT-470,00011134,2,325.0,1;CRVHDR? 21;*ESR?") == \
        b"DT-470,00011134,2,+325.000,1;0\r\n"
    assert send(emulator_336, "CRVDEL 21;CRVHDR? 21") == b"User Curve,,2,+375.000,1\r\n"
    assert send(emulator_336, "CRVDEL 2;*ESR?") == b"16\r\n"  # a standard curve


def test_all_inputs_reply_336_p130(emulator_336: LakeShoreEmulator) -> None:
    assert send(emulator_336, "KRDG? 0") == b"+077.000,+080.500,+004.200,+300.000\r\n"
    assert send(emulator_336, "CRDG? 0") == b"-196.150,-192.650,-268.950,+026.850\r\n"


def test_all_inputs_is_a_336_form(emulator_336: LakeShoreEmulator) -> None:
    emulator_335 = LakeShoreEmulator(FakeTemperatureController(), 335)
    send(emulator_335, "*CLS")
    assert send(emulator_335, "KRDG? 0;*ESR?") == b"16\r\n"  # 335, KRDG?: input A or B


def test_identification_format_335_p108() -> None:
    """335 p. 108, *IDN?: '<manufacturer>,<model>,<instrument serial>/<option serial>,<firmware
    version>' as s[4],s[8],s[7]/s[7],n.n (example LSCI,MODEL335,1234567/1234567,1.0)."""
    reply = send(LakeShoreEmulator(FakeTemperatureController(), 335), "*IDN?").decode()
    maker, model, serials, firmware = reply.strip().split(",")
    instrument, option = serials.split("/")
    assert (maker, model) == ("LSCI", "MODEL335")
    assert len(instrument) == 7 and len(option) == 7
    assert float(firmware) > 0


def test_esr_bits_and_compound_messages_335_p108(emulator_336: LakeShoreEmulator) -> None:
    """335 p. 108, *ESR?: '<bit weighting>', the event flags of section 6.2.5 (bit 0 operation
    complete, 2 query error, 4 execution error, 5 command error, 7 power on); reading clears."""
    emulator = LakeShoreEmulator(FakeTemperatureController(), 335)
    assert send(emulator, "*ESR?") == b"128\r\n"  # power on, reported once
    assert send(emulator, "*OPC;*ESR?") == b"1\r\n"
    assert send(emulator, "BOGUS;*ESR?") == b"32\r\n"
    assert send(emulator, "EMUL 0,0;*OPC?;*ESR?") == b"1;0\r\n"  # what lakeshore.Model335 sends
    assert send(emulator_336, "EMUL 0,0;*ESR?") == b"32\r\n"      # the 336 has no EMUL
    assert send(emulator, "*ESE 36;*ESE?;BOGUS;*STB?;*ESR?;*STB?") == b"036;032;32;000\r\n"
