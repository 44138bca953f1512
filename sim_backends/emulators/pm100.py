"""Thorlabs PM100D / PM100USB / PM400 SCPI emulator, backed by a :class:`PowerMeter`.

In the lab the meter is USBTMC; here the same SCPI text is served over a pty or TCP socket with
LF termination, so the real driver (``drivers.thorlabs_pm100``) can be pointed at it unchanged.

Modelled (instruments.md section 3): ``*IDN?``, ``*CLS``, ``*RST``, ``*OPC?``,
``SYST:SENS:IDN?``, ``SENS:CORR:WAV <nm>`` / ``?`` / ``? MIN|MAX``, ``MEAS:POW?``, ``READ?``,
``CONF:POW``, ``INIT``, ``FETC?``, ``SENS:POW:RANG:AUTO 0|1`` / ``?``,
``SENS:POW:RANG:UPP <W>`` / ``?``, ``SENS:AVER:COUN n`` / ``?``, ``SYST:ERR?``.
SCPI short and long forms, optional nodes (``SENSe``, ``:DC``, ``:SCALar``...) and numeric
suffixes (``SENSe1``) are accepted, as are several commands joined with ``;``.

Errors behave like an SCPI instrument: the command is ignored, nothing is answered, and an entry
is queued for ``SYST:ERR?``.

UNVERIFIED (not checked against a real PM100): the exact number formats of replies (``%.6E``
is used), the ``*IDN?`` firmware field, the error numbers/texts chosen for each fault, the
averaging-count limits (1..10000), the reply to ``SYST:SENS:IDN?`` with no sensor (``no sensor``
alone), and the over-range rule (reading above the manual range upper limit -> 9.9E37).
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.errors import InstrumentError
from drivers.interfaces import PowerMeter
from sim_backends.emulators.server import EmulatorServer, LineProtocol

log = logging.getLogger(__name__)

#: What the PM100 reports when the input is beyond the range (SCPI "overflow").
OVER_RANGE_READING = 9.9e37

USB_PRODUCT_IDS: dict[str, int] = {"PM100D": 0x8078, "PM100USB": 0x8072, "PM400": 0x8075}

AVERAGING_LIMITS = (1, 10000)


@dataclass(frozen=True)
class SensorHead:
    """What ``SYST:SENS:IDN?`` reports and the limits the head imposes.

    Defaults describe a Thorlabs S121C-like photodiode head (400-1100 nm, 500 mW): flags
    1 (power) + 16 (response settable) + 32 (wavelength settable) + 256 (temperature sensor).
    """

    name: str = "S121C"
    serial: str = "11223344"
    calibration: str = "07-Jan-2025"
    sensor_type: int = 1
    subtype: int = 18
    flags: int = 305
    min_wavelength_nm: float = 400.0
    max_wavelength_nm: float = 1100.0
    max_power_w: float = 0.5

    def idn_reply(self) -> str:
        return (f"{self.name},{self.serial},{self.calibration},{self.sensor_type},"
                f"{self.subtype},{self.flags}")


@dataclass
class PM100State:
    """Instrument-wide settings, shared by every connection to one emulated meter."""

    auto_range: bool = True
    range_upper_w: float = 0.5
    averaging: int = 1
    last_reading_w: float | None = None
    errors: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=30))
    lock: threading.RLock = field(default_factory=threading.RLock)


# ------------------------------------------------------------------ SCPI header matching
@dataclass(frozen=True)
class _Node:
    short: str
    long: str
    optional: bool

    def matches(self, token: str) -> bool:
        # numeric suffixes select a channel; the PM100 has one sensor so any suffix is accepted
        stripped = token.rstrip("0123456789") or token
        return stripped in (self.short, self.long)


def _parse_pattern(pattern: str) -> tuple[_Node, ...]:
    """``"[SENSe]:CORRection:WAVelength"`` -> nodes (short form = the upper-case letters)."""
    nodes = []
    for part in pattern.replace("[:", ":[").split(":"):
        optional = part.startswith("[") and part.endswith("]")
        word = part.strip("[]")
        short = "".join(c for c in word if not c.islower())
        nodes.append(_Node(short.upper(), word.upper(), optional))
    return tuple(nodes)


def _header_matches(tokens: list[str], nodes: tuple[_Node, ...]) -> bool:
    if not nodes:
        return not tokens
    node = nodes[0]
    if tokens and node.matches(tokens[0]) and _header_matches(tokens[1:], nodes[1:]):
        return True
    return node.optional and _header_matches(tokens, nodes[1:])


_Handler = Callable[["PM100Emulator", str], str | None]


class PM100Emulator(LineProtocol):
    """One connection's view of an emulated PM100; readings come from ``meter``.

    ``meter`` is the simulated bench's power meter (SI units); the emulator converts nm <-> m,
    adds range/averaging/error-queue behaviour, and replies with SCPI text + LF.
    """

    encoding = "ascii"

    def __init__(self, meter: PowerMeter, model: str = "PM100D", *,
                 sensor: SensorHead | None = SensorHead(), serial_number: str = "P0012345",
                 firmware: str = "1.7.0", state: PM100State | None = None) -> None:
        super().__init__()
        if model not in USB_PRODUCT_IDS:
            raise ValueError(f"model={model!r} is not allowed; allowed values: "
                             f"{', '.join(map(repr, USB_PRODUCT_IDS))}")
        self.meter = meter
        self.model = model
        self.sensor = sensor
        self.serial_number = serial_number
        self.firmware = firmware
        self.state = state if state is not None else PM100State(
            range_upper_w=sensor.max_power_w if sensor else 0.5)

    # ------------------------------------------------------------- framing
    def handle_line(self, line: str) -> bytes:
        replies: list[str] = []
        with self.state.lock:
            for command in (c.strip() for c in line.split(";")):
                if not command:
                    continue
                reply = self._dispatch(command)
                if reply is not None:
                    replies.append(reply)
        return (";".join(replies) + "\n").encode(self.encoding) if replies else b""

    def _dispatch(self, command: str) -> str | None:
        header, _, argument = command.partition(" ")
        argument = argument.strip()
        is_query = header.endswith("?")
        tokens = [t for t in header.rstrip("?").upper().lstrip(":").split(":")]
        for nodes, query, handler in _COMMANDS:
            if query == is_query and _header_matches(tokens, nodes):
                try:
                    return handler(self, argument)
                except _ScpiError as error:
                    self._queue_error(error.code, error.text)
                except ValueError as error:  # the backing meter refused the value
                    log.debug("PM100 emulator: %r refused by the meter: %s", command, error)
                    self._queue_error(-222, "Data out of range")
                except Exception:  # the backing device failed: report it, keep serving
                    log.exception("PM100 emulator: backing meter failed on %r", command)
                    self._queue_error(-300, "Device-specific error")
                return None
        self._queue_error(-113, "Undefined header")
        return None

    def _queue_error(self, code: int, text: str) -> None:
        log.debug("PM100 emulator error %d %s", code, text)
        self.state.errors.append((code, text))

    # ------------------------------------------------------------- helpers
    def _number(self, argument: str) -> float:
        try:
            return float(argument)
        except ValueError:
            raise _ScpiError(-104, "Data type error") from None

    def _wavelength_limits(self) -> tuple[float, float]:
        if self.sensor is None:
            raise _ScpiError(-241, "Hardware missing")
        return self.sensor.min_wavelength_nm, self.sensor.max_wavelength_nm

    def _measure(self) -> float:
        if self.sensor is None:
            raise _ScpiError(-241, "Hardware missing")
        try:
            power = self.meter.read_power()
        except InstrumentError:
            # the backing meter saturated: the real head reports SCPI overflow
            power = OVER_RANGE_READING
        if not self.state.auto_range and power > self.state.range_upper_w:
            power = OVER_RANGE_READING
        self.state.last_reading_w = power
        return power

    # ------------------------------------------------------------- handlers
    def _idn(self, _: str) -> str:
        return f"Thorlabs,{self.model},{self.serial_number},{self.firmware}"

    def _cls(self, _: str) -> None:
        self.state.errors.clear()

    def _rst(self, _: str) -> None:
        self.state.auto_range = True
        self.state.range_upper_w = self.sensor.max_power_w if self.sensor else 0.5
        self._set_averaging(str(AVERAGING_LIMITS[0]))
        self.state.last_reading_w = None

    def _opc(self, _: str) -> str:
        return "1"

    def _sensor_idn(self, _: str) -> str:
        return self.sensor.idn_reply() if self.sensor else "no sensor"

    def _set_wavelength(self, argument: str) -> None:
        low, high = self._wavelength_limits()
        nm = self._number(argument)
        if not low <= nm <= high:
            raise _ScpiError(-222, "Data out of range")
        self.meter.set_wavelength(nm * 1e-9)

    def _get_wavelength(self, argument: str) -> str:
        low, high = self._wavelength_limits()
        selector = argument.upper()
        if selector in ("MIN", "MINIMUM"):
            return f"{low:.6E}"
        if selector in ("MAX", "MAXIMUM"):
            return f"{high:.6E}"
        if selector:
            raise _ScpiError(-224, "Illegal parameter value")
        return f"{self.meter.get_wavelength() * 1e9:.6E}"

    def _measure_power(self, _: str) -> str:
        return f"{self._measure():.6E}"

    def _configure_power(self, _: str) -> None:
        self.state.last_reading_w = None

    def _initiate(self, _: str) -> None:
        self._measure()

    def _fetch(self, _: str) -> str:
        if self.state.last_reading_w is None:
            raise _ScpiError(-230, "Data corrupt or stale")
        return f"{self.state.last_reading_w:.6E}"

    def _set_auto_range(self, argument: str) -> None:
        value = argument.upper()
        if value in ("1", "ON"):
            on = True
        elif value in ("0", "OFF"):
            on = False
        else:
            raise _ScpiError(-224, "Illegal parameter value")
        self.state.auto_range = on
        self.meter.set_auto_range(on)

    def _get_auto_range(self, _: str) -> str:
        return "1" if self.state.auto_range else "0"

    def _set_range_upper(self, argument: str) -> None:
        watts = self._number(argument)
        limit = self.sensor.max_power_w if self.sensor else 0.5
        if not 0.0 < watts <= limit:
            raise _ScpiError(-222, "Data out of range")
        self.state.range_upper_w = watts
        # choosing a manual range switches auto-ranging off, as on the instrument's front panel
        self.state.auto_range = False
        self.meter.set_auto_range(False)

    def _get_range_upper(self, _: str) -> str:
        return f"{self.state.range_upper_w:.6E}"

    def _set_averaging(self, argument: str) -> None:
        number = self._number(argument)
        low, high = AVERAGING_LIMITS
        if number != int(number) or not low <= number <= high:
            raise _ScpiError(-222, "Data out of range")
        self.state.averaging = int(number)
        self.meter.set_averaging(int(number))

    def _get_averaging(self, _: str) -> str:
        return str(self.state.averaging)

    def _next_error(self, _: str) -> str:
        if not self.state.errors:
            return '+0,"No error"'
        code, text = self.state.errors.popleft()
        return f'{code:+d},"{text}"'


class _ScpiError(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


_COMMAND_TABLE: list[tuple[str, bool, _Handler]] = [
    ("*IDN", True, PM100Emulator._idn),
    ("*CLS", False, PM100Emulator._cls),
    ("*RST", False, PM100Emulator._rst),
    ("*OPC", True, PM100Emulator._opc),
    ("SYSTem:SENSor:IDN", True, PM100Emulator._sensor_idn),
    ("[SENSe]:CORRection:WAVelength", False, PM100Emulator._set_wavelength),
    ("[SENSe]:CORRection:WAVelength", True, PM100Emulator._get_wavelength),
    ("MEASure[:SCALar]:POWer", True, PM100Emulator._measure_power),
    ("READ", True, PM100Emulator._measure_power),
    ("CONFigure[:SCALar]:POWer", False, PM100Emulator._configure_power),
    ("INITiate[:IMMediate]", False, PM100Emulator._initiate),
    ("FETCh", True, PM100Emulator._fetch),
    ("[SENSe]:POWer[:DC]:RANGe:AUTO", False, PM100Emulator._set_auto_range),
    ("[SENSe]:POWer[:DC]:RANGe:AUTO", True, PM100Emulator._get_auto_range),
    ("[SENSe]:POWer[:DC]:RANGe[:UPPer]", False, PM100Emulator._set_range_upper),
    ("[SENSe]:POWer[:DC]:RANGe[:UPPer]", True, PM100Emulator._get_range_upper),
    ("[SENSe]:AVERage[:COUNt]", False, PM100Emulator._set_averaging),
    ("[SENSe]:AVERage[:COUNt]", True, PM100Emulator._get_averaging),
    ("SYSTem:ERRor[:NEXT]", True, PM100Emulator._next_error),
]

_COMMANDS: list[tuple[tuple[_Node, ...], bool, _Handler]] = [
    (_parse_pattern(pattern), query, handler) for pattern, query, handler in _COMMAND_TABLE
]


def pm100_server(meter: PowerMeter, model: str = "PM100D", *,
                 sensor: SensorHead | None = SensorHead()) -> EmulatorServer:
    """An :class:`EmulatorServer` whose connections all share one meter's settings.

    Call ``serve_pty()`` and/or ``serve_tcp()`` on the result.
    """
    state = PM100State(range_upper_w=sensor.max_power_w if sensor else 0.5)
    return EmulatorServer(lambda: PM100Emulator(meter, model, sensor=sensor, state=state),
                          name=f"{model} emulator")
