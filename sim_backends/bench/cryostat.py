"""LN2 cryostat with a resistive heater under PID control, and the sample lagging behind the sensor.

Cold finger:  C dT/dt = Q_heater - G (T - T_bath),   tau = C / G
Sample:       dT_s/dt = (T - T_s) / tau_sample
Heater:       Q = full_scale[range] * u,  u% = P (e + I int(e) dt + D de/dt), clipped to 0..100 %,
with conditional integration (no wind-up while the output is saturated). The setpoint can ramp.
"""
from __future__ import annotations

import math

from sim_backends.bench.config import CryostatParams

#: integration step with the heater regulating (explicit PID update)
PID_STEP_S = 0.25
#: integration step with the heater off (exponential update, exact for the linear stage)
FREE_STEP_S = 5.0


class CryostatModel:
    def __init__(self, params: CryostatParams) -> None:
        self.params = params
        self.t = 0.0
        self.stage_k = params.start_temperature_k
        self.sample_k = params.start_temperature_k
        self.setpoint_k = params.bath_temperature_k
        self.ramp_enabled = False
        self.ramp_rate_k_s = 0.1
        self.heater_range = 0
        self.heater_pct = 0.0
        self._ramped_setpoint_k = params.bath_temperature_k
        self._integral = 0.0
        self._last_error: float | None = None

    @property
    def conductance_w_k(self) -> float:
        return self.params.heat_capacity_j_k / self.params.time_constant_s

    def set_setpoint(self, t: float, kelvin: float) -> None:
        self.advance_to(t)
        if not self.ramp_enabled:
            self._ramped_setpoint_k = kelvin
        self.setpoint_k = kelvin

    def set_ramp(self, t: float, enabled: bool, rate_k_s: float) -> None:
        self.advance_to(t)
        self.ramp_enabled = enabled
        self.ramp_rate_k_s = rate_k_s
        if not enabled:
            self._ramped_setpoint_k = self.setpoint_k
        else:
            # a ramp starts from where the sample is, like the Lake Shore does
            self._ramped_setpoint_k = self.stage_k

    def set_heater_range(self, t: float, heater_range: int) -> None:
        self.advance_to(t)
        if heater_range != self.heater_range:
            self._integral = 0.0
            self._last_error = None
        self.heater_range = heater_range
        if heater_range == 0:
            self.heater_pct = 0.0

    def effective_setpoint_k(self) -> float:
        return self._ramped_setpoint_k

    def ramping(self) -> bool:
        return self.ramp_enabled and self._ramped_setpoint_k != self.setpoint_k

    def _heater_power_w(self) -> float:
        if self.heater_range == 0:
            return 0.0
        return self.params.heater_full_scale_w[self.heater_range - 1] * self.heater_pct / 100.0

    def _update_pid(self, dt: float) -> None:
        p = self.params
        error = self._ramped_setpoint_k - self.stage_k
        derivative = 0.0 if self._last_error is None or dt <= 0 else (error - self._last_error) / dt
        self._last_error = error
        trial_integral = self._integral + error * dt
        raw = p.pid_p * (error + p.pid_i * trial_integral + p.pid_d * derivative)
        if 0.0 < raw < 100.0 or (raw >= 100.0 and error < 0) or (raw <= 0.0 and error > 0):
            self._integral = trial_integral
        raw = p.pid_p * (error + p.pid_i * self._integral + p.pid_d * derivative)
        self.heater_pct = min(max(raw, 0.0), 100.0)

    def _advance_ramp(self, dt: float) -> None:
        if not self.ramping():
            return
        step = self.ramp_rate_k_s * dt
        gap = self.setpoint_k - self._ramped_setpoint_k
        self._ramped_setpoint_k = self.setpoint_k if abs(gap) <= step else \
            self._ramped_setpoint_k + math.copysign(step, gap)

    def advance_to(self, t: float) -> None:
        """Integrate the thermal model up to clock time ``t`` (never backwards)."""
        p = self.params
        while self.t < t:
            regulating = self.heater_range > 0
            dt = min(t - self.t, PID_STEP_S if (regulating or self.ramping()) else FREE_STEP_S)
            self._advance_ramp(dt)
            if regulating:
                self._update_pid(dt)
            equilibrium = p.bath_temperature_k + self._heater_power_w() / self.conductance_w_k
            self.stage_k = equilibrium + (self.stage_k - equilibrium) * math.exp(-dt / p.time_constant_s)
            self.sample_k = self.stage_k + (self.sample_k - self.stage_k) * math.exp(
                -dt / p.sample_time_constant_s)
            self.t += dt

    def settled(self) -> bool:
        """True when nothing will change appreciably any more (for the bench's step control)."""
        return (self.heater_range == 0 and abs(self.stage_k - self.params.bath_temperature_k) < 0.01
                and abs(self.sample_k - self.stage_k) < 0.01)
