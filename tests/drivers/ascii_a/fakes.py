"""Small in-memory role devices backing the emulators in these tests (not the simulated bench)."""
from __future__ import annotations

from drivers.interfaces import BLADES, Chopper, ControlLaser, PumpLaser, Shutter
from drivers.validation import check_choice, check_range


class _Life:
    model = "fake"

    def __init__(self, name: str = "fake") -> None:
        super().__init__(name, "in-memory")  # type: ignore[call-arg]
        self._connected = False

    def connect(self) -> None:
        self._connected = True

    def close(self) -> None:
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected

    def identify(self) -> str:
        return "fake"


class FakePumpLaser(_Life, PumpLaser):
    def __init__(self, max_power_w: float = 3.0) -> None:
        super().__init__("pump")
        self._max = max_power_w
        self.setpoint_w = 0.0
        self.emission = False

    @property
    def wavelength(self) -> float:
        return 1064e-9

    @property
    def max_power(self) -> float:
        return self._max

    def set_power(self, power_w: float) -> None:
        self.setpoint_w = check_range("power", power_w, 0.0, self._max, "W")

    def get_power(self) -> float:
        return self.setpoint_w if self.emission else 0.0

    def set_emission(self, on: bool) -> None:
        self.emission = bool(on)

    def get_emission(self) -> bool:
        return self.emission


class FakeChopper(_Life, Chopper):
    def __init__(self) -> None:
        super().__init__("chopper")
        self.blade = "MC1F10A"
        self.frequency = 100.0
        self.duty = 0.5
        self.phase = 0.0
        self.enabled = False

    def set_blade(self, blade: str) -> None:
        self.blade = check_choice("blade", blade, tuple(BLADES))

    def get_blade(self) -> str:
        return self.blade

    def set_frequency(self, hz: float) -> None:
        spec = BLADES[self.blade]
        self.frequency = check_range("frequency", hz, spec.min_hz, spec.max_hz, "Hz")

    def get_frequency(self) -> float:
        return self.frequency

    def get_actual_frequency(self) -> float:
        return self.frequency if self.enabled else 0.0

    def set_duty_cycle(self, fraction: float) -> None:
        spec = BLADES[self.blade]
        self.duty = check_range("duty", fraction, spec.min_duty, spec.max_duty)

    def get_duty_cycle(self) -> float:
        return self.duty

    def set_phase(self, degrees: float) -> None:
        self.phase = check_range("phase", degrees, 0.0, 360.0, "deg")

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)

    def get_enabled(self) -> bool:
        return self.enabled


class FakeControlLaser(_Life, ControlLaser):
    """Tunes in ``tuning_polls`` calls of ``get_tuning`` (the emulator's ?TS)."""

    def __init__(self, tuning_polls: int = 2) -> None:
        super().__init__("control_laser")
        self.wavelength_m = 808e-9
        self.emission = True
        self.shutter = False
        self.tuning_polls = tuning_polls
        self.polls_left = 0

    @property
    def wavelength_range(self) -> tuple[float, float]:
        return (680e-9, 1080e-9)

    def set_wavelength(self, wavelength_m: float) -> None:
        low, high = self.wavelength_range
        self.wavelength_m = check_range("wavelength", wavelength_m, low, high, "m")
        self.polls_left = self.tuning_polls

    def get_wavelength(self) -> float:
        return self.wavelength_m

    def is_tuning(self) -> bool:
        if self.polls_left > 0:
            self.polls_left -= 1
            return True
        return False

    def wait_tuned(self, timeout_s: float = 30.0) -> None:
        self.polls_left = 0

    def set_emission(self, on: bool) -> None:
        self.emission = bool(on)

    def get_emission(self) -> bool:
        return self.emission

    def set_shutter(self, open_: bool) -> None:
        self.shutter = bool(open_)

    def get_shutter(self) -> bool:
        return self.shutter

    def get_power(self) -> float:
        return 1.25 if (self.emission and self.shutter) else 0.0


class FakeShutter(_Life, Shutter):
    def __init__(self) -> None:
        super().__init__("shutter")
        self.opened = False

    def open(self) -> None:
        self.opened = True

    def close_shutter(self) -> None:
        self.opened = False

    def is_open(self) -> bool:
        return self.opened
