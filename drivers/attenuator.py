"""PowerAttenuator: a target power at the sample -> ND wheel angle (coarse) + plate angle (fine).

Built on two rotation stages (``drivers.interfaces.RotationStage``): a continuously variable ND
wheel and a half-wave plate in front of a Glan-Taylor polariser, plus a power calibration
(``acquisition.calibration.PowerCalibration``) that maps their angles to power at the sample.

Policy, chosen for bistable samples, whose state depends on the path the power took:
- the wheel picks a *range* (``select_range``) and then stays put while the plate does the fine
  steps, because a wheel move in the middle of a sweep makes the power dip or overshoot while the
  two stages travel;
- the plate works on one monotonic Malus branch (theta0 .. theta0 + 45 deg), so a plate move
  passes only through powers between its start and end;
- when the wheel must move, the stage whose move lowers the transmission goes first, so the
  power on the way never exceeds the larger of the old and new settings (safety over smoothness);
- the wheel is trusted only at calibrated angles: anywhere else (after power-up, a manual move)
  its transmission is unknown, so the first setting moves it to a calibrated level.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers.interfaces import RotationStage
from drivers.validation import check_positive, check_range

if TYPE_CHECKING:  # drivers must not import the acquisition layer at run time
    from acquisition.calibration import PowerCalibration

log = logging.getLogger(__name__)

#: keep this fraction of the plate's range in reserve above a range's top power
RANGE_HEADROOM = 0.9
#: a wheel within this of a calibrated angle is at that level
WHEEL_TOLERANCE_DEG = 0.05


@dataclass(frozen=True)
class AttenuatorSetting:
    wheel_deg: float
    plate_deg: float
    predicted_power_w: float


class PowerAttenuator:
    """Sets the pump power at the sample through the wheel and plate stages."""

    def __init__(self, plate: RotationStage, wheel: RotationStage | None,
                 calibration: "PowerCalibration", laser_power_w: float) -> None:
        self.plate = plate
        self.wheel = wheel
        self.calibration = calibration
        self.laser_power_w = check_positive("laser_power_w", laser_power_w, "W")
        # None: the wheel is not known to sit at a calibrated level
        self._wheel_deg: float | None = None if wheel is not None else calibration.wheel.reference_deg

    # ---- what the optics can deliver -------------------------------------------------------
    def _wheel_levels(self) -> list[tuple[float, float]]:
        if self.wheel is None:
            return [(self.calibration.wheel.reference_deg, 1.0)]
        return self.calibration.wheel.levels()

    @property
    def max_power_w(self) -> float:
        top = self._wheel_levels()[0][1]
        return self.laser_power_w * self.calibration.plate.highest * top

    @property
    def min_power_w(self) -> float:
        bottom = self._wheel_levels()[-1][1]
        return self.laser_power_w * self.calibration.plate.lowest * bottom

    def _range_top(self, wheel_transmission: float) -> float:
        return self.laser_power_w * self.calibration.plate.highest * wheel_transmission

    def wheel_level_for(self, max_power_w: float) -> tuple[float, float]:
        """Most attenuating wheel level whose plate range still reaches ``max_power_w``
        with headroom (the plate then works where its resolution is best)."""
        check_range("max_power_w", max_power_w, 0.0, self.max_power_w, "W", low_inclusive=False)
        levels = self._wheel_levels()
        for angle, transmission in reversed(levels):  # most attenuating first
            if max_power_w <= RANGE_HEADROOM * self._range_top(transmission):
                return angle, transmission
        return levels[0]

    def setting_for(self, power_w: float, wheel_deg: float | None = None) -> AttenuatorSetting:
        """Angles that give ``power_w`` at the sample (with the wheel at ``wheel_deg`` if given)."""
        check_range("power_w", power_w, self.min_power_w, self.max_power_w, "W")
        wheel_deg = self._wheel_deg if wheel_deg is None else wheel_deg
        plate = self.calibration.plate
        if wheel_deg is None:
            wheel_deg, wheel_t = self.wheel_level_for(power_w)
        else:
            wheel_t = self.calibration.wheel.transmission(wheel_deg) if self.wheel else 1.0
        needed = power_w / (self.laser_power_w * wheel_t)
        if not plate.lowest <= needed <= plate.highest:
            wheel_deg, wheel_t = self.wheel_level_for(power_w)
            needed = power_w / (self.laser_power_w * wheel_t)
            needed = min(max(needed, plate.lowest), plate.highest)
        plate_deg = plate.angle_for(needed)
        predicted = self.laser_power_w * plate.transmission(plate_deg) * wheel_t
        return AttenuatorSetting(wheel_deg, plate_deg, predicted)

    # ---- moves -----------------------------------------------------------------------------
    def select_range(self, max_power_w: float) -> None:
        """Fix the wheel for a scan whose highest power is ``max_power_w``; the plate is first
        turned to its lowest transmission so that the wheel move cannot raise the power."""
        wheel_deg, _ = self.wheel_level_for(max_power_w)
        if self.wheel is not None and (self._wheel_deg is None or wheel_deg != self._wheel_deg):
            self.plate.move_to(self.calibration.plate.angle_for(self.calibration.plate.lowest))
            log.info("ND wheel -> %.3f deg for a range up to %.3g W", wheel_deg, max_power_w)
            self.wheel.move_to(wheel_deg)
        self._wheel_deg = wheel_deg

    def apply(self, setting: AttenuatorSetting) -> None:
        """Move both stages, the transmission-lowering move first."""
        plate_now = self.plate.get_position()
        plate_t_now = self.calibration.plate.transmission(plate_now)
        plate_t_new = self.calibration.plate.transmission(setting.plate_deg)
        wheel_moves = self.wheel is not None and (self._wheel_deg is None or setting.wheel_deg != self._wheel_deg)
        if wheel_moves and self._wheel_deg is None:
            # unknown wheel transmission: plate to its minimum first, then the wheel, then the plate
            self.plate.move_to(self.calibration.plate.angle_for(self.calibration.plate.lowest))
            self._move_wheel(setting.wheel_deg)
            self.plate.move_to(setting.plate_deg)
        elif wheel_moves and plate_t_new > plate_t_now:
            self._move_wheel(setting.wheel_deg)
            self.plate.move_to(setting.plate_deg)
        else:
            self.plate.move_to(setting.plate_deg)
            if wheel_moves:
                self._move_wheel(setting.wheel_deg)
        log.debug("attenuator: wheel %.3f deg, plate %.3f deg -> %.4g W predicted",
                  setting.wheel_deg, setting.plate_deg, setting.predicted_power_w)

    def _move_wheel(self, wheel_deg: float) -> None:
        assert self.wheel is not None
        self.wheel.move_to(wheel_deg)
        self._wheel_deg = wheel_deg

    def set_power(self, power_w: float) -> AttenuatorSetting:
        setting = self.setting_for(power_w)
        self.apply(setting)
        return setting

    def sync_from_stages(self) -> None:
        """Adopt the wheel position the stage reports if it is a calibrated level, else mark the
        wheel unknown (after connect or a manual move)."""
        if self.wheel is None:
            return
        position = self.wheel.get_position()
        self._wheel_deg = None
        for angle, _ in self._wheel_levels():
            if abs((position - angle + 180.0) % 360.0 - 180.0) <= WHEEL_TOLERANCE_DEG:
                self._wheel_deg = angle
                break
