"""Lake Shore 335 / 336 cryogenic temperature controllers (serial 57600 7O1 CRLF; 336 TCP 7777).

Two layers:

- :class:`LakeShore335` / :class:`LakeShore336` — pymeasure's Lake Shore channels
  (``LakeShoreTemperatureChannel``: ``KRDG?``/``CRDG?``/``SRDG?``; ``LakeShoreHeaterChannel``:
  ``HTR?``/``MOUT``/``RANGE``/``SETP``) extended with what pymeasure lacks (``RDGST?``, ``PID``,
  ``RAMP``, ``RAMPST?``, ``OUTMODE``, ``HTRSET``, ``INTYPE``, ``INCRV``, ``INNAME``, ``TLIMIT``)
  and with validators on every setter, on avalab's
  :class:`~drivers.pymeasure_base.AsciiInstrument` (lock, timeouts, one reconnect). Each model
  uses its own command forms: the 335's ``HTRSET`` starts with the output type (five fields, 335
  manual, HTRSET), the 336's has four (336 manual, HTRSET); the 336's outputs 3 and 4 are
  voltage outputs (``RANGE`` 0 | 1, level from ``AOUT?``) and ``KRDG? 0`` reads its four inputs
  at once. ``HTRST?`` (heater status) on the heater outputs of both.
- :class:`LakeShore335Controller` / :class:`LakeShore336Controller` — the
  :class:`~drivers.interfaces.TemperatureController` role (registry ``lakeshore335`` /
  ``lakeshore336``), SI units; ramp rates are K/s here and K/min on the wire.

Error detection: set commands get no reply from a Lake Shore, so a rejected value would go
unnoticed. Every message is therefore sent as ``<command>;*ESR?`` (as the official ``lakeshore``
package does for queries) and the reply's last ``;`` field is the event status register; bits
2 (query error), 4 (execution error) and 5 (command error) raise :class:`InstrumentError` naming
the command. Reading ``*ESR?`` clears the register, so every transaction starts clean.

UNVERIFIED on hardware (tested only against ``sim_backends.emulators.lakeshore`` over a pty and
TCP): that a real 335/336 answers ``<set command>;*ESR?`` with just the register and
``<query>;*ESR?`` with ``<value>;<register>``, which ESR bit a real unit sets for each fault,
the reply number formats, and the serial settings over the USB virtual COM port (7O1 is what
the manual prescribes; the emulator tests run over a pty, which is opened 8N1 because Linux ptys
refuse 7 data bits).
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from pymeasure.instruments import Instrument
from pymeasure.instruments.lakeshore.lakeshore_base import (
    LakeShoreHeaterChannel,
    LakeShoreTemperatureChannel,
)

from drivers.errors import InstrumentError
from drivers.interfaces import HeaterRangeChoice, TemperatureController, modelled_heater_range
from drivers.pymeasure_base import AsciiInstrument, ConnectedDevice, SerialSettings
from drivers.validation import check_choice, check_int_range, check_range

log = logging.getLogger(__name__)

ESR_QUERY_ERROR = 1 << 2
ESR_EXECUTION_ERROR = 1 << 4
ESR_COMMAND_ERROR = 1 << 5
_ESR_ERRORS: dict[int, str] = {
    ESR_QUERY_ERROR: "query error (no data available)",
    ESR_EXECUTION_ERROR: "execution error (value or channel out of range)",
    ESR_COMMAND_ERROR: "command error (unknown command or bad syntax)",
}
ESR_SUFFIX = ";*ESR?"

#: manual limits for 335 and 336 control loops
PID_LIMITS: dict[str, tuple[float, float]] = {"P": (0.1, 1000.0), "I": (0.1, 1000.0),
                                              "D": (0.0, 200.0)}
RAMP_RATE_LIMITS_K_PER_MIN = (0.0, 100.0)
SETPOINT_LIMITS_K = (0.0, 1500.0)
MANUAL_OUTPUT_LIMITS_PERCENT = (0.0, 100.0)
INPUT_NAME_MAX_CHARS = 15
#: HTRSET heater resistance setting -> ohm, and max current setting -> A (manual, HTRSET)
HEATER_RESISTANCE_OHM = {1: 25.0, 2: 50.0}
MAX_CURRENT_A = {1: 0.707, 2: 1.0, 3: 1.141, 4: 1.414}
#: the low / medium / high heater ranges are a decade of power apart, high at full power
RANGE_POWER_FRACTION = (0.01, 0.1, 1.0)
ZERO_CELSIUS_K = 273.15


def is_pseudo_terminal(resource: str) -> bool:
    """True for VISA serial resources on a Unix pseudo-terminal (``ASRL/dev/pts/7::INSTR``)."""
    return resource.upper().startswith("ASRL/DEV/PTS/")


def describe_esr(esr: int) -> str:
    """Human-readable list of the error bits set in ``esr``."""
    named = [text for bit, text in _ESR_ERRORS.items() if esr & bit]
    return ", ".join(named) if named else "no error bits"


def _range(field: str, unit: str = "") -> Callable[[float, tuple[float, float]], float]:
    def validate(value: float, limits: tuple[float, float]) -> float:
        return check_range(field, value, limits[0], limits[1], unit)
    return validate


def _int_range(field: str) -> Callable[[int, tuple[int, int]], int]:
    def validate(value: int, limits: tuple[int, int]) -> int:
        return check_int_range(field, value, limits[0], limits[1])
    return validate


def _validate_pid(value: tuple[float, float, float], _: object) -> tuple[float, float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"pid={value!r} is not allowed; allowed: three numbers (P, I, D)")
    return tuple(check_range(name, v, *PID_LIMITS[name])  # type: ignore[return-value]
                 for name, v in zip("PID", value))


def _validate_ramp(value: tuple[bool, float], _: object) -> tuple[int, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not isinstance(value[0], bool):
        raise ValueError(f"ramp={value!r} is not allowed; allowed: (enabled: bool, K/min)")
    rate = check_range("ramp_rate", value[1], *RAMP_RATE_LIMITS_K_PER_MIN, "K/min")
    return int(value[0]), rate


def _validate_int_tuple(field: str, limits: tuple[tuple[int, int], ...]
                        ) -> Callable[[tuple[int, ...], object], tuple[int, ...]]:
    def validate(value: tuple[int, ...], _: object) -> tuple[int, ...]:
        if not isinstance(value, (tuple, list)) or len(value) != len(limits):
            raise ValueError(f"{field}={value!r} is not allowed; allowed: {len(limits)} integers")
        return tuple(check_int_range(f"{field}[{i}]", v, low, high)
                     for i, (v, (low, high)) in enumerate(zip(value, limits)))
    return validate


def _htrset_validator(with_output_type: bool, max_output_type: int
                      ) -> Callable[[tuple[Any, ...], object], tuple[Any, ...]]:
    """HTRSET fields: the 336's (resistance, max current, max user current, display) or the 335's,
    which start with the output type (0 current | 1 voltage, voltage on output 2 only)."""
    names = "(output type 0|1, " if with_output_type else "("
    allowed = (f"{names}resistance 1 = 25 ohm | 2 = 50 ohm, max current 0 user | 1..4, "
               "max user current A, display 1 current | 2 power)")

    def validate(value: tuple[Any, ...], _: object) -> tuple[Any, ...]:
        count = 5 if with_output_type else 4
        if not isinstance(value, (tuple, list)) or len(value) != count:
            raise ValueError(f"heater_setup={value!r} is not allowed; allowed: {allowed}")
        head: tuple[int, ...] = ()
        if with_output_type:
            head = (check_int_range("output_type", value[0], 0, max_output_type),)
            value = tuple(value[1:])
        return (*head,
                check_int_range("heater_resistance", value[0], 1, 2),
                check_int_range("max_current", value[1], 0, 4),
                check_range("max_user_current", value[2], 0.0, 2.0, "A"),
                check_int_range("heater_display", value[3], 1, 2))
    return validate


def _validate_name(value: str, _: object) -> str:
    if (not isinstance(value, str) or len(value) > INPUT_NAME_MAX_CHARS
            or any(c in value for c in '";,?') or not value.isascii()):
        # ';' and ',' would split the message, '?' would make the setter look like a query
        raise ValueError(f"name={value!r} is not allowed; allowed: up to {INPUT_NAME_MAX_CHARS} "
                         "ASCII characters without quotes, commas, semicolons or '?'")
    return value


class _TransactionChannel:
    """Channel mixin: a query is one parent transaction (pymeasure's Channel.ask would write and
    read separately, which breaks the ``;*ESR?`` framing and the per-transaction lock)."""

    parent: "LakeShore3xxESR"

    def ask(self, command: str, query_delay: float | None = None) -> str:
        return self.parent.ask(self.insert_id(command))  # type: ignore[attr-defined]

    def values(self, command: str, **kwargs: Any) -> list[Any]:
        return self.parent.values(self.insert_id(command), **kwargs)  # type: ignore[attr-defined]


class LakeShoreInput(_TransactionChannel, LakeShoreTemperatureChannel):  # type: ignore[misc]
    """One sensor input (A..D). pymeasure provides kelvin, celsius, sensor."""

    reading_status = Instrument.measurement(
        "RDGST? {ch}",
        """Get the reading status bits (1 invalid, 16 T under, 32 T over, 64 zero, 128 over).""",
        cast=int)

    sensor_type = Instrument.control(
        "INTYPE? {ch}", "INTYPE {ch},%d,%d,%d,%d,%d",
        """Control the input type: (sensor type 0..4, autorange 0|1, range 0..8,
        compensation 0|1, units 1 K | 2 C | 3 sensor).""",
        validator=_validate_int_tuple("intype", ((0, 4), (0, 1), (0, 8), (0, 1), (1, 3))),
        cast=int)

    curve = Instrument.control(
        "INCRV? {ch}", "INCRV {ch},%d",
        """Control the calibration curve number (0 none, 1..59).""",
        validator=_int_range("curve"), values=(0, 59), cast=int)

    sensor_name = Instrument.control(
        "INNAME? {ch}", 'INNAME {ch},"%s"',
        """Control the input's display name (up to 15 characters).""",
        validator=_validate_name, cast=str)

    temperature_limit = Instrument.control(
        "TLIMIT? {ch}", "TLIMIT {ch},%.3f",
        """Control the temperature limit, K, above which all heaters switch off (0 = off).""",
        validator=_range("temperature_limit", "K"), values=(0.0, 2000.0))


class LakeShoreOutput(_TransactionChannel, LakeShoreHeaterChannel):  # type: ignore[misc]
    """One control output (1..4). pymeasure provides output (HTR?), mout, range, setpoint;
    setpoint and mout are redefined here with validators."""

    setpoint = Instrument.control(
        "SETP? {ch}", "SETP {ch},%.3f",
        """Control the setpoint, K (in the loop's preferred units).""",
        validator=_range("setpoint", "K"), values=SETPOINT_LIMITS_K)

    mout = Instrument.control(
        "MOUT? {ch}", "MOUT {ch},%.2f",
        """Control the manual heater output, percent.""",
        validator=_range("manual_output", "%"), values=MANUAL_OUTPUT_LIMITS_PERCENT)

    heater_range = Instrument.control(
        "RANGE? {ch}", "RANGE {ch},%d",
        """Control the heater range as a number: 0 off, 1 low, 2 medium, 3 high.""",
        validator=_int_range("heater_range"), values=(0, 3), cast=int)

    pid = Instrument.control(
        "PID? {ch}", "PID {ch},%.1f,%.1f,%.1f",
        """Control the PID parameters (P 0.1-1000, I 0.1-1000, D 0-200).""",
        validator=_validate_pid)

    ramp = Instrument.control(
        "RAMP? {ch}", "RAMP {ch},%d,%.1f",
        """Control setpoint ramping: (enabled, rate K/min); reads back [on, rate].""",
        validator=_validate_ramp)

    ramping = Instrument.measurement(
        "RAMPST? {ch}", """Get whether the setpoint is currently ramping.""",
        cast=int, get_process=bool)

    output_mode = Instrument.control(
        "OUTMODE? {ch}", "OUTMODE {ch},%d,%d,%d",
        """Control (mode 0 off|1 closed loop|2 zone|3 open loop|4 monitor|5 warm-up,
        control input 0 none|1 A|2 B|3 C|4 D, power-up enable 0|1).""",
        validator=_validate_int_tuple("outmode", ((0, 5), (0, 4), (0, 1))),
        cast=int)



def _heater_status(value: str) -> str:
    return {"0": "no error", "1": "open load", "2": "short"}.get(value.strip(), value.strip())


class LakeShore336HeaterOutput(LakeShoreOutput):
    """336 outputs 1 and 2 (current heaters): 336 manual, HTRSET / HTRSET? / HTRST?."""

    heater_setup = Instrument.control(
        "HTRSET? {ch}", "HTRSET {ch},%d,%d,%.3f,%d",
        """Control the heater setup (resistance 1 = 25 ohm | 2 = 50 ohm, max current 0 user |
        1 0.707 A | 2 1 A | 3 1.141 A | 4 2 A, max user current A, display 1 current | 2 power).""",
        validator=_htrset_validator(with_output_type=False, max_output_type=0))

    heater_status = Instrument.measurement(
        "HTRST? {ch}", """Get the heater status: 'no error', 'open load' or 'short'.""",
        cast=str, get_process=_heater_status)


class LakeShore335HeaterOutput(LakeShoreOutput):
    """335 outputs 1 and 2: HTRSET starts with the output type (335 manual, HTRSET), one field
    more than the 336's; only output 2 can be a voltage output."""

    heater_status = Instrument.measurement(
        "HTRST? {ch}", """Get the heater status: 'no error', 'open load' or 'short'.""",
        cast=str, get_process=_heater_status)


class LakeShore335Output1(LakeShore335HeaterOutput):
    heater_setup = Instrument.control(
        "HTRSET? {ch}", "HTRSET {ch},%d,%d,%d,%.3f,%d",
        """Control the heater setup (output type 0 current, resistance 1 = 25 ohm | 2 = 50 ohm,
        max current 0 user | 1 0.707 A | 2 1 A | 3 1.141 A | 4 1.732 A, max user current A,
        display 1 current | 2 power).""",
        validator=_htrset_validator(with_output_type=True, max_output_type=0))


class LakeShore335Output2(LakeShore335HeaterOutput):
    heater_setup = Instrument.control(
        "HTRSET? {ch}", "HTRSET {ch},%d,%d,%d,%.3f,%d",
        """Control the heater setup (output type 0 current | 1 voltage, resistance, max current,
        max user current A, display), as for output 1.""",
        validator=_htrset_validator(with_output_type=True, max_output_type=1))


class LakeShore336VoltageOutput(LakeShoreOutput):
    """336 outputs 3 and 4 (0-10 V analog outputs): range 0 off | 1 on, no HTRSET; their level
    is read with AOUT? (336 manual, AOUT?) rather than HTR?."""

    heater_range = Instrument.control(
        "RANGE? {ch}", "RANGE {ch},%d",
        """Control the output: 0 off, 1 on.""",
        validator=_int_range("heater_range"), values=(0, 1), cast=int)

    output = Instrument.measurement(
        "AOUT? {ch}", """Get the output level, percent of full scale (10 V).""")


class LakeShore3xxESR(AsciiInstrument):
    """Lake Shore 33x on avalab's base; every message carries ``;*ESR?`` (module docstring)."""

    serial_settings = SerialSettings(baud_rate=57600, data_bits=7, parity="odd", stop_bits=1)
    write_termination = "\r\n"
    reply_terminator = b"\r\n"
    #: (inputs, outputs) of the model; the role adapter validates against these
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[int, ...]] = ()
    #: highest heater range per output (336 outputs 3 and 4 are on/off)
    max_heater_range: ClassVar[dict[int, int]] = {}

    def __init__(self, adapter: Any, name: str, *, serial: SerialSettings | None = None,
                 **kwargs: Any) -> None:
        if serial is None and isinstance(adapter, str) and is_pseudo_terminal(adapter):
            # Linux ptys refuse 7 data bits (tcsetattr EINVAL) and carry no framing anyway; a pty
            # is always an emulator, never the controller's USB port (/dev/ttyUSB*, /dev/ttyACM*)
            serial = dataclasses.replace(self.serial_settings, data_bits=8, parity="none")
            log.info("%s: %s is a pseudo-terminal; opening it 8N1 instead of 7O1", name, adapter)
        super().__init__(adapter, name, serial=serial, **kwargs)

    def ask(self, command: str, query_delay: float | None = None) -> str:
        return self.transact(command + ESR_SUFFIX, expect_reply=True)

    def write(self, command: str, **kwargs: Any) -> None:
        self.transact(command + ESR_SUFFIX, expect_reply=True)

    def parse_reply(self, command: str, frame: str) -> str:
        """Split ``<answer>;<ESR>``; raise on error bits; return ``<answer>`` ("" for setters)."""
        payload, separator, esr_text = frame.strip().rpartition(";")
        try:
            esr = int(esr_text)
        except ValueError:
            raise self.error(command, f"unexpected reply {frame.strip()!r}: last field is not "
                                      "the *ESR? register") from None
        if esr & (ESR_QUERY_ERROR | ESR_EXECUTION_ERROR | ESR_COMMAND_ERROR):
            raise self.error(command, f"controller rejected it: ESR={esr} ({describe_esr(esr)})")
        asked = command.removesuffix(ESR_SUFFIX)
        if "?" in asked and not separator:
            raise self.error(command, f"no answer before the status register in {frame.strip()!r}")
        if "?" not in asked and separator:
            raise self.error(command, f"unexpected answer {payload!r} to a set command")
        return payload


class LakeShore335(LakeShore3xxESR):
    """Model 335: inputs A, B; outputs 1, 2."""

    inputs = ("A", "B")
    outputs = (1, 2)
    max_heater_range = {1: 3, 2: 3}

    input_A = Instrument.ChannelCreator(LakeShoreInput, "A")
    input_B = Instrument.ChannelCreator(LakeShoreInput, "B")
    output_1 = Instrument.ChannelCreator(LakeShore335Output1, 1)
    output_2 = Instrument.ChannelCreator(LakeShore335Output2, 2)

    def __init__(self, adapter: Any, name: str = "Lake Shore 335", **kwargs: Any) -> None:
        super().__init__(adapter, name, **kwargs)


class LakeShore336(LakeShore3xxESR):
    """Model 336: inputs A..D; outputs 1, 2 (ranges 0..3) and 3, 4 (0 off | 1 on)."""

    inputs = ("A", "B", "C", "D")
    outputs = (1, 2, 3, 4)
    max_heater_range = {1: 3, 2: 3, 3: 1, 4: 1}

    input_A = Instrument.ChannelCreator(LakeShoreInput, "A")
    input_B = Instrument.ChannelCreator(LakeShoreInput, "B")
    input_C = Instrument.ChannelCreator(LakeShoreInput, "C")
    input_D = Instrument.ChannelCreator(LakeShoreInput, "D")
    output_1 = Instrument.ChannelCreator(LakeShore336HeaterOutput, 1)
    output_2 = Instrument.ChannelCreator(LakeShore336HeaterOutput, 2)
    output_3 = Instrument.ChannelCreator(LakeShore336VoltageOutput, 3)
    output_4 = Instrument.ChannelCreator(LakeShore336VoltageOutput, 4)

    kelvin_all = Instrument.measurement(
        "KRDG? 0", """Get the temperatures of inputs A-D in one query (336 manual, KRDG?:
        input 0 = all inputs), K.""")

    def __init__(self, adapter: Any, name: str = "Lake Shore 336", **kwargs: Any) -> None:
        super().__init__(adapter, name, **kwargs)


class _LakeShoreController(ConnectedDevice, TemperatureController):
    """TemperatureController role over a :class:`LakeShore3xxESR` (SI units, K/s ramps).

    ``max_setpoint_k`` (rig option) caps setpoints below the instrument limit to protect the
    sample and cryostat; the default allows room temperature plus margin. ``bath_k`` and
    ``cold_finger_conductance_w_k`` (rig options: the coolant temperature and how strongly the
    cold finger is tied to it, W/K) let it choose the heater range that holds a setpoint.
    """

    instrument_class: ClassVar[type[LakeShore3xxESR]]

    def __init__(self, name: str, address: str, clock: Any = None, *,
                 max_setpoint_k: float = 400.0, bath_k: float | None = None,
                 cold_finger_conductance_w_k: float | None = None, **options: Any) -> None:
        super().__init__(name, address, clock, **options)
        self.max_setpoint_k = check_range("max_setpoint_k", max_setpoint_k, 0.0,
                                          SETPOINT_LIMITS_K[1], "K", low_inclusive=False)
        self.bath_k = None if bath_k is None else check_range("bath_k", bath_k, 0.0, SETPOINT_LIMITS_K[1], "K")
        self.cold_finger_conductance_w_k = (None if cold_finger_conductance_w_k is None else check_range(
            "cold_finger_conductance_w_k", cold_finger_conductance_w_k, 0.0, 1e3, "W/K", low_inclusive=False))

    def heater_full_scale_w(self, output: int = 1) -> list[float]:
        """Full-scale power of the low, medium and high ranges, W, from the output's HTRSET
        (max current squared into the heater resistance at high, a decade less per range)."""
        # the 335's HTRSET starts with the output type; the last four fields are the 336's
        resistance, max_current, user_current, _ = tuple(self._output(output).heater_setup)[-4:]
        current = float(user_current) if int(max_current) == 0 else MAX_CURRENT_A[int(max_current)]
        full_w = current ** 2 * HEATER_RESISTANCE_OHM[int(resistance)]
        return [fraction * full_w for fraction in RANGE_POWER_FRACTION]

    def choose_heater_range(self, kelvin: float, tolerance_k: float = 0.0) -> HeaterRangeChoice:
        """With the cryostat's bath and cold-finger conductance given (rig options), the lowest
        range whose power holds ``kelvin`` (the heater's full power from HTRSET); without them,
        the generic choice of ``TemperatureController``."""
        if self.bath_k is None or self.cold_finger_conductance_w_k is None:
            return super().choose_heater_range(kelvin, tolerance_k)
        return modelled_heater_range(self.name, kelvin, self.bath_k, self.cold_finger_conductance_w_k,
                                     self.heater_full_scale_w())

    @property
    def controller(self) -> LakeShore3xxESR:
        return self.instrument  # type: ignore[return-value]

    def _read_identity(self, instrument: AsciiInstrument) -> str:
        return instrument.ask("*IDN?")

    def _on_connect(self, instrument: AsciiInstrument) -> None:
        identity = instrument.ask("*IDN?")
        self._identity = identity
        expected = self.instrument_class.__name__.removeprefix("LakeShore")
        if f"MODEL{expected}" not in identity.replace(" ", "").upper():
            log.warning("%s: %s driver connected to %r", self.name, expected, identity)

    # ------------------------------------------------------------ channel lookup
    def _input(self, channel: str) -> LakeShoreInput:
        check_choice("channel", channel, self.instrument_class.inputs)
        return getattr(self.controller, f"input_{channel}")

    def _output(self, output: int) -> LakeShoreOutput:
        check_choice("output", output, self.instrument_class.outputs)
        return getattr(self.controller, f"output_{output}")

    # ------------------------------------------------------------ role
    def get_temperature(self, channel: str = "A") -> float:
        return float(self._input(channel).kelvin)

    def setpoint_units(self, output: int = 1) -> int:
        """Preferred units of the output's control input (INTYPE: 1 K, 2 C, 3 sensor units).

        A Lake Shore takes and reports the setpoint in these units (manuals, SETP), so a kelvin
        setpoint sent to a loop whose sensor reads in Celsius would be 273 K too hot."""
        mode_input = self._output(output).output_mode  # OUTMODE?: mode, input, power-up
        control_input = int(mode_input[1])
        if control_input == 0:
            return 1
        if not 1 <= control_input <= len(self.instrument_class.inputs):
            raise InstrumentError(self.name, self.address, f"OUTMODE? {output}",
                                  f"control input {control_input} does not exist on this model")
        channel = self.instrument_class.inputs[control_input - 1]
        return int(self._input(channel).sensor_type[4])  # INTYPE?: units is the last field

    def set_setpoint(self, kelvin: float, output: int = 1) -> None:
        check_range("setpoint", kelvin, 0.0, self.max_setpoint_k, "K")
        channel = self._output(output)
        with self.controller.lock:  # the units and the setpoint belong together
            units = self.setpoint_units(output)
            if units == 1:
                channel.setpoint = kelvin
            elif units == 2:
                self.controller.write(f"SETP {output},{kelvin - ZERO_CELSIUS_K:.3f}")
            else:
                raise self._sensor_units_setpoint(f"SETP {output}")

    def get_setpoint(self, output: int = 1) -> float:
        channel = self._output(output)
        with self.controller.lock:
            units = self.setpoint_units(output)
            value = float(channel.setpoint)
        if units == 1:
            return value
        if units == 2:
            return value + ZERO_CELSIUS_K
        raise self._sensor_units_setpoint(f"SETP? {output}")

    def _sensor_units_setpoint(self, command: str) -> InstrumentError:
        return InstrumentError(self.name, self.address, command,
                               "the control input's preferred units are sensor units; a kelvin "
                               "setpoint cannot be converted (set INTYPE units to K or C)")

    def set_heater_range(self, heater_range: int, output: int = 1) -> None:
        channel = self._output(output)
        check_int_range("heater_range", heater_range, 0,
                        self.instrument_class.max_heater_range[output])
        channel.heater_range = heater_range

    def get_heater_range(self, output: int = 1) -> int:
        return int(self._output(output).heater_range)

    def get_heater_output(self, output: int = 1) -> float:
        """Percent of full scale: HTR? on a heater output, AOUT? on a 336 voltage output."""
        return float(self._output(output).output)

    def set_ramp(self, enabled: bool, rate_k_per_s: float, output: int = 1) -> None:
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled={enabled!r} is not allowed; allowed values: True, False")
        low, high = RAMP_RATE_LIMITS_K_PER_MIN
        rate_k_per_s = check_range("ramp_rate", rate_k_per_s, low / 60.0, high / 60.0, "K/s")
        self._output(output).ramp = (enabled, rate_k_per_s * 60.0)

    def get_ramp(self, output: int = 1) -> tuple[bool, float]:
        """(enabled, rate K/s)."""
        enabled, rate_k_per_min = self._output(output).ramp
        return bool(enabled), float(rate_k_per_min) / 60.0

    def is_ramping(self, output: int = 1) -> bool:
        return bool(self._output(output).ramping)

    def set_pid(self, p: float, i: float, d: float, output: int = 1) -> None:
        self._output(output).pid = (p, i, d)

    def get_pid(self, output: int = 1) -> tuple[float, float, float]:
        p, i, d = self._output(output).pid
        return float(p), float(i), float(d)

    def heater_status(self, output: int = 1) -> str:
        """HTRST?: 'no error', 'open load' or 'short' (heater outputs only)."""
        channel = self._output(output)
        if not hasattr(channel, "heater_status"):
            raise ValueError(f"output={output} is not allowed; allowed values: "
                             f"{self.heater_outputs} (outputs with a heater status)")
        return str(channel.heater_status)

    @property
    def heater_outputs(self) -> tuple[int, ...]:
        return tuple(out for out in self.instrument_class.outputs
                     if self.instrument_class.max_heater_range[out] > 1)

    def reading_status(self, channel: str = "A") -> int:
        """RDGST? bits: 0 ok, 1 invalid, 16 T under-range, 32 T over-range, 64 zero, 128 over."""
        return int(self._input(channel).reading_status)

    def safe_state(self) -> None:
        """Heater range 0 on every output; every output is tried, then the first failure is
        raised naming the outputs that could not be switched off."""
        failed: list[tuple[int, Exception]] = []
        for output in self.instrument_class.outputs:
            try:
                self.set_heater_range(0, output)
            except (InstrumentError, OSError) as exc:
                # keep going: the other outputs must still be switched off
                log.warning("%s: could not switch heater output %d off: %s", self.name, output, exc)
                failed.append((output, exc))
        if failed:
            outputs = ", ".join(str(output) for output, _ in failed)
            raise InstrumentError(self.name, self.address, "RANGE 0",
                                  f"heater output(s) {outputs} not switched off: {failed[0][1]}") from failed[0][1]

    def safe_state_problem(self) -> str | None:
        on = [(output, self.get_heater_range(output)) for output in self.instrument_class.outputs]
        on = [(output, heater_range) for output, heater_range in on if heater_range != 0]
        if not on:
            return None
        return ", ".join(f"heater output {output} at range {heater_range} (not off)" for output, heater_range in on)


class LakeShore335Controller(_LakeShoreController):
    """Registry ``lakeshore335``: ``cls(name=role, address="ASRL/dev/ttyUSB0::INSTR", clock=...)``."""

    model = "Lake Shore 335"
    instrument_class = LakeShore335


class LakeShore336Controller(_LakeShoreController):
    """Registry ``lakeshore336``: serial, or ``TCPIP::<host>::7777::SOCKET`` over Ethernet."""

    model = "Lake Shore 336"
    instrument_class = LakeShore336

    def get_all_temperatures(self) -> dict[str, float]:
        """Inputs A-D in one ``KRDG? 0`` transaction, K."""
        values = self.controller.kelvin_all  # type: ignore[attr-defined]
        if not isinstance(values, list) or len(values) != len(LakeShore336.inputs):
            raise InstrumentError(self.name, self.address, "KRDG? 0",
                                  f"expected {len(LakeShore336.inputs)} readings, got {values!r}")
        return {channel: float(v) for channel, v in zip(LakeShore336.inputs, values)}
