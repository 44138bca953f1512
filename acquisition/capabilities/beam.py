"""The pump beam: emission and shutter, the density at the sample, pick-off readings, the limit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from acquisition.interlocks import check_power_density, measured_density_error
from acquisition.units import W_M2_PER_KW_CM2
from drivers.attenuator import AttenuatorSetting
from drivers.errors import InterlockError

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

#: output stabilisation after the pump's emission is switched on (diode-pumped lasers rise
#: over a fraction of a second; the sample must not see the ramp)
PUMP_WARMUP_S = 2.0


@dataclass(frozen=True)
class PowerReading:
    """A pick-off reading and what it means at the sample."""

    pickoff_w: float
    sample_w: float
    density_w_m2: float


class PumpBeam:
    """The 1064 nm pump at the sample. Densities are W/m2; the optics (``ctx.power``) set them,
    the pump runs at the calibration's fixed power."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def check_density(self, density_w_m2: float, field_name: str = "power_density") -> None:
        """InterlockError (and an interlock event) for a setpoint above the rig's density limit
        less the power meter's stated uncertainty (nothing has moved yet)."""
        try:
            check_power_density(density_w_m2, self._ctx.limits, field_name)
        except InterlockError as exc:
            self._ctx.waiting.interlock("power_density", str(exc))
            raise

    def trip_if_above_limit(self, measured_w_m2: float, field_name: str = "measured_density") -> None:
        """The hard limit on a *reading*: a measured density above the rig limit blocks the beam
        (pump and control) and raises InterlockError; the interlock says the reading, the
        meter's uncertainty and the limit."""
        message = measured_density_error(field_name, measured_w_m2, self._ctx.limits)
        if message is None:
            return
        ctx = self._ctx
        self.off()
        if ctx.has_instrument("control_laser"):
            ctx.instrument("control_laser").set_shutter(False)
        ctx.waiting.interlock("power_density", message)
        raise InterlockError(message)

    def open_fraction(self) -> float:
        """The fraction of the time the pump reaches the sample (the chopper's duty, 1 without)."""
        duty = self._ctx.session.chopper_duty
        return 1.0 if duty is None else float(duty)

    def check_reachable(self, density_w_m2: float) -> None:
        """ValueError (one line, kW/cm2) if the calibrated optics cannot deliver the density."""
        attenuator = self._ctx.power.attenuator()
        area = self._ctx.beam_area_m2
        low, high = attenuator.min_power_w / area, attenuator.max_power_w / area
        if not low <= density_w_m2 <= high:
            raise ValueError(f"power_density={density_w_m2 / W_M2_PER_KW_CM2:g} kW/cm2 is outside what the "
                             f"calibrated optics deliver; allowed range [{low / W_M2_PER_KW_CM2:.3g}, "
                             f"{high / W_M2_PER_KW_CM2:.3g}] kW/cm2 (recalibrate with another laser_power_w "
                             "to move it)")

    def prepare_range(self, max_density_w_m2: float) -> None:
        """Fix the ND wheel for a scan up to ``max_density_w_m2`` (before the scan starts)."""
        self._ctx.checkpoint()
        self.check_density(max_density_w_m2)
        self.check_reachable(max_density_w_m2)
        self._ctx.power.attenuator().select_range(max_density_w_m2 * self._ctx.beam_area_m2)

    def set_density(self, density_w_m2: float) -> AttenuatorSetting:
        """Set the pump density at the sample (refused above the rig limit) and open the beam;
        the pick-off reading is checked against the calibration (``ctx.power``)."""
        ctx = self._ctx
        ctx.checkpoint()
        self.check_density(density_w_m2)
        self.check_reachable(density_w_m2)
        setting = ctx.power.attenuator().set_power(density_w_m2 * ctx.beam_area_m2)
        ctx.log.debug("density -> %.4g W/m2 (plate %.3f deg, wheel %.3f deg)",
                      density_w_m2, setting.plate_deg, setting.wheel_deg)
        self.on()
        ctx.power.verify_density(density_w_m2, setting.predicted_power_w / ctx.beam_area_m2)
        return setting

    def on(self, laser_power_w: float | None = None) -> None:
        """Pump emission on at its fixed setpoint (the calibration's unless given) and shutter open."""
        ctx = self._ctx
        session = ctx.session
        if session.beam_on:
            return
        pump = ctx.instrument("pump")
        power_w = ctx.power.laser_power_w() if laser_power_w is None else float(laser_power_w)
        pump.set_power(power_w)
        session.pump_setpoint_w = power_w
        if not pump.get_emission():
            if ctx.has_instrument("pump_shutter"):
                ctx.instrument("pump_shutter").close_shutter()
            pump.set_emission(True)
            ctx.log.info("pump emission on; %g s warm-up behind the closed shutter", PUMP_WARMUP_S)
            ctx.sleep(PUMP_WARMUP_S)
        if ctx.has_instrument("emission_shutter") and not ctx.instrument("emission_shutter").is_open():
            ctx.instrument("emission_shutter").open()  # detection path: closed only around control pulses
        if ctx.has_instrument("pump_shutter"):
            ctx.instrument("pump_shutter").open()
        session.beam_on = True
        ctx.log.info("pump beam on")

    def off(self) -> None:
        """Block the pump (shutter closed; emission off when there is no shutter)."""
        ctx = self._ctx
        if ctx.has_instrument("pump_shutter"):
            ctx.instrument("pump_shutter").close_shutter()
        else:
            ctx.instrument("pump").set_emission(False)
        ctx.session.beam_on = False
        ctx.log.info("pump beam blocked")

    def objective_power_from_pickoff(self, pickoff_w: float) -> float:
        """Power entering the objective: the pick-off reading over the pick-off ratio.

        Reported densities are this power over the 1/e2 beam area (physics.md convention); the
        objective transmission is part of the rig's beam calibration, not of the figure.
        """
        return pickoff_w / float(self._ctx.rig_config.beam.pickoff_ratio)

    def measure(self) -> PowerReading:
        """Read the pick-off power meter; what it means at the sample and as a density. With the
        beam open, a reading above the density limit trips (``trip_if_above_limit``; under a
        chopper the meter reads the average, the sample sees it over the open fraction)."""
        self._ctx.checkpoint()
        reading = self.read()
        if self._ctx.session.beam_on:
            self.trip_if_above_limit(reading.density_w_m2 / self.open_fraction())
        return reading

    def read(self) -> PowerReading:
        """One pick-off reading, no checks (the caller judges it: ``measure``, ``verify_density``)."""
        pickoff = float(self._ctx.instrument("power_meter").read_power())
        sample = self.objective_power_from_pickoff(pickoff)
        return PowerReading(pickoff, sample, sample / self._ctx.beam_area_m2)

    def set_meter_wavelength(self, wavelength_m: float) -> None:
        self._ctx.instrument("power_meter").set_wavelength(wavelength_m)
