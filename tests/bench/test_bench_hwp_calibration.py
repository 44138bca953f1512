"""An operator calibrates the half-wave plate with the power meter and recovers the bench's truth."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from acquisition.rig import Rig, RigConfig
from tests.bench.conftest import build_rig
from tests.bench.operator_steps import calibrate_hwp, prepare_pump, set_density


@pytest.fixture
def substrate_rig() -> Iterator[Rig]:
    """Power calibrations are done on an empty patch of substrate (no particles to switch)."""
    config = RigConfig()
    config.sample.n_particles = 0
    config.sim.optics.hwp_offset_deg = -7.4  # not the default: the fit must really find it
    config.sim.optics.hwp_extinction_ratio = 300.0
    rig = build_rig(config)
    yield rig
    rig.safe_state_all()
    rig.close_all()


def test_hwp_calibration_recovers_offset_and_extinction(substrate_rig: Rig) -> None:
    truth = substrate_rig.config.sim.optics
    prepare_pump(substrate_rig)
    calibration = calibrate_hwp(substrate_rig, step_deg=2.0)
    assert abs(calibration.offset_deg - truth.hwp_offset_deg) < 0.5
    assert calibration.extinction_ratio == pytest.approx(truth.hwp_extinction_ratio, rel=0.10)


def test_calibrated_plate_sets_requested_density(substrate_rig: Rig) -> None:
    prepare_pump(substrate_rig)
    calibration = calibrate_hwp(substrate_rig, step_deg=3.0)
    for kw_cm2 in (2.0, 5.2, 9.0):
        measured = set_density(substrate_rig, calibration, kw_cm2 * 1e7)
        assert measured == pytest.approx(kw_cm2 * 1e7, rel=0.01)
