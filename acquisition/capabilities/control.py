"""The control-laser path: tune, measure what the path delivers (pump blocked, APD shielded),
set the density, and fire pulses with the emission path blocked."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from acquisition.calibration import fit_malus
from acquisition.units import W_M2_PER_W_CM2

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext


class ControlPath:
    """The control laser (role ``control_laser``) and its attenuator (``control_attenuator``)."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def prepare(self, wavelength_m: float, density_w_m2: float, angles_deg: np.ndarray | None = None) -> float:
        """Tune the control laser and set its attenuator for ``density_w_m2`` at the sample.

        The control path (fixed ND + rotating polariser) is measured first through the pick-off,
        with the pump blocked and the emission shutter closed: polariser angle -> control
        density, fitted with cos^2(theta - theta0). Returns the density the fit predicts.
        """
        ctx = self._ctx
        ctx.checkpoint()
        laser = ctx.instrument("control_laser")
        attenuator = ctx.instrument("control_attenuator")
        laser.set_shutter(False)
        if not laser.get_emission():
            laser.set_emission(True)
        laser.set_wavelength(wavelength_m)
        laser.wait_tuned()
        ctx.beam.off()
        area = float(ctx.rig_config.beam.control_beam_area_m2)
        meter = ctx.instrument("power_meter")
        meter.set_wavelength(wavelength_m)
        angles = np.linspace(0.0, 180.0, 13) if angles_deg is None else np.asarray(angles_deg)
        densities = []
        for angle in angles:
            # move in the dark, then a short exposure per reading: the sample sees steps, not ramps
            ctx.checkpoint()
            ctx.stages.move_polled("control_attenuator", attenuator, float(angle))
            with self._beam_open():
                density = ctx.beam.objective_power_from_pickoff(float(meter.read_power())) / area
            # the sample's density limit holds for any beam on it (the pump is blocked here)
            ctx.beam.trip_if_above_limit(density, "measured_control_density")
            densities.append(density)
        meter.set_wavelength(float(ctx.rig_config.beam.pump_wavelength_m))
        fit = fit_malus(angles, np.asarray(densities), harmonic=1)
        ctx.session.calibration_store.save_control_range(ctx.rig_config, wavelength_m, fit.lowest, fit.highest)
        if not fit.lowest <= density_w_m2 <= fit.highest:
            raise ValueError(f"control_density={density_w_m2 / W_M2_PER_W_CM2:g} W/cm2 is outside what the "
                             f"control path delivers at {wavelength_m * 1e9:.0f} nm; allowed range "
                             f"[{fit.lowest / W_M2_PER_W_CM2:.3g}, {fit.highest / W_M2_PER_W_CM2:.3g}] W/cm2")
        ctx.stages.move_polled("control_attenuator", attenuator, fit.angle_for(density_w_m2))
        ctx.log.info("control laser %.1f nm: polariser %.2f deg for %.3g W/cm2 (path max %.3g W/cm2)",
                     wavelength_m * 1e9, fit.angle_for(density_w_m2), density_w_m2 / W_M2_PER_W_CM2,
                     fit.highest / W_M2_PER_W_CM2)
        return fit.transmission(fit.angle_for(density_w_m2))

    @contextlib.contextmanager
    def _beam_open(self) -> Iterator[None]:
        """Control beam on the sample with the APD path blocked; everything closed afterwards."""
        ctx = self._ctx
        laser = ctx.instrument("control_laser")
        emission_shutter = ctx.instrument("emission_shutter") if ctx.has_instrument("emission_shutter") else None
        control_shutter = ctx.instrument("control_shutter") if ctx.has_instrument("control_shutter") else None
        if emission_shutter is not None:
            emission_shutter.close_shutter()
        try:
            laser.set_shutter(True)
            if control_shutter is not None:
                control_shutter.open()
            yield
        finally:
            if control_shutter is not None:
                control_shutter.close_shutter()
            laser.set_shutter(False)
            if emission_shutter is not None:
                emission_shutter.open()

    def pulse(self, duration_s: float) -> None:
        """Open the control beam for ``duration_s`` with the emission path blocked meanwhile."""
        ctx = self._ctx
        ctx.checkpoint()
        with self._beam_open():
            ctx.log.info("control pulse: %.3g s", duration_s)
            if not ctx.clock.sleep(duration_s, ctx.session.control.stop_event):
                ctx.session.control.raise_if_aborted()
