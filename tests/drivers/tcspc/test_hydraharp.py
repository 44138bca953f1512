"""The HydraHarp ctypes driver against hhlib_sim, a C library with HHLib's API."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.clock import RealClock
from drivers.errors import InstrumentError
from drivers.interfaces import TimeTags
from drivers.picoquant.hydraharp import HydraHarpTimeTagger
from sim_backends.emulators.hhlib_sim import HHSimFeeder

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def tagger(hhlib_path: Path):
    device = HydraHarpTimeTagger("tagger", "0", RealClock(), library_path=str(hhlib_path))
    device.connect()
    yield device
    device.close()


def _chopped_decay(rng: np.random.Generator, periods: int, period_s: float,
                   tau_s: float, photons_per_period: int) -> TimeTags:
    """Photon times of an exponential decay after each chopper edge (markers at the edges)."""
    edges = np.arange(periods) * period_s
    photons = (edges[:, None] + rng.exponential(tau_s, (periods, photons_per_period))).ravel()
    photons = np.sort(photons[photons < periods * period_s])
    return TimeTags(times_s=photons, channels=np.ones(photons.size, np.int64),
                    marker_times_s=edges, resolution_s=1e-12)


def test_identify_goes_through_ctypes_char_buffers(tagger: HydraHarpTimeTagger) -> None:
    text = tagger.identify()
    assert "HydraHarp 400" in text and "serial 1000000" in text


def test_t2_time_tags_come_back_exactly_through_the_fifo(tagger, hhlib_path) -> None:
    source = _chopped_decay(np.random.default_rng(1), 200, 1e-3, 40e-6, 30)
    feeder = HHSimFeeder(hhlib_path)
    thread = feeder.feed_when_active(source)
    tags = tagger.time_tags(0.05)
    thread.join(5)
    np.testing.assert_allclose(tags.times_s, np.round(source.times_s * 1e12) * 1e-12, atol=1e-13)
    np.testing.assert_allclose(tags.marker_times_s, source.marker_times_s, atol=1e-13)
    assert tags.meta["n_records"] > tags.times_s.size  # markers and overflow records too


def test_decay_histogram_relative_to_chopper_marker(tagger, hhlib_path) -> None:
    tau = 40e-6
    source = _chopped_decay(np.random.default_rng(2), 400, 1e-3, tau, 50)
    thread = HHSimFeeder(hhlib_path).feed_when_active(source)
    counts = tagger.histogram(0.05, bin_width_s=5e-6, n_bins=100)
    thread.join(5)
    assert counts.sum() == source.times_s.size
    t = (np.arange(100) + 0.5) * 5e-6
    good = counts > 20
    slope = np.polyfit(t[good], np.log(counts[good]), 1)[0]
    assert -1 / slope == pytest.approx(tau, rel=0.1)


def test_hardware_histogram_mode(tagger, hhlib_path) -> None:
    feeder = HHSimFeeder(hhlib_path)
    rng = np.random.default_rng(4)
    delays_ps = rng.integers(0, 4000, 5000)

    import threading

    def push() -> None:
        feeder.wait_active()
        feeder.push(np.arange(delays_ps.size), delays_ps, -np.ones(delays_ps.size, np.int32))

    thread = threading.Thread(target=push)
    thread.start()
    counts, bin_s = tagger.hardware_histogram(0.03, binning=3, length_code=0)
    thread.join(5)
    assert bin_s == pytest.approx(8e-12)
    assert counts.size == 1024 and counts.sum() == 5000
    np.testing.assert_array_equal(counts[:500], np.bincount(delays_ps // 8, minlength=500)[:500])


def test_library_errors_are_reported_with_function_and_text(tagger) -> None:
    with pytest.raises(InstrumentError, match=r"HH_SetSyncDiv.*HH_ERROR_INVALID_ARGUMENT"):
        tagger._require().call("HH_SetSyncDiv", 0, 99)


def test_invalid_settings_rejected_before_the_library_is_called(hhlib_path) -> None:
    with pytest.raises(ValueError, match=r"sync_divider=17.*\[1, 16\]"):
        HydraHarpTimeTagger("t", "0", RealClock(), library_path=str(hhlib_path), sync_divider=17)
    device = HydraHarpTimeTagger("t", "1", RealClock(), library_path=str(hhlib_path))
    device.connect()
    try:
        with pytest.raises(ValueError, match="acquisition_s"):
            device.time_tags(0.0)
    finally:
        device.close()


def test_missing_library_is_a_clear_connection_error(tmp_path) -> None:
    device = HydraHarpTimeTagger("t", "0", RealClock(), library_path=str(tmp_path / "nope.so"))
    with pytest.raises(InstrumentError, match="load HHLib"):
        device.connect()
