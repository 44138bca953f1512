"""hhlib_sim's instrument semantics (HHLib manual 3.0.0.2, section 8), with played-back signals.

Each test plays known signals into one measurement and checks what the unit makes of them:
divider, offsets, enables, markers, stop on overflow, T3 span, FIFO transfer chunks, flags and
warnings. Calls go through avalab's checked binding (drivers/picoquant/hhlib.py).
"""
from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from drivers.errors import InstrumentError
from drivers.picoquant import hhlib
from drivers.picoquant.records import RecordType, decode_t2, decode_t3
from sim_backends.emulators.hhlib_sim import (SIG_MARKER_FALLING, SIG_MARKER_RISING, SIG_SYNC,
                                              HHSimLibrary, PlaybackSource)

DEV = 0


@pytest.fixture
def unit(hhlib_path: Path) -> Iterator[tuple[hhlib.HHLib, PlaybackSource]]:
    lib = hhlib.HHLib(str(hhlib_path))
    source = PlaybackSource(HHSimLibrary(hhlib_path), DEV)
    lib.open_device(DEV)
    yield lib, source
    lib.call("HH_CloseDevice", DEV)
    source.detach()
    assert not source.errors


def _init(lib: hhlib.HHLib, mode: int) -> None:
    lib.call("HH_Initialize", DEV, mode, 0)
    lib.call("HH_Calibrate", DEV)


def _signals(*streams: tuple[np.ndarray, int]) -> tuple[np.ndarray, np.ndarray]:
    times = np.concatenate([np.asarray(t, np.int64) for t, _ in streams])
    codes = np.concatenate([np.full(len(t), code) for t, code in streams])
    order = np.argsort(times, kind="stable")
    return times[order], codes[order]


def _run_tttr(lib: hhlib.HHLib, tacq_ms: int) -> np.ndarray:
    buffer = np.zeros(hhlib.TTREADMAX, np.uint32)
    lib.call("HH_StartMeas", DEV, tacq_ms)
    chunks = []
    while True:
        n = lib.read_fifo(DEV, buffer)
        if n:
            chunks.append(buffer[:n].copy())
        elif lib.get_int("HH_CTCStatus", DEV):
            break
    lib.call("HH_StopMeas", DEV)
    return np.concatenate(chunks) if chunks else np.zeros(0, np.uint32)


def test_t3_counts_divided_syncs_and_subtracts_offsets(unit) -> None:
    lib, source = unit
    _init(lib, hhlib.MODE_T3)
    lib.call("HH_SetSyncDiv", DEV, 4)
    lib.call("HH_SetBinning", DEV, 3)                # 8 ps bins
    lib.call("HH_SetOffset", DEV, 1)                 # 1 ns subtracted from every start-stop time
    lib.call("HH_SetInputChannelOffset", DEV, 0, 2000)  # a 2 ns cable delay on input 1
    syncs = np.arange(400) * 10_000                  # 100 MHz: divided by 4 -> every 40 ns
    photons = syncs[::4] + 5_000                     # 5 ns after each divided sync
    source.load(*_signals((syncs, SIG_SYNC), (photons, 0)))
    events = decode_t3(_run_tttr(lib, 1), RecordType.HYDRAHARP_V2_T3)
    assert events.nsync.tolist() == list(range(100))            # one per divided sync
    assert set(events.dtime.tolist()) == {(5_000 + 2_000 - 1_000) // 8}


def test_t3_drops_photons_outside_the_dtime_span_and_before_the_first_sync(unit) -> None:
    lib, source = unit
    _init(lib, hhlib.MODE_T3)
    resolution_ps = lib.get_double("HH_GetResolution", DEV)
    assert resolution_ps == 1.0
    source.load(*_signals((np.array([100, 1_000_000]), SIG_SYNC),
                          (np.array([50, 100 + 32767, 100 + 32768, 1_000_010]), 0)))
    events = decode_t3(_run_tttr(lib, 1), RecordType.HYDRAHARP_V2_T3)
    assert events.dtime.tolist() == [32767, 10] and events.nsync.tolist() == [0, 1]


def test_disabled_inputs_and_markers_follow_enables_edges_and_holdoff(unit) -> None:
    lib, source = unit
    _init(lib, hhlib.MODE_T2)
    lib.call("HH_SetInputChannelEnable", DEV, 1, 0)
    lib.call("HH_SetMarkerEnable", DEV, 1, 1, 0, 0)
    lib.call("HH_SetMarkerEdges", DEV, 1, 0, 1, 1)   # line 1 rising, line 2 falling
    lib.call("HH_SetMarkerHoldoffTime", DEV, 100)    # ns
    source.load(*_signals(
        (np.array([1_000, 2_000]), 0), (np.array([1_500]), 1),
        (np.array([10_000, 500_000, 900_000]), SIG_MARKER_RISING + 0),
        (np.array([300_000]), SIG_MARKER_RISING + 1), (np.array([700_000]), SIG_MARKER_FALLING + 1),
        (np.array([1_200_000]), SIG_MARKER_RISING + 2)))
    events = decode_t2(_run_tttr(lib, 1), RecordType.HYDRAHARP_V2_T2)
    assert events.photon_times.tolist() == [1_000, 2_000]           # input 2 disabled
    # all further apart than the hold-off (100 ns); line 2 only on its falling edge; line 3 off
    assert events.marker_times.tolist() == [10_000, 500_000, 700_000, 900_000]
    assert events.marker_bits.tolist() == [1, 1, 2, 1]


def test_marker_hold_off_suppresses_glitches(unit) -> None:
    lib, source = unit
    _init(lib, hhlib.MODE_T2)
    lib.call("HH_SetMarkerEnable", DEV, 1, 0, 0, 0)
    lib.call("HH_SetMarkerHoldoffTime", DEV, 100)
    source.load(np.array([10_000, 60_000, 200_000]), np.full(3, SIG_MARKER_RISING))
    events = decode_t2(_run_tttr(lib, 1), RecordType.HYDRAHARP_V2_T2)
    assert events.marker_times.tolist() == [10_000, 200_000]  # 50 ns after the first: a glitch


def test_histogram_stop_on_overflow_ends_the_measurement_early(unit) -> None:
    lib, source = unit
    _init(lib, hhlib.MODE_HIST)
    lib.set_histo_len(DEV, 0)
    lib.call("HH_SetStopOverflow", DEV, 1, 50)
    syncs = np.arange(1000) * 1_000_000              # 1 kHz... in ps: 1 MHz over 1 ms
    source.load(*_signals((syncs, SIG_SYNC), (syncs + 100, 0)))
    lib.call("HH_ClearHistMem", DEV)
    lib.call("HH_StartMeas", DEV, 1)
    assert lib.get_int("HH_CTCStatus", DEV) == 1
    lib.call("HH_StopMeas", DEV)
    counts = lib.histogram(DEV, 0, 1024, clear=False)
    assert counts[100] == 50 and counts.sum() == 50
    assert lib.get_int("HH_GetFlags", DEV) & hhlib.FLAG_OVERFLOW
    assert lib.get_double("HH_GetElapsedMeasTime", DEV) == pytest.approx(49 * 1e-3 + 100e-9)
    lib.call("HH_ClearHistMem", DEV)
    assert lib.histogram(DEV, 0, 1024, clear=False).sum() == 0
    assert not lib.get_int("HH_GetFlags", DEV) & hhlib.FLAG_OVERFLOW


def test_fifo_transfers_whole_chunks_of_128_records_first(unit) -> None:
    lib, source = unit
    _init(lib, hhlib.MODE_T2)
    source.load(np.arange(300) * 1000, np.zeros(300, np.int64))
    lib.call("HH_StartMeas", DEV, 1)
    buffer = np.zeros(hhlib.TTREADMAX, np.uint32)
    assert [lib.read_fifo(DEV, buffer) for _ in range(3)] == [256, 44, 0]
    small = np.zeros(100, np.uint32)
    with pytest.raises(InstrumentError, match="HH_ReadFiFo.*INVALID_ARGUMENT"):
        lib.read_fifo(DEV, small)  # not a multiple of 128 (page 27)


def test_a_second_start_restarts_the_measurement(unit) -> None:
    lib, source = unit
    _init(lib, hhlib.MODE_T2)
    source.load(np.arange(10) * 1000, np.zeros(10, np.int64))
    lib.call("HH_StartMeas", DEV, 1)
    lib.call("HH_StartMeas", DEV, 1)
    events = decode_t2(_run_tttr(lib, 1), RecordType.HYDRAHARP_V2_T2)
    assert events.photon_times.size == 10


def test_flags_and_warnings_follow_the_signals_and_settings(unit, hhlib_path) -> None:
    lib, source = unit
    sim = HHSimLibrary(hhlib_path)
    _init(lib, hhlib.MODE_T3)
    sim.set_rates(DEV, 0, [5000, 0])
    lib.get_int("HH_GetSyncRate", DEV)
    lib.get_int("HH_GetCountRate", DEV, 0)
    lib.get_int("HH_GetCountRate", DEV, 1)
    bits, text = lib.warnings(DEV)
    assert bits == 0x0001 and "sync" in text  # WARNING_SYNC_RATE_ZERO
    sim.set_source(DEV, lambda device, reason: None)  # a source that says nothing happened
    lib.call("HH_StartMeas", DEV, 5000)
    sim.push_signals(DEV, np.zeros(0), np.zeros(0), 3_500_000_000_000)
    assert not lib.get_int("HH_GetFlags", DEV) & hhlib.FLAG_SYNC_LOST
    sim.push_signals(DEV, np.zeros(0), np.zeros(0), 4_500_000_000_000)  # 4.5 s without a sync edge
    assert lib.get_int("HH_GetFlags", DEV) & hhlib.FLAG_SYNC_LOST
    lib.call("HH_StopMeas", DEV)
    _init(lib, hhlib.MODE_T2)
    lib.call("HH_SetSyncDiv", DEV, 2)
    sim.set_rates(DEV, 20_000_000, [10_000_000, 0])
    lib.get_int("HH_GetSyncRate", DEV)
    lib.get_int("HH_GetCountRate", DEV, 0)
    bits, _ = lib.warnings(DEV)
    assert bits == 0x0004 | 0x0040 | 0x0200  # sync too high, input too high, divider > 1 in T2


def test_error_codes_and_strings_are_those_of_errorcodes_h(unit, hhlib_path) -> None:
    lib, _ = unit
    text = ctypes.create_string_buffer(40)
    for code, name in ((-1, "HH_ERROR_DEVICE_OPEN_FAIL"), (-17, "HH_ERROR_INVALID_ARGUMENT"),
                       (-22, "HH_ERROR_NOT_INITIALIZED"), (-64, "HH_ERROR_EEPROM_F01")):
        assert lib.error_text(code) == name
    with pytest.raises(InstrumentError, match="HH_GetNumOfInputChannels.*HH_ERROR_NOT_INITIALIZED"):
        lib.get_int("HH_GetNumOfInputChannels", DEV)
    _init(lib, hhlib.MODE_T2)
    with pytest.raises(InstrumentError, match="HH_GetHistogram.*HH_ERROR_INVALID_MODE"):
        lib.histogram(DEV, 0, 1024, clear=False)
    with pytest.raises(InstrumentError, match="HH_SetMeasControl.*HH_ERROR_INVALID_OPTION"):
        lib.call("HH_SetMeasControl", DEV, 1, 1, 1)  # C1 gating: nothing wired to C1
    assert text.raw[:1] == b"\0"
