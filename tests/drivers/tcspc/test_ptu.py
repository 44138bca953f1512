"""PTU files and HydraHarp T2/T3 records: writer/reader round trips and decoding."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from drivers.picoquant.ptu import Tag, TagType, read_ptu, standard_header, write_ptu
from drivers.picoquant.records import (
    PICOHARP_T2_WRAP, PICOHARP_T3_WRAP, T2_WRAP_V1, T2_WRAP_V2, T3_WRAP, RecordType, decode_t2,
    decode_t2_reference, decode_t3, decode_t3_reference, delays_after_markers, encode_t2, encode_t3,
    histogram_delays, t2_histogram_after_markers,
)


def _random_t2_events(rng: np.random.Generator, n: int, span: int) -> tuple[np.ndarray, ...]:
    photons = np.sort(rng.integers(0, span, n))
    channels = rng.integers(1, 3, n)
    markers = np.sort(rng.integers(0, span, n // 10))
    bits = rng.integers(1, 16, markers.size)
    return photons, channels, markers, bits


@pytest.mark.parametrize("record_type", [RecordType.HYDRAHARP_V2_T2, RecordType.HYDRAHARP_V1_T2])
def test_t2_encode_decode_round_trip_across_many_overflows(record_type: RecordType) -> None:
    rng = np.random.default_rng(3)
    photons, channels, markers, bits = _random_t2_events(rng, 2000, 40 * T2_WRAP_V2)
    records = encode_t2(photons, channels, markers, bits, record_type)
    events = decode_t2(records, record_type)
    # sorting is stable in the encoder; events at equal times keep photon-before-marker order
    np.testing.assert_array_equal(events.photon_times, photons)
    np.testing.assert_array_equal(events.photon_channels, channels)
    np.testing.assert_array_equal(events.marker_times, markers)
    np.testing.assert_array_equal(events.marker_bits, bits)


def test_t2_overflow_semantics_v1_v2() -> None:
    photon_at = lambda tag: np.uint32(tag)  # noqa: E731 - channel 0 photon
    overflow = lambda count: np.uint32((1 << 31) | (0x3F << 25) | count)  # noqa: E731
    # v2: the overflow record's time-tag field counts wraps; 0 is the old single wrap
    v2 = np.array([overflow(3), photon_at(5), overflow(0), photon_at(7)], dtype=np.uint32)
    events = decode_t2(v2, RecordType.HYDRAHARP_V2_T2)
    assert events.photon_times.tolist() == [3 * T2_WRAP_V2 + 5, 4 * T2_WRAP_V2 + 7]
    # v1: every overflow record is exactly one wrap of 33552000, whatever its tag field
    events_v1 = decode_t2(v2, RecordType.HYDRAHARP_V1_T2)
    assert events_v1.photon_times.tolist() == [T2_WRAP_V1 + 5, 2 * T2_WRAP_V1 + 7]


def test_t2_sync_and_marker_records_are_separated_from_photons() -> None:
    sync = np.uint32((1 << 31) | (0 << 25) | 100)
    marker4 = np.uint32((1 << 31) | (4 << 25) | 200)
    photon_ch2 = np.uint32((1 << 25) | 300)
    events = decode_t2(np.array([sync, marker4, photon_ch2], dtype=np.uint32))
    assert events.sync_times.tolist() == [100]
    assert events.marker_times.tolist() == [200] and events.marker_bits.tolist() == [4]
    assert events.photon_times.tolist() == [300] and events.photon_channels.tolist() == [2]


def test_vectorised_t2_decoder_matches_per_record_reference() -> None:
    rng = np.random.default_rng(11)
    records = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    fast = decode_t2(records)
    slow = decode_t2_reference(records)
    for name in ("photon_times", "photon_channels", "sync_times", "marker_times", "marker_bits"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


@pytest.mark.parametrize("record_type", [RecordType.HYDRAHARP_V2_T3, RecordType.HYDRAHARP_V1_T3])
def test_t3_round_trip_with_overflows_and_markers(record_type: RecordType) -> None:
    rng = np.random.default_rng(5)
    nsync = np.sort(rng.integers(0, 300 * T3_WRAP, 3000))
    dtime = rng.integers(0, 0x7FFF, nsync.size)
    channels = rng.integers(1, 5, nsync.size)
    markers = np.sort(rng.integers(0, 300 * T3_WRAP, 40))
    records = encode_t3(nsync, dtime, channels, markers, np.full(markers.size, 2), record_type)
    events = decode_t3(records, record_type)
    np.testing.assert_array_equal(events.nsync, nsync)
    np.testing.assert_array_equal(events.dtime, dtime)
    np.testing.assert_array_equal(events.channels, channels)
    np.testing.assert_array_equal(events.marker_nsync, markers)
    assert set(events.marker_bits.tolist()) == {2}


def test_ptu_file_reads_back_bit_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    photons, channels, markers, bits = _random_t2_events(rng, 500, 5 * T2_WRAP_V2)
    records = encode_t2(photons, channels, markers, bits)
    extra = {
        "Comment": Tag("File_Comment", "avalab test \u00e9", TagType.ANSI_STRING),
        "Wide": Tag("UsrHeadName", "wide \u2713 text", TagType.WIDE_STRING, idx=0),
        "Blob": Tag("UsrBlob", b"\x00\x01\x02binary", TagType.BINARY_BLOB),
        "Arr": Tag("UsrArray", np.array([1.5, -2.25, 3.0]), TagType.FLOAT8_ARRAY),
        "Bool": Tag("UsrFlag", True, TagType.BOOL8),
        "Bits": Tag("UsrBits", 0xF0F0, TagType.BITSET64),
        "Col": Tag("UsrColor", 0x00FF00, TagType.COLOR8),
        "Empty": Tag("UsrEmpty", None, TagType.EMPTY8),
    }
    tags = standard_header(RecordType.HYDRAHARP_V2_T2, global_resolution_s=1e-12,
                           resolution_s=1e-12, sync_rate_hz=1000, n_records=records.size,
                           acquisition_ms=1000, extra=extra)
    first = tmp_path / "a.ptu"
    write_ptu(first, tags, records)
    ptu = read_ptu(first)
    np.testing.assert_array_equal(ptu.records, records)
    assert ptu.record_type == RecordType.HYDRAHARP_V2_T2
    assert ptu.value("File_Comment") == "avalab test \u00e9"
    assert ptu.value("UsrHeadName", 0) == "wide \u2713 text"
    assert ptu.value("UsrBlob").rstrip(b"\0") == b"\x00\x01\x02binary"
    np.testing.assert_array_equal(ptu.value("UsrArray"), [1.5, -2.25, 3.0])
    assert ptu.value("UsrFlag") is True and ptu.value("UsrBits") == 0xF0F0
    assert isinstance(ptu.value("File_CreatingTime"), dt.datetime)
    # re-writing what was read gives the identical file, byte for byte
    second = tmp_path / "b.ptu"
    write_ptu(second, ptu.header, np.asarray(ptu.records), ptu.version)
    assert first.read_bytes() == second.read_bytes()


def test_ptu_reader_rejects_bad_files_with_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ptu"
    bad.write_bytes(b"NOTAPTU!" + b"\0" * 64)
    with pytest.raises(ValueError, match="not a PTU file"):
        read_ptu(bad)
    with pytest.raises(ValueError, match="missing required tag TTResultFormat_TTTRRecType"):
        write_ptu(tmp_path / "x.ptu", [Tag("File_GUID", "{x}", TagType.ANSI_STRING)],
                  np.zeros(0, np.uint32))
    unknown = [Tag("TTResultFormat_TTTRRecType", 0x00010299, TagType.INT8)]
    with pytest.raises(ValueError, match=r"TTResultFormat_TTTRRecType=0x00010299 is not a known"):
        write_ptu(tmp_path / "x.ptu", unknown, np.zeros(0, np.uint32))
    counted = [Tag("TTResultFormat_TTTRRecType", int(RecordType.GENERIC_T2), TagType.INT8),
               Tag("TTResult_NumberOfRecords", 5, TagType.INT8)]
    with pytest.raises(ValueError, match="TTResult_NumberOfRecords=5 but 3 records"):
        write_ptu(tmp_path / "x.ptu", counted, np.zeros(3, np.uint32))
    no_type = tmp_path / "no_type.ptu"
    write_ptu(no_type, [Tag("TTResultFormat_TTTRRecType", int(RecordType.GENERIC_T2), TagType.INT8)],
              np.zeros(0, np.uint32))
    no_type.write_bytes(no_type.read_bytes().replace(b"TTResultFormat_TTTRRecType", b"TTResultFormat_TTTRRecTypx"))
    with pytest.raises(ValueError, match="missing tag TTResultFormat_TTTRRecType"):
        read_ptu(no_type)


def test_minimal_foreign_file_is_read_with_the_record_count_from_the_file_size(tmp_path: Path) -> None:
    """Only the record type is needed; duplicate tags, a tag type from a newer format version and
    a missing record count are accepted, and the file is rewritten byte for byte."""
    records = encode_t3(np.arange(10) * 700, np.arange(10), np.ones(10, np.int64),
                        record_type=RecordType.GENERIC_T3)
    header = [
        Tag("TTResultFormat_TTTRRecType", int(RecordType.GENERIC_T3), TagType.INT8),
        Tag("Fast_Load_End", None, TagType.EMPTY8),
        Tag("UsrNote", "first", TagType.ANSI_STRING),
        Tag("UsrNote", "second", TagType.ANSI_STRING),
        Tag("UsrFuture", b"\x01\x02\x03\x04\x05\x06\x07\x08", 0x7001FFFF),
        Tag("UsrFutureInline", 42, 0x70000008),
    ]
    path = tmp_path / "foreign.ptu"
    write_ptu(path, header, records, version=b"1.1.00\0\0")
    ptu = read_ptu(path)
    np.testing.assert_array_equal(ptu.records, records)
    assert ptu.record_type == RecordType.GENERIC_T3
    assert [t.value for t in ptu.header if t.ident == "UsrNote"] == ["first", "second"]
    assert ptu.value("UsrNote") == "second" and ptu.value("UsrFutureInline") == 42
    assert ptu.global_resolution_s is None
    np.testing.assert_array_equal(decode_t3(ptu.records, ptu.record_type).nsync, np.arange(10) * 700)
    again = tmp_path / "again.ptu"
    write_ptu(again, ptu.header, np.asarray(ptu.records), ptu.version)
    assert again.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("record_type", list(RecordType), ids=lambda r: r.name)
def test_every_record_type_decodes_like_the_per_record_reference(record_type: RecordType) -> None:
    rng = np.random.default_rng(int(record_type) % 1000)
    records = rng.integers(0, 2**32, 30000, dtype=np.uint64).astype(np.uint32)
    if record_type.is_t3:
        fast, slow = decode_t3(records, record_type), decode_t3_reference(records, record_type)
    else:
        fast, slow = decode_t2(records, record_type), decode_t2_reference(records, record_type)
    for name, value in vars(slow).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(fast, name), value, err_msg=name)
            assert getattr(fast, name).dtype == value.dtype, name


def test_picoharp_layouts() -> None:
    """PicoHarp 300: 4-bit channel; channel 15 with marker bits 0 is one overflow."""
    t2 = np.array([(1 << 28) | 5, (0 << 28) | 6, (15 << 28) | (100 << 4) | 2, (15 << 28), (2 << 28) | 7],
                  dtype=np.uint32)
    events = decode_t2(t2, RecordType.PICOHARP_T2)
    assert events.photon_times.tolist() == [5, PICOHARP_T2_WRAP + 7]
    assert events.photon_channels.tolist() == [1, 2] and events.sync_times.tolist() == [6]
    assert events.marker_times.tolist() == [(100 << 4) | 2] and events.marker_bits.tolist() == [2]
    t3 = np.array([(1 << 28) | (100 << 16) | 5, (15 << 28) | (4 << 16) | 6, (15 << 28), (3 << 28) | (7 << 16) | 1],
                  dtype=np.uint32)
    events3 = decode_t3(t3, RecordType.PICOHARP_T3)
    assert events3.nsync.tolist() == [5, PICOHARP_T3_WRAP + 1] and events3.dtime.tolist() == [100, 7]
    assert events3.channels.tolist() == [1, 3]
    assert events3.marker_nsync.tolist() == [6] and events3.marker_bits.tolist() == [4]


def test_decoders_refuse_the_wrong_mode() -> None:
    with pytest.raises(ValueError, match="record_type=GENERIC_T3 is not a T2 record type"):
        decode_t2(np.zeros(1, np.uint32), RecordType.GENERIC_T3)
    with pytest.raises(ValueError, match="record_type=0x00010299 is not a known"):
        decode_t3(np.zeros(1, np.uint32), 0x00010299)  # type: ignore[arg-type]


def test_histogram_relative_to_marker_edges() -> None:
    markers = np.array([0, 1000, 2000])
    photons = np.array([-5, 10, 15, 1010, 1999, 2500])
    delays = delays_after_markers(photons, markers)
    assert delays.tolist() == [10, 15, 10, 999, 500]
    assert histogram_delays(delays, 100, 10).tolist() == [3, 0, 0, 0, 0, 1, 0, 0, 0, 1]


def test_fused_record_histogram_matches_decode_then_histogram() -> None:
    rng = np.random.default_rng(8)
    photons, channels, markers, bits = _random_t2_events(rng, 5000, 30 * T2_WRAP_V2)
    records = encode_t2(photons, channels, markers, bits)
    events = decode_t2(records)
    for channel in (None, 2):
        selected = events.photon_times if channel is None else events.photon_times[events.photon_channels == channel]
        expected = histogram_delays(delays_after_markers(selected, events.marker_times), 10**6, 500)
        fused = t2_histogram_after_markers(records, 10**6, 500, channel=channel)
        np.testing.assert_array_equal(fused, expected)
    assert expected.sum() > 0


def test_fused_histogram_counts_nothing_before_the_first_marker() -> None:
    photons = np.array([5, 50, 1500, 1600])
    records = encode_t2(photons, np.ones(4, dtype=np.int64), np.array([1000]), np.array([1]))
    assert t2_histogram_after_markers(records, 100, 10).tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]
    no_markers = encode_t2(photons, np.ones(4, dtype=np.int64), np.array([], dtype=np.int64),
                           np.array([], dtype=np.int64))
    assert t2_histogram_after_markers(no_markers, 100, 10).tolist() == [0] * 10


@pytest.mark.parametrize("days", [46_000.123456789123, 47_123.999999999, 45_000.5])
def test_tdatetime_survives_a_read_write_cycle_bit_exactly(tmp_path: Path, days: float) -> None:
    tags = standard_header(RecordType.HYDRAHARP_V2_T2, global_resolution_s=1e-12, resolution_s=1e-12,
                           sync_rate_hz=0, n_records=0, acquisition_ms=1)
    tags = [Tag("File_CreatingTime", days, TagType.TDATETIME) if t.ident == "File_CreatingTime" else t
            for t in tags]
    first, second = tmp_path / "a.ptu", tmp_path / "b.ptu"
    write_ptu(first, tags, np.zeros(0, np.uint32))
    write_ptu(second, read_ptu(first).header, np.zeros(0, np.uint32))
    assert first.read_bytes() == second.read_bytes()
