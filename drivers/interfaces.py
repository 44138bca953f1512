"""Abstract instrument interfaces, one per role on the bistability microscope.

Everything is SI (W, m, s, K, Hz) except plate/wheel angles, which are degrees because every
rotation stage, its manual and its operator think in degrees (the names say ``_deg``).

Real drivers (``drivers/*``) and simulated devices (``sim_backends/devices``) implement these
classes; experiments only ever see these classes. Implementations must:
- validate every settable value *before* sending anything (ValueError naming field, value, range,
  see ``drivers.validation``);
- serialise access with one lock per connection (GUI polling and an experiment share devices);
- put the hardware in a safe state in ``safe_state()``, trying every part of it, and raise
  (InstrumentError, OSError, ...) when any part could not be done: the caller
  (``Rig.safe_state_all``) collects the failure, reconnects once and retries, and reports what
  stays unsafe; a safe state that fails is never only a log line;
- report, in ``safe_state_problem()``, what the hardware says about its safe state where it can
  (emission, shutter, heater range, motion), so the safe state is verified, not assumed.
"""
from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import numpy as np

log = logging.getLogger(__name__)


class Instrument(ABC):
    """Common life cycle: connect / close (also as a context manager), identify, safe_state."""

    #: Human-readable model, e.g. "Laser Quantum Opus 1064" or "simulated".
    model: str = "unknown"

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address

    @abstractmethod
    def connect(self) -> None:
        """Open the link. Idempotent."""

    @abstractmethod
    def close(self) -> None:
        """Close the link. Idempotent; never raises for an already-closed link."""

    @property
    @abstractmethod
    def is_connected(self) -> bool: ...

    @abstractmethod
    def identify(self) -> str:
        """The instrument's own identification string (model, serial, firmware)."""

    @abstractmethod
    def safe_state(self) -> None:
        """Put the hardware in its safe state (see each role); raises when that fails."""

    def safe_state_problem(self) -> str | None:
        """Read the safe state back from the instrument: what is not safe (one line), or None.

        The default has nothing to read back (a power meter, a counter). Raises when the
        instrument cannot be read (the safe state is then not verified)."""
        return None

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.safe_state()
        except Exception:  # safe_state must never mask the original exception
            log.exception("%s: safe_state failed during exit", self.name)
        finally:
            self.close()


class PumpLaser(Instrument):
    """CW pump laser (1064 nm). Safe state: emission off."""

    @property
    @abstractmethod
    def wavelength(self) -> float:
        """Emission wavelength, m."""

    @property
    @abstractmethod
    def max_power(self) -> float:
        """Largest allowed setpoint, W."""

    @abstractmethod
    def set_power(self, power_w: float) -> None:
        """Set the output power setpoint, W (0 .. max_power)."""

    @abstractmethod
    def get_power(self) -> float:
        """Actual output power, W."""

    @abstractmethod
    def set_emission(self, on: bool) -> None: ...

    @abstractmethod
    def get_emission(self) -> bool: ...

    def safe_state(self) -> None:
        self.set_emission(False)

    def safe_state_problem(self) -> str | None:
        return "emission still on" if self.get_emission() else None


class MotionStage(Instrument):
    """A motorised stage of any geometry. Safe state: motion stopped, verified by reading back."""

    @abstractmethod
    def home(self, wait: bool = True) -> None: ...

    @abstractmethod
    def is_moving(self) -> bool: ...

    @abstractmethod
    def stop(self) -> None: ...

    def safe_state(self) -> None:
        self.stop()

    def safe_state_problem(self) -> str | None:
        return "still moving" if self.is_moving() else None


class RotationStage(MotionStage):
    """Motorised rotation mount (half-wave plate, ND wheel). Safe state: motion stopped."""

    @abstractmethod
    def move_to(self, angle_deg: float, wait: bool = True) -> None:
        """Absolute move, degrees. With ``wait`` return when the move has completed."""

    @abstractmethod
    def move_by(self, delta_deg: float, wait: bool = True) -> None: ...

    @abstractmethod
    def get_position(self) -> float:
        """Current angle, degrees."""


class PowerMeter(Instrument):
    """Optical power meter reading the pick-off. Safe state: nothing to do."""

    @abstractmethod
    def set_wavelength(self, wavelength_m: float) -> None: ...

    @abstractmethod
    def get_wavelength(self) -> float: ...

    @abstractmethod
    def read_power(self) -> float:
        """One power reading, W (over-range raises InstrumentError)."""

    @abstractmethod
    def set_auto_range(self, on: bool) -> None: ...

    @abstractmethod
    def set_averaging(self, count: int) -> None: ...

    @property
    @abstractmethod
    def relative_uncertainty(self) -> float:
        """The stated relative uncertainty of a reading (a fraction: 0.05 for +/-5 %), from the
        sensor's specification or calibration certificate. The density limit is checked with it
        in the open: setpoints are allowed up to limit / (1 + it), a reading above the limit
        trips (``acquisition.interlocks``)."""

    def safe_state(self) -> None:
        return None


class PhotonCounter(Instrument):
    """APD + edge counter. Safe state: counting stopped."""

    @abstractmethod
    def count(self, dwell_s: float) -> int:
        """Count photons for ``dwell_s`` seconds (waits through the rig clock) and return the total."""

    @abstractmethod
    def count_trace(self, dwell_s: float, bin_s: float) -> np.ndarray:
        """Counts in consecutive bins of ``bin_s`` over ``dwell_s`` (an emission time trace)."""

    def safe_state(self) -> None:
        return None


@dataclass
class TimeTags:
    """Photon arrival data from a TCSPC run, relative to the sync/marker edge.

    ``times_s``: absolute photon arrival times since the start of the run (s);
    ``channels``: detector channel per photon (1-based);
    ``marker_times_s``: times of marker edges (chopper/shutter edge, s).
    """

    times_s: np.ndarray
    channels: np.ndarray
    marker_times_s: np.ndarray
    resolution_s: float
    meta: dict[str, object] = field(default_factory=dict)


class TimeTagger(Instrument):
    """TCSPC unit. Safe state: measurement stopped."""

    @abstractmethod
    def histogram(self, acquisition_s: float, bin_width_s: float, n_bins: int,
                  channel: int = 1) -> np.ndarray:
        """Histogram of arrival times after each sync/marker edge (counts per bin)."""

    @abstractmethod
    def time_tags(self, acquisition_s: float) -> TimeTags:
        """Raw photon time tags and marker edges (T2-style)."""

    def safe_state(self) -> None:
        return None


@dataclass(frozen=True)
class BladeSpec:
    """A chopper blade: its controller index and the frequency/duty-cycle it supports."""

    name: str
    index: int
    min_hz: float
    max_hz: float
    min_duty: float = 0.5
    max_duty: float = 0.5

    @property
    def variable_duty(self) -> bool:
        return self.max_duty > self.min_duty


#: Blades used in the reference setup (instruments.md section 6).
#: MC1F10A duty range is the variable-aperture blade's nominal span (UNVERIFIED on hardware).
BLADES: dict[str, BladeSpec] = {
    "MC1F10A": BladeSpec("MC1F10A", 9, 20.0, 1000.0, 0.1, 0.9),
    "MC1F60": BladeSpec("MC1F60", 4, 120.0, 6000.0, 0.5, 0.5),
}


class Chopper(Instrument):
    """Optical chopper. Safe state: stopped (enable off)."""

    @abstractmethod
    def set_blade(self, blade: str) -> None:
        """Select a blade by name (key of BLADES); only while stopped."""

    @abstractmethod
    def get_blade(self) -> str: ...

    @abstractmethod
    def set_frequency(self, hz: float) -> None: ...

    @abstractmethod
    def get_frequency(self) -> float:
        """Frequency setpoint, Hz."""

    @abstractmethod
    def get_actual_frequency(self) -> float:
        """Measured blade frequency, Hz (0 while stopped, lower while spinning up)."""

    @abstractmethod
    def set_duty_cycle(self, fraction: float) -> None:
        """Open fraction of the period (0, 1]; only blades with variable duty accept != 0.5."""

    @abstractmethod
    def get_duty_cycle(self) -> float: ...

    @abstractmethod
    def set_phase(self, degrees: float) -> None: ...

    @abstractmethod
    def set_enabled(self, on: bool) -> None: ...

    @abstractmethod
    def get_enabled(self) -> bool: ...

    def safe_state(self) -> None:
        self.set_enabled(False)

    def safe_state_problem(self) -> str | None:
        return "blade still enabled" if self.get_enabled() else None


#: heater ranges of a Lake Shore-like output (``TemperatureController.HEATER_RANGES``)
HEATER_RANGE_NAMES = ("off", "low", "medium", "high")
#: without a model of the cryostat: medium range, high above this setpoint; a range that turns
#: out too weak is raised at run time (acquisition.capabilities.cryostat)
HIGH_RANGE_ABOVE_K = 200.0
#: with a model: the lowest range whose full scale covers the power that holds the setpoint
#: against the bath with this fraction to spare for regulation
HEATER_HEADROOM = 0.8


@dataclass(frozen=True)
class HeaterRangeChoice:
    """The heater range for a new setpoint (None: keep the present one) and why."""

    heater_range: int | None
    reason: str


def heater_range_for(kelvin: float, bath_k: float, conductance_w_k: float,
                     full_scale_w: list[float]) -> tuple[int, float]:
    """(heater range, heater power in W) to hold ``kelvin`` on a cold finger coupled to a bath at
    ``bath_k`` by ``conductance_w_k``: the lowest range whose full scale covers the power with
    HEATER_HEADROOM, else the highest (which may not hold it: the caller checks the power)."""
    needed_w = max(kelvin - bath_k, 0.0) * conductance_w_k
    for index, full_w in enumerate(full_scale_w):
        if needed_w <= HEATER_HEADROOM * full_w:
            return index + 1, needed_w
    return len(full_scale_w), needed_w


def modelled_heater_range(name: str, kelvin: float, bath_k: float, conductance_w_k: float,
                          full_scale_w: list[float]) -> HeaterRangeChoice:
    """The choice for a cryostat whose bath and cold-finger conductance are known; a setpoint the
    highest range cannot hold is refused (ValueError, one line) before anything moves."""
    heater_range, needed_w = heater_range_for(kelvin, bath_k, conductance_w_k, full_scale_w)
    if needed_w > full_scale_w[-1]:
        reach = bath_k + full_scale_w[-1] / conductance_w_k
        raise ValueError(f"temperature_k={kelvin:g} K cannot be reached: holding it needs ~{needed_w:.3g} W, "
                         f"the heater's high range gives {full_scale_w[-1]:g} W (reach ~{reach:.0f} K); "
                         "set a lower temperature_k")
    return HeaterRangeChoice(heater_range, f"holding {kelvin:g} K against the {bath_k:g} K bath needs "
                                           f"~{needed_w:.2g} W of the {HEATER_RANGE_NAMES[heater_range]} range's "
                                           f"{full_scale_w[heater_range - 1]:g} W")


class TemperatureController(Instrument):
    """Cryostat temperature controller. Safe state: heater range off (LN2 holds the stage cold)."""

    HEATER_RANGES = (0, 1, 2, 3)  # off, low, medium, high

    def choose_heater_range(self, kelvin: float, tolerance_k: float = 0.0) -> HeaterRangeChoice:
        """The heater range to hold ``kelvin`` (asked before the setpoint is set). A controller
        that knows its cryostat (bath, cold-finger conductance, heater power) overrides this
        with the lowest range that holds the setpoint; this default knows nothing of it: the
        medium range, high above HIGH_RANGE_ABOVE_K, when heating above the present reading
        (+ ``tolerance_k``) or from off; never lowered here (it may have been raised)."""
        current = int(self.get_heater_range())
        if kelvin > float(self.get_temperature()) + tolerance_k or current == 0:
            # LN2 holds the cold end; regulating above it needs the heater. The low range
            # (0.5 W on the ST-500) cannot hold much above the bath, medium can
            wanted = 3 if kelvin > HIGH_RANGE_ABOVE_K else 2
            return HeaterRangeChoice(max(wanted, current), "no heater model for this cryostat: medium range, "
                                     f"high above {HIGH_RANGE_ABOVE_K:g} K, raised if the heater saturates "
                                     "short of the band")
        return HeaterRangeChoice(None, "keeping the present range")

    @abstractmethod
    def get_temperature(self, channel: str = "A") -> float:
        """Sensor temperature, K."""

    @abstractmethod
    def set_setpoint(self, kelvin: float, output: int = 1) -> None: ...

    @abstractmethod
    def get_setpoint(self, output: int = 1) -> float: ...

    @abstractmethod
    def set_heater_range(self, heater_range: int, output: int = 1) -> None: ...

    @abstractmethod
    def get_heater_range(self, output: int = 1) -> int: ...

    @abstractmethod
    def get_heater_output(self, output: int = 1) -> float:
        """Heater output, percent of full scale."""

    @abstractmethod
    def set_ramp(self, enabled: bool, rate_k_per_s: float, output: int = 1) -> None: ...

    def safe_state(self) -> None:
        self.set_heater_range(0)

    def safe_state_problem(self) -> str | None:
        heater_range = int(self.get_heater_range())
        return f"heater range {heater_range} (not off)" if heater_range != 0 else None


class ControlLaser(Instrument):
    """Tunable control laser (Ti:Sapphire). Safe state: shutter closed (emission left on:
    cycling a Ti:Sapphire is slow and not needed for safety)."""

    @property
    @abstractmethod
    def wavelength_range(self) -> tuple[float, float]:
        """Tunable range (min, max), m."""

    @abstractmethod
    def set_wavelength(self, wavelength_m: float) -> None:
        """Start tuning; use ``wait_tuned`` to wait until the laser is ready."""

    @abstractmethod
    def get_wavelength(self) -> float: ...

    @abstractmethod
    def wait_tuned(self, timeout_s: float = 30.0) -> None:
        """Block (through the rig clock) until tuning is done; InstrumentTimeout otherwise."""

    @abstractmethod
    def set_emission(self, on: bool) -> None: ...

    @abstractmethod
    def get_emission(self) -> bool: ...

    @abstractmethod
    def set_shutter(self, open_: bool) -> None: ...

    @abstractmethod
    def get_shutter(self) -> bool: ...

    @abstractmethod
    def get_power(self) -> float:
        """Output power, W."""

    def safe_state(self) -> None:
        self.set_shutter(False)

    def safe_state_problem(self) -> str | None:
        return "shutter still open" if self.get_shutter() else None


class Shutter(Instrument):
    """Beam shutter. Safe state: closed."""

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close_shutter(self) -> None:
        """Close the shutter (``close`` is the link's life cycle)."""

    @abstractmethod
    def is_open(self) -> bool: ...

    def safe_state(self) -> None:
        self.close_shutter()

    def safe_state_problem(self) -> str | None:
        return "still open" if self.is_open() else None

@dataclass(frozen=True)
class StageLimits:
    """Where an XY sample stage may go (m, stage coordinates) and the smallest step it resolves."""

    x_range_m: tuple[float, float]
    y_range_m: tuple[float, float]
    #: smallest move the stage makes reproducibly (encoder count or minimum incremental motion)
    resolution_m: float

    def problem(self, name: str, x_m: float, y_m: float) -> str | None:
        """One-line reason why (x, y) is not allowed, or None (mm in the text: what operators read)."""
        for axis, value, (low, high) in (("x", x_m, self.x_range_m), ("y", y_m, self.y_range_m)):
            if not math.isfinite(value) or not low <= value <= high:
                return (f"{name}.{axis}_mm={value * 1e3:g} mm is outside the stage limits; "
                        f"allowed range [{low * 1e3:g}, {high * 1e3:g}] mm")
        return None

    def home_problem(self, name: str, home_m: tuple[float, float]) -> str | None:
        """Why homing (which drives each axis to ``home_m``, its limit switch) is not allowed."""
        reason = self.problem(name, *home_m)
        if reason is None:
            return None
        return (f"{name}.home: homing drives the stage to ({home_m[0] * 1e3:g}, "
                f"{home_m[1] * 1e3:g}) mm, outside the stage limits; widen x_range_mm / "
                "y_range_mm to include it, or home the controllers by hand")

    def check(self, name: str, x_m: float, y_m: float) -> tuple[float, float]:
        """(x, y) as floats, or ValueError with the one-line reason."""
        x_m, y_m = float(x_m), float(y_m)
        reason = self.problem(name, x_m, y_m)
        if reason is not None:
            raise ValueError(reason)
        return x_m, y_m


class XYStage(MotionStage):
    """Motorised sample stage (two linear axes). Safe state: motion stopped.

    Positions are stage coordinates in m, the actuators' own readings. The sample moves under a
    fixed focus, so the spot on the film moves the opposite way: moving the stage by +dx puts the
    focus dx further towards -x on the film (see docs/drivers/xy_stage.md).
    """

    @property
    @abstractmethod
    def limits(self) -> StageLimits:
        """The allowed positions (rig file), known without a connection (preflight checks them)."""

    @abstractmethod
    def move_to(self, x_m: float, y_m: float, wait: bool = True) -> None:
        """Absolute move of both axes; refused (ValueError) outside ``limits`` before anything moves."""

    @abstractmethod
    def get_position(self) -> tuple[float, float]:
        """Current (x, y), m."""
