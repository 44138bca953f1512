"""Simulated Ti:Sapphire control laser (Chameleon-like): tuning takes time, internal shutter."""
from __future__ import annotations

from drivers.errors import InstrumentTimeout
from drivers.interfaces import ControlLaser
from drivers.validation import check_range, check_positive
from sim_backends.devices.base import SimInstrument

#: how often wait_tuned looks at the tuning state (like polling ?TS)
POLL_S = 0.1


class SimControlLaser(SimInstrument, ControlLaser):
    model = "simulated Coherent Chameleon Ultra II"

    @property
    def wavelength_range(self) -> tuple[float, float]:
        p = self.bench.config.control_laser
        return p.min_wavelength_m, p.max_wavelength_m

    def set_wavelength(self, wavelength_m: float) -> None:
        low, high = self.wavelength_range
        wavelength_m = check_range(f"{self.name}.wavelength_m", wavelength_m, low, high, "m")
        self._require("set_wavelength")
        with self.bench.change() as now:
            self.bench.control_laser.start_tuning(now, wavelength_m)

    def get_wavelength(self) -> float:
        self._require("get_wavelength")
        with self.bench.lock:
            return self.bench.control_laser.wavelength_m

    def is_tuning(self) -> bool:
        self._require("is_tuning")
        with self.bench.lock:
            return self.bench.control_laser.tuning_at(self.bench.sync())

    def wait_tuned(self, timeout_s: float = 30.0) -> None:
        timeout_s = check_positive(f"{self.name}.timeout_s", timeout_s, "s")
        self._require("wait_tuned")
        deadline = self.clock.now() + timeout_s
        while self.is_tuning():
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                raise InstrumentTimeout(self.name, self.address, "?TS",
                                        f"still tuning after {timeout_s:g} s")
            self.clock.sleep(min(POLL_S, remaining))

    def set_emission(self, on: bool) -> None:
        self._require("set_emission")
        with self.bench.change():
            self.bench.control_laser.emission = bool(on)

    def get_emission(self) -> bool:
        self._require("get_emission")
        with self.bench.lock:
            return self.bench.control_laser.emission

    def set_shutter(self, open_: bool) -> None:
        self._require("set_shutter")
        self._shutter(bool(open_))

    def get_shutter(self) -> bool:
        self._require("get_shutter")
        with self.bench.lock:
            return self.bench.control_laser.shutter_open

    def get_power(self) -> float:
        self._require("get_power")
        with self.bench.lock:
            power = self.bench.control_laser.power_at(self.bench.sync())
            noise = self.bench.config.control_laser.noise_rel * float(self.bench.rng.standard_normal())
            return max(power * (1.0 + noise), 0.0)

    def _shutter(self, open_: bool) -> None:
        with self.bench.change():
            self.bench.control_laser.shutter_open = open_

    def safe_state(self) -> None:
        self._shutter(False)
