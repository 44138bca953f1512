"""Lake Shore 335 / 336 emulator, backed by a :class:`TemperatureController`.

Speaks the controllers' ASCII protocol (Model 335 and 336 User's Manuals, chapter 6): one message
per line, CRLF replies, commands and queries joined with ``;`` in one message (a leading ``:``
before a command, as the official ``lakeshore`` package sends, is ignored), no reply at all to set
commands, query replies of one message joined with ``;``, and the IEEE 488.2 status system:
``*ESR?`` (read clears), ``*ESE``, ``*STB?``, ``*SRE``, ``*OPC``/``*OPC?``, ``*CLS``, ``*RST``,
``*TST?``, ``*WAI``, ``*IDN?``, plus the operational status registers (``OPST?``, ``OPSTR?``,
``OPSTE``).

Standard event status bits (335 manual section 6.2.5; 336 the same): 0 OPC (``*OPC``), 2 query
error (a query whose data is not available: the backing controller raised while reading),
4 execution error (a value or channel out of range for this model, or refused by the backing
controller), 5 command error (unknown mnemonic, too many or missing parameters, text where a
number belongs), 7 power on (set when the emulated controller starts). A failing command gives
no reply segment; the rest of the message still runs.

Every input and output of the model answers (336: inputs A-D, outputs 1-4; 335: A-B, 1-2).
Inputs and outputs the backing controller has (``wired_inputs`` / ``wired_outputs``) are read
and driven through it; the others behave like a unit with nothing connected there: an unwired
input is disabled (``INTYPE`` sensor type 0, reads 0, ``RDGST?`` 0) until a sensor type is set
(then it reads 0 with invalid reading + sensor units over-range, 129); an unwired heater output
keeps its setpoint, range and ramp, delivers 0 % and reports an open load (``HTRST?`` 1) while
its range is on.

``SETP``/``SETP?`` are in the preferred units of the output's control input (``OUTMODE`` input,
``INTYPE`` units: K, C or sensor units), as the manuals say; the backing controller always gets K.

Settings that do not touch the bench (PID, OUTMODE, INTYPE, ALARM, ZONE, ...) live in
``lakeshore_settings``' table; ``HTRSET`` uses each model's own field layout (the 335's starts
with the output type and has one more field). Curves: user curves 21-59 are stored
(``CRVHDR``, ``CRVPT``, ``CRVDEL``, ``SCAL``); standard curves 1-20 report their headers.

UNVERIFIED (not checked against a real 335/336; the manual decides where it says something):
reply number formats (``+077.000`` etc.), the ``*IDN?`` serial/firmware fields, whether a real
unit answers the rest of a compound message after an error, that mnemonics are accepted in lower
case, the ``SRDG?`` value (a straight line through two DT-670 points, whatever the sensor type),
``EMUL`` (not in the 335 manual rev. 1.3; see ``lakeshore_settings``), and the readings of
inputs with nothing connected. Not emulated: autotune (``ATUNE`` is accepted but never begins:
``TUNEST?`` reports the error a unit gives when the initial conditions are not met), the
3062 scanner inputs D1-D5, the points of the standard curves (``CRVPT?`` on 1-20 is an execution
error), and the loop itself: PID, zone, manual output and output mode are stored but do not
change what the backing controller does.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.clock import Clock, RealClock
from drivers.interfaces import TemperatureController
from sim_backends.emulators.lakeshore_models import MODELS, ModelSpec, model_spec
from sim_backends.emulators.lakeshore_settings import (
    SETTINGS_BY_MNEMONIC,
    CommandError,
    ExecutionError,
    QueryError,
    SettingStore,
    integer,
    number,
    resolve_index,
    text,
)
from sim_backends.emulators.scpi import (
    ESR_COMMAND_ERROR,
    ESR_EXECUTION_ERROR,
    ESR_OPERATION_COMPLETE,
    ESR_POWER_ON,
    ESR_QUERY_ERROR,
    STB_EVENT_SUMMARY,
    STB_OPERATION,
    STB_SERVICE_REQUEST,
)
from sim_backends.emulators.server import EmulatorServer, LineProtocol

__all__ = ["MODELS", "ModelSpec", "LakeShoreEmulator", "LakeShoreState", "lakeshore_server",
           "diode_volts"]

log = logging.getLogger(__name__)


#: operational status register bits (335/336 manuals, OPST?)
OPST_ALARM = 1 << 0
OPST_SENSOR_OVERLOAD = 1 << 1
OPST_LOOP2_RAMP_DONE = 1 << 2
OPST_LOOP1_RAMP_DONE = 1 << 3
OPST_NEW_READING = 1 << 4

RDGST_INVALID = 1
RDGST_T_UNDER = 16
RDGST_T_OVER = 32
RDGST_SENSOR_OVER = 128

SETPOINT_LIMITS_K = (0.0, 1500.0)
RAMP_RATE_LIMITS_K_PER_MIN = (0.0, 100.0)  # 0 = as fast as possible (335 manual p. 122, RAMP)
FIRST_USER_CURVE = 21
LAST_CURVE = 59
CURVE_POINTS = 200

_ZERO_CELSIUS_K = 273.15
#: a locally administered MAC address: no real Lake Shore module has it
EMULATOR_MAC = "02:00:00:00:03:36"


def diode_volts(kelvin: float) -> float:
    """Sensor units for SRDG?: straight line through DT-670 points (77 K, 1.02 V), (300 K, 0.56 V)."""
    return 1.02 - (kelvin - 77.0) * (0.46 / 223.0)


@dataclass(frozen=True)
class CurveHeader:
    name: str
    serial: str
    data_format: int      # 1 mV/K, 2 V/K, 3 ohm/K, 4 log ohm/K
    limit_k: float
    coefficient: int      # 1 negative, 2 positive

    def show(self) -> str:
        return f"{self.name},{self.serial},{self.data_format},{self.limit_k:+.3f},{self.coefficient}"


#: the standard curves in the 335/336 flash (manuals, table "Sensor curves"); unlisted numbers
#: 1-20 are reserved (empty headers)
STANDARD_CURVES: dict[int, CurveHeader] = {
    1: CurveHeader("DT-470", "Standard C", 2, 475.0, 1),
    2: CurveHeader("DT-670", "Standard C", 2, 500.0, 1),
    3: CurveHeader("DT-500-D", "Standard C", 2, 365.0, 1),
    4: CurveHeader("DT-500-E1", "Standard C", 2, 330.0, 1),
    6: CurveHeader("PT-100", "Standard C", 3, 800.0, 2),
    7: CurveHeader("PT-1000", "Standard C", 3, 800.0, 2),
    8: CurveHeader("RX-102A-AA", "Standard C", 4, 40.0, 1),
    9: CurveHeader("RX-202A-AA", "Standard C", 4, 40.0, 1),
    12: CurveHeader("Type K", "Standard C", 1, 1505.0, 2),
    13: CurveHeader("Type E", "Standard C", 1, 934.0, 2),
    14: CurveHeader("Type T", "Standard C", 1, 673.0, 2),
    15: CurveHeader("AuFe 0.03%", "Standard C", 1, 500.0, 2),
    16: CurveHeader("AuFe 0.07%", "Standard C", 1, 610.0, 2),
}
EMPTY_CURVE = CurveHeader("User Curve", "", 2, 375.0, 1)
#: curve data format each sensor type uses: diode V/K, platinum ohm/K, NTC log ohm/K,
#: thermocouple mV/K
SENSOR_CURVE_FORMAT: dict[int, int] = {1: 2, 2: 3, 3: 4, 4: 1}


@dataclass
class LocalOutput:
    """An output the backing controller does not have: the emulator keeps its state."""

    setpoint_k: float = 0.0
    heater_range: int = 0
    ramp_enabled: bool = False
    ramp_rate_k_per_s: float = 0.0


@dataclass
class RampBook:
    """When the last setpoint change started, from and to (for RAMPST? without a backing ramp)."""

    enabled: bool = False
    rate_k_per_min: float = 10.0
    started_s: float = 0.0
    from_k: float = 0.0
    to_k: float = 0.0


@dataclass
class LakeShoreState:
    """Instrument-wide state shared by all connections to one emulated controller."""

    spec: ModelSpec
    wired_inputs: tuple[str, ...] = ()
    wired_outputs: tuple[int, ...] = ()
    esr: int = ESR_POWER_ON
    ese: int = 0
    sre: int = 0
    operation_events: int = 0
    ramp_was_on: dict[int, bool] = field(default_factory=dict)
    store: SettingStore = field(init=False)
    local_outputs: dict[int, LocalOutput] = field(default_factory=dict)
    ramps: dict[int, RampBook] = field(default_factory=dict)
    htrset: dict[int, list[Any]] = field(default_factory=dict)
    user_curves: dict[int, CurveHeader] = field(default_factory=dict)
    curve_points: dict[int, dict[int, tuple[float, float]]] = field(default_factory=dict)
    min_max: dict[str, tuple[float, float]] = field(default_factory=dict)
    latched_alarms: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    autotune_output: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.store = SettingStore(self.spec)
        self.factory_defaults()

    def factory_defaults(self) -> None:
        """Every setting at its factory value (DFLT 99); user curves are kept."""
        self.store.reset()
        self.local_outputs = {out: LocalOutput() for out in self.spec.outputs
                              if out not in self.wired_outputs}
        self.ramps = {out: RampBook() for out in self.spec.outputs}
        self.htrset = {out: _default_htrset(self.spec) for out in self.spec.heater_outputs}
        self.min_max.clear()
        self.latched_alarms.clear()
        self.autotune_output = 0
        for channel in self.spec.inputs:
            if channel not in self.wired_inputs:  # nothing connected: the input is disabled
                self.store.set(SETTINGS_BY_MNEMONIC["INTYPE"], (channel,), ["0"])
                self.store.set(SETTINGS_BY_MNEMONIC["INCRV"], (channel,), ["0"])


def _default_htrset(spec: ModelSpec) -> list[Any]:
    # current output, 25 ohm, max current 2 (1 A), no user current, display current
    fields: list[Any] = [1, 2, 0.0, 1]
    return [0, *fields] if spec.htrset_has_output_type else fields


def _htrset_fields(spec: ModelSpec, output: int) -> tuple[Any, ...]:
    """HTRSET fields after <output>. 336 (manual, HTRSET): resistance, max current, max user
    current, current/power. 335 (manual, HTRSET): the output type comes first (0 current,
    1 voltage; output 2 only)."""
    common = (integer("heater resistance", 1, 2, 1), integer("max current", 0, 4, 2),
              number("max user current", 0.0, 2.0, 0.0), integer("current/power", 1, 2, 1))
    if not spec.htrset_has_output_type:
        return common
    highest_type = 1 if output in spec.voltage_outputs else 0
    return (integer("output type", 0, highest_type, 0), *common)


_Handler = Callable[["LakeShoreEmulator", list[str]], str | None]

#: ';' separates commands and ',' parameters, except inside double quotes (INNAME, NET)
_SPLIT_OUTSIDE_QUOTES = r'{sep}(?=(?:[^"]|"[^"]*")*$)'


def _split(line: str, separator: str) -> list[str]:
    return re.split(_SPLIT_OUTSIDE_QUOTES.format(sep=re.escape(separator)), line)


class LakeShoreEmulator(LineProtocol):
    """One connection to an emulated Lake Shore 335/336 backed by ``controller``."""

    encoding = "ascii"
    terminator = b"\r\n"

    def __init__(self, controller: TemperatureController, model: int = 335, *,
                 state: LakeShoreState | None = None, clock: Clock | None = None,
                 firmware: str = "2.9", wired_inputs: tuple[str, ...] | None = None,
                 wired_outputs: tuple[int, ...] | None = None,
                 room_temperature_k: float = 295.0) -> None:
        super().__init__()
        self.spec = model_spec(model)
        self.controller = controller
        if state is None:
            inputs, outputs = wiring(controller, self.spec, wired_inputs, wired_outputs)
            state = LakeShoreState(self.spec, inputs, outputs)
        self.state = state
        # the simulated devices carry the bench clock; ramp status must follow the same time
        self.clock = clock or getattr(controller, "clock", None) or RealClock()
        self.firmware = firmware
        self.room_temperature_k = room_temperature_k

    # ------------------------------------------------------------- framing
    def handle_line(self, line: str) -> bytes:
        replies: list[str] = []
        with self.state.lock:
            for command in (c.strip().lstrip(":").strip() for c in _split(line, ";")):
                if not command:
                    continue
                reply = self._execute(command)
                if reply is not None:
                    replies.append(reply)
        return (";".join(replies)).encode(self.encoding) + self.terminator if replies else b""

    def _execute(self, command: str) -> str | None:
        mnemonic, _, rest = command.partition(" ")
        mnemonic = mnemonic.upper()
        params = [p.strip() for p in _split(rest, ",")] if rest.strip() else []
        try:
            return self._dispatch(mnemonic, params)
        except CommandError as error:
            self._flag(ESR_COMMAND_ERROR, command, error)
        except ExecutionError as error:
            self._flag(ESR_EXECUTION_ERROR, command, error)
        except QueryError as error:
            self._flag(ESR_QUERY_ERROR, command, error)
        except Exception as error:  # the backing device failed: report it, keep serving
            log.exception("Lake Shore emulator: backing controller failed on %r", command)
            self._flag(ESR_EXECUTION_ERROR, command, error)
        return None

    def _dispatch(self, mnemonic: str, params: list[str]) -> str | None:
        handler = _HANDLERS.get(mnemonic)
        if handler is not None:
            return handler(self, params)
        query = mnemonic.endswith("?")
        setting = SETTINGS_BY_MNEMONIC.get(mnemonic.rstrip("?"))
        if setting is None or self.spec.number not in setting.models:
            raise CommandError(f"unknown command {mnemonic!r} on a {self.spec.number}")
        index, values = resolve_index(setting, self.spec, params, query)
        if query:
            return self.state.store.show(setting, index)
        self.state.store.set(setting, index, values)
        return None

    def _flag(self, bit: int, command: str, error: Exception) -> None:
        log.debug("Lake Shore emulator: %r -> ESR bit %d (%s)", command, bit.bit_length() - 1, error)
        self.state.esr |= bit

    # ------------------------------------------------------------- parameters
    @staticmethod
    def _count(params: list[str], expected: int) -> None:
        if len(params) != expected:
            raise CommandError(f"expected {expected} parameters, got {len(params)}")

    def _input(self, text_: str) -> str:
        channel = text_.strip().upper()
        if channel not in self.spec.inputs:
            raise ExecutionError(f"input {text_!r} does not exist on a {self.spec.number}")
        return channel

    def _inputs(self, text_: str) -> list[str]:
        """One input, or all of them for ``0`` on a model that has the all-inputs form."""
        if text_.strip() == "0" and self.spec.all_inputs_query:
            return list(self.spec.inputs)
        return [self._input(text_)]

    def _output(self, text_: str, allowed: tuple[int, ...] | None = None) -> int:
        allowed = allowed or self.spec.outputs
        value = integer("output", -10**6, 10**6, 0).parse(text_)
        if value not in allowed:
            raise ExecutionError(f"output {text_} is not one of {allowed} on a {self.spec.number}")
        return int(value)

    @staticmethod
    def _float(text_: str, low: float, high: float) -> float:
        return float(number("value", low, high, 0.0).parse(text_))

    def _backing(self, action: Callable[[], Any]) -> Any:
        """Run a controller call; a refused value is an execution error."""
        try:
            return action()
        except ValueError as error:
            raise ExecutionError(str(error)) from error

    # ------------------------------------------------------------- readings
    def _kelvin(self, channel: str) -> float:
        """The input's temperature; 0 for a disabled or unconnected input (manual: RDGST?)."""
        if self._sensor_type(channel) == 0 or channel not in self.state.wired_inputs:
            return 0.0
        try:
            kelvin = float(self.controller.get_temperature(channel))
        except Exception as error:  # no data from the sensor: the query has nothing to send
            raise QueryError(str(error)) from error
        low, high = self.state.min_max.get(channel, (kelvin, kelvin))
        self.state.min_max[channel] = (min(low, kelvin), max(high, kelvin))
        return kelvin

    def _sensor_type(self, channel: str) -> int:
        return int(self.state.store.value("INTYPE", (channel,), "sensor type"))

    def _reading_status(self, channel: str) -> int:
        if self._sensor_type(channel) == 0:
            return 0
        if channel not in self.state.wired_inputs:
            return RDGST_INVALID | RDGST_SENSOR_OVER  # nothing connected: open sensor
        try:
            kelvin = float(self.controller.get_temperature(channel))
        except Exception:  # the sensor reading is invalid
            return RDGST_INVALID
        status = 0
        if kelvin < 1.4:
            status |= RDGST_T_UNDER
        if kelvin > 500.0:
            status |= RDGST_T_OVER
        return status

    def _readings(self, params: list[str], convert: Callable[[str], float], fmt: str) -> str:
        self._count(params, 1)
        return ",".join(format(convert(ch), fmt) for ch in self._inputs(params[0]))

    def _krdg(self, params: list[str]) -> str:
        return self._readings(params, self._kelvin, "+08.3f")

    def _crdg(self, params: list[str]) -> str:
        def celsius(channel: str) -> float:
            kelvin = self._kelvin(channel)
            return kelvin - _ZERO_CELSIUS_K if kelvin else 0.0
        return self._readings(params, celsius, "+08.3f")

    def _srdg(self, params: list[str]) -> str:
        def volts(channel: str) -> float:
            kelvin = self._kelvin(channel)
            return diode_volts(kelvin) if kelvin else 0.0
        return self._readings(params, volts, "+.5f")

    def _rdgst(self, params: list[str]) -> str:
        self._count(params, 1)
        return f"{self._reading_status(self._input(params[0])):03d}"

    def _mdat(self, params: list[str]) -> str:
        self._count(params, 1)
        channel = self._input(params[0])
        kelvin = self._kelvin(channel)
        low, high = self.state.min_max.get(channel, (kelvin, kelvin))
        return f"{low:+08.3f},{high:+08.3f}"

    def _mnmxrst(self, params: list[str]) -> None:
        self._count(params, 0)
        self.state.min_max.clear()

    def _temp(self, params: list[str]) -> str:
        """Thermocouple room-temperature compensation (the controller's own temperature)."""
        self._count(params, 0)
        return f"{self.room_temperature_k:+08.3f}"

    # ------------------------------------------------------------- control loop
    def _wired(self, output: int) -> bool:
        return output in self.state.wired_outputs

    def _setpoint(self, output: int) -> float:
        if self._wired(output):
            return float(self._backing(lambda: self.controller.get_setpoint(output)))
        return self.state.local_outputs[output].setpoint_k

    def _setpoint_units(self, output: int) -> int:
        """The preferred units (INTYPE: 1 K, 2 C, 3 sensor) of the output's control input; the
        setpoint is in these units (manuals, SETP: 'in the preferred units of the control loop
        sensor'). No control input: kelvin."""
        control_input = int(self.state.store.value("OUTMODE", (output,), "input"))
        if not control_input:
            return 1
        channel = self.spec.inputs[control_input - 1]
        return int(self.state.store.value("INTYPE", (channel,), "units"))

    def _to_kelvin(self, value: float, units: int) -> float:
        if units == 2:
            return value + _ZERO_CELSIUS_K
        if units == 3:
            return 77.0 + (1.02 - value) * (223.0 / 0.46)  # inverse of diode_volts
        return value

    def _from_kelvin(self, kelvin: float, units: int) -> float:
        if units == 2:
            return kelvin - _ZERO_CELSIUS_K
        if units == 3:
            return diode_volts(kelvin)
        return kelvin

    def _setp(self, params: list[str]) -> None:
        self._count(params, 2)
        out = self._output(params[0])
        units = self._setpoint_units(out)
        value = float(number("setpoint", -1e6, 1e6, 0.0).parse(params[1]))
        kelvin = self._to_kelvin(value, units)
        if not SETPOINT_LIMITS_K[0] <= kelvin <= SETPOINT_LIMITS_K[1]:
            raise ExecutionError(f"setpoint {params[1]} outside {SETPOINT_LIMITS_K} K")
        previous = self._setpoint(out)
        if self._wired(out):
            self._backing(lambda: self.controller.set_setpoint(kelvin, out))
        else:
            self.state.local_outputs[out].setpoint_k = kelvin
        book = self.state.ramps[out]
        book.started_s = self.clock.now()
        # without ramping the setpoint jumps, so there is nothing left to ramp through
        book.from_k = previous if book.enabled else kelvin
        book.to_k = kelvin

    def _setp_query(self, params: list[str]) -> str:
        self._count(params, 1)
        out = self._output(params[0])
        return f"{self._from_kelvin(self._setpoint(out), self._setpoint_units(out)):+08.3f}"

    def _heater_range(self, output: int) -> int:
        if self._wired(output):
            return int(self._backing(lambda: self.controller.get_heater_range(output)))
        return self.state.local_outputs[output].heater_range

    def _range(self, params: list[str]) -> None:
        self._count(params, 2)
        out = self._output(params[0])
        heater_range = integer("range", 0, self.spec.max_range[out], 0).parse(params[1])
        if self._wired(out):
            self._backing(lambda: self.controller.set_heater_range(heater_range, out))
        else:
            self.state.local_outputs[out].heater_range = int(heater_range)

    def _range_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return str(self._heater_range(self._output(params[0])))

    def _ramp(self, params: list[str]) -> None:
        self._count(params, 3)
        out = self._output(params[0])
        enabled = bool(integer("off/on", 0, 1, 0).parse(params[1]))
        rate = self._float(params[2], *RAMP_RATE_LIMITS_K_PER_MIN)
        if self._wired(out):
            self._backing(lambda: self.controller.set_ramp(enabled, rate / 60.0, out))
        else:
            local = self.state.local_outputs[out]
            local.ramp_enabled, local.ramp_rate_k_per_s = enabled, rate / 60.0
        book = self.state.ramps[out]
        book.enabled, book.rate_k_per_min = enabled, rate

    def _ramp_query(self, params: list[str]) -> str:
        self._count(params, 1)
        book = self.state.ramps[self._output(params[0])]
        return f"{int(book.enabled)},{book.rate_k_per_min:+06.1f}"

    def _is_ramping(self, out: int) -> bool:
        is_ramping = getattr(self.controller, "is_ramping", None)
        if self._wired(out) and callable(is_ramping):
            return bool(is_ramping(out))
        book = self.state.ramps[out]
        if not book.enabled or book.rate_k_per_min <= 0:
            return False
        duration_s = abs(book.to_k - book.from_k) / (book.rate_k_per_min / 60.0)
        return self.clock.now() - book.started_s < duration_s

    def _rampst(self, params: list[str]) -> str:
        self._count(params, 1)
        return "1" if self._is_ramping(self._output(params[0])) else "0"

    def _htr(self, params: list[str]) -> str:
        self._count(params, 1)
        out = self._output(params[0], self.spec.heater_outputs)
        if not self._wired(out):
            return f"{0.0:+06.1f}"  # no heater connected: no current flows
        return f"{float(self._backing(lambda: self.controller.get_heater_output(out))):+06.1f}"

    def _htrst(self, params: list[str]) -> str:
        """Heater status: 0 no error, 1 open load, 2 short (manuals, HTRST?)."""
        self._count(params, 1)
        out = self._output(params[0], self.spec.heater_outputs)
        open_load = not self._wired(out) and self._heater_range(out) > 0
        return "1" if open_load else "0"

    def _aout(self, params: list[str]) -> str:
        """Voltage output in percent of full scale, from its OUTMODE (336: 3, 4; 335: 2)."""
        self._count(params, 1)
        out = self._output(params[0], self.spec.voltage_outputs)
        mode, control_input, _ = self.state.store.get("OUTMODE", (out,))
        on = self._heater_range(out) > 0
        if mode == 4:  # monitor out: the input scaled between the ANALOG low and high values
            source, _, high, low, polarity = self.state.store.get("ANALOG", (out,))
            if not source or high == low:
                return f"{0.0:+07.2f}"
            kelvin = self._kelvin(self.spec.inputs[int(source) - 1])
            percent = (kelvin - float(low)) / (float(high) - float(low)) * 100.0
            return f"{min(max(percent, -100.0 if polarity else 0.0), 100.0):+07.2f}"
        if mode == 3 and on:  # open loop: the manual output
            return f"{float(self.state.store.get('MOUT', (out,))[0]):+07.2f}"
        if mode == 5 and on:  # warm-up supply: the WARMUP percentage
            return f"{float(self.state.store.get('WARMUP', (out,))[1]):+07.2f}"
        return f"{0.0:+07.2f}"

    def _htrset(self, params: list[str]) -> None:
        if not params:
            raise CommandError("HTRSET needs an output")
        out = self._output(params[0], self.spec.heater_outputs)
        fields = _htrset_fields(self.spec, out)
        if len(params) - 1 > len(fields):
            raise CommandError(f"HTRSET on a {self.spec.number} takes {len(fields)} values")
        values = list(self.state.htrset[out])
        for position, (spec_field, raw) in enumerate(zip(fields, params[1:])):
            if raw.strip():
                values[position] = spec_field.parse(raw)
        self.state.htrset[out] = values

    def _htrset_query(self, params: list[str]) -> str:
        self._count(params, 1)
        out = self._output(params[0], self.spec.heater_outputs)
        fields = _htrset_fields(self.spec, out)
        return ",".join(f.show(v) for f, v in zip(fields, self.state.htrset[out]))

    def _atune(self, params: list[str]) -> None:
        """Autotune is accepted but never begins, as on a unit whose initial conditions are not
        met: TUNEST? then reports the error with stage 00 (manuals, TUNEST?). The emulator has no
        loop model to tune."""
        self._count(params, 2)
        out = self._output(params[0])
        integer("mode", 0, 2, 2).parse(params[1])
        self.state.autotune_output = out

    def _tunest(self, params: list[str]) -> str:
        """<active>,<output>,<error>,<stage>: never active; an error if ATUNE was asked for."""
        self._count(params, 0)
        out = self.state.autotune_output
        return f"0,{out},{int(out > 0)},00"

    def _incrv(self, params: list[str]) -> None:
        """A curve whose data format does not fit the input's sensor type is not used: the
        curve number becomes 0 (manuals, INCRV)."""
        setting = SETTINGS_BY_MNEMONIC["INCRV"]
        index, values = resolve_index(setting, self.spec, params, query=False)
        self.state.store.set(setting, index, values)
        curve = int(self.state.store.get("INCRV", index)[0])
        wanted = SENSOR_CURVE_FORMAT.get(self._sensor_type(index[0]))
        if curve and self._header(curve).data_format != wanted:
            self.state.store.set(setting, index, ["0"])

    def _netid(self, params: list[str]) -> str:
        """336 Ethernet state: <LAN status>,<IP>,<mask>,<gateway>,<DNS 1>,<DNS 2>,<MAC>,<host>,
        <domain> (336 manual, NETID?). LAN status 0 static IP, 1 DHCP, 9 Ethernet disabled (the
        interface selected with INTSEL is not Ethernet); the addresses are the NET ones."""
        self._count(params, 0)
        if self.spec.number != 336:
            raise CommandError("NETID? is a 336 query")
        dhcp, _, ip, mask, gateway, dns1, dns2, host, domain, _ = self.state.store.get("NET", ())
        ethernet = int(self.state.store.get("INTSEL", ())[0]) == 1
        status = (1 if dhcp else 0) if ethernet else 9
        return ",".join(str(v) for v in (status, ip, mask, gateway, dns1, dns2, EMULATOR_MAC,
                                          host, domain))

    # ------------------------------------------------------------- alarms and relays
    def _alarm_state(self, channel: str) -> tuple[bool, bool]:
        enabled, high, low, _, latch, _, _ = self.state.store.get("ALARM", (channel,))
        if not enabled:
            self.state.latched_alarms.pop(channel, None)
            return False, False
        kelvin = self._kelvin(channel)
        now = (kelvin > float(high), kelvin < float(low))
        if latch:
            was = self.state.latched_alarms.get(channel, (False, False))
            now = (now[0] or was[0], now[1] or was[1])
            self.state.latched_alarms[channel] = now
        return now

    def _alarmst(self, params: list[str]) -> str:
        self._count(params, 1)
        high, low = self._alarm_state(self._input(params[0]))
        return f"{int(high)},{int(low)}"

    def _almrst(self, params: list[str]) -> None:
        self._count(params, 0)
        self.state.latched_alarms.clear()

    def _relayst(self, params: list[str]) -> str:
        self._count(params, 1)
        relay = integer("relay", 1, 2, 1).parse(params[0])
        mode, channel, alarm_type = self.state.store.get("RELAY", (relay,))
        if mode != 2:
            return str(int(mode == 1))
        high, low = self._alarm_state(str(channel))
        active = {0: low, 1: high, 2: high or low}[int(alarm_type)]
        return str(int(active))

    # ------------------------------------------------------------- curves
    def _curve(self, text_: str, low: int = 1) -> int:
        return int(integer("curve", low, LAST_CURVE, low).parse(text_))

    def _header(self, curve: int) -> CurveHeader:
        if curve < FIRST_USER_CURVE:
            return STANDARD_CURVES.get(curve, CurveHeader("", "", 0, 0.0, 0))
        return self.state.user_curves.get(curve, EMPTY_CURVE)

    def _crvhdr(self, params: list[str]) -> None:
        self._count(params, 6)
        curve = self._curve(params[0], FIRST_USER_CURVE)
        self.state.user_curves[curve] = CurveHeader(
            str(text("name", 15, "").parse(params[1])), str(text("SN", 10, "").parse(params[2])),
            int(integer("format", 1, 4, 2).parse(params[3])),
            float(number("limit", 0.0, 9999.0, 375.0).parse(params[4])),
            int(integer("coefficient", 1, 2, 1).parse(params[5])))

    def _crvhdr_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return self._header(self._curve(params[0])).show()

    def _crvpt(self, params: list[str]) -> None:
        if len(params) not in (4, 5):  # an optional curvature value follows on some firmware
            raise CommandError("CRVPT <curve>,<index>,<units value>,<temp value>")
        curve = self._curve(params[0], FIRST_USER_CURVE)
        index = int(integer("index", 1, CURVE_POINTS, 1).parse(params[1]))
        units = float(number("units value", -1e6, 1e6, 0.0).parse(params[2]))
        kelvin = float(number("temp value", 0.0, 9999.0, 0.0).parse(params[3]))
        self.state.curve_points.setdefault(curve, {})[index] = (units, kelvin)

    def _crvpt_query(self, params: list[str]) -> str:
        self._count(params, 2)
        curve = self._curve(params[0])
        if curve < FIRST_USER_CURVE:
            raise ExecutionError("the points of the standard curves are not emulated")
        index = int(integer("index", 1, CURVE_POINTS, 1).parse(params[1]))
        units, kelvin = self.state.curve_points.get(curve, {}).get(index, (0.0, 0.0))
        return f"{units:+.5f},{kelvin:+.3f}"

    def _crvdel(self, params: list[str]) -> None:
        self._count(params, 1)
        curve = self._curve(params[0], FIRST_USER_CURVE)
        self.state.user_curves.pop(curve, None)
        self.state.curve_points.pop(curve, None)

    def _scal(self, params: list[str]) -> None:
        """SoftCal: a user curve from a standard curve and 1-3 calibration points. The header is
        stored (named after the standard curve and the serial); the points are not computed."""
        if len(params) < 5:
            raise CommandError("SCAL <std>,<dest>,<SN>,<T1>,<U1>[,<T2>,<U2>[,<T3>,<U3>]]")
        standard = int(integer("std", 1, 20, 1).parse(params[0]))
        destination = self._curve(params[1], FIRST_USER_CURVE)
        serial = str(text("SN", 10, "").parse(params[2]))
        for raw in params[3:]:
            number("calibration point", -1e6, 1e6, 0.0).parse(raw)
        base = STANDARD_CURVES.get(standard)
        if base is None:
            raise ExecutionError(f"standard curve {standard} is reserved")
        self.state.user_curves[destination] = CurveHeader(
            f"Scal {base.name}"[:15], serial, base.data_format, base.limit_k, base.coefficient)

    # ------------------------------------------------------------- status system
    def _update_operation_events(self) -> int:
        """Latch the conditions into the operational event register; returns the condition."""
        condition = OPST_NEW_READING
        for channel in self.spec.inputs:
            if any(self._alarm_state(channel)):
                condition |= OPST_ALARM
            if self._reading_status(channel) & (RDGST_INVALID | RDGST_SENSOR_OVER):
                condition |= OPST_SENSOR_OVERLOAD
        for out, bit in ((1, OPST_LOOP1_RAMP_DONE), (2, OPST_LOOP2_RAMP_DONE)):
            ramping = self._is_ramping(out)
            if self.state.ramp_was_on.get(out) and not ramping:
                self.state.operation_events |= bit  # a ramp has just finished
            self.state.ramp_was_on[out] = ramping
        self.state.operation_events |= condition
        return condition

    def _opst(self, params: list[str]) -> str:
        self._count(params, 0)
        return f"{self._update_operation_events():03d}"

    def _opstr(self, params: list[str]) -> str:
        self._count(params, 0)
        self._update_operation_events()
        events, self.state.operation_events = self.state.operation_events, 0
        return f"{events:03d}"

    def _stb(self, params: list[str]) -> str:
        """Status byte, not cleared by reading (IEEE 488.2; manuals, *STB?)."""
        self._count(params, 0)
        self._update_operation_events()
        status = 0
        if self.state.esr & self.state.ese:
            status |= STB_EVENT_SUMMARY
        opste = int(self.state.store.get("OPSTE", ())[0])
        if self.state.operation_events & opste:
            status |= STB_OPERATION
        if status & self.state.sre:
            status |= STB_SERVICE_REQUEST
        return f"{status:03d}"

    def _idn(self, params: list[str]) -> str:
        self._count(params, 0)
        return f"LSCI,MODEL{self.spec.number},{self.spec.serial}/#######,{self.firmware}"

    def _esr(self, params: list[str]) -> str:
        self._count(params, 0)
        value, self.state.esr = self.state.esr, 0
        return str(value)

    def _ese(self, params: list[str]) -> None:
        self._count(params, 1)
        self.state.ese = int(integer("*ESE", 0, 255, 0).parse(params[0]))

    def _ese_query(self, params: list[str]) -> str:
        self._count(params, 0)
        return f"{self.state.ese:03d}"

    def _sre(self, params: list[str]) -> None:
        self._count(params, 1)
        self.state.sre = int(integer("*SRE", 0, 255, 0).parse(params[0]))

    def _sre_query(self, params: list[str]) -> str:
        self._count(params, 0)
        return f"{self.state.sre:03d}"

    def _cls(self, params: list[str]) -> None:
        self._count(params, 0)
        self.state.esr = 0
        self.state.operation_events = 0

    def _opc(self, params: list[str]) -> None:
        self._count(params, 0)
        self.state.esr |= ESR_OPERATION_COMPLETE

    def _opc_query(self, params: list[str]) -> str:
        self._count(params, 0)
        return "1"

    def _tst(self, params: list[str]) -> str:
        """Self-test result: 0 no errors found (manuals, *TST?)."""
        self._count(params, 0)
        return "0"

    def _wai(self, params: list[str]) -> None:
        self._count(params, 0)  # every command completes before the next one is read

    def _rst(self, params: list[str]) -> None:
        """Power-up settings: every output whose OUTMODE power-up enable is off goes off
        (manuals, *RST and OUTMODE); stored settings are non-volatile and stay."""
        self._count(params, 0)
        for out in self.spec.outputs:
            if not int(self.state.store.value("OUTMODE", (out,), "powerup enable")):
                self._range([str(out), "0"])

    def _dflt(self, params: list[str]) -> None:
        """Factory defaults (``DFLT 99``, the 99 guards against accidents): heaters off first."""
        self._count(params, 1)
        if params[0].strip() != "99":
            raise ExecutionError("DFLT needs 99")
        for out in self.spec.outputs:
            self._range([str(out), "0"])
        self.state.factory_defaults()


def wiring(controller: TemperatureController, spec: ModelSpec,
           inputs: tuple[str, ...] | None, outputs: tuple[int, ...] | None
           ) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Which inputs/outputs the backing controller has: given, else its ``wired_inputs`` /
    ``wired_outputs`` attributes, else all of the model's."""
    inputs = inputs if inputs is not None else getattr(controller, "wired_inputs", spec.inputs)
    outputs = outputs if outputs is not None else getattr(controller, "wired_outputs", spec.outputs)
    return (tuple(i for i in spec.inputs if i in inputs),
            tuple(o for o in spec.outputs if o in outputs))


_HANDLERS: dict[str, _Handler] = {
    "*IDN?": LakeShoreEmulator._idn,
    "*ESR?": LakeShoreEmulator._esr,
    "*ESE": LakeShoreEmulator._ese,
    "*ESE?": LakeShoreEmulator._ese_query,
    "*SRE": LakeShoreEmulator._sre,
    "*SRE?": LakeShoreEmulator._sre_query,
    "*STB?": LakeShoreEmulator._stb,
    "*CLS": LakeShoreEmulator._cls,
    "*OPC": LakeShoreEmulator._opc,
    "*OPC?": LakeShoreEmulator._opc_query,
    "*RST": LakeShoreEmulator._rst,
    "*TST?": LakeShoreEmulator._tst,
    "*WAI": LakeShoreEmulator._wai,
    "DFLT": LakeShoreEmulator._dflt,
    "OPST?": LakeShoreEmulator._opst,
    "OPSTR?": LakeShoreEmulator._opstr,
    "KRDG?": LakeShoreEmulator._krdg,
    "CRDG?": LakeShoreEmulator._crdg,
    "SRDG?": LakeShoreEmulator._srdg,
    "RDGST?": LakeShoreEmulator._rdgst,
    "MDAT?": LakeShoreEmulator._mdat,
    "MNMXRST": LakeShoreEmulator._mnmxrst,
    "TEMP?": LakeShoreEmulator._temp,
    "SETP": LakeShoreEmulator._setp,
    "SETP?": LakeShoreEmulator._setp_query,
    "RANGE": LakeShoreEmulator._range,
    "RANGE?": LakeShoreEmulator._range_query,
    "RAMP": LakeShoreEmulator._ramp,
    "RAMP?": LakeShoreEmulator._ramp_query,
    "RAMPST?": LakeShoreEmulator._rampst,
    "HTR?": LakeShoreEmulator._htr,
    "HTRST?": LakeShoreEmulator._htrst,
    "AOUT?": LakeShoreEmulator._aout,
    "HTRSET": LakeShoreEmulator._htrset,
    "HTRSET?": LakeShoreEmulator._htrset_query,
    "ATUNE": LakeShoreEmulator._atune,
    "TUNEST?": LakeShoreEmulator._tunest,
    "INCRV": LakeShoreEmulator._incrv,
    "NETID?": LakeShoreEmulator._netid,
    "ALARMST?": LakeShoreEmulator._alarmst,
    "ALMRST": LakeShoreEmulator._almrst,
    "RELAYST?": LakeShoreEmulator._relayst,
    "CRVHDR": LakeShoreEmulator._crvhdr,
    "CRVHDR?": LakeShoreEmulator._crvhdr_query,
    "CRVPT": LakeShoreEmulator._crvpt,
    "CRVPT?": LakeShoreEmulator._crvpt_query,
    "CRVDEL": LakeShoreEmulator._crvdel,
    "SCAL": LakeShoreEmulator._scal,
}


def lakeshore_server(controller: TemperatureController, model: int = 335, *,
                     clock: Clock | None = None, wired_inputs: tuple[str, ...] | None = None,
                     wired_outputs: tuple[int, ...] | None = None) -> EmulatorServer:
    """An :class:`EmulatorServer` whose connections share one controller's state.

    Serve the 336's Ethernet port with ``serve_tcp(7777)`` (or 0 for any free port in tests).
    """
    spec = model_spec(model)
    inputs, outputs = wiring(controller, spec, wired_inputs, wired_outputs)
    state = LakeShoreState(spec, inputs, outputs)
    return EmulatorServer(
        lambda: LakeShoreEmulator(controller, model, state=state, clock=clock),
        name=f"Lake Shore {model} emulator")
