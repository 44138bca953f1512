"""PM100 emulator, sans-IO: SCPI forms, error queue, readings taken from the backing meter."""
from __future__ import annotations

import pytest
from ascii_b_fakes import FakePowerMeter

from sim_backends.emulators.pm100 import PM100Emulator, SensorHead


def ask(emulator: PM100Emulator, line: str) -> str:
    return emulator.feed(line.encode() + b"\n").decode()


@pytest.fixture
def meter() -> FakePowerMeter:
    return FakePowerMeter(power_w=2e-3)


@pytest.fixture
def emulator(meter: FakePowerMeter) -> PM100Emulator:
    return PM100Emulator(meter, model="PM100USB")


def test_identification_and_sensor(emulator: PM100Emulator) -> None:
    assert ask(emulator, "*IDN?") == "Thorlabs,PM100USB,P0012345,1.7.0\n"
    assert ask(emulator, "SYST:SENS:IDN?") == "S121C,11223344,07-Jan-2025,1,18,305\n"
    assert ask(emulator, "SYSTEM:SENSOR:IDN?") == "S121C,11223344,07-Jan-2025,1,18,305\n"


@pytest.mark.parametrize("query", ["SENS:CORR:WAV?", "SENSE:CORR:WAV?", "CORR:WAV?",
                                   ":SENSe1:CORRection:WAVelength?", "sens:corr:wav?"])
def test_short_long_optional_and_suffixed_forms(emulator: PM100Emulator, query: str) -> None:
    assert ask(emulator, query) == "1.064000E+03\n"


def test_wavelength_is_set_on_the_meter_in_metres(emulator: PM100Emulator,
                                                  meter: FakePowerMeter) -> None:
    assert ask(emulator, "SENS:CORR:WAV 808") == ""  # set commands answer nothing
    assert meter.wavelength_m == pytest.approx(808e-9)
    assert ask(emulator, "SENS:CORR:WAV? MIN") == "4.000000E+02\n"
    assert ask(emulator, "SENS:CORR:WAV? MAX") == "1.100000E+03\n"


def test_out_of_range_wavelength_is_ignored_and_queued(emulator: PM100Emulator,
                                                       meter: FakePowerMeter) -> None:
    assert ask(emulator, "SENS:CORR:WAV 1500") == ""
    assert meter.wavelength_m == pytest.approx(1064e-9)
    assert ask(emulator, "SYST:ERR?") == '-222,"Data out of range"\n'
    assert ask(emulator, "SYST:ERR?") == '+0,"No error"\n'


def test_unknown_command_and_bad_number_are_queued_in_order(emulator: PM100Emulator) -> None:
    assert ask(emulator, "SENS:FOO 1") == ""
    assert ask(emulator, "SENS:AVER:COUN lots") == ""
    assert ask(emulator, "SYST:ERR?") == '-113,"Undefined header"\n'
    assert ask(emulator, "SYST:ERR?") == '-104,"Data type error"\n'
    assert ask(emulator, "*CLS;SYST:ERR?") == '+0,"No error"\n'


def test_readings_ranges_and_averaging(emulator: PM100Emulator, meter: FakePowerMeter) -> None:
    assert ask(emulator, "MEAS:POW?") == "2.000000E-03\n"
    assert ask(emulator, "READ?") == "2.000000E-03\n"
    assert ask(emulator, "SENS:AVER:COUN 50;SENS:AVER:COUN?") == "50\n"
    assert meter.averaging == 50
    assert ask(emulator, "SENS:POW:RANG:UPP 0.001;SENS:POW:RANG:AUTO?") == "0\n"
    assert meter.auto_range is False
    assert ask(emulator, "MEAS:POW?") == "9.900000E+37\n"  # over the manual range
    assert ask(emulator, "SENS:POW:RANG:AUTO 1;MEAS:POW?") == "2.000000E-03\n"
    meter.power_w = None  # the backing meter saturates
    assert ask(emulator, "MEAS:POW?") == "9.900000E+37\n"


def test_fetch_needs_a_measurement_first(emulator: PM100Emulator, meter: FakePowerMeter) -> None:
    assert ask(emulator, "CONF:POW") == ""
    assert ask(emulator, "FETC?") == ""
    assert ask(emulator, "SYST:ERR?") == '-230,"Data corrupt or stale"\n'
    assert ask(emulator, "INIT") == ""
    meter.power_w = 5e-3  # FETC? returns the stored measurement, not a new one
    assert ask(emulator, "FETC?") == "2.000000E-03\n"


def test_no_sensor_head() -> None:
    emulator = PM100Emulator(FakePowerMeter(), sensor=None)
    assert ask(emulator, "SYST:SENS:IDN?") == "no sensor\n"
    assert ask(emulator, "MEAS:POW?") == ""
    assert ask(emulator, "SYST:ERR?") == '-241,"Hardware missing"\n'


def test_state_is_shared_between_connections_when_passed(meter: FakePowerMeter) -> None:
    first = PM100Emulator(meter)
    second = PM100Emulator(meter, state=first.state)
    ask(first, "SENS:AVER:COUN 7")
    assert ask(second, "SENS:AVER:COUN?") == "7\n"


def test_unknown_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="model='PM101'"):
        PM100Emulator(FakePowerMeter(), model="PM101")


def test_custom_sensor_limits() -> None:
    head = SensorHead(name="S122C", min_wavelength_nm=700.0, max_wavelength_nm=1800.0)
    emulator = PM100Emulator(FakePowerMeter(), sensor=head)
    assert ask(emulator, "SENS:CORR:WAV? MAX") == "1.800000E+03\n"
