"""PTU files with ``phconvert`` (Photon-HDF5, PyPI): its PicoQuant reader ``pqreader``.

Client: ``phconvert.pqreader.load_ptu`` (header tags into metadata, records decoded to
timestamps, detectors, nanotimes and marker ids) and ``ptu_reader`` + ``process_pturecords`` (the
decoding alone, which needs fewer tags). Transport: files on disk. phconvert does not write PTU.

Operations: phconvert reads avalab's T2 and T3 files (HydraHarp v2 and generic) with the metadata
avalab wrote and the same photons and markers; and on a file written by a third writer (ptufile's
PicoHarp / generic T3 images, which phconvert's load_ptu cannot take for want of HW_Type and
CreatorSW tags) phconvert's decoding and avalab's agree.

phconvert's conventions, checked here as such: detectors are 0-based input channels for the
HydraHarp family and raw channels for the PicoHarp; a marker is reported in the same arrays as
detector 64 + its bits (PicoHarp: 8 + bits), in time order with the photons.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conformance_support import require_client

from drivers.picoquant.ptu import read_ptu, standard_header, write_ptu
from drivers.picoquant.records import RecordType, decode_t2, decode_t3, encode_t2, encode_t3


@pytest.fixture
def pqreader() -> ModuleType:
    return require_client("phconvert.pqreader", "phconvert")


def _write(path: Path, record_type: RecordType, records: np.ndarray, sync_rate_hz: int) -> None:
    global_resolution = 1 / sync_rate_hz if record_type.is_t3 else 1e-12
    tags = standard_header(record_type, global_resolution_s=global_resolution,
                           resolution_s=8e-12, sync_rate_hz=sync_rate_hz, n_records=records.size,
                           acquisition_ms=300, hardware="HydraHarp", software_version="0.1.0")
    write_ptu(path, tags, records)


@pytest.mark.parametrize("record_type", [RecordType.HYDRAHARP_V2_T2, RecordType.GENERIC_T2])
def test_phconvert_loads_avalab_t2_files(pqreader: ModuleType, tmp_path: Path,
                                         record_type: RecordType) -> None:
    rng = np.random.default_rng(5)
    photons = np.sort(rng.integers(0, 40 * 2**25, 2000))
    channels = rng.integers(1, 3, photons.size)
    markers = np.sort(rng.integers(0, 40 * 2**25, 60))
    records = encode_t2(photons, channels, markers, np.full(markers.size, 1), record_type)
    path = tmp_path / "avalab_t2.ptu"
    _write(path, record_type, records, sync_rate_hz=0)
    times, detectors, nanotimes, meta, marker_ids = pqreader.load_ptu(str(path))
    assert nanotimes is None
    assert meta["timestamps_unit"] == 1e-12 and meta["acquisition_duration"] == pytest.approx(0.3)
    assert meta["hardware_name"] == "HydraHarp" and meta["software"] == "avalab"
    photon = detectors < 64
    np.testing.assert_array_equal(times[photon], photons)
    np.testing.assert_array_equal(detectors[photon].astype(np.int64) + 1, channels)
    np.testing.assert_array_equal(times[~photon], markers)
    assert set(marker_ids.tolist()) == {64 + 1}


@pytest.mark.parametrize("record_type", [RecordType.HYDRAHARP_V2_T3, RecordType.GENERIC_T3])
def test_phconvert_loads_avalab_t3_files(pqreader: ModuleType, tmp_path: Path,
                                         record_type: RecordType) -> None:
    rng = np.random.default_rng(6)
    nsync = np.sort(rng.integers(0, 300 * 1024, 3000))
    dtime = rng.integers(0, 2**15, nsync.size)
    channels = rng.integers(1, 3, nsync.size)
    records = encode_t3(nsync, dtime, channels, record_type=record_type)
    path = tmp_path / "avalab_t3.ptu"
    _write(path, record_type, records, sync_rate_hz=20_000_000)
    times, detectors, nanotimes, meta, _ = pqreader.load_ptu(str(path))
    assert meta["nanotimes_unit"] == 8e-12 and meta["laser_repetition_rate"] == 20_000_000
    assert meta["timestamps_unit"] == pytest.approx(50e-9)
    np.testing.assert_array_equal(times, nsync)
    np.testing.assert_array_equal(nanotimes, dtime)
    np.testing.assert_array_equal(detectors.astype(np.int64) + 1, channels)


@pytest.mark.parametrize("writer_record_type", ["PicoHarpT3", "GenericT3"])
def test_phconvert_and_avalab_decode_a_third_writers_file_alike(pqreader: ModuleType, tmp_path: Path,
                                                                writer_record_type: str) -> None:
    ptufile = require_client("ptufile")
    image = np.random.default_rng(7).poisson(0.5, (1, 6, 6, 2, 32)).astype(np.uint16)
    path = tmp_path / "image.ptu"
    ptufile.imwrite(path, image, global_resolution=12.5e-9, tcspc_resolution=50e-12, pixel_time=2e-6,
                    record_type=getattr(ptufile.PtuRecordType, writer_record_type), has_frames=False)
    records, spec, _ = pqreader.ptu_reader(str(path))
    times, detectors, nanotimes, _ = pqreader.process_pturecords(records, spec)
    ptu = read_ptu(path)
    events = decode_t3(ptu.records, ptu.record_type)
    marker_floor = 8 if spec["fmt"] == "PT" else 64
    photon = detectors < marker_floor
    offset = 0 if spec["fmt"] == "PT" else 1  # PicoHarp channels are already 1-based
    np.testing.assert_array_equal(times[photon], events.nsync)
    np.testing.assert_array_equal(nanotimes[photon], events.dtime)
    np.testing.assert_array_equal(detectors[photon].astype(np.int64) + offset, events.channels)
    np.testing.assert_array_equal(times[~photon], events.marker_nsync)
    np.testing.assert_array_equal(detectors[~photon].astype(np.int64) - marker_floor, events.marker_bits)


def test_phconvert_decodes_avalab_t2_syncs_like_avalab(pqreader: ModuleType, tmp_path: Path) -> None:
    """A HydraHarp T2 stream with the sync input in use (the chopper reference on this rig)."""
    sync = np.arange(1, 50) * 5_000_000_000  # 200 Hz, in ps
    photons = np.sort(np.random.default_rng(8).integers(0, 250_000_000_000, 500))
    stream = encode_t2(photons, np.ones(photons.size, np.int64), sync_times=sync)
    path = tmp_path / "with_sync.ptu"
    _write(path, RecordType.HYDRAHARP_V2_T2, stream, sync_rate_hz=200)
    ours = decode_t2(read_ptu(path).records, RecordType.HYDRAHARP_V2_T2)
    np.testing.assert_array_equal(ours.sync_times, sync)
    np.testing.assert_array_equal(ours.photon_times, photons)
    times, detectors, _, _, _ = pqreader.load_ptu(str(path))
    np.testing.assert_array_equal(times[detectors == 0], photons)
    np.testing.assert_array_equal(times[detectors == 64], sync)  # phconvert: the sync is id 64
