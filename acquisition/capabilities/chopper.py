"""The optical chopper: blade choice for a frequency and duty cycle, spin-up, stop."""
from __future__ import annotations

from typing import TYPE_CHECKING

from acquisition.blades import blade_for
from drivers.errors import InstrumentError

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

#: how long a chopper may take to reach its frequency
CHOPPER_SPINUP_TIMEOUT_S = 30.0


class ChopperControl:
    """The chopper (role ``chopper``); while it runs the meter reads the average power."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def run(self, frequency_hz: float, duty_cycle: float) -> str:
        """Choose the blade, spin up, wait until the blade runs at the frequency; returns the blade."""
        ctx = self._ctx
        ctx.checkpoint()
        chopper = ctx.instrument("chopper")
        blade = blade_for(frequency_hz, duty_cycle)
        chopper.set_enabled(False)
        if chopper.get_blade() != blade.name:
            chopper.set_blade(blade.name)
        chopper.set_frequency(frequency_hz)
        if blade.variable_duty:
            chopper.set_duty_cycle(duty_cycle)
        chopper.set_enabled(True)
        deadline = ctx.clock.now() + CHOPPER_SPINUP_TIMEOUT_S
        while abs(chopper.get_actual_frequency() - frequency_hz) > max(0.01 * frequency_hz, 0.5):
            if ctx.clock.now() > deadline:
                raise InstrumentError("chopper", "-", f"freq={frequency_hz:g}",
                                      f"blade did not reach the frequency within {CHOPPER_SPINUP_TIMEOUT_S:g} s")
            ctx.sleep(0.2)
        ctx.session.chopper_duty = duty_cycle
        ctx.session.chopper_frequency_hz = frequency_hz
        ctx.log.info("chopper: blade %s at %g Hz, duty %g", blade.name, frequency_hz, duty_cycle)
        return blade.name

    def stop(self) -> None:
        """Blade stopped (parked open: the beam is continuous); nothing to do without a chopper."""
        ctx = self._ctx
        if ctx.has_instrument("chopper"):
            ctx.instrument("chopper").set_enabled(False)
            ctx.session.chopper_duty = None
            ctx.session.chopper_frequency_hz = None
            ctx.log.info("chopper stopped (beam continuous)")
