"""Bad input is refused with one line naming the field, the value and what is allowed."""
from __future__ import annotations

import numpy as np
import pytest

from sim_backends.physics import ChopperWaveform, Drive, FocalSpot, RateModel, get_material


def test_unknown_material_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"material='Er:YAG'.*Nd:KPb2Cl5.*Nd:NaYF4.*Tm:NaYF4"):
        get_material("Er:YAG")


def test_unknown_pathway_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"knockout='CR9'.*CR1.*ETU1"):
        get_material("Nd:KPb2Cl5", knockouts=("CR9",))


def test_negative_intensity_is_refused() -> None:
    model = RateModel("Nd:KPb2Cl5")
    with pytest.raises(ValueError, match=r"pump_w_m2=-1 W/m2 is outside the allowed range \[0, inf\]"):
        model.steady_state(-1.0)
    with pytest.raises(ValueError, match=r"pump_peak_w_m2=-5"):
        Drive(pump_peak_w_m2=-5.0)
    with pytest.raises(ValueError, match=r"intensity=-2"):
        model.simulate(np.array([0.0, 1e-3]), -2.0)


@pytest.mark.parametrize("temperature", [0.0, -77.0])
def test_non_positive_temperature_is_refused(temperature: float) -> None:
    with pytest.raises(ValueError, match=rf"temperature_k={temperature:g} K is outside the allowed range \(0, inf\]"):
        RateModel("Nd:KPb2Cl5", temperature_k=temperature)
    with pytest.raises(ValueError, match=r"temperature_k="):
        Drive(pump_peak_w_m2=1e7, temperature_k=temperature)


@pytest.mark.parametrize("duty", [0.0, -0.1, 1.01])
def test_duty_cycle_outside_0_1_is_refused(duty: float) -> None:
    with pytest.raises(ValueError, match=rf"duty={duty:g} is outside the allowed range \(0, 1\]"):
        ChopperWaveform(frequency_hz=100.0, duty=duty)


def test_spot_refuses_bad_geometry() -> None:
    with pytest.raises(ValueError, match=r"n_particles=0 .*\[1, 1000\]"):
        FocalSpot(n_particles=0)
    with pytest.raises(ValueError, match=r"beam_radius_m=-1e-06"):
        FocalSpot(beam_radius_m=-1e-6)
