"""Degrees <-> APT device units for the K10CR1 and the PRM1Z8 on a KDC101 (instruments.md s.2)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.thorlabs_apt.scaling import K10CR1_SCALING, PRM1Z8_SCALING, StageScaling


def test_k10cr1_counts() -> None:
    assert K10CR1_SCALING.to_counts(1.0) == 136533
    assert K10CR1_SCALING.to_counts(3.0) == 409600
    assert K10CR1_SCALING.to_counts(360.0) == 49152000
    assert K10CR1_SCALING.to_counts(0.015) == 2048  # the reference move-absolute example
    assert K10CR1_SCALING.from_counts(2048) == pytest.approx(0.015, abs=1e-12)
    assert K10CR1_SCALING.to_counts(-90.0) == -12288000


def test_k10cr1_velocity_and_acceleration() -> None:
    assert K10CR1_SCALING.velocity_to_device(10.0) == 73300000
    assert K10CR1_SCALING.velocity_from_device(73300000) == pytest.approx(10.0)
    assert K10CR1_SCALING.accel_to_device(10.0) == 15020
    assert K10CR1_SCALING.accel_from_device(15020) == pytest.approx(10.0)


def test_prm1z8_counts_velocity_acceleration() -> None:
    assert PRM1Z8_SCALING.to_counts(1.0) == 1920
    assert PRM1Z8_SCALING.to_counts(360.0) == 691071
    assert PRM1Z8_SCALING.from_counts(1919.6418578623391) == pytest.approx(1.0)
    assert PRM1Z8_SCALING.velocity_to_device(10.0) == 429417
    assert PRM1Z8_SCALING.accel_to_device(10.0) == 147
    assert PRM1Z8_SCALING.velocity_from_device(42941.66) == pytest.approx(1.0)
    assert PRM1Z8_SCALING.accel_from_device(14.66) == pytest.approx(1.0)


@pytest.mark.parametrize("scaling", [K10CR1_SCALING, PRM1Z8_SCALING])
@given(angle=st.floats(-360.0, 360.0, allow_nan=False))
def test_round_trip_error_is_below_half_a_count(scaling: StageScaling, angle: float) -> None:
    back = scaling.from_counts(scaling.to_counts(angle))
    assert abs(back - angle) <= 0.5 / scaling.counts_per_unit + 1e-12
