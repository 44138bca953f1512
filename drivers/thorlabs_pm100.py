"""Thorlabs PM100D / PM100USB / PM400 optical power meter (SCPI over USBTMC, LF).

Two layers:

- :class:`ThorlabsPM100` — pymeasure's :class:`ThorlabsPM100USB` (sensor flags from
  ``SYST:SENSOR:IDN?``, ``MEAS:POW?``, wavelength limits) on avalab's
  :class:`~drivers.pymeasure_base.AsciiInstrument` (lock, timeouts, one reconnect), plus what
  pymeasure lacks: range, auto-range, averaging, ``CONF:POW``/``INIT``/``FETC?``/``READ?``,
  the SCPI error queue checked after every setter, and a wavelength setter that *rejects*
  out-of-range values (pymeasure silently truncates them).
- :class:`PM100PowerMeter` — the :class:`~drivers.interfaces.PowerMeter` role in SI units
  (registry name ``pm100``). Over-range readings (about 9.9E37) raise InstrumentError.

Addresses: ``USB0::0x1313::0x8078::<SN>::INSTR`` (PM100D; 0x8072 PM100USB, 0x8075 PM400).

UNVERIFIED on hardware: that pyvisa-py's USBTMC backend talks to the meter (tested here only over
a pty and TCP against ``sim_backends.emulators.pm100``), the reply number formats, and the
averaging-count limits (1..10000, chosen from the emulator, not from the manual).
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from typing import Any

from pymeasure.adapters import Adapter
from pymeasure.instruments import Instrument
from pymeasure.instruments.thorlabs.thorlabspm100usb import ThorlabsPM100USB

from drivers.clock import Clock
from drivers.errors import InstrumentError
from drivers.interfaces import PowerMeter
from drivers.pymeasure_base import AsciiInstrument, ConnectedDevice
from drivers.validation import check_int_range, check_range

log = logging.getLogger(__name__)

#: readings at or above this are the meter's over-range marker (nominally 9.9E37)
OVER_RANGE_THRESHOLD_W = 1e37

AVERAGING_LIMITS = (1, 10000)
#: the stated measurement uncertainty of the S120C photodiode head at 981-1100 nm (the 1064 nm
#: pump): +/-7 % (Thorlabs S120C specifications: +/-3 % at 440-980 nm, +/-5 % at 280-439 nm).
#: UNVERIFIED: quoted from the spec sheet as remembered, not from a copy in this repository; the
#: rig file sets the head's own figure (option ``relative_uncertainty``, from its certificate)
S120C_UNCERTAINTY_1064NM = 0.07
#: a stated uncertainty above this is not a power meter the density limit can rely on
MAX_RELATIVE_UNCERTAINTY = 0.5
#: the largest head Thorlabs sells for the PM100 family is well below this; the head itself
#: rejects a range above its own maximum (seen through SYST:ERR?)
RANGE_UPPER_LIMITS_W = (1e-9, 250.0)


def _range_validator(field: str, unit: str = "") -> Callable[[float, tuple[float, float]], float]:
    def validate(value: float, limits: tuple[float, float]) -> float:
        return check_range(field, value, limits[0], limits[1], unit)
    return validate


def _int_validator(field: str) -> Callable[[int, tuple[int, int]], int]:
    def validate(value: int, limits: tuple[int, int]) -> int:
        return check_int_range(field, value, limits[0], limits[1])
    return validate


def _bool_validator(field: str) -> Callable[[bool, object], int]:
    def validate(value: bool, _: object) -> int:
        if not isinstance(value, bool):
            raise ValueError(f"{field}={value!r} is not allowed; allowed values: True, False")
        return int(value)
    return validate


class ThorlabsPM100(AsciiInstrument, ThorlabsPM100USB):
    """pymeasure-level PM100 with avalab's transactions. Queries the sensor head on creation."""

    write_termination = "\n"
    reply_terminator = b"\n"

    def __init__(self, adapter: str | Adapter, name: str = "Thorlabs PM100", **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # pymeasure does not know whether the PM100 is SCPI; its manual says it is
            warnings.simplefilter("ignore", FutureWarning)
            try:
                super().__init__(adapter, name, **kwargs)
                self.wavelength_limits_nm: tuple[float, float] | None = None
                if self.wavelength_settable:
                    # cached so that validating a wavelength never needs a query
                    self.wavelength_limits_nm = (float(self.wavelength_min),
                                                 float(self.wavelength_max))
            except OSError as exc:  # pymeasure's "No sensor connected."
                self._close_after_failed_init()
                raise InstrumentError(name, getattr(self, "resource_name", str(adapter)),
                                      "SYST:SENSOR:IDN?", str(exc)) from exc
            except BaseException:
                self._close_after_failed_init()
                raise

    def _close_after_failed_init(self) -> None:
        # the link may already be open when the sensor query fails; do not leak it
        if hasattr(self, "adapter") and hasattr(self, "_lock"):
            self.close()

    # ------------------------------------------------------------ sensor head
    def _set_flags(self) -> None:
        """Read ``SYST:SENSOR:IDN?`` into pymeasure's sensor attributes and flags.

        Replaces pymeasure's version because avalab's strict ``values`` refuses to cast the
        head's name to float; the flag decoding is the same (manual p. 49 bit order).
        """
        fields = self.values("SYST:SENSOR:IDN?", cast=str)
        if fields[0].strip().lower() == "no sensor":
            raise OSError("No sensor connected.")
        if len(fields) < 6:
            raise self.error("SYST:SENSOR:IDN?", f"unexpected sensor identification {fields!r}")
        (self.sensor_name, self.sensor_sn, self.sensor_cal_msg, self.sensor_type,
         self.sensor_subtype) = (f.strip() for f in fields[:5])
        try:
            flags = int(fields[5])
        except ValueError:
            raise self.error("SYST:SENSOR:IDN?", f"sensor flags {fields[5]!r} are not an integer") from None
        self.flags = [bool(flags >> bit & 1) for bit in range(9)]
        (self.is_power_sensor, self.is_energy_sensor, _, _, self.response_settable,
         self.wavelength_settable, self.tau_settable, _, self.has_temperature_sensor) = self.flags

    # ------------------------------------------------------------ wavelength (strict)
    @property
    def wavelength(self) -> float:
        """Control the correction wavelength, nm (rejects values outside the head's MIN..MAX)."""
        return float(self.values("SENS:CORR:WAV?")[0])

    @wavelength.setter
    def wavelength(self, value: float) -> None:
        if self.wavelength_limits_nm is None:
            raise InstrumentError(self.name, self.resource_name, "SENS:CORR:WAV",
                                  f"sensor {self.sensor_name} does not allow setting the wavelength")
        low, high = self.wavelength_limits_nm
        nm = check_range("wavelength", value, low, high, "nm")
        self.write(f"SENS:CORR:WAV {nm:g}")
        self.check_set_errors()

    # ------------------------------------------------------------ measurement
    read_power = Instrument.measurement(
        "READ?", """Get one power reading (INIT + FETC), W.""")

    fetched_power = Instrument.measurement(
        "FETC?", """Get the last measured value without a new measurement, W.""")

    def configure_power(self) -> None:
        """Select power measurement for INIT/FETC? (``CONF:POW``)."""
        self.write("CONF:POW")
        self.check_set_errors()

    def initiate(self) -> None:
        """Start one measurement (``INIT``); read it with :attr:`fetched_power`."""
        self.write("INIT")
        self.check_set_errors()

    def power_unit_watts(self) -> None:
        """``SENS:POW:UNIT W``: power readings in W, not dBm."""
        self.write("SENS:POW:UNIT W")
        self.check_set_errors()

    def absolute_readings(self) -> None:
        """``SENS:POW:REF:STAT 0``: no delta mode (reading minus a reference)."""
        self.write("SENS:POW:REF:STAT 0")
        self.check_set_errors()

    # ------------------------------------------------------------ range and averaging
    auto_range = Instrument.control(
        "SENS:POW:RANG:AUTO?", "SENS:POW:RANG:AUTO %d",
        """Control power auto-ranging (bool).""",
        validator=_bool_validator("auto_range"),
        get_process=lambda v: bool(int(v)),
        check_set_errors=True,
    )

    range_upper = Instrument.control(
        "SENS:POW:RANG:UPP?", "SENS:POW:RANG:UPP %g",
        """Control the manual power range upper limit, W (switches auto-ranging off).""",
        validator=_range_validator("range_upper", "W"),
        values=RANGE_UPPER_LIMITS_W,
        check_set_errors=True,
    )

    averaging = Instrument.control(
        "SENS:AVER:COUN?", "SENS:AVER:COUN %d",
        """Control the number of samples averaged per reading (about 3 ms each).""",
        validator=_int_validator("averaging"),
        values=AVERAGING_LIMITS,
        cast=int,
        check_set_errors=True,
    )

    # ------------------------------------------------------------ error queue
    def next_error(self) -> tuple[int, str]:  # type: ignore[override]
        """Pop one entry of the SCPI error queue: (code, message); (0, "No error") when empty."""
        reply = self.ask("SYST:ERR?")
        code_text, _, message = reply.partition(",")
        try:
            code = int(float(code_text))
        except ValueError:
            raise self.error("SYST:ERR?", f"unexpected error-queue reply {reply!r}") from None
        return code, message.strip().strip('"')

    def write(self, command: str, **kwargs: Any) -> None:
        with self.lock:
            # remembered so that an error found by check_set_errors names the command it refers to
            self._last_setter = command
            super().write(command, **kwargs)

    def check_set_errors(self) -> list[str]:
        """Raise InstrumentError naming the last setter if the meter queued an error for it."""
        with self.lock:
            code, message = self.next_error()
            if code != 0:
                raise self.error(getattr(self, "_last_setter", "SYST:ERR?"),
                                 f"meter rejected it: {code} {message} (from SYST:ERR?)")
        return []


class PM100PowerMeter(ConnectedDevice, PowerMeter):
    """The power-meter role on a PM100D/PM100USB/PM400 (registry name ``pm100``).

    ``cls(name=role, address=address, clock=clock, timeout_s=1.0)``; wavelengths in m, powers in W.
    """

    model = "Thorlabs PM100D/PM100USB/PM400"
    instrument_class = ThorlabsPM100

    def __init__(self, name: str, address: str, clock: Clock | None = None, *,
                 relative_uncertainty: float = S120C_UNCERTAINTY_1064NM, **options: Any) -> None:
        super().__init__(name, address, clock, **options)
        self._relative_uncertainty = check_range(f"{name}.relative_uncertainty", relative_uncertainty,
                                                 0.0, MAX_RELATIVE_UNCERTAINTY)

    @property
    def relative_uncertainty(self) -> float:
        """The head's stated uncertainty at the pump wavelength (rig file option
        ``relative_uncertainty``; default: the S120C's at 981-1100 nm)."""
        return self._relative_uncertainty

    @property
    def meter(self) -> ThorlabsPM100:
        return self.instrument  # type: ignore[return-value]

    def _read_identity(self, instrument: AsciiInstrument) -> str:
        return instrument.ask("*IDN?")

    def _on_connect(self, instrument: AsciiInstrument) -> None:
        """Readings in watts, absolute: a unit left on dBm (``SENS:POW:UNIT``) or in delta mode
        (``SENS:POW:REF:STAT``) from the front panel would make ``MEAS:POW?`` answer numbers
        that are not watts at the head."""
        meter: ThorlabsPM100 = instrument  # type: ignore[assignment]
        meter.power_unit_watts()
        meter.absolute_readings()

    def sensor_info(self) -> dict[str, object]:
        """Head name, serial, calibration date and capability flags from ``SYST:SENS:IDN?``."""
        meter = self.meter
        return {"name": meter.sensor_name, "serial": meter.sensor_sn,
                "calibration": meter.sensor_cal_msg, "type": meter.sensor_type,
                "subtype": meter.sensor_subtype,
                "wavelength_settable": meter.wavelength_settable,
                "wavelength_limits_m": (None if meter.wavelength_limits_nm is None else
                                        tuple(nm * 1e-9 for nm in meter.wavelength_limits_nm))}

    def set_wavelength(self, wavelength_m: float) -> None:
        check_range("wavelength", wavelength_m, 0.0, 1e-4, "m", low_inclusive=False)
        meter = self.meter
        with meter.lock:  # the setter and its SYST:ERR? check belong together
            meter.wavelength = float(wavelength_m) * 1e9

    def get_wavelength(self) -> float:
        return self.meter.wavelength * 1e-9

    def read_power(self) -> float:
        value = self.meter.power
        if not isinstance(value, float) or math.isnan(value):
            raise InstrumentError(self.name, self.address, "MEAS:POW?",
                                  f"unexpected power reading {value!r}")
        if value >= OVER_RANGE_THRESHOLD_W:
            raise InstrumentError(self.name, self.address, "MEAS:POW?",
                                  f"over-range reading {value:.3g}: more light than the current "
                                  "range (or the head) can measure")
        return value

    def set_auto_range(self, on: bool) -> None:
        meter = self.meter
        with meter.lock:
            meter.auto_range = on

    def get_auto_range(self) -> bool:
        return bool(self.meter.auto_range)

    def set_range(self, upper_w: float) -> None:
        """Fix the range to hold ``upper_w`` (switches auto-ranging off)."""
        meter = self.meter
        with meter.lock:
            meter.range_upper = upper_w

    def get_range(self) -> float:
        return float(self.meter.range_upper)

    def set_averaging(self, count: int) -> None:
        meter = self.meter
        with meter.lock:
            meter.averaging = count

    def get_averaging(self) -> int:
        return int(self.meter.averaging)
