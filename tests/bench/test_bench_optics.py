"""Passive optics: the formulas the bench is built from."""
from __future__ import annotations

import math

import pytest

from sim_backends.bench import optics


def test_nd_wheel_od_is_linear_in_angle_and_held_past_the_span() -> None:
    assert optics.nd_wheel_transmission(0.0, 4.0, 270.0) == pytest.approx(1.0)
    assert optics.nd_wheel_transmission(135.0, 4.0, 270.0) == pytest.approx(1e-2)
    assert optics.nd_wheel_transmission(300.0, 4.0, 270.0) == pytest.approx(1e-4)
    assert optics.nd_wheel_transmission(360.0 + 135.0, 4.0, 270.0) == pytest.approx(1e-2)


def test_half_wave_plate_follows_malus_with_offset_and_extinction() -> None:
    t_max, t_min = optics.malus_pair(0.9, 500.0)
    assert (t_max + t_min) / t_min == pytest.approx(500.0)
    assert optics.half_wave_plate_transmission(10.0, 10.0, t_max, t_min) == pytest.approx(t_max + t_min)
    assert optics.half_wave_plate_transmission(55.0, 10.0, t_max, t_min) == pytest.approx(t_min)
    # a plate turns the polarisation twice as fast as the plate: 22.5 deg = half power
    assert optics.half_wave_plate_transmission(32.5, 10.0, t_max, t_min) == pytest.approx(t_max / 2 + t_min)


def test_rotating_polariser_period_is_180_degrees() -> None:
    t_max, t_min = optics.malus_pair(1.0, 1000.0)
    assert optics.rotating_polariser_transmission(95.0, 5.0, t_max, t_min) == pytest.approx(t_min)
    assert optics.rotating_polariser_transmission(185.0, 5.0, t_max, t_min) == pytest.approx(t_max + t_min)


def test_filters_pass_their_line_and_block_the_lasers() -> None:
    def transmission(wavelength: float, name: str) -> float:
        return optics.emission_filter_transmission(wavelength, name, 0.93, 6.0, 4.0)

    assert transmission(810e-9, "810nm") == pytest.approx(0.93)
    assert transmission(880e-9, "810nm") == pytest.approx(1e-6)
    assert transmission(880e-9, "880nm") == pytest.approx(0.93)
    assert transmission(808e-9, "810nm") == pytest.approx(0.93)  # the control laser is in band
    assert transmission(1064e-9, "810nm") == pytest.approx(1e-10)


def test_dead_time_saturates_at_one_over_tau() -> None:
    tau = 22e-9
    assert optics.registered_rate(1e3, tau) == pytest.approx(1e3, rel=1e-4)
    assert optics.registered_rate(1e12, tau) == pytest.approx(1 / tau, rel=1e-3)
    assert optics.registered_rate(1 / tau, tau) == pytest.approx(0.5 / tau)


def test_photon_energy_at_1064_nm() -> None:
    assert optics.photon_energy_j(1064e-9) == pytest.approx(1.867e-19, rel=1e-3)
    assert math.isclose(optics.apd_detection_efficiency(800e-9), 0.55)
