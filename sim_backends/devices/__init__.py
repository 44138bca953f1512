"""Simulated instruments: every interface of drivers.interfaces implemented on the virtual bench.

``build_sim_devices(bench)`` returns one device per role; protocol emulators can wrap any of them.
"""
from __future__ import annotations

from typing import Any

from drivers.interfaces import Instrument
from sim_backends.bench import Bench
from sim_backends.devices.base import SimInstrument
from sim_backends.devices.chopper import SimChopper
from sim_backends.devices.control_laser import SimControlLaser
from sim_backends.devices.counter import SimPhotonCounter
from sim_backends.devices.cryostat import SimTemperatureController
from sim_backends.devices.power_meter import SimPowerMeter
from sim_backends.devices.pump import SimPumpLaser
from sim_backends.devices.shutter import SimShutter
from sim_backends.devices.stage import SimRotationStage
from sim_backends.devices.tagger import SimTimeTagger
from sim_backends.devices.xy_stage import SimXYStage

SIM_ADDRESS = "sim://bench"


def build_sim_device(role: str, bench: Bench, address: str = SIM_ADDRESS,
                     options: dict[str, Any] | None = None) -> Instrument:
    """The simulated device for ``role`` (a key of drivers.registry.ROLES) on ``bench``;
    ``options`` (the role's rig-file options) matter to the XY stage (its limits)."""
    if role == "xy_stage":
        return SimXYStage(role, address, bench, **(options or {}))
    if options:
        # silently dropping them would hide a typo or a wrong driver name
        raise ValueError(f"options={options} is not allowed: the simulated {role} takes no options; "
                         "allowed: options with a real driver (and the xy_stage's limits)")
    stages = {"hwp": bench.hwp, "nd_wheel": bench.nd_wheel,
              "control_attenuator": bench.control_attenuator}
    shutters = {"pump_shutter": bench.pump_shutter, "control_shutter": bench.control_shutter,
                "emission_shutter": bench.emission_shutter}
    simple: dict[str, type[SimInstrument]] = {
        "pump": SimPumpLaser, "power_meter": SimPowerMeter, "counter": SimPhotonCounter,
        "tagger": SimTimeTagger, "chopper": SimChopper, "cryostat": SimTemperatureController,
        "control_laser": SimControlLaser}
    if role in stages:
        return SimRotationStage(role, address, bench, stages[role])
    if role in shutters:
        return SimShutter(role, address, bench, shutters[role])
    if role in simple:
        return simple[role](role, address, bench)
    allowed = ", ".join(repr(r) for r in (*simple, *stages, *shutters, "xy_stage"))
    raise ValueError(f"role={role!r} is not allowed; allowed values: {allowed}")


def build_sim_devices(bench: Bench, roles: tuple[str, ...] | None = None) -> dict[str, Instrument]:
    from drivers.registry import ROLES

    return {role: build_sim_device(role, bench) for role in (roles or tuple(ROLES))}


__all__ = ["SIM_ADDRESS", "SimChopper", "SimControlLaser", "SimInstrument", "SimPhotonCounter",
           "SimPowerMeter", "SimPumpLaser", "SimRotationStage", "SimShutter",
           "SimTemperatureController", "SimTimeTagger", "SimXYStage", "build_sim_device",
           "build_sim_devices"]
