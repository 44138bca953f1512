"""PM100 driver: byte-exact transcripts, the real driver against the emulator over a real pty and
a real TCP socket, fault injection, and validation before anything is written."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import pyvisa
from ascii_b_fakes import FAST_TIMEOUT_S, REPLY_TIMEOUT_S, FakePowerMeter, address_of, scripted, serving
from pymeasure.adapters.protocol import ProtocolAdapter
from pymeasure.test import expected_protocol

from drivers.clock import RealClock
from drivers.errors import InstrumentError, InstrumentTimeout
from drivers.registry import create_driver
from drivers.thorlabs_pm100 import PM100PowerMeter, ThorlabsPM100
from sim_backends.emulators.pm100 import SensorHead, pm100_server


SENSOR_IDN = b"S121C,11223344,07-Jan-2025,1,18,305\n"
CONNECT = [
    (b"SYST:SENSOR:IDN?\n", SENSOR_IDN),
    (b"SENS:CORR:WAV? MIN\n", b"4.000000E+02\n"),
    (b"SENS:CORR:WAV? MAX\n", b"1.100000E+03\n"),
]
NO_ERROR = (b"SYST:ERR?\n", b'+0,"No error"\n')
#: the role adapter then makes sure readings are absolute watts (not dBm, not delta mode)
ROLE_CONNECT = CONNECT + [(b"SENS:POW:UNIT W\n", None), NO_ERROR,
                          (b"SENS:POW:REF:STAT 0\n", None), NO_ERROR]


def scripted_meter(adapter: ProtocolAdapter) -> PM100PowerMeter:
    return PM100PowerMeter(name="power_meter", address="USB0::0x1313::0x8078::P0012345::INSTR",
                           transport=adapter)


# ------------------------------------------------------------------ transcripts
def test_connect_reads_sensor_head_and_wavelength_limits() -> None:
    with expected_protocol(ThorlabsPM100, CONNECT) as meter:
        assert meter.sensor_name == "S121C"
        assert meter.is_power_sensor and meter.wavelength_settable
        assert not meter.is_energy_sensor
        assert meter.wavelength_limits_nm == (400.0, 1100.0)


def test_transcript_of_the_role_api_pins_exact_bytes() -> None:
    pairs = ROLE_CONNECT + [
        (b"*IDN?\n", b"Thorlabs,PM100D,P0012345,1.7.0\n"),
        (b"SENS:CORR:WAV 1064\n", None), NO_ERROR,
        (b"SENS:CORR:WAV?\n", b"1.064000E+03\n"),
        (b"MEAS:POW?\n", b"1.234000E-03\n"),
        (b"SENS:POW:RANG:AUTO 0\n", None), NO_ERROR,
        (b"SENS:POW:RANG:AUTO?\n", b"0\n"),
        (b"SENS:POW:RANG:UPP 0.01\n", None), NO_ERROR,
        (b"SENS:POW:RANG:UPP?\n", b"1.000000E-02\n"),
        (b"SENS:AVER:COUN 100\n", None), NO_ERROR,
        (b"SENS:AVER:COUN?\n", b"100\n"),
    ]
    with scripted(scripted_meter, pairs) as meter:
        assert meter.identify() == "Thorlabs,PM100D,P0012345,1.7.0"
        meter.set_wavelength(1064e-9)
        assert meter.get_wavelength() == pytest.approx(1064e-9)
        assert meter.read_power() == pytest.approx(1.234e-3)
        meter.set_auto_range(False)
        assert meter.get_auto_range() is False
        meter.set_range(0.01)
        assert meter.get_range() == pytest.approx(0.01)
        meter.set_averaging(100)
        assert meter.get_averaging() == 100


def test_transcript_of_conf_init_fetch_and_read() -> None:
    pairs = CONNECT + [
        (b"CONF:POW\n", None), NO_ERROR,
        (b"INIT\n", None), NO_ERROR,
        (b"FETC?\n", b"2.500000E-04\n"),
        (b"READ?\n", b"2.600000E-04\n"),
    ]
    with expected_protocol(ThorlabsPM100, pairs) as meter:
        meter.configure_power()
        meter.initiate()
        assert meter.fetched_power == pytest.approx(2.5e-4)
        assert meter.read_power == pytest.approx(2.6e-4)


def test_over_range_reading_raises_instrument_error() -> None:
    pairs = ROLE_CONNECT + [(b"MEAS:POW?\n", b"9.900000E+37\n")]
    with scripted(scripted_meter, pairs) as meter:
        with pytest.raises(InstrumentError, match="over-range") as info:
            meter.read_power()
        assert info.value.command == "MEAS:POW?"


def test_setter_rejected_by_the_meter_names_the_setter() -> None:
    pairs = ROLE_CONNECT + [(b"SENS:POW:RANG:UPP 5\n", None),
                       (b"SYST:ERR?\n", b'-222,"Data out of range"\n')]
    with scripted(scripted_meter, pairs) as meter:
        with pytest.raises(InstrumentError, match="-222 Data out of range") as info:
            meter.set_range(5.0)
        assert info.value.command == "SENS:POW:RANG:UPP 5"


@pytest.mark.parametrize("call", [
    lambda m: m.set_wavelength(1200e-9),        # beyond the head's MAX
    lambda m: m.set_wavelength(350e-9),         # below the head's MIN
    lambda m: m.set_wavelength(float("nan")),
    lambda m: m.set_wavelength(-1.0),
    lambda m: m.set_averaging(0),
    lambda m: m.set_averaging(2.5),
    lambda m: m.set_averaging(100001),
    lambda m: m.set_auto_range("yes"),
    lambda m: m.set_range(-1e-3),
    lambda m: m.set_range(1e6),
])
def test_invalid_values_raise_value_error_and_write_nothing(call) -> None:  # type: ignore[no-untyped-def]
    with scripted(scripted_meter, list(ROLE_CONNECT)) as meter:
        with pytest.raises(ValueError) as info:
            call(meter)
        assert "\n" not in str(info.value)


def test_no_sensor_head_is_a_clear_error_on_connect() -> None:
    adapter = ProtocolAdapter([(b"SYST:SENSOR:IDN?\n", b"no sensor\n")])
    meter = scripted_meter(adapter)
    with pytest.raises(InstrumentError, match="No sensor"):
        meter.connect()
    assert not meter.is_connected


def test_registry_builds_the_pm100_role_adapter() -> None:
    device = create_driver("power_meter", "pm100", "USB0::0x1313::0x8078::P0012345::INSTR",
                           RealClock())
    assert isinstance(device, PM100PowerMeter)
    assert not device.is_connected


# ------------------------------------------------------------------ real links
@pytest.fixture
def bench() -> Iterator[tuple[FakePowerMeter, object]]:
    meter = FakePowerMeter(power_w=1.5e-3)
    with serving(pm100_server(meter, "PM100D")) as server:
        yield meter, server


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_whole_command_set_over_a_real_link(bench, transport: str) -> None:  # type: ignore[no-untyped-def]
    fake, server = bench
    meter = PM100PowerMeter(name="power_meter", address=address_of(server, transport),
                            timeout_s=REPLY_TIMEOUT_S)
    with meter:
        assert meter.identify() == "Thorlabs,PM100D,P0012345,1.7.0"
        info = meter.sensor_info()
        assert info["name"] == "S121C" and info["wavelength_settable"] is True
        assert info["wavelength_limits_m"] == pytest.approx((400e-9, 1100e-9))

        meter.set_wavelength(808e-9)
        assert fake.wavelength_m == pytest.approx(808e-9)
        assert meter.get_wavelength() == pytest.approx(808e-9)

        fake.power_w = 3.25e-2
        assert meter.read_power() == pytest.approx(3.25e-2)

        meter.set_averaging(250)
        assert fake.averaging == 250 and meter.get_averaging() == 250

        meter.set_range(1e-2)  # manual range below the light: over-range
        assert meter.get_auto_range() is False and fake.auto_range is False
        assert meter.get_range() == pytest.approx(1e-2)
        with pytest.raises(InstrumentError, match="over-range"):
            meter.read_power()
        meter.set_auto_range(True)
        assert meter.read_power() == pytest.approx(3.25e-2)

        fake.power_w = None  # the head itself saturates
        with pytest.raises(InstrumentError, match="over-range"):
            meter.read_power()
        fake.power_w = 1e-3

        low_level = meter.meter
        low_level.configure_power()
        low_level.initiate()
        assert low_level.fetched_power == pytest.approx(1e-3)
        assert low_level.read_power == pytest.approx(1e-3)
        assert low_level.next_error() == (0, "No error")

        with pytest.raises(InstrumentError, match="-222"):
            meter.set_range(1.0)  # above the S121C's 0.5 W: the meter itself refuses
        with pytest.raises(ValueError):
            meter.set_wavelength(1500e-9)
        assert fake.wavelength_m == pytest.approx(808e-9)


def test_head_without_settable_wavelength_is_refused() -> None:
    thermal = SensorHead(name="S401C", flags=1 + 256)  # no "wavelength settable" flag
    with serving(pm100_server(FakePowerMeter(), "PM400", sensor=thermal)) as server:
        with PM100PowerMeter(name="power_meter", address=server.visa_tcp_address,
                             timeout_s=REPLY_TIMEOUT_S) as meter:
            with pytest.raises(InstrumentError, match="does not allow setting the wavelength"):
                meter.set_wavelength(1064e-9)


# ------------------------------------------------------------------ fault injection
@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_delayed_reply_times_out_naming_instrument_address_command(bench, transport: str) -> None:  # type: ignore[no-untyped-def]
    fake, server = bench
    address = address_of(server, transport)
    with PM100PowerMeter(name="power_meter", address=address, timeout_s=FAST_TIMEOUT_S) as meter:
        server.faults.reply_delay_s = 60.0  # held back until released below
        with pytest.raises(InstrumentTimeout) as info:
            meter.read_power()
        server.faults.clear()
        error = info.value
        assert (error.instrument, error.address, error.command) == ("power_meter", address,
                                                                    "MEAS:POW?")
        assert "power_meter" in str(error) and address in str(error) and "MEAS:POW?" in str(error)
        server.release_held_replies()  # the late reply arrives now: it must be flushed
        fake.power_w = 4.5e-3  # a different value proves the next answer is not the late one
        assert meter.read_power() == pytest.approx(4.5e-3)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_garbage_reply_is_a_clear_error_and_the_link_recovers(bench, transport: str) -> None:  # type: ignore[no-untyped-def]
    _, server = bench
    with PM100PowerMeter(name="power_meter", address=address_of(server, transport),
                         timeout_s=REPLY_TIMEOUT_S) as meter:
        server.faults.garbage_replies = 1
        with pytest.raises(InstrumentError, match="garbled") as info:
            meter.read_power()
        assert info.value.command == "MEAS:POW?"
        assert meter.read_power() == pytest.approx(1.5e-3)


def test_dropped_tcp_connection_reconnects_once_then_succeeds(bench) -> None:  # type: ignore[no-untyped-def]
    fake, server = bench
    with PM100PowerMeter(name="power_meter", address=server.visa_tcp_address,
                         timeout_s=FAST_TIMEOUT_S) as meter:
        fake.power_w = 7e-3
        server.faults.drop_connection = True
        assert meter.read_power() == pytest.approx(7e-3)
        assert server.faults.drop_connection is False  # the fault did fire


def test_connect_makes_readings_absolute_watts() -> None:
    """A meter left on dBm and in delta mode by its front panel still gives watts at the head:
    the role adapter sets ``SENS:POW:UNIT W`` and ``SENS:POW:REF:STAT 0`` on connect."""
    fake = FakePowerMeter(power_w=2.0e-3)
    with serving(pm100_server(fake, "PM100D")) as server:
        address = address_of(server, "tcp")
        panel = pyvisa.ResourceManager("@py").open_resource(
            address, read_termination="\n", write_termination="\n", timeout=2000)
        panel.write("SENS:POW:UNIT DBM;SENS:POW:REF 0.001;SENS:POW:REF:STAT 1")
        assert float(panel.query("MEAS:POW?")) == pytest.approx(0.0, abs=0.01)  # 2 - 1 mW: 0 dBm
        panel.close()
        with PM100PowerMeter(name="power_meter", address=address, timeout_s=REPLY_TIMEOUT_S) as meter:
            assert meter.read_power() == pytest.approx(2.0e-3)
