"""Conversion between degrees and APT device units for each supported stage (instruments.md s.2).

APT positions, velocities and accelerations are integers in device units whose scale depends on
the motor/controller pair, so every conversion goes through one :class:`StageScaling`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageScaling:
    """Device units per degree (position), per deg/s (velocity) and per deg/s^2 (acceleration)."""

    counts_per_deg: float
    velocity_per_deg_s: float
    accel_per_deg_s2: float

    def deg_to_counts(self, angle_deg: float) -> int:
        return round(angle_deg * self.counts_per_deg)

    def counts_to_deg(self, counts: float) -> float:
        return counts / self.counts_per_deg

    def velocity_to_device(self, deg_per_s: float) -> int:
        return round(deg_per_s * self.velocity_per_deg_s)

    def velocity_from_device(self, units: float) -> float:
        return units / self.velocity_per_deg_s

    def accel_to_device(self, deg_per_s2: float) -> int:
        return round(deg_per_s2 * self.accel_per_deg_s2)

    def accel_from_device(self, units: float) -> float:
        return units / self.accel_per_deg_s2


#: K10CR1 stepper rotation mount: 409600/3 microsteps per degree.
K10CR1_SCALING = StageScaling(counts_per_deg=409600 / 3, velocity_per_deg_s=7.33e6,
                              accel_per_deg_s2=1502.0)

#: PRM1Z8 on a KDC101 K-Cube (DC servo with encoder).
PRM1Z8_SCALING = StageScaling(counts_per_deg=1919.6418578623391, velocity_per_deg_s=42941.66,
                              accel_per_deg_s2=14.66)
