"""Simulated MC2000B-like optical chopper: blade, frequency with spin-up, duty cycle, phase."""
from __future__ import annotations

from drivers.errors import InstrumentError
from drivers.interfaces import BLADES, Chopper
from drivers.validation import check_choice, check_range
from sim_backends.devices.base import SimInstrument


class SimChopper(SimInstrument, Chopper):
    model = "simulated Thorlabs MC2000B"

    def set_blade(self, blade: str) -> None:
        check_choice(f"{self.name}.blade", blade, tuple(BLADES))
        self._require("set_blade")
        with self.bench.change():
            model = self.bench.chopper
            if model.enabled:
                raise InstrumentError(self.name, self.address, f"blade={blade}",
                                      "the blade can only change while the chopper is stopped")
            spec = BLADES[blade]
            model.blade = blade
            # the controller clamps the settings the new blade cannot do
            model.frequency_setpoint_hz = min(max(model.frequency_setpoint_hz, spec.min_hz), spec.max_hz)
            model.duty = min(max(model.duty, spec.min_duty), spec.max_duty)

    def get_blade(self) -> str:
        self._require("get_blade")
        with self.bench.lock:
            return self.bench.chopper.blade

    def set_frequency(self, hz: float) -> None:
        with self.bench.lock:
            spec = BLADES[self.bench.chopper.blade]
        hz = check_range(f"{self.name}.frequency_hz ({spec.name} blade)", hz, spec.min_hz, spec.max_hz, "Hz")
        self._require("set_frequency")
        with self.bench.change() as now:
            self.bench.chopper.set_frequency(now, hz)

    def get_frequency(self) -> float:
        self._require("get_frequency")
        with self.bench.lock:
            return self.bench.chopper.frequency_setpoint_hz

    def get_actual_frequency(self) -> float:
        self._require("get_actual_frequency")
        with self.bench.lock:
            return self.bench.chopper.frequency_at(self.bench.sync())

    def set_duty_cycle(self, fraction: float) -> None:
        with self.bench.lock:
            spec = BLADES[self.bench.chopper.blade]
        fraction = check_range(f"{self.name}.duty_cycle ({spec.name} blade)", fraction,
                               spec.min_duty, spec.max_duty)
        self._require("set_duty_cycle")
        with self.bench.change():
            self.bench.chopper.duty = fraction

    def get_duty_cycle(self) -> float:
        self._require("get_duty_cycle")
        with self.bench.lock:
            return self.bench.chopper.duty

    def set_phase(self, degrees: float) -> None:
        degrees = check_range(f"{self.name}.phase_deg", degrees, 0.0, 360.0, "deg")
        self._require("set_phase")
        with self.bench.change():
            self.bench.chopper.phase_deg = degrees

    def set_enabled(self, on: bool) -> None:
        self._require("set_enabled")
        self._enable(bool(on))

    def get_enabled(self) -> bool:
        self._require("get_enabled")
        with self.bench.lock:
            return self.bench.chopper.enabled

    def _enable(self, on: bool) -> None:
        with self.bench.change() as now:
            self.bench.chopper.set_enabled(now, on)

    def safe_state(self) -> None:
        self._enable(False)
