"""Client: pymeasure's ``ThorlabsPM100USB`` (pymeasure.instruments.thorlabs.thorlabspm100usb),
used unmodified, against the PM100 emulator over TCP and a pty (pyvisa-py, LF terminated).

Operations: the sensor-head query its constructor makes (``SYST:SENSOR:IDN?``), wavelength
limits, wavelength get/set (pymeasure truncates to the head's range), power, and the IEEE 488.2 /
SCPI calls of its mixin (identity, status byte, operation complete, clear, reset, error queue).
Not tested: ``energy`` (the emulated head is a photodiode power head; pymeasure refuses it
itself) and ``options`` (``*OPT?`` is not in the PM100 command set).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest
from conformance_support import Link

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.pm100 import pm100_server
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def meter(bench: Bench, make_link: Callable[[EmulatorServer], Link]) -> Iterator[object]:
    from pymeasure.instruments.thorlabs import ThorlabsPM100USB

    sim_meter = build_sim_device("power_meter", bench)
    sim_meter.connect()
    link = make_link(pm100_server(sim_meter, "PM100USB"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pymeasure: "SCPI unknown" notice
        instrument = ThorlabsPM100USB(link.visa_address, read_termination="\n",
                                      write_termination="\n", timeout=10000)
    yield instrument
    instrument.adapter.close()


def test_sensor_head_flags(meter) -> None:  # type: ignore[no-untyped-def]
    assert meter.sensor_name == "S121C"
    assert meter.is_power_sensor and not meter.is_energy_sensor
    assert meter.wavelength_settable and meter.has_temperature_sensor


def test_wavelength_limits_and_setting(meter, bench: Bench) -> None:  # type: ignore[no-untyped-def]
    assert (meter.wavelength_min, meter.wavelength_max) == (400.0, 1100.0)
    meter.wavelength = 808
    assert meter.wavelength == 808.0
    assert bench.power_meter_wavelength_m == pytest.approx(808e-9)
    meter.wavelength = 2000  # pymeasure truncates to the head's maximum
    assert meter.wavelength == 1100.0


def test_power_reading_follows_the_bench(meter, bench: Bench) -> None:  # type: ignore[no-untyped-def]
    dark = meter.power
    assert isinstance(dark, float)
    assert 0.0 <= dark < 1e-6


def test_identity_complete_clear_reset_errors(meter) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert meter.id.startswith("Thorlabs,PM100USB,")
        assert meter.complete == "1"
        meter.clear()
        meter.reset()
        code, message = meter.next_error  # pymeasure keeps the SCPI string's quotes
        assert (code, message) == (0, '"No error"')
        meter.write("SENS:CORR:WAV 5000")  # outside the head's range: queued, not answered
        code, message = meter.next_error
        assert code == -222 and "out of range" in message.lower()
        assert meter.check_errors() == []
        assert int(meter.status) == 0  # *STB?: error queue empty, no event summary
        meter.write("FOO:BAR")
        assert int(meter.status) & 0b100  # SCPI: bit 2 = error queue not empty
        meter.clear()
        assert int(meter.status) == 0
