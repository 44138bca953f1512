"""Client: the ``ThorlabsPM100`` package (PyPI ThorlabsPM100, ``ThorlabsPM100.ThorlabsPM100``),
used unmodified on a pyvisa-py resource (LF terminated) against the PM100 emulator over TCP and a
pty. The package writes SCPI long forms in mixed case (``Sense:Correction:WAVelength?``) and
``<header>? MINimum`` style limit queries.

Operations for a photodiode power head (S121C): measurement (READ?, FETCh?, INITiate, ABORt,
CONFigure / CONFigure?, MEASure power, current, power density, temperature, resistance,
frequency), wavelength with limits, averaging, beam diameter with limits, input attenuation,
photodiode responsivity, zero adjustment, power range / auto-range / reference / delta mode /
unit, current range, bandwidth filter, adapter type, SYSTem (sensor IDN, error queue, version,
line frequency, date, time, beeper), calibration string, display brightness and contrast, and
the STATus operation / questionable / measurement registers. Commands for thermopile,
pyroelectric and energy heads are outside a photodiode head's operation set.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conformance_support import Link, client_bug, require_client

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.pm100 import pm100_server
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture
def pm(bench: Bench, make_link: Callable[[EmulatorServer], Link]) -> Iterator[Any]:
    client = require_client("ThorlabsPM100")
    import pyvisa

    sim_meter = build_sim_device("power_meter", bench)
    sim_meter.connect()
    link = make_link(pm100_server(sim_meter, "PM100D"))
    resource = pyvisa.ResourceManager("@py").open_resource(
        link.visa_address, read_termination="\n", write_termination="\n", timeout=10000)
    yield client.ThorlabsPM100(inst=resource)
    assert resource.query("SYST:ERR?") == '+0,"No error"', "the emulator queued an error"
    resource.close()


def switch_pump_on(bench: Bench, power_w: float) -> None:
    pump = build_sim_device("pump", bench)
    shutter = build_sim_device("pump_shutter", bench)
    pump.connect()
    shutter.connect()
    pump.set_power(power_w)
    pump.set_emission(True)
    shutter.open()
    bench.clock.sleep(5.0)


def test_power_readings_follow_the_bench(pm: Any, bench: Bench) -> None:
    switch_pump_on(bench, 0.1)
    pm.sense.correction.wavelength = 1064
    true_w = bench.power_at_meter(bench.sync())
    assert pm.read == pytest.approx(true_w, rel=0.03)
    pm.configure.scalar.power()
    assert pm.getconfigure == "POW"
    pm.initiate.immediate()
    assert pm.fetch == pytest.approx(true_w, rel=0.03)
    pm.abort()


def configure_and_read(configure: Callable[[], None], pm: Any) -> float:
    configure()
    return float(pm.read)


def test_other_measurement_functions(pm: Any, bench: Bench) -> None:
    switch_pump_on(bench, 0.1)
    power = pm.read
    pm.sense.correction.power.pdiode.response = 0.5
    assert configure_and_read(pm.configure.scalar.current.dc, pm) == pytest.approx(0.5 * power, rel=0.05)
    assert pm.getconfigure == "CURR"
    pm.sense.correction.beamdiameter = 2.0  # mm: 0.0314 cm2
    assert configure_and_read(pm.configure.scalar.pdensity, pm) == pytest.approx(power / 0.031416, rel=0.05)
    assert 15.0 < configure_and_read(pm.configure.scalar.temperature, pm) < 40.0  # head, C
    assert configure_and_read(pm.configure.scalar.resistance, pm) > 0.0
    assert configure_and_read(pm.configure.scalar.frequency, pm) == 0.0  # continuous light
    pm.configure.scalar.power()


@client_bug("ThorlabsPM100", "measure.scalar.*() are generated as plain commands: they write "
            "'Measure:Scalar:POWer' without '?', but MEASure is a query (SCPI-99 vol. 1 3.4), so "
            "no result is ever read (an SCPI parser answers -113)", "ThorlabsPM100.MeasureScalar")
def test_measure_queries(pm: Any) -> None:
    assert pm.measure.scalar.power() is not None


def test_wavelength_and_its_limits(pm: Any, bench: Bench) -> None:
    assert pm.sense.correction.minimum_wavelength == 400.0
    assert pm.sense.correction.maximum_wavelength == 1100.0
    pm.sense.correction.wavelength = 808
    assert pm.sense.correction.wavelength == 808.0
    assert bench.power_meter_wavelength_m == pytest.approx(808e-9)


def test_averaging_beam_attenuation_and_responsivity(pm: Any) -> None:
    pm.sense.average.count = 25
    assert pm.sense.average.count == 25
    pm.sense.correction.beamdiameter = 3.5
    assert pm.sense.correction.beamdiameter == 3.5
    assert pm.sense.correction.default_beamdiameter == 1.0
    assert pm.sense.correction.minimum_beamdiameter < 1.0 < pm.sense.correction.maximum_beamdiameter
    pm.sense.correction.loss.input.magnitude = 3.0
    assert pm.sense.correction.loss.input.magnitude == 3.0
    assert pm.sense.correction.loss.input.default_magnitude == 0.0
    pm.sense.correction.power.pdiode.response = 0.3
    assert pm.sense.correction.power.pdiode.response == 0.3
    assert pm.sense.correction.power.pdiode.default_response == 0.2


def test_attenuation_scales_the_reading(pm: Any, bench: Bench) -> None:
    switch_pump_on(bench, 0.1)
    plain = pm.read
    pm.sense.correction.loss.input.magnitude = 10.0  # dB: a 10x attenuator in front of the head
    assert pm.read == pytest.approx(10.0 * plain, rel=0.05)


def test_zero_adjustment(pm: Any) -> None:
    pm.sense.correction.collect.zero.initiate()
    assert pm.sense.correction.collect.zero.state == 0
    assert pm.sense.correction.collect.zero.magnitude >= 0.0
    pm.sense.correction.collect.zero.abort()


def test_power_range_reference_and_unit(pm: Any, bench: Bench) -> None:
    switch_pump_on(bench, 0.1)
    pm.sense.power.dc.range.upper = 0.01
    assert pm.sense.power.dc.range.upper == 0.01
    assert pm.sense.power.dc.range.auto == 0  # a manual range switches auto-ranging off
    assert pm.sense.power.dc.range.maximum_upper == 0.5
    pm.sense.power.dc.range.auto = 1
    assert pm.sense.power.dc.range.auto == 1
    watts = pm.read
    pm.sense.power.dc.unit = "DBM"
    assert pm.sense.power.dc.unit == "DBM"
    assert pm.read == pytest.approx(10 * math.log10(watts / 1e-3), abs=0.2)
    pm.sense.power.dc.unit = "W"
    pm.sense.power.dc.reference.value = watts
    assert pm.sense.power.dc.reference.value == pytest.approx(watts)
    pm.sense.power.dc.reference.state = 1
    assert pm.sense.power.dc.reference.state == 1
    assert abs(pm.read) < 0.05 * watts  # delta mode: reading minus the reference
    pm.sense.power.dc.reference.state = 0
    assert pm.sense.power.dc.default_reference == 0.0


def test_current_range(pm: Any) -> None:
    pm.sense.current.dc.range.upper = 1e-4
    assert pm.sense.current.dc.range.upper == 1e-4
    assert pm.sense.current.dc.range.auto == 0
    pm.sense.current.dc.range.auto = 1
    assert pm.sense.current.dc.range.auto == 1
    assert pm.sense.current.dc.range.maximum_upper > pm.sense.current.dc.range.minimum_upper


def test_input_filter_and_adapter(pm: Any) -> None:
    pm.input.pdiode.filter.lpass.state = 1
    assert pm.input.pdiode.filter.lpass.state == 1
    pm.input.adapter.type = "THERmal"  # the client can only set it
    pm.input.adapter.type = "PHOTodiode"


def test_system(pm: Any) -> None:
    assert pm.system.sensor.idn.startswith("S121C,")
    assert str(pm.system.error.next).startswith("+0,")
    assert float(pm.system.version) >= 1999.0
    pm.system.lfrequency = 60
    assert pm.system.lfrequency == 60
    pm.system.beeper.immediate()
    year, month, day = (int(v) for v in str(pm.system.date).split(","))
    assert 2000 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31
    hour, minute, second = (int(v) for v in str(pm.system.time).split(","))
    assert 0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59
    assert pm.calibration.string


@client_bug("ThorlabsPM100", "the system.date / system.time setters accept only the literal "
            "placeholder text '<year>,<month>,<day>' (their Argument lists it as the one allowed "
            "string), so no real date can be set", "ThorlabsPM100.System.date")
def test_set_date(pm: Any) -> None:
    pm.system.date = "2026,3,14"
    assert pm.system.date == "2026,3,14"


def test_display(pm: Any) -> None:
    pm.display.brightness = 0.4
    assert pm.display.brightness == 0.4
    pm.display.contrast = 0.6
    assert pm.display.contrast == 0.6


def test_status_registers(pm: Any) -> None:
    pm.status.operation.enable = 512
    assert pm.status.operation.enable == 512
    pm.status.questionable.enable = 8
    assert pm.status.questionable.enable == 8
    pm.status.measurement.ptransition = 3
    assert pm.status.measurement.ptransition == 3
    assert pm.status.operation.event == 0
    assert pm.status.questionable.condition == 0
    pm.status.questionable.preset()
    assert pm.status.questionable.enable == 0


@client_bug("ThorlabsPM100", "the auxiliary status register is spelt 'Status:Auxillary'; "
            "'AUXILLARY' is neither the long (AUXiliary) nor the short (AUX) form, so an "
            "SCPI parser answers -113 Undefined header", "ThorlabsPM100.StatusAuxillary")
def test_auxiliary_status_register(pm: Any) -> None:
    pm.status.auxillary.enable = 1
    assert pm.status.auxillary.enable == 1
