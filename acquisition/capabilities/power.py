"""The power calibration in use: measured first when there is none, the attenuator it drives, and
every density setting read back on the pick-off against its prediction."""
from __future__ import annotations

from typing import TYPE_CHECKING

from acquisition.calibration import PowerCalibration
from acquisition.capabilities.stages import PolledStage
from drivers.attenuator import PowerAttenuator

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

#: measured/set density mismatch that triggers a warning (it is no margin on the limit: a reading
#: above the limit trips whatever the setpoint was)
READBACK_TOLERANCE = 0.1


class PowerControl:
    """Calibration and density verification (the run's shared state is in ``ctx.session``)."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def ensure(self) -> PowerCalibration:
        """The rig's stored calibration, or a fresh one measured now (and said so)."""
        from acquisition.experiments import POWER_CALIBRATION, providing  # the registry imports capabilities

        ctx = self._ctx
        session = ctx.session
        if session.calibration is None:
            rig_name = ctx.rig_config.name
            stored, stale = session.calibration_store.load_for_rig(session.rig)
            if stored is None:
                session.stale_calibration = stale
                if stale:
                    ctx.log.warning("%s", stale)
                ctx.note(f"{stale or f'no stored power calibration for rig {rig_name!r}'}: calibrating first")
                ctx.run_plan(providing(POWER_CALIBRATION).name, {}, stream_prefix="")
                stored = session.calibration
                session.calibrated_in_run = True
            assert stored is not None
            self.use(stored)
        assert session.calibration is not None
        return session.calibration

    def use(self, calibration: PowerCalibration, store: bool = False) -> None:
        """Use ``calibration`` for the rest of the run (and make it the rig's current one)."""
        ctx = self._ctx
        session = ctx.session
        if store:
            session.calibration_store.save(calibration)
        session.calibration = calibration
        wheel = ctx.instrument("nd_wheel") if ctx.has_instrument("nd_wheel") else None
        session.attenuator = PowerAttenuator(PolledStage(ctx, "hwp", ctx.instrument("hwp")),
                                             None if wheel is None else PolledStage(ctx, "nd_wheel", wheel),
                                             calibration, self.laser_power_w())
        session.attenuator.sync_from_stages()

    def laser_power_w(self) -> float:
        """The fixed pump setpoint the calibration was made at (power control is by the optics)."""
        return self.ensure().laser_power_w

    def attenuator(self) -> PowerAttenuator:
        self.ensure()
        assert self._ctx.session.attenuator is not None
        return self._ctx.session.attenuator

    def verify_density(self, setpoint_w_m2: float, predicted_w_m2: float | None = None) -> None:
        """Read the pick-off once the beam is on: a reading above the density limit (a wrong
        calibration, a stage that did not move) blocks the beam and raises InterlockError
        (``beam.trip_if_above_limit``: no margin, the meter's uncertainty is stated, and spent
        on the setpoints instead); a setting off the calibrated prediction by more than
        READBACK_TOLERANCE is counted and warned of."""
        ctx = self._ctx
        session = ctx.session
        density = ctx.beam.read().density_w_m2
        # with the chopper running the meter (after the chopper) reads the average
        duty = ctx.beam.open_fraction()
        ctx.beam.trip_if_above_limit(density / duty)
        expected = (predicted_w_m2 if predicted_w_m2 is not None else setpoint_w_m2) * duty
        session.readback_checked += 1
        if expected > 0:
            session.readback_max_deviation = max(session.readback_max_deviation, abs(density / expected - 1.0))
        if abs(density - expected) > READBACK_TOLERANCE * expected:
            session.readback_deviations.append({"setpoint_w_m2": setpoint_w_m2, "predicted_w_m2": expected,
                                                "measured_w_m2": density})
            ctx.log.warning("measured density %.4g W/m2 differs from the calibrated prediction %.4g W/m2 "
                            "by more than %.0f %%; recalibrate", density, expected, 100 * READBACK_TOLERANCE)
