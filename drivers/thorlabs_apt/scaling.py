"""Conversion between physical units and APT device units for each supported stage.

APT positions, velocities and accelerations are integers in device units whose scale depends on
the motor/controller pair, so every conversion goes through one :class:`StageScaling`. A scaling
is per ``unit`` (degrees for rotation stages, metres for linear actuators): ``counts_per_unit``
device units per unit of position, ``velocity_per_unit`` per unit/s, ``accel_per_unit`` per
unit/s^2.

Sources (APT/Kinesis "Host-Controller Communications Protocol", section "Conversion between
position, velocity and acceleration values in real units and APT device units"):

- K10CR1: 409600/3 microsteps per degree; velocity 7.33e6 per deg/s, acceleration 1502 per
  deg/s^2 (instruments.md section 2).
- KDC101 (DC servo, sampling interval T = 2048 / 6e6 s): velocity = counts x T x 65536,
  acceleration = counts x T^2 x 65536. PRM1Z8: 1919.6418578623391 counts/deg -> 42941.66 per
  deg/s, 14.66 per deg/s^2. Z8-series actuators (Z825B, MTS25-Z8): 34554.96 counts/mm ->
  772981.3692 per mm/s, 263.8443072 per mm/s^2. Older issues of the manual and the Z8 actuator
  manual give 34304 counts/mm (512 counts/rev x 67:1); the current manual uses the measured
  67.49:1 gearhead. A rig may override ``counts_per_mm`` (see the xy stage driver).
"""
from __future__ import annotations

from dataclasses import dataclass

#: KDC101 servo-loop sampling interval (s): the time base of its velocity/acceleration units
KDC101_SAMPLE_INTERVAL_S = 2048 / 6e6
_KDC101_VELOCITY_FACTOR = KDC101_SAMPLE_INTERVAL_S * 65536
_KDC101_ACCEL_FACTOR = KDC101_SAMPLE_INTERVAL_S ** 2 * 65536


@dataclass(frozen=True)
class StageScaling:
    """Device units per ``unit`` (position), per unit/s (velocity) and per unit/s^2 (acceleration)."""

    counts_per_unit: float
    velocity_per_unit: float
    accel_per_unit: float
    unit: str = "deg"

    def to_counts(self, position: float) -> int:
        return round(position * self.counts_per_unit)

    def from_counts(self, counts: float) -> float:
        return counts / self.counts_per_unit

    def velocity_to_device(self, per_s: float) -> int:
        return round(per_s * self.velocity_per_unit)

    def velocity_from_device(self, units: float) -> float:
        return units / self.velocity_per_unit

    def accel_to_device(self, per_s2: float) -> int:
        return round(per_s2 * self.accel_per_unit)

    def accel_from_device(self, units: float) -> float:
        return units / self.accel_per_unit

    @property
    def resolution(self) -> float:
        """One device unit of position, in ``unit``."""
        return 1.0 / self.counts_per_unit


def kdc101_scaling(counts_per_unit: float, unit: str) -> StageScaling:
    """A KDC101 scaling from the encoder resolution alone (the manual's T-based formulas)."""
    return StageScaling(counts_per_unit, counts_per_unit * _KDC101_VELOCITY_FACTOR,
                        counts_per_unit * _KDC101_ACCEL_FACTOR, unit)


#: K10CR1 stepper rotation mount: 409600/3 microsteps per degree.
K10CR1_SCALING = StageScaling(counts_per_unit=409600 / 3, velocity_per_unit=7.33e6,
                              accel_per_unit=1502.0)

#: PRM1Z8 on a KDC101 K-Cube (DC servo with encoder).
PRM1Z8_SCALING = StageScaling(counts_per_unit=1919.6418578623391, velocity_per_unit=42941.66,
                              accel_per_unit=14.66)

#: Z8-series encoder counts per mm (Z825B, MTS25-Z8) on a KDC101, current manual
Z8_COUNTS_PER_MM = 34554.96
#: the same in older manual issues and the Z8 actuator manual (67:1 nominal gearhead)
Z8_COUNTS_PER_MM_NOMINAL = 34304.0

#: Z8-series linear actuator on a KDC101, in metres (SI inside): 34554.96 counts/mm
Z8_SCALING = kdc101_scaling(Z8_COUNTS_PER_MM * 1e3, "m")
