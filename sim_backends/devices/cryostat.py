"""Simulated Lake Shore 335-like controller on the LN2 cryostat model of the bench.

Input A is the cold-finger sensor the loop regulates; input B sits on the sample holder and lags
behind (the temperature the particles see).
"""
from __future__ import annotations

from drivers.errors import InstrumentError
from drivers.interfaces import HeaterRangeChoice, TemperatureController, modelled_heater_range
from drivers.validation import check_choice, check_int_range, check_range
from sim_backends.devices.base import SimInstrument

CHANNELS = ("A", "B")
OUTPUTS = (1,)
#: the 335's second heater output is not wired on the simulated cryostat: it is always off, so
#: switching it off (what every safe_state does) is accepted and anything else is refused
UNWIRED_OUTPUTS = (2,)
#: Lake Shore ramp limits 0.001 - 100 K/min
MIN_RAMP_K_S = 0.001 / 60.0
MAX_RAMP_K_S = 100.0 / 60.0


class SimTemperatureController(SimInstrument, TemperatureController):
    model = "simulated Lake Shore 335"
    #: what the bench connects: the Lake Shore emulator serves the model's other inputs and
    #: outputs as a controller with nothing attached there
    wired_inputs = CHANNELS
    wired_outputs = OUTPUTS

    def get_temperature(self, channel: str = "A") -> float:
        check_choice(f"{self.name}.channel", channel, CHANNELS)
        self._require("get_temperature")
        with self.bench.lock:
            self.bench.sync()
            model = self.bench.cryostat
            kelvin = model.stage_k if channel == "A" else model.sample_k
            noise = self.bench.config.cryostat.sensor_noise_k * float(self.bench.rng.standard_normal())
            return kelvin + noise

    def set_setpoint(self, kelvin: float, output: int = 1) -> None:
        check_choice(f"{self.name}.output", output, OUTPUTS)
        kelvin = check_range(f"{self.name}.setpoint_k", kelvin, 0.0,
                             self.bench.config.cryostat.max_setpoint_k, "K")
        self._require("set_setpoint")
        with self.bench.change() as now:
            self.bench.cryostat.set_setpoint(now, kelvin)

    def get_setpoint(self, output: int = 1) -> float:
        check_choice(f"{self.name}.output", output, OUTPUTS)
        self._require("get_setpoint")
        with self.bench.lock:
            return self.bench.cryostat.setpoint_k

    def choose_heater_range(self, kelvin: float, tolerance_k: float = 0.0) -> HeaterRangeChoice:
        """The lowest range that holds ``kelvin`` against the bench cryostat's bath (this
        controller knows its cryostat: heat capacity, time constant, heater ranges)."""
        params = self.bench.config.cryostat
        conductance = params.heat_capacity_j_k / params.time_constant_s
        try:
            return modelled_heater_range(self.name, kelvin, params.bath_temperature_k, conductance,
                                         [float(w) for w in params.heater_full_scale_w])
        except ValueError as exc:
            raise InstrumentError(self.name, self.address, f"SETP {kelvin:g}", str(exc)) from None

    def set_heater_range(self, heater_range: int, output: int = 1) -> None:
        check_choice(f"{self.name}.output", output, OUTPUTS + UNWIRED_OUTPUTS)
        if output in UNWIRED_OUTPUTS:
            check_int_range(f"{self.name}.heater_range (output {output}, not wired)", heater_range, 0, 0)
            return
        heater_range = check_int_range(f"{self.name}.heater_range", heater_range, 0, 3)
        self._require("set_heater_range")
        self._set_range(heater_range)

    def get_heater_range(self, output: int = 1) -> int:
        check_choice(f"{self.name}.output", output, OUTPUTS + UNWIRED_OUTPUTS)
        if output in UNWIRED_OUTPUTS:
            return 0
        self._require("get_heater_range")
        with self.bench.lock:
            return self.bench.cryostat.heater_range

    def get_heater_output(self, output: int = 1) -> float:
        check_choice(f"{self.name}.output", output, OUTPUTS)
        self._require("get_heater_output")
        with self.bench.lock:
            self.bench.sync()
            return self.bench.cryostat.heater_pct

    def set_ramp(self, enabled: bool, rate_k_per_s: float, output: int = 1) -> None:
        check_choice(f"{self.name}.output", output, OUTPUTS)
        # as on the Lake Shore, 0 is accepted with the ramp off ("RAMP 1,0,0")
        rate_k_per_s = check_range(f"{self.name}.ramp_rate_k_per_s", rate_k_per_s,
                                   MIN_RAMP_K_S if enabled else 0.0, MAX_RAMP_K_S, "K/s")
        self._require("set_ramp")
        with self.bench.change() as now:
            self.bench.cryostat.set_ramp(now, bool(enabled), rate_k_per_s)

    def _set_range(self, heater_range: int) -> None:
        with self.bench.change() as now:
            self.bench.cryostat.set_heater_range(now, heater_range)

    def safe_state(self) -> None:
        self._set_range(0)
