"""What an operator does at the bench, written once for the tests: calibrate the HWP with the power
meter, then set power densities by turning the plate. Only the role interfaces are used."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from acquisition.rig import Rig

#: ND wheel angle giving OD 3.5 on the default 0-4 OD / 270 deg wheel
ND_ANGLE_DEG = 236.25
PUMP_POWER_W = 1.0


def malus(theta_deg: np.ndarray, amplitude: float, offset_deg: float, floor: float) -> np.ndarray:
    return amplitude * np.cos(np.radians(2.0 * (theta_deg - offset_deg))) ** 2 + floor


@dataclass
class HwpCalibration:
    amplitude_w: float   # meter reading swing (T_max part)
    offset_deg: float
    floor_w: float       # meter reading at extinction (T_min part)

    @property
    def extinction_ratio(self) -> float:
        return (self.amplitude_w + self.floor_w) / self.floor_w

    def angle_for_reading(self, reading_w: float) -> float:
        fraction = (reading_w - self.floor_w) / self.amplitude_w
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"reading_w={reading_w:g} is outside the calibrated span "
                             f"[{self.floor_w:g}, {self.floor_w + self.amplitude_w:g}] W")
        return self.offset_deg + math.degrees(math.acos(math.sqrt(fraction))) / 2.0


def prepare_pump(rig: Rig) -> None:
    """Attenuate first, then let the beam out (never sweep the ND wheel with the beam on)."""
    rig.nd_wheel.move_to(ND_ANGLE_DEG)
    rig.pump.set_power(PUMP_POWER_W)
    rig.pump.set_emission(True)
    rig.pump_shutter.open()
    rig.power_meter.set_wavelength(1064e-9)
    rig.power_meter.set_averaging(100)
    rig.clock.sleep(3.0)  # laser warm-up


def calibrate_hwp(rig: Rig, step_deg: float = 2.0) -> HwpCalibration:
    angles = np.arange(0.0, 180.0 + step_deg / 2, step_deg)
    readings = []
    for angle in angles:
        rig.hwp.move_to(float(angle))
        readings.append(rig.power_meter.read_power())
    readings_arr = np.array(readings)
    guess = (readings_arr.max() - readings_arr.min(), float(angles[np.argmax(readings_arr)]),
             max(readings_arr.min(), 1e-12))
    params, _ = curve_fit(malus, angles, readings_arr, p0=guess)
    amplitude, offset, floor = params
    offset = (offset + 45.0) % 90.0 - 45.0  # the Malus curve repeats every 90 deg of plate angle
    return HwpCalibration(float(amplitude), float(offset), float(floor))


def set_density(rig: Rig, calibration: HwpCalibration, density_w_m2: float) -> float:
    """Turn the HWP to the density and return the density measured through the pick-off."""
    target = rig.config.beam.meter_reading_for_density(density_w_m2)
    rig.hwp.move_to(calibration.angle_for_reading(target))
    return rig.config.beam.density_from_meter(rig.power_meter.read_power())


def malus_polariser(theta_deg: np.ndarray, amplitude: float, offset_deg: float, floor: float) -> np.ndarray:
    return amplitude * np.cos(np.radians(theta_deg - offset_deg)) ** 2 + floor


@dataclass
class AttenuatorCalibration:
    amplitude_w: float
    offset_deg: float
    floor_w: float

    def angle_for_reading(self, reading_w: float) -> float:
        fraction = (reading_w - self.floor_w) / self.amplitude_w
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"reading_w={reading_w:g} is outside the calibrated span "
                             f"[{self.floor_w:g}, {self.floor_w + self.amplitude_w:g}] W")
        return self.offset_deg + math.degrees(math.acos(math.sqrt(fraction)))


def prepare_control(rig: Rig, wavelength_m: float = 808e-9) -> None:
    """Tune the control laser and open its own shutter; the control-path shutter stays closed."""
    rig.control_shutter.close_shutter()
    rig.control_laser.set_emission(True)
    rig.control_laser.set_wavelength(wavelength_m)
    rig.control_laser.wait_tuned()
    rig.control_laser.set_shutter(True)


def calibrate_control_attenuator(rig: Rig, step_deg: float = 10.0) -> AttenuatorCalibration:
    """Pump blocked, APD protected: read the control beam on the pick-off versus polariser angle."""
    rig.pump_shutter.close_shutter()
    rig.emission_shutter.close_shutter()
    rig.power_meter.set_wavelength(rig.control_laser.get_wavelength())
    rig.power_meter.set_averaging(1000)
    rig.control_shutter.open()
    angles = np.arange(0.0, 180.0 + step_deg / 2, step_deg)
    readings = []
    for angle in angles:
        rig.control_attenuator.move_to(float(angle))
        readings.append(rig.power_meter.read_power())
    rig.control_shutter.close_shutter()
    rig.power_meter.set_wavelength(rig.config.beam.pump_wavelength_m)
    readings_arr = np.array(readings)
    guess = (readings_arr.max() - readings_arr.min(), float(angles[np.argmax(readings_arr)]),
             max(readings_arr.min(), 1e-15))
    params, _ = curve_fit(malus_polariser, angles, readings_arr, p0=guess)
    amplitude, offset, floor = params
    offset = (offset + 90.0) % 180.0 - 90.0
    return AttenuatorCalibration(float(amplitude), float(offset), float(floor))


def set_control_density(rig: Rig, calibration: AttenuatorCalibration, density_w_m2: float) -> None:
    beam = rig.config.beam
    target = density_w_m2 * beam.control_beam_area_m2 * beam.pickoff_ratio
    rig.control_attenuator.move_to(calibration.angle_for_reading(target))


def move_to_density(rig: Rig, calibration: HwpCalibration, density_w_m2: float) -> None:
    """Turn the plate to a density without reading the meter (e.g. with the pump shutter closed)."""
    target = rig.config.beam.meter_reading_for_density(density_w_m2)
    rig.hwp.move_to(calibration.angle_for_reading(target))
