"""Client: Lake Shore's official ``lakeshore`` package (``lakeshore.Model335`` and
``lakeshore.Model336``), used unmodified, against the 335 and 336 emulators over TCP and a pty
(see lakeshore_official.py for how each transport is opened).

The package appends ``;*ESR?`` to every command and query and raises on error bits, so every call
below also checks that the emulator's status register agrees. Operations: identification (and the
335's ``EMUL 0,0`` on connect), readings (kelvin, Celsius, sensor units, all inputs, reading
status, min/max, thermocouple junction), setpoint, heater range, heater output and status, PID,
ramp, heater setup in each model's layout, output mode, manual output, monitor out and warm-up
supply, 335 output-2 polarity, zone table, input type, curve, name, temperature limit, diode
current, filter, alarms and relays, curves (header, points, delete, SoftCal), front panel
(brightness or contrast, display setup and fields, LEDs, keypad lock, remote mode), IEEE
address, 336 network, interface and website login, the IEEE 488.2 registers (status byte, self
test, event and service request enables, clear, reset), the operational status registers, and
autotune (which the emulator does not run: see docs/drivers).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conformance_support import Link, client_bug
from lakeshore_official import official_client

from sim_backends.bench import Bench
from sim_backends.devices import build_sim_device
from sim_backends.emulators.lakeshore import lakeshore_server
from sim_backends.emulators.server import EmulatorServer


@pytest.fixture(params=[335, 336], ids=["335", "336"])
def model(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def ls(model: int, bench: Bench, make_link: Callable[[EmulatorServer], Link],
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    cryostat = build_sim_device("cryostat", bench)
    cryostat.connect()
    link = make_link(lakeshore_server(cryostat, model))
    with official_client(model, link, monkeypatch) as client:
        yield client


def inputs(model: int) -> list[str]:
    return ["A", "B"] if model == 335 else ["A", "B", "C", "D"]


def test_identification_and_connect_handshake(ls: Any, model: int) -> None:
    assert ls.model_number == f"MODEL{model}"
    assert ls.firmware_version and ls.serial_number
    # the 335 sent EMUL 0,0 on connect; the next ...;*ESR? must report no error
    assert ls.get_self_test() is False


def test_readings_follow_the_cryostat(ls: Any, model: int, bench: Bench) -> None:
    stage_k = bench.cryostat.stage_k
    assert ls.get_kelvin_reading("A") == pytest.approx(stage_k, abs=0.1)
    assert ls.get_celsius_reading("A") == pytest.approx(stage_k - 273.15, abs=0.1)
    assert 0.5 < ls.get_sensor_reading("A") < 1.2  # a diode near 77 K, volts
    readings = ls.get_all_kelvin_reading()
    assert len(readings) == len(inputs(model))
    assert readings[0] == pytest.approx(stage_k, abs=0.1)
    assert readings[1] == pytest.approx(bench.cryostat.sample_k, abs=0.1)
    status = ls.get_input_reading_status("A")
    assert not (status.invalid_reading or status.temp_underrange or status.temp_overrange)
    if model == 336:
        # inputs C and D have nothing attached and are disabled: they read 0
        assert readings[2:] == [0.0, 0.0]
        assert [round(v, 3) for v in ls.get_all_sensor_reading()][2:] == [0.0, 0.0]
        again = ls.get_kelvin_reading(0)  # KRDG? 0, parsed by the client
        assert again == pytest.approx(readings, abs=0.05)
    low, high = ls.get_min_max_data("A").values()
    assert low <= stage_k + 0.1 and high >= stage_k - 0.1
    ls.reset_min_max_data()
    assert ls.get_thermocouple_junction_temp() > 250.0


def test_setpoint_range_and_heater_output_drive_the_cryostat(ls: Any, bench: Bench) -> None:
    ls.set_control_setpoint(1, 95.0)
    assert ls.get_control_setpoint(1) == 95.0
    assert bench.cryostat.setpoint_k == 95.0
    ls.set_heater_range(1, ls.HeaterRange.MEDIUM)
    assert ls.get_heater_range(1) == ls.HeaterRange.MEDIUM
    assert bench.cryostat.heater_range == 2
    bench.clock.sleep(300.0)
    assert 0.0 < ls.get_heater_output(1) <= 100.0
    assert ls.get_heater_status(1) == ls.HeaterError.NO_ERROR
    ls.all_heaters_off()
    assert bench.cryostat.heater_range == 0
    assert ls.get_heater_range(1) == ls.HeaterRange.OFF


def test_unwired_output_2_has_no_heater(ls: Any, bench: Bench) -> None:
    ls.set_control_setpoint(2, 120.0)
    assert ls.get_control_setpoint(2) == 120.0 and bench.cryostat.setpoint_k != 120.0
    ls.set_heater_range(2, ls.HeaterRange.LOW)
    assert ls.get_heater_status(2) == ls.HeaterError.HEATER_OPEN_LOAD
    assert ls.get_heater_output(2) == 0.0
    ls.set_heater_range(2, ls.HeaterRange.OFF)


def test_pid_and_ramp(ls: Any, bench: Bench) -> None:
    ls.set_heater_pid(1, 75.5, 30, 12)
    assert ls.get_heater_pid(1) == {"gain": 75.5, "integral": 30.0, "derivative": 12.0}
    ls.set_setpoint_ramp_parameter(1, True, 6.0)
    assert ls.get_setpoint_ramp_parameter(1) == {"ramp_enable": True, "rate_value": 6.0}
    assert bench.cryostat.ramp_enabled and bench.cryostat.ramp_rate_k_s == pytest.approx(0.1)
    ls.set_control_setpoint(1, 90.0)  # 13 K at 6 K/min
    assert ls.get_setpoint_ramp_status(1) is True
    bench.clock.sleep(200.0)
    assert ls.get_setpoint_ramp_status(1) is False


def test_heater_setup_in_each_models_layout(ls: Any, model: int) -> None:
    if model == 335:
        ls.set_heater_setup_one(ls.HeaterResistance.HEATER_50_OHM, 1.2, ls.HeaterOutputDisplay.POWER)
        setup = ls.get_heater_setup(1)
        assert setup["output_type"] == ls.HeaterOutType.CURRENT
        assert setup["max_current"] == pytest.approx(1.2)
        assert setup["output_display_mode"] == ls.HeaterOutputDisplay.POWER
        ls.set_heater_setup_two(ls.HeaterOutType.VOLTAGE, ls.HeaterResistance.HEATER_25_OHM, 0.5,
                                ls.HeaterOutputDisplay.CURRENT)
        assert ls.get_heater_setup(2)["output_type"] == ls.HeaterOutType.VOLTAGE
        # output 2 in voltage mode: its range reads back as a voltage range
        assert ls.get_heater_range(2) == ls.HeaterVoltageRange.VOLTAGE_OFF
    else:
        ls.set_heater_setup(2, ls.HeaterResistance.HEATER_50_OHM, 0.8, ls.HeaterOutputUnits.POWER)
        setup = ls.get_heater_setup(2)
        assert setup["heater_resistance"] == ls.HeaterResistance.HEATER_50_OHM
        assert setup["max_current"] == pytest.approx(0.8)
        assert setup["output_display_mode"] == ls.HeaterOutputUnits.POWER


def test_output_modes_manual_output_and_voltage_outputs(ls: Any, model: int) -> None:
    ls.set_heater_output_mode(1, ls.HeaterOutputMode.OPEN_LOOP, ls.InputChannel(2)
                              if model == 336 else ls.InputSensor.CHANNEL_B, True)
    mode = ls.get_heater_output_mode(1)
    assert mode["mode"] == ls.HeaterOutputMode.OPEN_LOOP and mode["powerup_enable"] is True
    ls.set_manual_output(1, 42.5)
    assert ls.get_manual_output(1) == 42.5
    voltage_output = 2 if model == 335 else 3
    if model == 335:
        ls.set_heater_setup_two(ls.HeaterOutType.VOLTAGE, ls.HeaterResistance.HEATER_25_OHM, 0,
                                ls.HeaterOutputDisplay.CURRENT)
        ls.set_monitor_output_heater(ls.InputSensor.CHANNEL_A, 300.0, 0.0)
        monitor = ls.get_monitor_output_heater()
        ls.set_output_two_polarity(ls.Polarity.BIPOLAR)
        assert ls.get_output_2_polarity() == ls.Polarity.BIPOLAR
        ls.set_warmup_supply(ls.WarmupControl.CONTINUOUS, 55.0)
        assert ls.get_warmup_supply() == {"control": ls.WarmupControl.CONTINUOUS, "percentage": 55.0}
    else:
        ls.set_monitor_output_heater(3, ls.InputChannel.CHANNEL_A, ls.InputSensorUnits.KELVIN,
                                     300.0, 0.0, ls.Polarity.UNIPOLAR)
        monitor = ls.get_monitor_output_heater(3)
        ls.set_warmup_supply_parameter(4, ls.ControlTypes.CONTINUOUS, 55.0)
        assert ls.get_warmup_supply_parameter(4) == {"control": ls.ControlTypes.CONTINUOUS,
                                                     "percentage": 55.0}
    assert monitor["high_value"] == 300.0 and monitor["low_value"] == 0.0
    # monitor out: the voltage output follows input A between 0 and 300 K
    ls.set_heater_output_mode(voltage_output, ls.HeaterOutputMode.MONITOR_OUT,
                              ls.InputChannel(1) if model == 336 else ls.InputSensor.CHANNEL_A)
    assert ls.get_analog_output_percentage(voltage_output) == pytest.approx(77.0 / 3.0, abs=0.2)


def test_zone_table(ls: Any, model: int) -> None:
    settings_class = type(ls.get_control_loop_zone_table(1, 1))
    zone = settings_class(150.0, 80.0, 25.0, 10.0, 0.0, ls.HeaterRange.HIGH,
                          ls.InputChannel(1) if model == 336 else ls.InputSensor.CHANNEL_A, 5.0)
    ls.set_control_loop_zone_table(1, 3, zone)
    back = ls.get_control_loop_zone_table(1, 3)
    assert (back.upper_bound, back.proportional, back.integral, back.derivative) == (150, 80, 25, 10)
    rate = back.ramp_rate if model == 335 else back.rate
    assert back.heater_range == ls.HeaterRange.HIGH and rate == 5.0


def set_platinum_input_b(ls: Any) -> None:
    settings_class = type(ls.get_input_sensor("A"))
    ls.set_input_sensor("B", settings_class(ls.InputSensorType.PLATINUM_RTD, False, True,
                                            ls.InputSensorUnits.CELSIUS, ls.RTDRange.HUNDRED_OHM))


def test_input_type_diode(ls: Any) -> None:
    settings_class = type(ls.get_input_sensor("A"))
    ls.set_input_sensor("A", settings_class(ls.InputSensorType.DIODE, False, False,
                                            ls.InputSensorUnits.SENSOR, ls.DiodeRange.TEN_VOLTS))
    back = ls.get_input_sensor("A")
    assert back.sensor_type == ls.InputSensorType.DIODE and back.autorange_enable is False
    assert back.units == ls.InputSensorUnits.SENSOR and back.input_range == ls.DiodeRange.TEN_VOLTS


def test_input_type_platinum(ls: Any, model: int) -> None:
    set_platinum_input_b(ls)
    if model == 335:
        pytest.skip(client_bug_335_rtd)
    back = ls.get_input_sensor("B")
    assert back.sensor_type == ls.InputSensorType.PLATINUM_RTD and back.compensation is True
    assert back.units == ls.InputSensorUnits.CELSIUS and back.input_range == ls.RTDRange.HUNDRED_OHM


client_bug_335_rtd = client_bug(
    "lakeshore", "get_input_sensor tests 'type in (PLATINUM_RTD or NTC_RTD)', which is 'type in "
    "PLATINUM_RTD' (an IntEnum, not a tuple): TypeError for every platinum or NTC input",
    "lakeshore.model_335.Model335.get_input_sensor").kwargs["reason"]


def test_input_configuration(ls: Any, model: int) -> None:
    set_platinum_input_b(ls)
    ls.set_input_curve("B", 6)  # PT-100 standard curve fits a platinum input
    assert ls.get_input_curve("B") == 6
    with pytest.raises(Exception, match="does not match"):
        ls.set_input_curve("B", 2)  # a diode curve on a platinum input is refused
    ls.set_sensor_name("A", "cold finger")
    assert ls.get_sensor_name("A") == "cold finger"
    ls.set_temperature_limit("A", 350.0)
    assert ls.get_temperature_limit("A") == 350.0
    ls.set_diode_excitation_current("A", ls.DiodeCurrent.ONE_MILLIAMP)
    assert ls.get_diode_excitation_current("A") == ls.DiodeCurrent.ONE_MILLIAMP
    ls.set_filter("A", True, 16, 5)
    assert ls.get_filter("A") == {"filter_enable": True, "data_points": 16, "reset_threshold": 5}


def test_alarms_and_relays(ls: Any, bench: Bench) -> None:
    from lakeshore.temperature_controllers import AlarmSettings

    ls.set_alarm_parameters("A", True, AlarmSettings(70.0, 60.0, 1.0, True, True, True))
    settings = ls.get_alarm_parameters("A")
    assert (settings.high_value, settings.low_value, settings.latch_enable) == (70.0, 60.0, True)
    # 77 K is above the 70 K high alarm
    assert ls.get_alarm_status("A") == {"high_state_enabled": True, "low_state_enabled": False}
    ls.set_relay_alarms(1, "A", ls.RelayControlAlarm.HIGH_ALARM)
    assert ls.get_relay_alarm_control_parameters(1)["alarm_relay_trigger_type"] == \
        ls.RelayControlAlarm.HIGH_ALARM
    assert ls.get_relay_control_mode(1) == ls.RelayControlMode.ALARMS
    assert ls.get_relay_status(1) is True
    ls.turn_relay_off(2)
    assert ls.get_relay_status(2) is False
    ls.turn_relay_on(2)
    assert ls.get_relay_status(2) is True
    ls.set_alarm_parameters("A", False)
    ls.reset_alarm_status()
    assert ls.get_alarm_status("A") == {"high_state_enabled": False, "low_state_enabled": False}


def test_curves(ls: Any) -> None:
    from lakeshore.temperature_controllers import CurveHeader

    standard = ls.get_curve_header(2)
    assert standard.curve_name.strip() == "DT-670"
    ls.set_curve_header(21, CurveHeader("my diode", "D12345", ls.CurveFormat.VOLTS_PER_KELVIN,
                                        325.0, ls.CurveTemperatureCoefficient.NEGATIVE))
    header = ls.get_curve_header(21)
    assert (header.curve_name, header.serial_number, header.temperature_limit) == \
        ("my diode", "D12345", 325.0)
    ls.set_curve_data_point(21, 1, 0.1, 300.0)
    ls.set_curve_data_point(21, 2, 1.0, 77.0)
    assert ls.get_curve_data_point(21, 2) == (1.0, 77.0)
    ls.delete_curve(21)
    assert ls.get_curve_data_point(21, 2) == (0.0, 0.0)
    ls.set_soft_cal_curve_dt_470(22, "S0001")
    assert ls.get_curve_header(22).serial_number == "S0001"


@client_bug("lakeshore", "set_curve iterates 'for index, point in data_points' without "
            "enumerate(), so each (units, kelvin) tuple is unpacked as (index, point) and "
            "len(point) fails on a float", "lakeshore.temperature_controllers."
            "TemperatureController.set_curve")
def test_set_whole_curve(ls: Any) -> None:
    ls.set_curve(23, [(0.1, 300.0), (1.0, 77.0)])
    assert ls.get_curve(23)[:2] == [(0.1, 300.0), (1.0, 77.0)]


def test_front_panel_and_interface(ls: Any, model: int) -> None:
    if model == 335:
        ls.set_brightness(ls.BrightnessLevel.HALF)
        assert ls.get_brightness() == ls.BrightnessLevel.HALF
        ls.set_display_setup(ls.DisplaySetup.TWO_LOOP)
        assert ls.get_display_setup() == ls.DisplaySetup.TWO_LOOP
    else:
        ls.set_contrast_level(20)
        assert ls.get_contrast_level() == 20
        ls.set_display_setup(ls.DisplaySetupMode.CUSTOM, ls.DisplayFields.LARGE_4, 2)
        assert ls.get_display_setup()["mode"] == ls.DisplaySetupMode.CUSTOM
        ls.set_interface(ls.Interface.ETHERNET)
        assert ls.get_interface() == ls.Interface.ETHERNET
        ls.set_network_settings(False, False, "10.0.0.5", "255.255.255.0", "10.0.0.1",
                                "10.0.0.2", "10.0.0.3", "cryo", "lab.local", "cryostat 336")
        net = ls.get_network_settings()
        assert net["ip_address"] == "10.0.0.5" and net["pref_host"] == "cryo"
        assert ls.get_network_configuration()["mac_address"]
        ls.set_website_login("admin", "secret")
        assert ls.get_website_login() == {"username": "admin", "password": "secret"}
    ls.set_display_field_settings(2, ls.InputChannel(1) if model == 336 else ls.InputChannel.INPUT_A,
                                  ls.DisplayFieldUnits.CELSIUS)
    assert ls.get_display_field_settings(2)["display_units"] == ls.DisplayFieldUnits.CELSIUS
    ls.set_led_state(False)
    assert ls.get_led_state() is False
    ls.set_keypad_lock(True, 456)
    assert ls.get_keypad_lock() == {"state": True, "code": 456}
    ls.set_remote_interface_mode(ls.InterfaceMode.REMOTE)
    assert ls.get_remote_interface_mode() == ls.InterfaceMode.REMOTE
    ls.set_ieee_488(7)
    assert ls.get_ieee_488() == 7


def test_ieee488_event_registers(ls: Any) -> None:
    from lakeshore.temperature_controllers import StandardEventRegister

    mask = StandardEventRegister(True, True, True, True, False)
    ls.set_standard_event_enable_mask(mask)
    assert ls.get_standard_event_enable_mask().to_integer() == mask.to_integer()
    ls.clear_interface_command()
    assert ls.get_self_test() is False
    ls.set_operation_event_enable(type(ls.get_operation_event()).from_integer(0b1_0000))
    assert ls.get_operation_event_enable().new_sensor_reading is True
    assert ls.get_operation_condition().new_sensor_reading is True
    assert ls.get_operation_event().new_sensor_reading is True


client_bug_335_status_byte = client_bug(
    "lakeshore", "Model335 names its register classes _status_byte_register and "
    "_service_request_enable, but TemperatureController.get_status_byte / get_service_request "
    "use status_byte_register / service_request_enable, which are None on the 335",
    "lakeshore.model_335.Model335").kwargs["reason"]


def test_status_byte_and_service_request(ls: Any, model: int) -> None:
    from lakeshore.model_336 import Model336ServiceRequestEnable

    ls.set_service_request(Model336ServiceRequestEnable(False, True, False))  # ESB only
    if model == 335:
        pytest.skip(client_bug_335_status_byte)
    assert ls.get_service_request().event_status_summary_bit is True
    ls.clear_interface_command()
    status = ls.get_status_byte()
    assert status.event_status_summary_bit is False and status.service_request is False
    ls.set_operation_event_enable(type(ls.get_operation_event()).from_integer(0b1_0000))
    assert ls.get_status_byte().operation_summary_bit is True


def test_reset_turns_heaters_off(ls: Any, bench: Bench) -> None:
    ls.set_heater_range(1, ls.HeaterRange.LOW)
    assert bench.cryostat.heater_range == 1
    ls.reset_instrument()
    assert bench.cryostat.heater_range == 0


def test_autotune_reports_that_it_did_not_begin(ls: Any) -> None:
    # the emulator has no loop model to tune: it answers as a unit whose initial conditions are
    # not met, and the client reports the error (docs/drivers/lakeshore.md)
    with pytest.raises(Exception, match="autotune error"):
        ls.set_autotune(1, ls.AutotuneMode.P_I_D)
    status = ls.get_tuning_control_status()
    assert status["active_tuning_enable"] is False and status["tuning_error"] is True
