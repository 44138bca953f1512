"""Thorlabs PM100D / PM100USB / PM400 SCPI emulator, backed by a :class:`PowerMeter`.

In the lab the meter is USBTMC; here the same SCPI text is served over a pty or TCP socket with
LF termination, so the real driver (``drivers.thorlabs_pm100``) can be pointed at it unchanged.

Command set: the SCPI command list of the PM100D / PM100USB / PM400 manuals ("SCPI commands"
chapter), as client libraries use it (see docs/drivers/pm100.md for the list and what is not
covered). IEEE 488.2: ``*IDN?``, ``*RST``, ``*TST?``, ``*CLS``, ``*ESE``/``?``, ``*ESR?``,
``*SRE``/``?``, ``*STB?``, ``*OPC``/``?``, ``*WAI``. SYSTem: ``ERRor[:NEXT]?``, ``ERRor:COUNt?``,
``VERSion?``, ``SENSor:IDN?``, ``BEEPer``, ``LFRequency``, ``DATE``, ``TIME``; ``STATus`` operation
/ questionable / measurement / auxiliary registers and ``PRESet``; ``CALibration:STRing?``;
``DISPlay`` brightness and contrast. Measurement: ``CONFigure`` (``?`` answers the configured
quantity), ``INITiate``, ``FETCh?``, ``READ?``, ``ABORt``, ``MEASure`` power, current, power
density, temperature, resistance, frequency (voltage and energy answer "hardware missing" on a
photodiode head). SENSe: averaging, wavelength, beam diameter, input attenuation, photodiode
responsivity, zero adjustment, power and current range / auto-range / reference / delta mode,
power unit W | DBM. INPut: photodiode bandwidth filter, adapter type.

SCPI short and long forms, any letter case, optional nodes (``SENSe``, ``:DC``, ``:SCALar``...),
numeric suffixes (``SENSe1``), ``MIN``/``MAX``/``DEF`` and several commands joined with ``;``
are accepted. Errors behave like an SCPI instrument: the command is ignored, nothing is
answered, an entry is queued for ``SYST:ERR?`` and the matching ``*ESR?`` bit is set (command
error -1xx: bit 5, execution error -2xx: bit 4, device error -3xx: bit 3, query error -4xx:
bit 2). ``*STB?`` bit 2 reports a non-empty error queue (SCPI-99).

Readings come from the bench's meter: power at the head, less the zero offset, times the input
attenuation, minus the reference in delta mode, over-range (9.9E37) above a manual range; current
is power times the photodiode responsivity; power density divides by the beam area.

UNVERIFIED (not checked against a real PM100): the exact number formats of replies (``%.6E``
is used), the ``*IDN?`` firmware field and ``SYST:VERS?`` value, the error numbers/texts chosen
for each fault, the averaging-count limits (1..10000), the reply to ``SYST:SENS:IDN?`` with no
sensor (``no sensor`` alone), the over-range rule (reading above the manual range upper limit ->
9.9E37), the head temperature and thermistor values (configuration of the emulated head), and
frequency (0 Hz: the emulated light is treated as CW).
"""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.errors import InstrumentError
from drivers.interfaces import PowerMeter
from sim_backends.emulators import scpi
from sim_backends.emulators.scpi import ScpiError
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
    #: photodiode responsivity at the calibration wavelength, A/W (SENS:CORR:POW:PDIO:RESP)
    responsivity_a_per_w: float = 0.2
    #: the head's NTC thermistor: temperature it reports, its 25 C resistance and B constant
    head_temperature_c: float = 25.0
    thermistor_r25_ohm: float = 10_000.0
    thermistor_beta_k: float = 3988.0

    @property
    def wavelength_settable(self) -> bool:
        return bool(self.flags & 32)

    @property
    def is_photodiode(self) -> bool:
        return self.sensor_type == 1

    def idn_reply(self) -> str:
        return (f"{self.name},{self.serial},{self.calibration},{self.sensor_type},"
                f"{self.subtype},{self.flags}")


#: measurement functions CONFigure / MEASure know, and what CONFigure? answers for each
FUNCTIONS: dict[str, str] = {
    "POW": "POWer", "CURR": "CURRent[:DC]", "VOLT": "VOLTage[:DC]", "ENER": "ENERgy",
    "FREQ": "FREQuency", "PDEN": "PDENsity", "EDEN": "EDENsity", "RES": "RESistance",
    "TEMP": "TEMPerature",
}
ADAPTER_TYPES = ("PHOTodiode", "THERmal", "PYRo")
BEAM_DIAMETER_LIMITS_MM = (0.01, 100.0)
ATTENUATION_LIMITS_DB = (-60.0, 60.0)
CURRENT_RANGE_LIMITS_A = (1e-9, 10e-3)


@dataclass
class PM100State:
    """Instrument-wide settings, shared by every connection to one emulated meter."""

    auto_range: bool = True
    range_upper_w: float = 0.5
    averaging: int = 1
    last_reading_w: float | None = None
    function: str = "POW"
    power_unit: str = "W"
    beam_diameter_mm: float = 1.0
    attenuation_db: float = 0.0
    responsivity_a_per_w: float = 0.2
    zero_offset_w: float = 0.0
    power_reference_w: float = 0.0
    power_delta_mode: bool = False
    current_auto_range: bool = True
    current_range_upper_a: float = 1e-3
    bandwidth_filter: bool = False
    line_frequency_hz: int = 50
    adapter_type: str = "PHOTodiode"
    brightness: float = 1.0
    contrast: float = 0.5
    date: tuple[int, int, int] = (2025, 1, 7)
    time: tuple[int, int, int] = (12, 0, 0)
    status: scpi.StatusSystem = field(default_factory=scpi.StatusSystem)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def errors(self) -> object:
        """The SCPI error queue (kept for callers of the earlier state object)."""
        return self.status.errors


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
        self.state = state if state is not None else new_state(sensor)

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
        tokens = scpi.header_tokens(header)
        for nodes, query, handler in _COMMANDS:
            if query == is_query and scpi.header_matches(tokens, nodes):
                try:
                    return handler(self, argument)
                except ScpiError as error:
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
        self.state.status.error(code, text)

    # ------------------------------------------------------------- helpers
    def _head(self) -> SensorHead:
        if self.sensor is None:
            raise ScpiError(-241, "Hardware missing")
        return self.sensor

    def _wavelength_limits(self) -> tuple[float, float]:
        head = self._head()
        return head.min_wavelength_nm, head.max_wavelength_nm

    def _no_argument(self, argument: str) -> None:
        if argument:
            raise ScpiError(-108, "Parameter not allowed")

    def _power_at_head(self) -> float:
        """The corrected power reading, W (over-range marker when saturated or above range)."""
        self._head()
        try:
            power = float(self.meter.read_power())
        except InstrumentError:
            return OVER_RANGE_READING  # the backing meter saturated: SCPI overflow
        if not self.state.auto_range and power > self.state.range_upper_w:
            return OVER_RANGE_READING
        power = (power - self.state.zero_offset_w) * 10.0 ** (self.state.attenuation_db / 10.0)
        if self.state.power_delta_mode:
            power -= self.state.power_reference_w
        return power

    def _measure(self, function: str | None = None) -> float:
        """One reading of ``function`` (default: the configured one) in its SCPI unit."""
        function = function or self.state.function
        head = self._head()
        if function in ("VOLT",) or (function in ("ENER", "EDEN") and head.sensor_type != 3):
            # a photodiode has no voltage output, and only pyroelectric heads measure energy
            raise ScpiError(-241, "Hardware missing")
        if function == "TEMP":
            value = head.head_temperature_c
        elif function == "RES":
            kelvin = head.head_temperature_c + 273.15
            value = head.thermistor_r25_ohm * math.exp(
                head.thermistor_beta_k * (1.0 / kelvin - 1.0 / 298.15))
        elif function == "FREQ":
            value = 0.0  # continuous light: no modulation frequency to count
        else:
            power = self._power_at_head()
            if power >= OVER_RANGE_READING:
                value = OVER_RANGE_READING
            elif function == "CURR":
                value = power * self.state.responsivity_a_per_w
                if not self.state.current_auto_range and value > self.state.current_range_upper_a:
                    value = OVER_RANGE_READING
            elif function == "PDEN":
                radius_cm = self.state.beam_diameter_mm / 20.0
                value = power / (math.pi * radius_cm ** 2)
            elif self.state.power_unit == "DBM":
                value = 10.0 * math.log10(max(power, 1e-15) / 1e-3)
            else:
                value = power
        self.state.last_reading_w = value
        return value

    # ------------------------------------------------------------- IEEE 488.2
    def _idn(self, _: str) -> str:
        return f"Thorlabs,{self.model},{self.serial_number},{self.firmware}"

    def _cls(self, argument: str) -> None:
        self._no_argument(argument)
        self.state.status.clear()

    def _rst(self, argument: str) -> None:
        self._no_argument(argument)
        fresh = new_state(self.sensor)
        for name in ("auto_range", "range_upper_w", "function", "power_unit", "beam_diameter_mm",
                     "attenuation_db", "responsivity_a_per_w", "zero_offset_w",
                     "power_reference_w", "power_delta_mode", "current_auto_range",
                     "current_range_upper_a", "bandwidth_filter"):
            setattr(self.state, name, getattr(fresh, name))
        self._set_averaging(str(AVERAGING_LIMITS[0]))
        self.meter.set_auto_range(True)
        self.state.last_reading_w = None

    def _opc(self, _: str) -> str:
        return "1"

    def _opc_set(self, argument: str) -> None:
        self._no_argument(argument)
        self.state.status.esr |= scpi.ESR_OPERATION_COMPLETE

    def _wai(self, argument: str) -> None:
        self._no_argument(argument)  # every command completes before the next is read

    def _tst(self, _: str) -> str:
        return "0"  # self-test passed

    def _esr(self, _: str) -> str:
        value, self.state.status.esr = self.state.status.esr, 0
        return str(value)

    def _ese(self, argument: str) -> None:
        self.state.status.ese = int(scpi.number(argument, 0, 255))

    def _ese_query(self, _: str) -> str:
        return str(self.state.status.ese)

    def _sre(self, argument: str) -> None:
        self.state.status.sre = int(scpi.number(argument, 0, 255))

    def _sre_query(self, _: str) -> str:
        return str(self.state.status.sre)

    def _stb(self, _: str) -> str:
        return str(self.state.status.status_byte())

    # ------------------------------------------------------------- SYSTem / STATus / display
    def _sensor_idn(self, _: str) -> str:
        return self.sensor.idn_reply() if self.sensor else "no sensor"

    def _next_error(self, _: str) -> str:
        return self.state.status.next_error()

    def _error_count(self, _: str) -> str:
        return str(len(self.state.status.errors))

    def _version(self, _: str) -> str:
        return SCPI_VERSION

    def _beep(self, argument: str) -> None:
        self._no_argument(argument)

    def _line_frequency(self, argument: str) -> None:
        value = scpi.number(argument, 50, 60)
        if value not in (50, 60):
            raise ScpiError(-224, "Illegal parameter value")
        self.state.line_frequency_hz = int(value)

    def _line_frequency_query(self, _: str) -> str:
        return str(self.state.line_frequency_hz)

    def _date(self, argument: str) -> None:
        self.state.date = self._three_ints(argument, ((2000, 2099), (1, 12), (1, 31)))

    def _date_query(self, _: str) -> str:
        return ",".join(str(v) for v in self.state.date)

    def _time(self, argument: str) -> None:
        self.state.time = self._three_ints(argument, ((0, 23), (0, 59), (0, 59)))

    def _time_query(self, _: str) -> str:
        return ",".join(str(v) for v in self.state.time)

    @staticmethod
    def _three_ints(argument: str, limits: tuple[tuple[int, int], ...]) -> tuple[int, int, int]:
        parts = [p.strip() for p in argument.split(",")]
        if len(parts) != 3:
            raise ScpiError(-109, "Missing parameter")
        values = [scpi.number(p, low, high) for p, (low, high) in zip(parts, limits)]
        if any(v != int(v) for v in values):
            raise ScpiError(-104, "Data type error")
        return int(values[0]), int(values[1]), int(values[2])

    def _calibration_string(self, _: str) -> str:
        return f'"{self.sensor.calibration if self.sensor else ""}"'

    def _status_preset(self, argument: str) -> None:
        self._no_argument(argument)
        self.state.status.preset()

    def _brightness(self, argument: str) -> None:
        self.state.brightness = scpi.number(argument, 0.0, 1.0, 1.0)

    def _brightness_query(self, argument: str) -> str:
        return f"{scpi.limit_query(argument, self.state.brightness, 0.0, 1.0, 1.0):.6E}"

    def _contrast(self, argument: str) -> None:
        self.state.contrast = scpi.number(argument, 0.0, 1.0, 0.5)

    def _contrast_query(self, argument: str) -> str:
        return f"{scpi.limit_query(argument, self.state.contrast, 0.0, 1.0, 0.5):.6E}"

    # ------------------------------------------------------------- measurement
    def _configure_query(self, _: str) -> str:
        return self.state.function

    def _read(self, _: str) -> str:
        return f"{self._measure():.6E}"

    def _initiate(self, argument: str) -> None:
        self._no_argument(argument)
        self._measure()

    def _abort(self, argument: str) -> None:
        self._no_argument(argument)

    def _fetch(self, _: str) -> str:
        if self.state.last_reading_w is None:
            raise ScpiError(-230, "Data corrupt or stale")
        return f"{self.state.last_reading_w:.6E}"

    # ------------------------------------------------------------- SENSe
    def _set_wavelength(self, argument: str) -> None:
        low, high = self._wavelength_limits()
        if not self._head().wavelength_settable:
            raise ScpiError(-221, "Settings conflict")
        nm = scpi.number(argument, low, high)
        self.meter.set_wavelength(nm * 1e-9)

    def _get_wavelength(self, argument: str) -> str:
        low, high = self._wavelength_limits()
        current = self.meter.get_wavelength() * 1e9
        return f"{scpi.limit_query(argument, current, low, high):.6E}"

    def _set_beam(self, argument: str) -> None:
        self.state.beam_diameter_mm = scpi.number(argument, *BEAM_DIAMETER_LIMITS_MM, 1.0)

    def _get_beam(self, argument: str) -> str:
        return f"{scpi.limit_query(argument, self.state.beam_diameter_mm, *BEAM_DIAMETER_LIMITS_MM, 1.0):.6E}"

    def _set_attenuation(self, argument: str) -> None:
        self.state.attenuation_db = scpi.number(argument, *ATTENUATION_LIMITS_DB, 0.0)

    def _get_attenuation(self, argument: str) -> str:
        return f"{scpi.limit_query(argument, self.state.attenuation_db, *ATTENUATION_LIMITS_DB, 0.0):.6E}"

    def _set_response(self, argument: str) -> None:
        default = self._head().responsivity_a_per_w
        self.state.responsivity_a_per_w = scpi.number(argument, 1e-5, 1e3, default)

    def _get_response(self, argument: str) -> str:
        default = self._head().responsivity_a_per_w
        value = scpi.limit_query(argument, self.state.responsivity_a_per_w, 1e-5, 1e3, default)
        return f"{value:.6E}"

    def _zero_initiate(self, argument: str) -> None:
        """Dark adjustment: the present (dark) reading becomes the zero offset."""
        self._no_argument(argument)
        self._head()
        self.state.zero_offset_w = 0.0
        self.state.zero_offset_w = max(self._power_at_head(), 0.0)

    def _zero_abort(self, argument: str) -> None:
        self._no_argument(argument)

    def _zero_state(self, _: str) -> str:
        return "0"  # the adjustment finishes at once: never running when asked

    def _zero_magnitude(self, _: str) -> str:
        return f"{self.state.zero_offset_w:.6E}"

    def _set_auto_range(self, argument: str) -> None:
        on = scpi.boolean(argument)
        self.state.auto_range = on
        self.meter.set_auto_range(on)

    def _get_auto_range(self, _: str) -> str:
        return "1" if self.state.auto_range else "0"

    def _set_range_upper(self, argument: str) -> None:
        limit = self.sensor.max_power_w if self.sensor else 0.5
        watts = scpi.number(argument, 1e-9, limit, limit)
        self.state.range_upper_w = watts
        # choosing a manual range switches auto-ranging off, as on the instrument's front panel
        self.state.auto_range = False
        self.meter.set_auto_range(False)

    def _get_range_upper(self, argument: str) -> str:
        limit = self.sensor.max_power_w if self.sensor else 0.5
        return f"{scpi.limit_query(argument, self.state.range_upper_w, 1e-9, limit, limit):.6E}"

    def _set_reference(self, argument: str) -> None:
        limit = self.sensor.max_power_w if self.sensor else 0.5
        self.state.power_reference_w = scpi.number(argument, 0.0, limit, 0.0)

    def _get_reference(self, argument: str) -> str:
        limit = self.sensor.max_power_w if self.sensor else 0.5
        return f"{scpi.limit_query(argument, self.state.power_reference_w, 0.0, limit, 0.0):.6E}"

    def _set_delta(self, argument: str) -> None:
        self.state.power_delta_mode = scpi.boolean(argument)

    def _get_delta(self, _: str) -> str:
        return "1" if self.state.power_delta_mode else "0"

    def _set_power_unit(self, argument: str) -> None:
        unit = argument.strip().upper()
        if unit not in ("W", "DBM"):
            raise ScpiError(-224, "Illegal parameter value")
        self.state.power_unit = unit

    def _get_power_unit(self, _: str) -> str:
        return self.state.power_unit

    def _set_current_auto(self, argument: str) -> None:
        self.state.current_auto_range = scpi.boolean(argument)

    def _get_current_auto(self, _: str) -> str:
        return "1" if self.state.current_auto_range else "0"

    def _set_current_upper(self, argument: str) -> None:
        self.state.current_range_upper_a = scpi.number(argument, *CURRENT_RANGE_LIMITS_A,
                                                       CURRENT_RANGE_LIMITS_A[1])
        self.state.current_auto_range = False

    def _get_current_upper(self, argument: str) -> str:
        value = scpi.limit_query(argument, self.state.current_range_upper_a,
                                 *CURRENT_RANGE_LIMITS_A, CURRENT_RANGE_LIMITS_A[1])
        return f"{value:.6E}"

    def _set_averaging(self, argument: str) -> None:
        number = scpi.number(argument, *AVERAGING_LIMITS, AVERAGING_LIMITS[0])
        if number != int(number):
            raise ScpiError(-222, "Data out of range")
        self.state.averaging = int(number)
        self.meter.set_averaging(int(number))

    def _get_averaging(self, _: str) -> str:
        return str(self.state.averaging)

    # ------------------------------------------------------------- INPut
    def _set_bandwidth_filter(self, argument: str) -> None:
        self.state.bandwidth_filter = scpi.boolean(argument)

    def _get_bandwidth_filter(self, _: str) -> str:
        return "1" if self.state.bandwidth_filter else "0"

    def _set_adapter_type(self, argument: str) -> None:
        """The sensor type assumed for a head without identification (an adapter)."""
        word = argument.strip().upper()
        for choice in ADAPTER_TYPES:
            if word in (choice.upper(), "".join(c for c in choice if c.isupper())):
                self.state.adapter_type = choice
                return
        raise ScpiError(-224, "Illegal parameter value")

    def _adapter_type(self, _: str) -> str:
        return self.state.adapter_type


#: SYST:VERS? answers the SCPI version the meter complies with
SCPI_VERSION = "1999.0"

_REGISTERS = ("OPERation", "QUEStionable", "MEASurement", "AUXiliary")


def _configure(function: str) -> _Handler:
    """CONFigure:<function>: select what INIT/READ?/FETCh? measure."""
    def handler(emulator: PM100Emulator, argument: str) -> None:
        emulator._no_argument(argument)
        emulator.state.function = function
        emulator.state.last_reading_w = None
    return handler


def _measure(function: str) -> _Handler:
    """MEASure:<function>?: configure and read at once."""
    def handler(emulator: PM100Emulator, _: str) -> str:
        emulator.state.function = function
        return f"{emulator._measure(function):.6E}"
    return handler


def _register_handlers() -> list[tuple[str, bool, _Handler]]:
    """STATus:<register>:EVENt?/CONDition?/ENABle/PTRansition/NTRansition for each register."""
    table: list[tuple[str, bool, _Handler]] = []
    for name in _REGISTERS:
        def event(emulator: PM100Emulator, _: str, name: str = name) -> str:
            reg = emulator.state.status.register(name)
            value, reg["event"] = reg["event"], 0
            return str(value)

        def condition(emulator: PM100Emulator, _: str, name: str = name) -> str:
            return str(emulator.state.status.register(name)["condition"])

        def preset(emulator: PM100Emulator, argument: str, name: str = name) -> None:
            emulator._no_argument(argument)
            emulator.state.status.register(name).update(enable=0, ptransition=0x7FFF,
                                                        ntransition=0)

        table += [(f"STATus:{name}[:EVENt]", True, event),
                  (f"STATus:{name}:CONDition", True, condition),
                  (f"STATus:{name}:PRESet", False, preset)]
        for part in ("ENABle", "PTRansition", "NTRansition"):
            key = part.lower()

            def setter(emulator: PM100Emulator, argument: str, name: str = name,
                       key: str = key) -> None:
                emulator.state.status.register(name)[key] = int(scpi.number(argument, 0, 32767))

            def getter(emulator: PM100Emulator, _: str, name: str = name, key: str = key) -> str:
                return str(emulator.state.status.register(name)[key])

            table += [(f"STATus:{name}:{part}", False, setter),
                      (f"STATus:{name}:{part}", True, getter)]
    return table


_E = PM100Emulator
_COMMAND_TABLE: list[tuple[str, bool, _Handler]] = [
    ("*IDN", True, _E._idn), ("*CLS", False, _E._cls), ("*RST", False, _E._rst),
    ("*OPC", True, _E._opc), ("*OPC", False, _E._opc_set), ("*WAI", False, _E._wai),
    ("*TST", True, _E._tst), ("*ESR", True, _E._esr), ("*ESE", False, _E._ese),
    ("*ESE", True, _E._ese_query), ("*SRE", False, _E._sre), ("*SRE", True, _E._sre_query),
    ("*STB", True, _E._stb),
    ("SYSTem:SENSor:IDN", True, _E._sensor_idn),
    ("SYSTem:ERRor[:NEXT]", True, _E._next_error),
    ("SYSTem:ERRor:COUNt", True, _E._error_count),
    ("SYSTem:VERSion", True, _E._version),
    ("SYSTem:BEEPer[:IMMediate]", False, _E._beep),
    ("SYSTem:LFRequency", False, _E._line_frequency),
    ("SYSTem:LFRequency", True, _E._line_frequency_query),
    ("SYSTem:DATE", False, _E._date), ("SYSTem:DATE", True, _E._date_query),
    ("SYSTem:TIME", False, _E._time), ("SYSTem:TIME", True, _E._time_query),
    ("STATus:PRESet", False, _E._status_preset),
    *_register_handlers(),
    ("CALibration:STRing", True, _E._calibration_string),
    ("DISPlay:BRIGhtness", False, _E._brightness), ("DISPlay:BRIGhtness", True, _E._brightness_query),
    ("DISPlay:CONTrast", False, _E._contrast), ("DISPlay:CONTrast", True, _E._contrast_query),
    ("CONFigure", True, _E._configure_query),
    *[(f"CONFigure[:SCALar]:{pattern}", False, _configure(key)) for key, pattern in FUNCTIONS.items()],
    *[(f"MEASure[:SCALar]:{pattern}", True, _measure(key)) for key, pattern in FUNCTIONS.items()],
    ("READ", True, _E._read),
    ("INITiate[:IMMediate]", False, _E._initiate),
    ("ABORt", False, _E._abort),
    ("FETCh", True, _E._fetch),
    ("[SENSe]:CORRection:WAVelength", False, _E._set_wavelength),
    ("[SENSe]:CORRection:WAVelength", True, _E._get_wavelength),
    ("[SENSe]:CORRection:BEAMdiameter", False, _E._set_beam),
    ("[SENSe]:CORRection:BEAMdiameter", True, _E._get_beam),
    ("[SENSe]:CORRection[:LOSS][:INPut][:MAGNitude]", False, _E._set_attenuation),
    ("[SENSe]:CORRection[:LOSS][:INPut][:MAGNitude]", True, _E._get_attenuation),
    ("[SENSe]:CORRection:POWer[:PDIOde][:RESPonse]", False, _E._set_response),
    ("[SENSe]:CORRection:POWer[:PDIOde][:RESPonse]", True, _E._get_response),
    ("[SENSe]:CORRection:COLLect:ZERO[:INITiate]", False, _E._zero_initiate),
    ("[SENSe]:CORRection:COLLect:ZERO:ABORt", False, _E._zero_abort),
    ("[SENSe]:CORRection:COLLect:ZERO:STATe", True, _E._zero_state),
    ("[SENSe]:CORRection:COLLect:ZERO:MAGNitude", True, _E._zero_magnitude),
    ("[SENSe]:POWer[:DC]:RANGe:AUTO", False, _E._set_auto_range),
    ("[SENSe]:POWer[:DC]:RANGe:AUTO", True, _E._get_auto_range),
    ("[SENSe]:POWer[:DC]:RANGe[:UPPer]", False, _E._set_range_upper),
    ("[SENSe]:POWer[:DC]:RANGe[:UPPer]", True, _E._get_range_upper),
    ("[SENSe]:POWer[:DC]:REFerence:STATe", False, _E._set_delta),
    ("[SENSe]:POWer[:DC]:REFerence:STATe", True, _E._get_delta),
    ("[SENSe]:POWer[:DC]:REFerence[:VALue]", False, _E._set_reference),
    ("[SENSe]:POWer[:DC]:REFerence[:VALue]", True, _E._get_reference),
    ("[SENSe]:POWer[:DC]:UNIT", False, _E._set_power_unit),
    ("[SENSe]:POWer[:DC]:UNIT", True, _E._get_power_unit),
    ("[SENSe]:CURRent[:DC]:RANGe:AUTO", False, _E._set_current_auto),
    ("[SENSe]:CURRent[:DC]:RANGe:AUTO", True, _E._get_current_auto),
    ("[SENSe]:CURRent[:DC]:RANGe[:UPPer]", False, _E._set_current_upper),
    ("[SENSe]:CURRent[:DC]:RANGe[:UPPer]", True, _E._get_current_upper),
    ("[SENSe]:AVERage[:COUNt]", False, _E._set_averaging),
    ("[SENSe]:AVERage[:COUNt]", True, _E._get_averaging),
    ("INPut[:PDIOde]:FILTer[:LPASs][:STATe]", False, _E._set_bandwidth_filter),
    ("INPut[:PDIOde]:FILTer[:LPASs][:STATe]", True, _E._get_bandwidth_filter),
    ("INPut:ADAPter[:TYPE]", True, _E._adapter_type),
    ("INPut:ADAPter[:TYPE]", False, _E._set_adapter_type),
]

_COMMANDS: list[tuple[tuple[scpi.Node, ...], bool, _Handler]] = [
    (scpi.parse_pattern(pattern), query, handler) for pattern, query, handler in _COMMAND_TABLE
]


def new_state(sensor: SensorHead | None) -> PM100State:
    return PM100State(range_upper_w=sensor.max_power_w if sensor else 0.5,
                      responsivity_a_per_w=sensor.responsivity_a_per_w if sensor else 0.2)


def pm100_server(meter: PowerMeter, model: str = "PM100D", *,
                 sensor: SensorHead | None = SensorHead()) -> EmulatorServer:
    """An :class:`EmulatorServer` whose connections all share one meter's settings.

    Call ``serve_pty()`` and/or ``serve_tcp()`` on the result.
    """
    state = new_state(sensor)
    return EmulatorServer(lambda: PM100Emulator(meter, model, sensor=sensor, state=state),
                          name=f"{model} emulator")
