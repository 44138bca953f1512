"""The HydraHarp ctypes driver against hhlib_sim, a C library with HHLib's API."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drivers.clock import RealClock
from drivers.errors import InstrumentError
from drivers.interfaces import TimeTags
from drivers.picoquant.hydraharp import HydraHarpTimeTagger
from sim_backends.emulators.hhlib_sim import SIG_SYNC, HHSimLibrary, PlaybackSource


@pytest.fixture
def playback(hhlib_path: Path) -> Iterator[PlaybackSource]:
    """Signals a test prepares, played into the next measurement of device 0."""
    source = PlaybackSource(HHSimLibrary(hhlib_path), 0)
    yield source
    source.detach()
    assert not source.errors


@pytest.fixture
def tagger(hhlib_path: Path, playback: PlaybackSource) -> Iterator[HydraHarpTimeTagger]:
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


def test_t2_time_tags_come_back_exactly_through_the_fifo(tagger, playback) -> None:
    source = _chopped_decay(np.random.default_rng(1), 200, 1e-3, 40e-6, 30)
    playback.load_time_tags(source)
    tags = tagger.time_tags(0.2)
    assert playback.accepted == source.times_s.size + source.marker_times_s.size
    np.testing.assert_allclose(tags.times_s, np.round(source.times_s * 1e12) * 1e-12, atol=1e-13)
    np.testing.assert_allclose(tags.marker_times_s, source.marker_times_s, atol=1e-13)
    assert tags.meta["n_records"] > tags.times_s.size  # markers and overflow records too


def test_t2_records_end_with_the_acquisition_time(tagger, playback) -> None:
    source = _chopped_decay(np.random.default_rng(3), 100, 1e-3, 40e-6, 30)
    playback.load_time_tags(source)
    tags = tagger.time_tags(0.05)  # the second half of the signals arrives after the stop
    assert tags.times_s.size == np.count_nonzero(source.times_s < 0.05)
    assert tags.marker_times_s.size == 50


def test_decay_histogram_relative_to_chopper_marker(tagger, playback) -> None:
    tau = 40e-6
    source = _chopped_decay(np.random.default_rng(2), 400, 1e-3, tau, 50)
    playback.load_time_tags(source)
    counts = tagger.histogram(0.4, bin_width_s=5e-6, n_bins=100)
    latest = np.searchsorted(source.marker_times_s, source.times_s, side="right") - 1
    delays = source.times_s - source.marker_times_s[latest]
    assert counts.sum() == np.count_nonzero(delays < 100 * 5e-6)
    t = (np.arange(100) + 0.5) * 5e-6
    good = counts > 20
    slope = np.polyfit(t[good], np.log(counts[good]), 1)[0]
    assert -1 / slope == pytest.approx(tau, rel=0.1)


def test_hardware_histogram_mode_counts_delays_after_the_sync(tagger, playback) -> None:
    rng = np.random.default_rng(4)
    syncs_ps = np.arange(1, 5001) * 1_000_000  # a 1 MHz sync
    delays_ps = rng.integers(0, 4000, syncs_ps.size)
    times = np.concatenate([syncs_ps, syncs_ps + delays_ps])
    codes = np.concatenate([np.full(syncs_ps.size, SIG_SYNC), np.zeros(syncs_ps.size, np.int64)])
    order = np.argsort(times, kind="stable")
    playback.load(times[order], codes[order])
    counts, bin_s = tagger.hardware_histogram(0.03, binning=3, length_code=0)
    assert bin_s == pytest.approx(8e-12)
    assert counts.size == 1024 and counts.sum() == 5000
    np.testing.assert_array_equal(counts[:500], np.bincount(delays_ps // 8, minlength=500)[:500])


def test_library_errors_are_reported_with_function_and_text(tagger) -> None:
    with pytest.raises(InstrumentError, match=r"HH_SetSyncDiv.*HH_ERROR_INVALID_ARGUMENT"):
        tagger._require().call("HH_SetSyncDiv", 0, 3)  # 1, 2, 4, 8 or 16 only


def test_a_failing_signal_source_fails_the_measurement(tagger, playback) -> None:
    playback.load(np.array([1000]), np.array([99]))  # no such input: the source's push fails
    with pytest.raises(InstrumentError, match="FLAG_SYSERROR"):
        tagger.time_tags(0.01)
    assert len(playback.errors) == 1
    playback.errors.clear()


def test_invalid_settings_rejected_before_the_library_is_called(hhlib_path, playback) -> None:
    with pytest.raises(ValueError, match=r"sync_divider=3 is not allowed; allowed values: 1, 2, 4, 8, 16"):
        HydraHarpTimeTagger("t", "0", RealClock(), library_path=str(hhlib_path), sync_divider=3)
    device = HydraHarpTimeTagger("t", "0", RealClock(), library_path=str(hhlib_path))
    device.connect()
    try:
        with pytest.raises(ValueError, match="acquisition_s"):
            device.time_tags(0.0)
    finally:
        device.close()


def test_a_device_index_without_a_hydraharp_fails_to_connect(hhlib_path) -> None:
    device = HydraHarpTimeTagger("t", "5", RealClock(), library_path=str(hhlib_path))
    with pytest.raises(InstrumentError, match="HH_OpenDevice.*HH_ERROR_DEVICE_OPEN_FAIL"):
        device.connect()


def test_missing_library_is_a_clear_connection_error(tmp_path) -> None:
    device = HydraHarpTimeTagger("t", "0", RealClock(), library_path=str(tmp_path / "nope.so"))
    with pytest.raises(InstrumentError, match="load HHLib"):
        device.connect()
