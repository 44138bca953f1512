"""Lake Shore 335 / 336 emulator, backed by a :class:`TemperatureController`.

Speaks the controllers' ASCII protocol (instruments.md section 7): one line per message, CRLF
replies, commands joined with ``;`` in one line, no reply at all to set commands, and the
IEEE-488.2 event status register read with ``*ESR?`` (read clears it). Clients such as the
official ``lakeshore`` package append ``;*ESR?`` to every message and split the reply on ``;``.

ESR bits set by the emulator:
- bit 5 (32, command error): unknown mnemonic, wrong number of parameters, non-numeric value;
- bit 4 (16, execution error): value or channel out of range for this model, or the backing
  controller refused the value (it raised ValueError);
- bit 2 (4, query error): a query whose data is not available (the backing controller raised
  while reading).
A failing command produces no reply segment; the rest of the line is still executed.

The backing controller supplies temperatures, setpoints, heater ranges, heater output and ramp
(K/s; the wire uses K/min). PID, OUTMODE, HTRSET, MOUT, INTYPE, INCRV, INNAME, TLIMIT and the
ramp bookkeeping are kept here, in a state object shared by all connections of one server.

UNVERIFIED (not checked against a real 335/336): reply number formats (``+077.000`` etc.), the
``*IDN?`` serial/firmware fields, which ESR bit a real unit sets for each fault and whether it
answers the rest of a compound line after an error, parameter limits other than PID (taken from
the manual summary), and the ``SRDG?`` value (a straight-line approximation of a DT-670 diode,
not its calibration curve).
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.clock import Clock, RealClock
from drivers.interfaces import TemperatureController
from sim_backends.emulators.server import EmulatorServer, LineProtocol

log = logging.getLogger(__name__)

ESR_QUERY_ERROR = 1 << 2
ESR_EXECUTION_ERROR = 1 << 4
ESR_COMMAND_ERROR = 1 << 5


@dataclass(frozen=True)
class ModelSpec:
    """What differs between the 335 and the 336."""

    number: int
    inputs: tuple[str, ...]
    outputs: tuple[int, ...]
    #: heater range limit per output (336 outputs 3 and 4 are on/off only)
    max_range: dict[int, int]
    serial: str


MODELS: dict[int, ModelSpec] = {
    335: ModelSpec(335, ("A", "B"), (1, 2), {1: 3, 2: 3}, "LSA1A2B"),
    336: ModelSpec(336, ("A", "B", "C", "D"), (1, 2, 3, 4), {1: 3, 2: 3, 3: 1, 4: 1}, "LSA3C4D"),
}

PID_LIMITS = {"P": (0.1, 1000.0), "I": (0.1, 1000.0), "D": (0.0, 200.0)}
RAMP_RATE_LIMITS_K_PER_MIN = (0.0, 100.0)  # 0 = ramp as fast as possible
SETPOINT_LIMITS_K = (0.0, 1500.0)
TLIMIT_LIMITS_K = (0.0, 2000.0)

_ZERO_CELSIUS_K = 273.15


def diode_volts(kelvin: float) -> float:
    """Sensor units for SRDG?: straight line through DT-670 points (77 K, 1.02 V), (300 K, 0.56 V)."""
    return 1.02 - (kelvin - 77.0) * (0.46 / 223.0)


@dataclass
class OutputSettings:
    pid: tuple[float, float, float] = (50.0, 20.0, 0.0)
    ramp_enabled: bool = False
    ramp_rate_k_per_min: float = 10.0
    outmode: tuple[int, int, int] = (1, 1, 0)
    htrset: tuple[int, int, float, int] = (1, 2, 0.0, 1)
    manual_output: float = 0.0
    # ramp bookkeeping for RAMPST?: when the last setpoint change started, from and to
    ramp_started_s: float = 0.0
    ramp_from_k: float = 0.0
    ramp_to_k: float = 0.0


@dataclass
class InputSettings:
    intype: tuple[int, int, int, int, int] = (1, 0, 0, 0, 1)  # diode, no autorange, 2.5 V, -, K
    curve: int = 21
    name: str = "Input"
    tlimit_k: float = 0.0


@dataclass
class LakeShoreState:
    """Instrument-wide state shared by all connections to one emulated controller."""

    spec: ModelSpec
    esr: int = 0
    outputs: dict[int, OutputSettings] = field(default_factory=dict)
    inputs: dict[str, InputSettings] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for out in self.spec.outputs:
            self.outputs.setdefault(out, OutputSettings())
        for channel in self.spec.inputs:
            self.inputs.setdefault(channel, InputSettings(name=f"Input {channel}"))


class _CommandError(Exception):
    """Sets ESR bit 5."""


class _ExecutionError(Exception):
    """Sets ESR bit 4."""


class _QueryError(Exception):
    """Sets ESR bit 2."""


_Handler = Callable[["LakeShoreEmulator", list[str]], str | None]

#: ';' separates commands and ',' parameters, except inside double quotes (INNAME)
_SPLIT_OUTSIDE_QUOTES = r'{sep}(?=(?:[^"]|"[^"]*")*$)'


def _split(text: str, separator: str) -> list[str]:
    return re.split(_SPLIT_OUTSIDE_QUOTES.format(sep=re.escape(separator)), text)


class LakeShoreEmulator(LineProtocol):
    """One connection to an emulated Lake Shore 335/336 backed by ``controller``."""

    encoding = "ascii"
    terminator = b"\r\n"

    def __init__(self, controller: TemperatureController, model: int = 335, *,
                 state: LakeShoreState | None = None, clock: Clock | None = None,
                 firmware: str = "2.9") -> None:
        super().__init__()
        if model not in MODELS:
            raise ValueError(f"model={model!r} is not allowed; allowed values: 335, 336")
        self.controller = controller
        self.spec = MODELS[model]
        self.state = state if state is not None else LakeShoreState(self.spec)
        # the simulated devices carry the bench clock; ramp status must follow the same time
        self.clock = clock or getattr(controller, "clock", None) or RealClock()
        self.firmware = firmware

    # ------------------------------------------------------------- framing
    def handle_line(self, line: str) -> bytes:
        replies: list[str] = []
        with self.state.lock:
            for command in (c.strip() for c in _split(line, ";")):
                if not command:
                    continue
                reply = self._execute(command)
                if reply is not None:
                    replies.append(reply)
        return (";".join(replies)).encode(self.encoding) + self.terminator if replies else b""

    def _execute(self, command: str) -> str | None:
        mnemonic, _, rest = command.partition(" ")
        params = [p.strip() for p in _split(rest, ",")] if rest.strip() else []
        handler = _HANDLERS.get(mnemonic.upper())
        try:
            if handler is None:
                raise _CommandError(f"unknown command {mnemonic!r}")
            return handler(self, params)
        except _CommandError as error:
            self._flag(ESR_COMMAND_ERROR, command, error)
        except _ExecutionError as error:
            self._flag(ESR_EXECUTION_ERROR, command, error)
        except _QueryError as error:
            self._flag(ESR_QUERY_ERROR, command, error)
        except Exception as error:  # the backing device failed: report it, keep serving
            log.exception("Lake Shore emulator: backing controller failed on %r", command)
            self._flag(ESR_EXECUTION_ERROR, command, error)
        return None

    def _flag(self, bit: int, command: str, error: Exception) -> None:
        log.debug("Lake Shore emulator: %r -> ESR bit %d (%s)", command, bit.bit_length() - 1, error)
        self.state.esr |= bit

    # ------------------------------------------------------------- parameter parsing
    @staticmethod
    def _count(params: list[str], expected: int) -> None:
        if len(params) != expected:
            raise _CommandError(f"expected {expected} parameters, got {len(params)}")

    @staticmethod
    def _float(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise _CommandError(f"{text!r} is not a number") from None

    @classmethod
    def _int(cls, text: str, low: int, high: int) -> int:
        value = cls._float(text)
        if value != int(value):
            raise _CommandError(f"{text!r} is not an integer")
        if not low <= value <= high:
            raise _ExecutionError(f"{text} outside {low}..{high}")
        return int(value)

    @classmethod
    def _bounded(cls, text: str, low: float, high: float) -> float:
        value = cls._float(text)
        if not low <= value <= high:
            raise _ExecutionError(f"{text} outside {low}..{high}")
        return value

    def _input(self, text: str) -> str:
        channel = text.strip().upper()
        if channel not in self.spec.inputs:
            raise _ExecutionError(f"input {text!r} does not exist on a {self.spec.number}")
        return channel

    def _output(self, text: str) -> int:
        return self._int(text, min(self.spec.outputs), max(self.spec.outputs))

    def _backing(self, action: Callable[[], object]) -> object:
        """Run a controller call; a refused value is an execution error."""
        try:
            return action()
        except ValueError as error:
            raise _ExecutionError(str(error)) from error

    def _temperature(self, channel: str) -> float:
        try:
            return self.controller.get_temperature(channel)
        except Exception as error:  # no data from the sensor: the query has nothing to send
            raise _QueryError(str(error)) from error

    # ------------------------------------------------------------- common commands
    def _idn(self, params: list[str]) -> str:
        self._count(params, 0)
        return f"LSCI,MODEL{self.spec.number},{self.spec.serial}/#######,{self.firmware}"

    def _esr(self, params: list[str]) -> str:
        self._count(params, 0)
        value, self.state.esr = self.state.esr, 0
        return str(value)

    def _cls(self, params: list[str]) -> None:
        self._count(params, 0)
        self.state.esr = 0

    def _opc(self, params: list[str]) -> str:
        self._count(params, 0)
        return "1"

    def _rst(self, params: list[str]) -> None:
        self._count(params, 0)
        for out in self.spec.outputs:
            self._backing(lambda out=out: self.controller.set_heater_range(0, out))
        self.state.outputs = {out: OutputSettings() for out in self.spec.outputs}
        self.state.inputs = {ch: InputSettings(name=f"Input {ch}") for ch in self.spec.inputs}

    # ------------------------------------------------------------- readings
    def _krdg(self, params: list[str]) -> str:
        self._count(params, 1)
        return f"{self._temperature(self._input(params[0])):+08.3f}"

    def _crdg(self, params: list[str]) -> str:
        self._count(params, 1)
        return f"{self._temperature(self._input(params[0])) - _ZERO_CELSIUS_K:+08.3f}"

    def _srdg(self, params: list[str]) -> str:
        self._count(params, 1)
        return f"{diode_volts(self._temperature(self._input(params[0]))):+.5f}"

    def _rdgst(self, params: list[str]) -> str:
        self._count(params, 1)
        channel = self._input(params[0])
        try:
            kelvin = self.controller.get_temperature(channel)
        except Exception:  # the sensor reading is invalid
            return "001"
        status = 0
        if kelvin < 1.4:
            status |= 16
        if kelvin > 500.0:
            status |= 32
        return f"{status:03d}"

    # ------------------------------------------------------------- control loop
    def _setp(self, params: list[str]) -> None:
        self._count(params, 2)
        out = self._output(params[0])
        kelvin = self._bounded(params[1], *SETPOINT_LIMITS_K)
        settings = self.state.outputs[out]
        previous = float(self._backing(lambda: self.controller.get_setpoint(out)))  # type: ignore[arg-type]
        self._backing(lambda: self.controller.set_setpoint(kelvin, out))
        settings.ramp_started_s = self.clock.now()
        # without ramping the setpoint jumps, so there is nothing left to ramp through
        settings.ramp_from_k = previous if settings.ramp_enabled else kelvin
        settings.ramp_to_k = kelvin

    def _setp_query(self, params: list[str]) -> str:
        self._count(params, 1)
        out = self._output(params[0])
        return f"{float(self._backing(lambda: self.controller.get_setpoint(out))):+08.3f}"  # type: ignore[arg-type]

    def _range(self, params: list[str]) -> None:
        self._count(params, 2)
        out = self._output(params[0])
        heater_range = self._int(params[1], 0, self.spec.max_range[out])
        self._backing(lambda: self.controller.set_heater_range(heater_range, out))

    def _range_query(self, params: list[str]) -> str:
        self._count(params, 1)
        out = self._output(params[0])
        return str(self._backing(lambda: self.controller.get_heater_range(out)))

    def _pid(self, params: list[str]) -> None:
        self._count(params, 4)
        out = self._output(params[0])
        values = tuple(self._bounded(text, *PID_LIMITS[name])
                       for name, text in zip("PID", params[1:]))
        self.state.outputs[out].pid = values  # type: ignore[assignment]

    def _pid_query(self, params: list[str]) -> str:
        self._count(params, 1)
        p, i, d = self.state.outputs[self._output(params[0])].pid
        return f"{p:+07.1f},{i:+07.1f},{d:+06.1f}"

    def _ramp(self, params: list[str]) -> None:
        self._count(params, 3)
        out = self._output(params[0])
        enabled = bool(self._int(params[1], 0, 1))
        rate = self._bounded(params[2], *RAMP_RATE_LIMITS_K_PER_MIN)
        self._backing(lambda: self.controller.set_ramp(enabled, rate / 60.0, out))
        settings = self.state.outputs[out]
        settings.ramp_enabled = enabled
        settings.ramp_rate_k_per_min = rate

    def _ramp_query(self, params: list[str]) -> str:
        self._count(params, 1)
        settings = self.state.outputs[self._output(params[0])]
        return f"{int(settings.ramp_enabled)},{settings.ramp_rate_k_per_min:+06.1f}"

    def _rampst(self, params: list[str]) -> str:
        self._count(params, 1)
        out = self._output(params[0])
        is_ramping = getattr(self.controller, "is_ramping", None)
        if callable(is_ramping):
            return "1" if is_ramping(out) else "0"
        settings = self.state.outputs[out]
        if not settings.ramp_enabled or settings.ramp_rate_k_per_min <= 0:
            return "0"
        duration_s = abs(settings.ramp_to_k - settings.ramp_from_k) / (
            settings.ramp_rate_k_per_min / 60.0)
        return "1" if self.clock.now() - settings.ramp_started_s < duration_s else "0"

    def _htr(self, params: list[str]) -> str:
        self._count(params, 1)
        out = self._output(params[0])
        return f"{float(self._backing(lambda: self.controller.get_heater_output(out))):+06.1f}"  # type: ignore[arg-type]

    def _outmode(self, params: list[str]) -> None:
        self._count(params, 4)
        out = self._output(params[0])
        mode = self._int(params[1], 0, 5)
        control_input = self._int(params[2], 0, len(self.spec.inputs))
        powerup = self._int(params[3], 0, 1)
        self.state.outputs[out].outmode = (mode, control_input, powerup)

    def _outmode_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return ",".join(str(v) for v in self.state.outputs[self._output(params[0])].outmode)

    def _htrset(self, params: list[str]) -> None:
        self._count(params, 5)
        out = self._output(params[0])
        resistance = self._int(params[1], 1, 2)
        max_current = self._int(params[2], 0, 4)
        max_user_current = self._bounded(params[3], 0.0, 2.0)
        display = self._int(params[4], 1, 2)
        self.state.outputs[out].htrset = (resistance, max_current, max_user_current, display)

    def _htrset_query(self, params: list[str]) -> str:
        self._count(params, 1)
        resistance, max_current, user, display = self.state.outputs[self._output(params[0])].htrset
        return f"{resistance},{max_current},{user:+.3f},{display}"

    def _mout(self, params: list[str]) -> None:
        self._count(params, 2)
        out = self._output(params[0])
        self.state.outputs[out].manual_output = self._bounded(params[1], 0.0, 100.0)

    def _mout_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return f"{self.state.outputs[self._output(params[0])].manual_output:+07.2f}"

    # ------------------------------------------------------------- input configuration
    def _intype(self, params: list[str]) -> None:
        self._count(params, 6)
        channel = self._input(params[0])
        self.state.inputs[channel].intype = (
            self._int(params[1], 0, 4), self._int(params[2], 0, 1), self._int(params[3], 0, 8),
            self._int(params[4], 0, 1), self._int(params[5], 1, 3))

    def _intype_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return ",".join(str(v) for v in self.state.inputs[self._input(params[0])].intype)

    def _incrv(self, params: list[str]) -> None:
        self._count(params, 2)
        self.state.inputs[self._input(params[0])].curve = self._int(params[1], 0, 59)

    def _incrv_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return f"{self.state.inputs[self._input(params[0])].curve:02d}"

    def _inname(self, params: list[str]) -> None:
        self._count(params, 2)
        channel = self._input(params[0])
        name = params[1].strip('"')
        if len(name) > 15:
            raise _ExecutionError(f"name {name!r} longer than 15 characters")
        self.state.inputs[channel].name = name

    def _inname_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return self.state.inputs[self._input(params[0])].name

    def _tlimit(self, params: list[str]) -> None:
        self._count(params, 2)
        channel = self._input(params[0])
        self.state.inputs[channel].tlimit_k = self._bounded(params[1], *TLIMIT_LIMITS_K)

    def _tlimit_query(self, params: list[str]) -> str:
        self._count(params, 1)
        return f"{self.state.inputs[self._input(params[0])].tlimit_k:+08.3f}"


_HANDLERS: dict[str, _Handler] = {
    "*IDN?": LakeShoreEmulator._idn,
    "*ESR?": LakeShoreEmulator._esr,
    "*CLS": LakeShoreEmulator._cls,
    "*OPC?": LakeShoreEmulator._opc,
    "*RST": LakeShoreEmulator._rst,
    "KRDG?": LakeShoreEmulator._krdg,
    "CRDG?": LakeShoreEmulator._crdg,
    "SRDG?": LakeShoreEmulator._srdg,
    "RDGST?": LakeShoreEmulator._rdgst,
    "SETP": LakeShoreEmulator._setp,
    "SETP?": LakeShoreEmulator._setp_query,
    "RANGE": LakeShoreEmulator._range,
    "RANGE?": LakeShoreEmulator._range_query,
    "PID": LakeShoreEmulator._pid,
    "PID?": LakeShoreEmulator._pid_query,
    "RAMP": LakeShoreEmulator._ramp,
    "RAMP?": LakeShoreEmulator._ramp_query,
    "RAMPST?": LakeShoreEmulator._rampst,
    "HTR?": LakeShoreEmulator._htr,
    "OUTMODE": LakeShoreEmulator._outmode,
    "OUTMODE?": LakeShoreEmulator._outmode_query,
    "HTRSET": LakeShoreEmulator._htrset,
    "HTRSET?": LakeShoreEmulator._htrset_query,
    "MOUT": LakeShoreEmulator._mout,
    "MOUT?": LakeShoreEmulator._mout_query,
    "INTYPE": LakeShoreEmulator._intype,
    "INTYPE?": LakeShoreEmulator._intype_query,
    "INCRV": LakeShoreEmulator._incrv,
    "INCRV?": LakeShoreEmulator._incrv_query,
    "INNAME": LakeShoreEmulator._inname,
    "INNAME?": LakeShoreEmulator._inname_query,
    "TLIMIT": LakeShoreEmulator._tlimit,
    "TLIMIT?": LakeShoreEmulator._tlimit_query,
}


def lakeshore_server(controller: TemperatureController, model: int = 335, *,
                     clock: Clock | None = None) -> EmulatorServer:
    """An :class:`EmulatorServer` whose connections share one controller's state.

    Serve the 336's Ethernet port with ``serve_tcp(7777)`` (or 0 for any free port in tests).
    """
    if model not in MODELS:
        raise ValueError(f"model={model!r} is not allowed; allowed values: 335, 336")
    state = LakeShoreState(MODELS[model])
    return EmulatorServer(
        lambda: LakeShoreEmulator(controller, model, state=state, clock=clock),
        name=f"Lake Shore {model} emulator")
