"""PicoQuant TTTR records (every PTU record type): layouts, fast decoders, encoders, histograms.

Layouts, from PicoQuant's TTTR file-format demos (PTU/C/ptudemo.cc, PTU/Python/Read_PTU.py) and
the HHLib demos; 32-bit little-endian records:

- PicoHarp 300 T2 (0x00010203): channel bits 31-28, time bits 27-0. Channel 15 is special: its
  low 4 time bits are marker bits, 0 meaning an overflow of 210698240. Channel 0 is the sync
  input, 1-4 the routed detectors.
- PicoHarp 300 T3 (0x00010303): channel 31-28, dtime 27-16, nsync 15-0. Channel 15 is special:
  the dtime field holds marker bits, 0 meaning an overflow of 65536 syncs. Detectors 1-4.
- HydraHarp, TimeHarp 260 N/P, MultiHarp / PicoHarp 330 ("generic"): special bit 31, channel
  30-25; T2 time tag 24-0, T3 dtime 24-10 and nsync 9-0. Special channel 63 is an overflow,
  1-15 marker bits, 0 the sync (T2). Detector = channel + 1. HydraHarp v1 (0x00010204 /
  0x00010304): every overflow record is one overflow (T2: 33552000, T3: 1024). All the others
  ("v2"): the overflow record's time field counts overflows of 2^25 (T2) or 1024 (T3), 0 being an
  old single overflow.

Decoding runs in numba-compiled loops: one counting pass, one filling pass, no temporaries, so
it keeps up with the compiled reference reader (benchmarks/bench_ptu_decode.py). The per-record
Python decoders (``decode_t2_reference`` / ``decode_t3_reference``) are the plain reading of the
layouts above, kept as the oracle the compiled ones are tested against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numba
import numpy as np


class RecordType(IntEnum):
    PICOHARP_T2 = 0x00010203
    PICOHARP_T3 = 0x00010303
    HYDRAHARP_V1_T2 = 0x00010204
    HYDRAHARP_V1_T3 = 0x00010304
    HYDRAHARP_V2_T2 = 0x01010204
    HYDRAHARP_V2_T3 = 0x01010304
    TIMEHARP260N_T2 = 0x00010205
    TIMEHARP260N_T3 = 0x00010305
    TIMEHARP260P_T2 = 0x00010206
    TIMEHARP260P_T3 = 0x00010306
    GENERIC_T2 = 0x00010207  # MultiHarp, PicoHarp 330
    GENERIC_T3 = 0x00010307

    @property
    def is_t3(self) -> bool:
        return (self.value >> 8) & 0xFF == 0x03

    @property
    def layout(self) -> int:
        """Which decoder handles it: PicoHarp, HydraHarp v1, or the v2 (overflow count) family."""
        if self in (RecordType.PICOHARP_T2, RecordType.PICOHARP_T3):
            return LAYOUT_PICOHARP
        if self in (RecordType.HYDRAHARP_V1_T2, RecordType.HYDRAHARP_V1_T3):
            return LAYOUT_HH_V1
        return LAYOUT_HH_V2


LAYOUT_PICOHARP, LAYOUT_HH_V1, LAYOUT_HH_V2 = 0, 1, 2

#: overflow periods, in time-tag units (T2) or syncs (T3)
PICOHARP_T2_WRAP = 210698240
PICOHARP_T3_WRAP = 65536
T2_WRAP_V1 = 33552000
T2_WRAP_V2 = 33554432
T3_WRAP = 1024


def record_type_from(value: int, field_name: str = "TTResultFormat_TTTRRecType") -> RecordType:
    """The RecordType of a header value, or a one-line error naming the known ones."""
    try:
        return RecordType(int(value))
    except ValueError:
        known = ", ".join(f"0x{r.value:08X} ({r.name})" for r in RecordType)
        raise ValueError(f"{field_name}=0x{int(value):08X} is not a known PicoQuant record type; "
                         f"known: {known}") from None


def _require_mode(record_type: RecordType, t3: bool) -> RecordType:
    record_type = record_type_from(record_type, "record_type")
    if record_type.is_t3 != t3:
        wanted = "T3" if t3 else "T2"
        raise ValueError(f"record_type={record_type.name} is not a {wanted} record type")
    return record_type


@dataclass
class T2Events:
    """Decoded T2 stream: times in units of the global resolution (overflow-corrected)."""

    photon_times: np.ndarray     # int64
    photon_channels: np.ndarray  # detector number, 1-based (uint8)
    sync_times: np.ndarray
    marker_times: np.ndarray
    marker_bits: np.ndarray      # marker channel bits (1..15)


@dataclass
class T3Events:
    """Decoded T3 stream: macro time in sync periods, micro time (dtime) in resolution units."""

    nsync: np.ndarray            # int64, overflow-corrected sync count per photon
    dtime: np.ndarray            # bins after the sync (uint16)
    channels: np.ndarray         # detector number, 1-based (uint8)
    marker_nsync: np.ndarray
    marker_bits: np.ndarray      # uint16: PicoHarp T3 markers use the 12-bit dtime field
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- T2
_PHOTON, _SYNC, _MARKER, _OVERFLOW, _OTHER = 0, 1, 2, 3, 4


@numba.njit(cache=True, inline="always")
def _t2_fields(record: np.uint32, layout: int) -> tuple[int, int, int]:
    """(kind, channel or marker bits or overflow count, time field) of one T2 record."""
    if layout == LAYOUT_PICOHARP:
        channel = int(record >> 28)
        tag = int(record & 0x0FFFFFFF)
        if channel == 15:
            markers = tag & 0xF
            if markers == 0:
                return np.int64(_OVERFLOW), np.int64(1), np.int64(tag)
            return np.int64(_MARKER), np.int64(markers), np.int64(tag)
        if channel == 0:
            return np.int64(_SYNC), np.int64(0), np.int64(tag)
        return np.int64(_PHOTON), np.int64(channel), np.int64(tag)
    channel = int((record >> 25) & 0x3F)
    tag = int(record & 0x1FFFFFF)
    if record >> 31:
        if channel == 0x3F:
            if layout == LAYOUT_HH_V1 or tag == 0:
                return np.int64(_OVERFLOW), np.int64(1), np.int64(tag)
            return np.int64(_OVERFLOW), np.int64(tag), np.int64(tag)
        if channel == 0:
            return np.int64(_SYNC), np.int64(0), np.int64(tag)
        if channel <= 15:
            return np.int64(_MARKER), np.int64(channel), np.int64(tag)
        return np.int64(_OTHER), np.int64(channel), np.int64(tag)
    return np.int64(_PHOTON), np.int64(channel + 1), np.int64(tag)


@numba.njit(cache=True)
def _t2_count(records: np.ndarray, layout: int) -> tuple[int, int, int]:
    photons = syncs = markers = 0
    for i in range(records.size):
        kind, _, _ = _t2_fields(records[i], layout)
        if kind == _PHOTON:
            photons += 1
        elif kind == _SYNC:
            syncs += 1
        elif kind == _MARKER:
            markers += 1
    return photons, syncs, markers


@numba.njit(cache=True)
def _t2_fill(records: np.ndarray, layout: int, wrap: int, photon_times: np.ndarray,
             photon_channels: np.ndarray, sync_times: np.ndarray, marker_times: np.ndarray,
             marker_bits: np.ndarray) -> None:
    base = 0
    p = s = m = 0
    for i in range(records.size):
        kind, value, tag = _t2_fields(records[i], layout)
        if kind == _PHOTON:
            photon_times[p] = base + tag
            photon_channels[p] = value
            p += 1
        elif kind == _OVERFLOW:
            base += wrap * value
        elif kind == _SYNC:
            sync_times[s] = base + tag
            s += 1
        elif kind == _MARKER:
            marker_times[m] = base + tag
            marker_bits[m] = value
            m += 1


def _t2_wrap(record_type: RecordType) -> int:
    return {LAYOUT_PICOHARP: PICOHARP_T2_WRAP, LAYOUT_HH_V1: T2_WRAP_V1,
            LAYOUT_HH_V2: T2_WRAP_V2}[record_type.layout]


def decode_t2(records: np.ndarray, record_type: RecordType = RecordType.HYDRAHARP_V2_T2) -> T2Events:
    """Overflow-corrected T2 events of any PicoQuant T2 record type."""
    record_type = _require_mode(record_type, t3=False)
    rec = np.ascontiguousarray(records, dtype=np.uint32)
    n_photons, n_syncs, n_markers = _t2_count(rec, record_type.layout)
    events = T2Events(np.empty(n_photons, np.int64), np.empty(n_photons, np.uint8),
                      np.empty(n_syncs, np.int64), np.empty(n_markers, np.int64),
                      np.empty(n_markers, np.uint8))
    _t2_fill(rec, record_type.layout, _t2_wrap(record_type), events.photon_times,
             events.photon_channels, events.sync_times, events.marker_times, events.marker_bits)
    return events


@numba.njit(cache=True)
def _t2_marker_histogram(records: np.ndarray, layout: int, wrap: int, bin_width: int,
                         n_bins: int, channel: int, counts: np.ndarray) -> None:
    base = 0
    reference = -1
    for i in range(records.size):
        kind, value, tag = _t2_fields(records[i], layout)
        if kind == _OVERFLOW:
            base += wrap * value
        elif kind == _MARKER:
            reference = base + tag
        elif kind == _PHOTON and reference >= 0 and (channel == 0 or value == channel):
            delay = base + tag - reference
            if 0 <= delay < n_bins * bin_width:
                counts[delay // bin_width] += 1


def t2_histogram_after_markers(records: np.ndarray, bin_width: int, n_bins: int,
                               record_type: RecordType = RecordType.HYDRAHARP_V2_T2,
                               channel: int | None = None) -> np.ndarray:
    """Histogram of photon delays after the latest marker edge, straight from T2 records.

    ``bin_width`` in global-resolution units; photons before the first marker or later than
    ``n_bins * bin_width`` after it are not counted; ``channel`` (1-based) selects one detector.
    """
    record_type = _require_mode(record_type, t3=False)
    if bin_width < 1 or n_bins < 1:
        raise ValueError(f"bin_width={bin_width} and n_bins={n_bins} must both be >= 1")
    counts = np.zeros(n_bins, dtype=np.int64)
    _t2_marker_histogram(np.ascontiguousarray(records, dtype=np.uint32), record_type.layout,
                         _t2_wrap(record_type), int(bin_width), int(n_bins),
                         0 if channel is None else int(channel), counts)
    return counts


# ---------------------------------------------------------------------------------------- T3
@numba.njit(cache=True, inline="always")
def _t3_fields(record: np.uint32, layout: int) -> tuple[int, int, int, int]:
    """(kind, channel or marker bits or overflow count, dtime, nsync) of one T3 record."""
    if layout == LAYOUT_PICOHARP:
        channel = int(record >> 28)
        dtime = int((record >> 16) & 0xFFF)
        nsync = int(record & 0xFFFF)
        if channel == 15:
            if dtime == 0:
                return np.int64(_OVERFLOW), np.int64(1), np.int64(0), np.int64(nsync)
            return np.int64(_MARKER), np.int64(dtime), np.int64(0), np.int64(nsync)
        return np.int64(_PHOTON), np.int64(channel), np.int64(dtime), np.int64(nsync)
    channel = int((record >> 25) & 0x3F)
    dtime = int((record >> 10) & 0x7FFF)
    nsync = int(record & 0x3FF)
    if record >> 31:
        if channel == 0x3F:
            if layout == LAYOUT_HH_V1 or nsync == 0:
                return np.int64(_OVERFLOW), np.int64(1), np.int64(0), np.int64(nsync)
            return np.int64(_OVERFLOW), np.int64(nsync), np.int64(0), np.int64(nsync)
        if 1 <= channel <= 15:
            return np.int64(_MARKER), np.int64(channel), np.int64(0), np.int64(nsync)
        return np.int64(_OTHER), np.int64(channel), np.int64(dtime), np.int64(nsync)
    return np.int64(_PHOTON), np.int64(channel + 1), np.int64(dtime), np.int64(nsync)


@numba.njit(cache=True)
def _t3_count(records: np.ndarray, layout: int) -> tuple[int, int]:
    photons = markers = 0
    for i in range(records.size):
        kind, _, _, _ = _t3_fields(records[i], layout)
        if kind == _PHOTON:
            photons += 1
        elif kind == _MARKER:
            markers += 1
    return photons, markers


@numba.njit(cache=True)
def _t3_fill(records: np.ndarray, layout: int, wrap: int, nsync: np.ndarray, dtime: np.ndarray,
             channels: np.ndarray, marker_nsync: np.ndarray, marker_bits: np.ndarray) -> None:
    base = 0
    p = m = 0
    for i in range(records.size):
        kind, value, micro, macro = _t3_fields(records[i], layout)
        if kind == _PHOTON:
            nsync[p] = base + macro
            dtime[p] = micro
            channels[p] = value
            p += 1
        elif kind == _OVERFLOW:
            base += wrap * value
        elif kind == _MARKER:
            marker_nsync[m] = base + macro
            marker_bits[m] = value
            m += 1


def decode_t3(records: np.ndarray, record_type: RecordType = RecordType.HYDRAHARP_V2_T3) -> T3Events:
    """Overflow-corrected T3 events of any PicoQuant T3 record type."""
    record_type = _require_mode(record_type, t3=True)
    rec = np.ascontiguousarray(records, dtype=np.uint32)
    n_photons, n_markers = _t3_count(rec, record_type.layout)
    events = T3Events(np.empty(n_photons, np.int64), np.empty(n_photons, np.uint16),
                      np.empty(n_photons, np.uint8), np.empty(n_markers, np.int64),
                      np.empty(n_markers, np.uint16))
    wrap = PICOHARP_T3_WRAP if record_type.layout == LAYOUT_PICOHARP else T3_WRAP
    _t3_fill(rec, record_type.layout, wrap, events.nsync, events.dtime, events.channels,
             events.marker_nsync, events.marker_bits)
    return events


# ---------------------------------------------------------------------------------------- oracles
def decode_t2_reference(records: np.ndarray,
                        record_type: RecordType = RecordType.HYDRAHARP_V2_T2) -> T2Events:
    """Per-record decoder written like PicoQuant's demo loops; the oracle for ``decode_t2``."""
    record_type = _require_mode(record_type, t3=False)
    picoharp = record_type.layout == LAYOUT_PICOHARP
    v1 = record_type.layout == LAYOUT_HH_V1
    wrap = _t2_wrap(record_type)
    correction = 0
    out: dict[str, list[int]] = {k: [] for k in ("t", "c", "s", "m", "b")}
    for value in np.asarray(records, dtype=np.uint32).tolist():
        if picoharp:
            channel, tag = value >> 28, value & 0x0FFFFFFF
            if channel == 15:
                if tag & 0xF == 0:
                    correction += wrap
                else:
                    out["m"].append(correction + tag)
                    out["b"].append(tag & 0xF)
            elif channel == 0:
                out["s"].append(correction + tag)
            else:
                out["t"].append(correction + tag)
                out["c"].append(channel)
            continue
        special, channel, tag = value >> 31, (value >> 25) & 0x3F, value & 0x1FFFFFF
        if not special:
            out["t"].append(correction + tag)
            out["c"].append(channel + 1)
        elif channel == 0x3F:
            correction += wrap * (1 if v1 or tag == 0 else tag)
        elif channel == 0:
            out["s"].append(correction + tag)
        elif channel <= 15:
            out["m"].append(correction + tag)
            out["b"].append(channel)
    return T2Events(np.asarray(out["t"], np.int64), np.asarray(out["c"], np.uint8),
                    np.asarray(out["s"], np.int64), np.asarray(out["m"], np.int64),
                    np.asarray(out["b"], np.uint8))


def decode_t3_reference(records: np.ndarray,
                        record_type: RecordType = RecordType.HYDRAHARP_V2_T3) -> T3Events:
    """Per-record T3 decoder written like PicoQuant's demo loops; the oracle for ``decode_t3``."""
    record_type = _require_mode(record_type, t3=True)
    picoharp = record_type.layout == LAYOUT_PICOHARP
    v1 = record_type.layout == LAYOUT_HH_V1
    correction = 0
    out: dict[str, list[int]] = {k: [] for k in ("n", "d", "c", "mn", "b")}
    for value in np.asarray(records, dtype=np.uint32).tolist():
        if picoharp:
            channel, dtime, nsync = value >> 28, (value >> 16) & 0xFFF, value & 0xFFFF
            if channel == 15:
                if dtime == 0:
                    correction += PICOHARP_T3_WRAP
                else:
                    out["mn"].append(correction + nsync)
                    out["b"].append(dtime)
                continue
            out["n"].append(correction + nsync)
            out["d"].append(dtime)
            out["c"].append(channel)
            continue
        special, channel = value >> 31, (value >> 25) & 0x3F
        dtime, nsync = (value >> 10) & 0x7FFF, value & 0x3FF
        if not special:
            out["n"].append(correction + nsync)
            out["d"].append(dtime)
            out["c"].append(channel + 1)
        elif channel == 0x3F:
            correction += T3_WRAP * (1 if v1 or nsync == 0 else nsync)
        elif 1 <= channel <= 15:
            out["mn"].append(correction + nsync)
            out["b"].append(channel)
    return T3Events(np.asarray(out["n"], np.int64), np.asarray(out["d"], np.uint16),
                    np.asarray(out["c"], np.uint8), np.asarray(out["mn"], np.int64),
                    np.asarray(out["b"], np.uint16))


# ---------------------------------------------------------------------------------------- encoders
def encode_t2(photon_times: np.ndarray, photon_channels: np.ndarray,
              marker_times: np.ndarray | None = None, marker_bits: np.ndarray | None = None,
              record_type: RecordType = RecordType.HYDRAHARP_V2_T2,
              sync_times: np.ndarray | None = None) -> np.ndarray:
    """Encode absolute event times (global-resolution units) as HydraHarp-family T2 records
    (photons, marker edges, and sync edges as special channel 0)."""
    record_type = _require_mode(record_type, t3=False)
    if record_type.layout == LAYOUT_PICOHARP:
        raise ValueError("record_type=PICOHARP_T2 cannot be encoded (avalab writes the HydraHarp family)")
    v1 = record_type.layout == LAYOUT_HH_V1
    marker_times = np.zeros(0, np.int64) if marker_times is None else np.asarray(marker_times, np.int64)
    marker_bits = (np.ones(marker_times.size, np.int64) if marker_bits is None
                   else np.asarray(marker_bits, np.int64))
    sync_times = np.zeros(0, np.int64) if sync_times is None else np.asarray(sync_times, np.int64)
    times = np.concatenate([np.asarray(photon_times, np.int64), marker_times, sync_times])
    kinds = np.concatenate([np.asarray(photon_channels, np.int64) - 1, marker_bits,
                            np.zeros(sync_times.size, np.int64)])
    special = np.concatenate([np.zeros(len(photon_times), bool),
                              np.ones(marker_times.size + sync_times.size, bool)])
    order = np.argsort(times, kind="stable")
    times, kinds, special = times[order], kinds[order], special[order]
    wrap = _t2_wrap(record_type)
    out: list[int] = []
    current_wrap = 0
    for t, k, s in zip(times.tolist(), kinds.tolist(), special.tolist()):
        needed = t // wrap
        while needed > current_wrap:
            step = 1 if v1 else min(needed - current_wrap, 0x1FFFFFF)
            out.append((1 << 31) | (0x3F << 25) | (0 if v1 else step))
            current_wrap += step
        out.append(((1 << 31) if s else 0) | ((k & 0x3F) << 25) | (t - current_wrap * wrap))
    return np.asarray(out, dtype=np.uint32)


def encode_t3(nsync: np.ndarray, dtime: np.ndarray, channels: np.ndarray,
              marker_nsync: np.ndarray | None = None, marker_bits: np.ndarray | None = None,
              record_type: RecordType = RecordType.HYDRAHARP_V2_T3) -> np.ndarray:
    """Encode T3 events (sync count, micro time bins, 1-based channel) as HydraHarp-family T3
    records with overflow records."""
    record_type = _require_mode(record_type, t3=True)
    if record_type.layout == LAYOUT_PICOHARP:
        raise ValueError("record_type=PICOHARP_T3 cannot be encoded (avalab writes the HydraHarp family)")
    marker_nsync = np.zeros(0, np.int64) if marker_nsync is None else np.asarray(marker_nsync, np.int64)
    marker_bits = (np.ones(marker_nsync.size, np.int64) if marker_bits is None
                   else np.asarray(marker_bits, np.int64))
    syncs = np.concatenate([np.asarray(nsync, np.int64), marker_nsync])
    dts = np.concatenate([np.asarray(dtime, np.int64), np.zeros(marker_nsync.size, np.int64)])
    kinds = np.concatenate([np.asarray(channels, np.int64) - 1, marker_bits])
    special = np.concatenate([np.zeros(len(nsync), bool), np.ones(marker_nsync.size, bool)])
    order = np.argsort(syncs, kind="stable")
    out: list[int] = []
    current_wrap = 0
    v1 = record_type.layout == LAYOUT_HH_V1
    for i in order.tolist():
        needed = int(syncs[i]) // T3_WRAP
        while needed > current_wrap:
            step = 1 if v1 else min(needed - current_wrap, 0x3FF)
            out.append((1 << 31) | (0x3F << 25) | (0 if v1 else step))
            current_wrap += step
        out.append(((1 << 31) if special[i] else 0) | ((int(kinds[i]) & 0x3F) << 25)
                   | ((int(dts[i]) & 0x7FFF) << 10) | (int(syncs[i]) - current_wrap * T3_WRAP))
    return np.asarray(out, dtype=np.uint32)


# ---------------------------------------------------------------------------------------- histograms
def delays_after_markers(photon_times: np.ndarray, marker_times: np.ndarray) -> np.ndarray:
    """Each photon's delay after the latest marker edge before it (photons before the first
    marker are dropped). Inputs sorted, same time unit."""
    photon_times = np.asarray(photon_times)
    marker_times = np.asarray(marker_times)
    if marker_times.size == 0 or photon_times.size == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.searchsorted(marker_times, photon_times, side="right") - 1
    keep = idx >= 0
    return (photon_times[keep] - marker_times[idx[keep]]).astype(np.int64)


def histogram_delays(delays: np.ndarray, bin_width: int | float, n_bins: int) -> np.ndarray:
    """Counts per bin for delays in [0, n_bins * bin_width); later delays are not counted."""
    bins = np.asarray(delays) // bin_width
    bins = bins[(bins >= 0) & (bins < n_bins)].astype(np.int64)
    return np.bincount(bins, minlength=n_bins).astype(np.int64)
