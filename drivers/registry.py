"""Which driver classes a rig file may name, per role.

A rig file says, for each role, ``driver = "<name>"`` and ``address = "..."`` (or
``driver = "sim"``). Entries are import strings so that importing the registry does not import
every vendor stack (nidaqmx, ctypes libraries) on machines that do not need them.

Every driver class is constructed as ``cls(name=role, address=address, clock=clock, **options)``
and implements the interface of its role from ``drivers.interfaces``.
"""
from __future__ import annotations

import importlib
from typing import Any

from drivers import interfaces as itf
from drivers.clock import Clock
from drivers.validation import check_choice

#: role -> interface every driver for that role implements
ROLES: dict[str, type[itf.Instrument]] = {
    "pump": itf.PumpLaser,
    "hwp": itf.RotationStage,
    "nd_wheel": itf.RotationStage,
    "power_meter": itf.PowerMeter,
    "counter": itf.PhotonCounter,
    "tagger": itf.TimeTagger,
    "chopper": itf.Chopper,
    "cryostat": itf.TemperatureController,
    "control_laser": itf.ControlLaser,
    "control_attenuator": itf.RotationStage,
    "pump_shutter": itf.Shutter,
    "control_shutter": itf.Shutter,
    "emission_shutter": itf.Shutter,
    "xy_stage": itf.XYStage,
}

#: driver name -> "module:Class"
DRIVERS: dict[str, str] = {
    "opus": "drivers.laser_quantum_opus:OpusPumpLaser",
    "k10cr1": "drivers.thorlabs_apt.stage:K10CR1Stage",
    "kdc101_prm1z8": "drivers.thorlabs_apt.stage:PRM1Z8Stage",
    "pm100": "drivers.thorlabs_pm100:PM100PowerMeter",
    "nidaq_counter": "drivers.nidaq_counter:NIDAQPhotonCounter",
    "hydraharp": "drivers.picoquant.hydraharp:HydraHarpTimeTagger",
    "mc2000b": "drivers.thorlabs_mc2000b:MC2000BChopper",
    "lakeshore335": "drivers.lakeshore:LakeShore335Controller",
    "lakeshore336": "drivers.lakeshore:LakeShore336Controller",
    "chameleon": "drivers.coherent_chameleon:ChameleonControlLaser",
    "sc10": "drivers.thorlabs_sc10:SC10Shutter",
    "kdc101_z8_xy": "drivers.thorlabs_apt.xy_stage:KDC101XYStage",
}

#: which driver names make sense for which role (rig validation)
DRIVERS_FOR_ROLE: dict[str, tuple[str, ...]] = {
    "pump": ("opus",),
    "hwp": ("k10cr1", "kdc101_prm1z8"),
    "nd_wheel": ("k10cr1", "kdc101_prm1z8"),
    "control_attenuator": ("k10cr1", "kdc101_prm1z8"),
    "power_meter": ("pm100",),
    "counter": ("nidaq_counter",),
    "tagger": ("hydraharp",),
    "chopper": ("mc2000b",),
    "cryostat": ("lakeshore335", "lakeshore336"),
    "control_laser": ("chameleon",),
    "pump_shutter": ("sc10",),
    "control_shutter": ("sc10",),
    "emission_shutter": ("sc10",),
    "xy_stage": ("kdc101_z8_xy",),
}


def driver_class(driver: str) -> type[itf.Instrument]:
    """Import and return the class registered under ``driver``."""
    check_choice("driver", driver, tuple(DRIVERS))
    module_name, class_name = DRIVERS[driver].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_driver(role: str, driver: str, address: str, clock: Clock,
                  **options: Any) -> itf.Instrument:
    """Build (not connect) the real driver for ``role``."""
    check_choice("role", role, tuple(ROLES))
    check_choice(f"{role}.driver", driver, DRIVERS_FOR_ROLE[role])
    instrument = driver_class(driver)(name=role, address=address, clock=clock, **options)
    if not isinstance(instrument, ROLES[role]):
        raise TypeError(f"driver {driver!r} does not implement {ROLES[role].__name__}")
    return instrument
