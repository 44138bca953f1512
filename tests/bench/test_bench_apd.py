"""APD + counter statistics: Poisson counts on top of dark counts, dead-time saturation."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from acquisition.rig import Rig, RigConfig
from sim_backends.bench import optics
from tests.bench.conftest import build_rig
from tests.bench.operator_steps import calibrate_hwp, prepare_pump, set_density


def test_dark_counts_are_poisson_at_the_configured_rate(sim_rig: Rig) -> None:
    dark = sim_rig.config.sim.detection.dark_count_rate_cps
    sim_rig.emission_shutter.close_shutter()
    bins = np.concatenate([sim_rig.counter.count_trace(2500.0, 0.1) for _ in range(2)])
    assert bins.size == 50000
    assert bins.mean() == pytest.approx(dark * 0.1, rel=0.05)
    assert bins.var() == pytest.approx(bins.mean(), rel=0.05)


def test_counts_at_fixed_pump_power_are_poisson_plus_dark(sim_rig: Rig) -> None:
    prepare_pump(sim_rig)
    calibration = calibrate_hwp(sim_rig, step_deg=9.0)
    set_density(sim_rig, calibration, 9e7)
    sim_rig.emission_shutter.open()
    sim_rig.clock.sleep(2.0)
    dwell = 0.05
    counts = np.array([sim_rig.counter.count(dwell) for _ in range(1000)])
    bench = sim_rig.bench
    assert bench is not None
    # the model's own rate on the APD (emission through the filter + stray light + dark counts)
    expected = float(optics.registered_rate(bench.last_true_rate_cps,
                                            sim_rig.config.sim.detection.dead_time_s)) * dwell
    dark = sim_rig.config.sim.detection.dark_count_rate_cps * dwell
    assert expected > 20 * dark  # the spot is bright: this is not a dark-count test
    assert counts.mean() == pytest.approx(expected, rel=0.05)
    bins = sim_rig.counter.count_trace(1000.0, dwell)  # 20000 bins: variance known to 1 %
    assert bins.mean() == pytest.approx(expected, rel=0.05)
    assert bins.var() == pytest.approx(bins.mean(), rel=0.05)


@pytest.fixture
def substrate_rig() -> Iterator[Rig]:
    config = RigConfig()
    config.sample.n_particles = 0  # only laser light scattered by the substrate reaches the APD
    rig = build_rig(config)
    yield rig
    rig.safe_state_all()
    rig.close_all()


def test_counter_saturates_according_to_dead_time(substrate_rig: Rig) -> None:
    """808 nm control light scattered into the (in-band) 810 nm filter: measured counts against
    the control power read on the pick-off follow r / (1 + r tau)."""
    rig = substrate_rig
    tau = rig.config.sim.detection.dead_time_s
    rig.control_laser.set_wavelength(808e-9)
    rig.control_laser.wait_tuned()
    rig.control_laser.set_emission(True)
    rig.control_laser.set_shutter(True)
    rig.control_shutter.open()
    rig.emission_shutter.open()
    rig.power_meter.set_wavelength(808e-9)
    rig.power_meter.set_averaging(1000)
    offset = rig.config.sim.control_laser.attenuator_offset_deg
    powers, rates = [], []
    for angle in offset + np.array([89.0, 87.0, 84.0, 80.0, 70.0, 55.0, 35.0, 0.0]):
        rig.control_attenuator.move_to(float(angle))
        powers.append(rig.power_meter.read_power())
        rates.append(rig.counter.count(0.1) / 0.1)
    powers_arr, rates_arr = np.array(powers), np.array(rates)
    dark = rig.config.sim.detection.dark_count_rate_cps
    # the weakest settings are far from saturation: they give the linear response
    slope = (rates_arr[:2] - dark).sum() / powers_arr[:2].sum()
    true_rates = slope * powers_arr + dark
    assert rates_arr.max() < 0.5 * true_rates.max()  # strongly saturated at full power
    np.testing.assert_allclose(rates_arr, true_rates / (1.0 + true_rates * tau), rtol=0.05)
    assert rates_arr.max() < 1.0 / tau


def test_880_nm_filter_blocks_the_808_nm_control_light() -> None:
    """The 935/170 nm band-pass keeps 808 nm at the latch power (tens of nW) out: the APD sees
    dark counts only (the 810 nm filter passes > 1e5 cps of it, see the bistability tests)."""
    config = RigConfig()
    config.sample.n_particles = 0
    config.sim.detection.emission_filter = "880nm"
    rig = build_rig(config)
    try:
        rig.control_laser.set_emission(True)
        rig.control_laser.wait_tuned()
        rig.control_laser.set_shutter(True)
        rig.control_attenuator.move_to(rig.config.sim.control_laser.attenuator_offset_deg + 80.0)
        rig.control_shutter.open()
        rig.emission_shutter.open()
        rate = rig.counter.count(10.0) / 10.0
        assert rate < 2.0 * rig.config.sim.detection.dark_count_rate_cps
    finally:
        rig.safe_state_all()
        rig.close_all()
