"""Simulated 1064 nm pump laser (Opus-like: power setpoint, emission, read noise)."""
from __future__ import annotations

from drivers.interfaces import PumpLaser
from drivers.validation import check_range
from sim_backends.devices.base import SimInstrument


class SimPumpLaser(SimInstrument, PumpLaser):
    model = "simulated Laser Quantum Opus 1064"

    @property
    def wavelength(self) -> float:
        return self.bench.beam.pump_wavelength_m

    @property
    def max_power(self) -> float:
        return self.bench.config.pump.max_power_w

    def set_power(self, power_w: float) -> None:
        power_w = check_range(f"{self.name}.power_w", power_w, 0.0, self.max_power, "W")
        self._require("set_power")
        with self.bench.change():
            self.bench.pump.setpoint_w = power_w

    def get_power(self) -> float:
        self._require("get_power")
        with self.bench.lock:
            now = self.bench.sync()
            power = self.bench.pump.power_at(now)
            noise = self.bench.config.pump.noise_rel * float(self.bench.rng.standard_normal())
            return max(power * (1.0 + noise), 0.0)

    def set_emission(self, on: bool) -> None:
        self._require("set_emission")
        with self.bench.change() as now:
            self.bench.pump.set_emission(now, bool(on))

    def get_emission(self) -> bool:
        self._require("get_emission")
        with self.bench.lock:
            return self.bench.pump.emission

    def safe_state(self) -> None:
        # the beam must go off even if the link flag is down: the bench is in-process
        with self.bench.change() as now:
            self.bench.pump.set_emission(now, False)
