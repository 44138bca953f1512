"""Simulated PM100-like power meter on the pick-off: wavelength correction, range, averaging, noise."""
from __future__ import annotations

import math

from drivers.errors import InstrumentError
from drivers.interfaces import PowerMeter
from drivers.validation import check_int_range, check_range
from sim_backends.bench import Bench
from sim_backends.devices.base import SimInstrument

#: a reading above this fraction of the manual range is over-range
OVER_RANGE_FRACTION = 1.1
MAX_AVERAGING = 10_000
#: the simulated head has no calibration error: a reading is off only by its noise, and the
#: uncertainty it states is this many standard deviations of a single-sample reading
UNCERTAINTY_SIGMAS = 5.0


class SimPowerMeter(SimInstrument, PowerMeter):
    model = "simulated Thorlabs PM100D + S120C"

    def __init__(self, name: str, address: str, bench: Bench) -> None:
        super().__init__(name, address, bench)
        self._averaging = 1
        self._auto_range = True
        self._range_w = bench.config.power_meter.max_range_w

    def set_wavelength(self, wavelength_m: float) -> None:
        p = self.bench.config.power_meter
        wavelength_m = check_range(f"{self.name}.wavelength_m", wavelength_m, p.min_wavelength_m,
                                   p.max_wavelength_m, "m")
        self._require("set_wavelength")
        with self.bench.lock:
            self.bench.power_meter_wavelength_m = wavelength_m

    def get_wavelength(self) -> float:
        self._require("get_wavelength")
        with self.bench.lock:
            return self.bench.power_meter_wavelength_m

    def set_auto_range(self, on: bool) -> None:
        self._require("set_auto_range")
        with self.bench.lock:
            if not on and self._auto_range:
                # manual range freezes at the decade that holds the present power
                present = max(self.bench.power_at_meter(self.bench.sync()), 1e-9)
                self._range_w = min(10.0 ** math.ceil(math.log10(present)),
                                    self.bench.config.power_meter.max_range_w)
            self._auto_range = bool(on)

    @property
    def relative_uncertainty(self) -> float:
        """UNCERTAINTY_SIGMAS x the relative noise of one sample (1 % with the default 0.2 %)."""
        return UNCERTAINTY_SIGMAS * self.bench.config.power_meter.noise_rel

    def set_averaging(self, count: int) -> None:
        count = check_int_range(f"{self.name}.averaging", count, 1, MAX_AVERAGING)
        self._require("set_averaging")
        self._averaging = count

    def read_power(self) -> float:
        self._require("read_power")
        p = self.bench.config.power_meter
        self.clock.sleep(self._averaging * p.sample_time_s)
        with self.bench.lock:
            true_w = self.bench.power_at_meter(self.bench.sync())
            limit = p.max_range_w if self._auto_range else self._range_w
            if true_w > OVER_RANGE_FRACTION * limit:
                raise InstrumentError(self.name, self.address, "read_power",
                                      f"over range: reading 9.9E37 (range {limit:g} W)")
            sigma = math.hypot(p.noise_rel * true_w, p.noise_floor_w) / math.sqrt(self._averaging)
            return true_w + sigma * float(self.bench.rng.standard_normal())
