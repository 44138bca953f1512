"""PTU files both ways with ``ptufile`` (Christoph Gohlke, PyPI), the compiled reference reader.

Client: ``ptufile.PtuFile`` (tags, ``record_type``, ``read_records``, ``decode_records``) and
``ptufile.PtuWriter`` / ``imwrite`` (it writes TCSPC images as PicoHarp T3 or generic T3 PTU files,
without the HW_Type tag avalab's reader used to insist on). Transport: files on disk.

Operations: ptufile reads every file avalab writes (HydraHarp v1/v2, TimeHarp 260 N/P and generic
T2/T3) with the same tags and the same decoded events; avalab reads what ptufile writes (both T3
record types it writes) to the same events and histograms, and rewrites it byte for byte; on the
same records of all twelve record types the two decoders agree.

ptufile's conventions, checked here as such: T2 channels are 0-based input channels with the
HydraHarp sync on channel 0 and PicoHarp's sync input as channel 0; PicoHarp T3 detectors 1-4
become channels 0-3; a marker record has channel -1 and its bits in ``marker``.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conformance_support import require_client

from drivers.picoquant.ptu import Tag, TagType, read_ptu, standard_header, write_ptu
from drivers.picoquant.records import (LAYOUT_PICOHARP, RecordType, decode_t2, decode_t3, encode_t2,
                                       encode_t3)

@pytest.fixture
def ptufile() -> ModuleType:
    module = require_client("ptufile")
    # the compiled decoder is a submodule ptufile imports lazily: without this, whether
    # `ptufile._ptufile` exists depends on which test of the worker read a file first
    importlib.import_module("ptufile._ptufile")
    return module


WRITABLE_T2 = [r for r in RecordType if not r.is_t3 and r.layout != LAYOUT_PICOHARP]
WRITABLE_T3 = [r for r in RecordType if r.is_t3 and r.layout != LAYOUT_PICOHARP]


def _t2_events(rng: np.random.Generator, n: int = 3000) -> tuple[np.ndarray, ...]:
    photons = np.sort(rng.integers(0, 60 * 2**25, n))
    channels = rng.integers(1, 4, n)
    markers = np.sort(rng.integers(0, 60 * 2**25, n // 20))
    return photons, channels, markers, rng.integers(1, 16, markers.size)


def _write(path: Path, record_type: RecordType, records: np.ndarray, **extra: Tag) -> None:
    tags = standard_header(record_type, global_resolution_s=1e-12 if not record_type.is_t3 else 12.5e-9,
                           resolution_s=4e-12, sync_rate_hz=80_000_000, n_records=records.size,
                           acquisition_ms=250, extra=extra)
    write_ptu(path, tags, records)


@pytest.mark.parametrize("record_type", WRITABLE_T2)
def test_ptufile_reads_avalab_t2_files(ptufile: ModuleType, tmp_path: Path,
                                       record_type: RecordType) -> None:
    photons, channels, markers, bits = _t2_events(np.random.default_rng(1))
    records = encode_t2(photons, channels, markers, bits, record_type)
    path = tmp_path / "avalab_t2.ptu"
    _write(path, record_type, records, comment=Tag("File_Comment", "written by avalab", TagType.ANSI_STRING))
    with ptufile.PtuFile(path) as ptu:
        assert ptu.record_type == int(record_type)
        assert ptu.global_resolution == 1e-12 and ptu.number_records == records.size
        assert ptu.tags["File_Comment"] == "written by avalab"
        assert ptu.tags["HW_Type"] == "HydraHarp"
        np.testing.assert_array_equal(ptu.read_records(), records)
        decoded = ptu.decode_records()
    photon = decoded["channel"] >= 0
    np.testing.assert_array_equal(decoded["time"][photon], photons)
    np.testing.assert_array_equal(decoded["channel"][photon] + 1, channels)
    marker = decoded["marker"] > 0
    np.testing.assert_array_equal(decoded["time"][marker], markers)
    np.testing.assert_array_equal(decoded["marker"][marker], bits)


@pytest.mark.parametrize("record_type", WRITABLE_T3)
def test_ptufile_reads_avalab_t3_files(ptufile: ModuleType, tmp_path: Path,
                                       record_type: RecordType) -> None:
    rng = np.random.default_rng(2)
    nsync = np.sort(rng.integers(0, 500 * 1024, 4000))
    dtime = rng.integers(0, 2**15, nsync.size)
    channels = rng.integers(1, 5, nsync.size)
    markers = np.sort(rng.integers(0, 500 * 1024, 50))
    records = encode_t3(nsync, dtime, channels, markers, np.full(markers.size, 2), record_type)
    path = tmp_path / "avalab_t3.ptu"
    _write(path, record_type, records)
    with ptufile.PtuFile(path) as ptu:
        assert ptu.is_t3 and ptu.record_type == int(record_type)
        assert ptu.tcspc_resolution == 4e-12 and ptu.global_resolution == 12.5e-9
        assert ptu.syncrate == 80_000_000
        decoded = ptu.decode_records()
    photon = decoded["channel"] >= 0
    np.testing.assert_array_equal(decoded["time"][photon], nsync)
    np.testing.assert_array_equal(decoded["dtime"][photon], dtime)
    np.testing.assert_array_equal(decoded["channel"][photon] + 1, channels)
    marker = decoded["marker"] > 0
    np.testing.assert_array_equal(decoded["time"][marker], markers)


@pytest.mark.parametrize("record_type", ["PicoHarpT3", "GenericT3"])
def test_avalab_reads_ptufile_t3_image_files(ptufile: ModuleType, tmp_path: Path,
                                             record_type: str) -> None:
    """ptufile encodes a TCSPC image (frames, y, x, channel, bin) as T3 records; avalab decodes the
    same photons (per channel and bin), reads the tags, and rewrites the file byte for byte."""
    rng = np.random.default_rng(3)
    image = rng.poisson(0.7, (1, 8, 8, 2, 64)).astype(np.uint16)
    path = tmp_path / "ptufile_image.ptu"
    ptufile.imwrite(path, image, global_resolution=12.5e-9, tcspc_resolution=50e-12,
                    pixel_time=2e-6, record_type=getattr(ptufile.PtuRecordType, record_type),
                    has_frames=False)
    ptu = read_ptu(path)
    assert ptu.record_type.is_t3
    assert "HW_Type" not in ptu.tags  # the tag the reader used to require
    assert ptu.global_resolution_s == 12.5e-9 and ptu.resolution_s == 50e-12
    events = decode_t3(ptu.records, ptu.record_type)
    counts = np.zeros((2, 64), np.int64)
    np.add.at(counts, (events.channels.astype(np.int64) - 1, events.dtime.astype(np.int64)), 1)
    np.testing.assert_array_equal(counts, image.sum(axis=(0, 1, 2)))
    assert events.marker_nsync.size > 0  # line start/stop and frame markers
    with ptufile.PtuFile(path) as theirs:
        decoded = theirs.decode_records()
    photon = decoded["channel"] >= 0
    np.testing.assert_array_equal(decoded["time"][photon], events.nsync)
    np.testing.assert_array_equal(decoded["dtime"][photon], events.dtime)
    again = tmp_path / "rewritten.ptu"
    write_ptu(again, ptu.header, np.asarray(ptu.records), ptu.version)
    assert again.read_bytes() == path.read_bytes()


def _valid_records(record_type: RecordType, rng: np.random.Generator, n: int = 20000) -> np.ndarray:
    """Records a unit of that type could write: photons, markers, overflows (and T2 syncs)."""
    kind = rng.choice(4, n, p=[0.85, 0.05, 0.05, 0.05])
    if record_type.layout == LAYOUT_PICOHARP:
        if record_type.is_t3:
            photon = ((rng.integers(1, 5, n) << 28) | (rng.integers(0, 4096, n) << 16)
                      | rng.integers(0, 2**16, n))
            marker = (15 << 28) | (rng.integers(1, 16, n) << 16) | rng.integers(0, 2**16, n)
            overflow = np.full(n, 15 << 28)
            sync = photon
        else:
            photon = (rng.integers(1, 5, n) << 28) | rng.integers(0, 2**28, n)
            marker = (15 << 28) | (rng.integers(0, 2**24, n) << 4) | rng.integers(1, 16, n)
            overflow = np.full(n, 15 << 28)
            sync = rng.integers(0, 2**28, n)
    else:
        field = 2**10 if record_type.is_t3 else 2**25
        low = rng.integers(0, field, n)
        dtime = (rng.integers(0, 2**15, n) << 10) if record_type.is_t3 else 0
        photon = (rng.integers(0, 4, n) << 25) | dtime | low
        marker = (1 << 31) | (rng.integers(1, 16, n) << 25) | low
        overflow = (1 << 31) | (0x3F << 25) | rng.integers(1, 4, n)
        sync = ((1 << 31) | low) if not record_type.is_t3 else photon
    return np.choose(kind, [photon, marker, overflow, sync]).astype(np.uint32)


@pytest.mark.parametrize("record_type", list(RecordType), ids=lambda r: r.name)
def test_both_decoders_agree_on_every_record_type(ptufile: ModuleType, record_type: RecordType) -> None:
    records = _valid_records(record_type, np.random.default_rng(int(record_type) % 997))
    out = np.zeros(records.size, ptufile.T3_RECORD_DTYPE if record_type.is_t3 else ptufile.T2_RECORD_DTYPE)
    decode = ptufile._ptufile.decode_t3_records if record_type.is_t3 else ptufile._ptufile.decode_t2_records
    decode(out, records, int(record_type))
    photon, marker = out["channel"] >= 0, out["marker"] > 0
    if record_type.is_t3:
        events = decode_t3(records, record_type)
        np.testing.assert_array_equal(out["time"][photon], events.nsync)
        np.testing.assert_array_equal(out["dtime"][photon], events.dtime)
        np.testing.assert_array_equal(out["channel"][photon] + 1, events.channels)
        np.testing.assert_array_equal(out["time"][marker], events.marker_nsync)
        np.testing.assert_array_equal(out["marker"][marker], events.marker_bits)
        return
    events = decode_t2(records, record_type)
    # ptufile has one channel list: HydraHarp inputs 0.. with the sync on 0; PicoHarp's raw channels
    ours_time = np.concatenate([events.photon_times, events.sync_times])
    offset = 0 if record_type.layout == LAYOUT_PICOHARP else 1
    ours_channel = np.concatenate([events.photon_channels.astype(np.int64) - offset,
                                   np.zeros(events.sync_times.size, np.int64)])
    order = np.lexsort((ours_channel, ours_time))
    theirs = np.lexsort((out["channel"][photon], out["time"][photon]))
    np.testing.assert_array_equal(out["time"][photon][theirs], ours_time[order])
    np.testing.assert_array_equal(out["channel"][photon][theirs], ours_channel[order])
    np.testing.assert_array_equal(out["time"][marker], events.marker_times)
    np.testing.assert_array_equal(out["marker"][marker], events.marker_bits)
