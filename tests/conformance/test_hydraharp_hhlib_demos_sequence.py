"""PicoQuant's HydraHarp example programs, call for call, against hhlib_sim fed by the simulated bench.

Client: PicoQuant's HHLib 3.0 demos (github.com/PicoQuant/HH400-v3.x-Demos): ``histomode``
(Python and C), ``tttrmode`` (Python, C; T2 and T3), the 2024 ``tttrmode_instant_processing``
(Python and C: T2/T3 record processing, HH_GetSyncPeriod), ``histomode_extcontrol`` (C:
HH_SetMeasControl, HH_GetElapsedMeasTime) and ``contmode`` (C: HH_GetContModeBlock). They are C
programs and ctypes scripts with no package to install, so each test below is our own code making
the same library calls in the same order with the same buffer sizes (40-character error strings,
16/8/8-character hardware info, TTREADMAX record buffers, 16384-character warning texts) and
checking what the demo checks (return codes, histogram length, FIFO overrun, block sizes and
numbering), then what the data must show on this bench.

Transport: ctypes into the compiled library, as the demos load ``libhh400.so``. The bench runs on
a virtual clock and the source delivers each acquisition at the first look (``pace="instant"``),
so the demos' tight HH_CTCStatus loops run at the speed of the physics. Our settings differ from
the demos' where they assume a picosecond laser at the sync: here the sync is the chopper
reference (200 Hz), so the binning makes the histogram / T3 span cover a chopper period.
"""
from __future__ import annotations

import ctypes as ct
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from acquisition.rig import Rig, load_rig
from drivers.picoquant.records import RecordType, decode_t2, decode_t3
from sim_backends.emulators.hhlib_sim import HHSimLibrary, build_library
from sim_backends.emulators.hhlib_sim.bench_source import BenchSignalSource
from tests.bench.operator_steps import calibrate_hwp, prepare_pump, set_density


# hhdefin.h (HHLib 3.0)
MAXDEVNUM = 8
MODE_HIST, MODE_T2, MODE_T3, MODE_CONT = 0, 2, 3, 8
MAXLENCODE = 6
MAXHISTLEN = 65536
TTREADMAX = 131072
MAXCONTMODEBUFLEN = 262272
MEASCTRL_SINGLESHOT_CTC, MEASCTRL_CONT_CTC_RESTART = 0, 6
EDGE_RISING = 1
FLAG_OVERFLOW, FLAG_FIFOFULL = 0x0001, 0x0002
HH_ERROR_DEVICE_OPEN_FAIL = -1
WARNING_INPT_RATE_RATIO = 0x0100

CHOPPER_HZ = 200.0
DUTY = 0.5


@pytest.fixture(scope="module")
def library_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(tmp_path_factory.mktemp("hhlib_demos"))


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    """The simulated rig with the bright spot avalanching under a 200 Hz, 50 % chopper."""
    rig = load_rig("sim")
    rig.connect_all()
    prepare_pump(rig)
    set_density(rig, calibrate_hwp(rig, step_deg=9.0), 9e7)
    rig.emission_shutter.open()
    rig.chopper.set_blade("MC1F10A")
    rig.chopper.set_frequency(CHOPPER_HZ)
    rig.chopper.set_duty_cycle(DUTY)
    rig.chopper.set_phase(0.0)
    rig.chopper.set_enabled(True)
    rig.clock.sleep(10.0)  # spin-up
    yield rig
    rig.safe_state_all()
    rig.close_all()


@pytest.fixture
def source(library_path: Path, rig: Rig) -> Iterator[BenchSignalSource]:
    assert rig.bench is not None
    with BenchSignalSource(HHSimLibrary(library_path), 0, rig.bench, pace="instant") as feed:
        yield feed
    assert not feed.errors


class Demo:
    """The demos' ``tryfunc``: call, and on a negative code fail with HH_GetErrorString's text."""

    def __init__(self, library_path: Path) -> None:
        self.hh = ct.CDLL(str(library_path))
        self.error_string = ct.create_string_buffer(b"", 40)

    def __call__(self, name: str, *args: object) -> int:
        code = getattr(self.hh, "HH_" + name)(*args)
        if code < 0:
            self.hh.HH_GetErrorString(self.error_string, ct.c_int(code))
            pytest.fail(f"HH_{name} error {code} ({self.error_string.value.decode()})")
        return code

    def open_first_device(self) -> int:
        """The demos' search loop: open every index, keep the ones that answer."""
        serial = ct.create_string_buffer(b"", 8)
        found = []
        for index in range(MAXDEVNUM):
            code = self.hh.HH_OpenDevice(ct.c_int(index), serial)
            if code == 0:
                assert serial.value.decode().startswith("100")  # 0100xxxx without the 0 (page 14)
                found.append(index)
            else:
                assert code == HH_ERROR_DEVICE_OPEN_FAIL  # "no device"
        assert found == [0]
        return found[0]

    def close_all(self) -> None:
        for index in range(MAXDEVNUM):  # "no harm to close all"
            assert self.hh.HH_CloseDevice(ct.c_int(index)) == 0

    def initialize_and_set_inputs(self, dev: int, mode: int) -> int:
        """Initialize ... SetInputChannelOffset, as every demo does; returns the channel count."""
        version = ct.create_string_buffer(b"", 8)
        self.hh.HH_GetLibraryVersion(version)
        assert version.value == b"3.0"
        self("Initialize", ct.c_int(dev), ct.c_int(mode), ct.c_int(0))
        model, partno, hw_version = (ct.create_string_buffer(b"", n) for n in (16, 8, 8))
        self("GetHardwareInfo", dev, model, partno, hw_version)
        assert model.value == b"HydraHarp 400"
        channels = ct.c_int()
        self("GetNumOfInputChannels", ct.c_int(dev), ct.byref(channels))
        self("Calibrate", ct.c_int(dev))
        self("SetSyncDiv", ct.c_int(dev), ct.c_int(1))
        self("SetSyncCFD", ct.c_int(dev), ct.c_int(50), ct.c_int(10))
        self("SetSyncChannelOffset", ct.c_int(dev), ct.c_int(-5000))
        for i in range(channels.value):
            self("SetInputCFD", ct.c_int(dev), ct.c_int(i), ct.c_int(50), ct.c_int(10))
            self("SetInputChannelOffset", ct.c_int(dev), ct.c_int(i), ct.c_int(0))
        return channels.value

    def rates(self, dev: int, channels: int) -> tuple[int, list[int]]:
        sync, count = ct.c_int(), ct.c_int()
        self("GetSyncRate", ct.c_int(dev), ct.byref(sync))
        counts = []
        for i in range(channels):
            self("GetCountRate", ct.c_int(dev), ct.c_int(i), ct.byref(count))
            counts.append(count.value)
        return sync.value, counts

    def warnings(self, dev: int) -> tuple[int, str]:
        warnings = ct.c_int()
        text = ct.create_string_buffer(b"", 16384)
        self("GetWarnings", ct.c_int(dev), ct.byref(warnings))
        if warnings.value != 0:
            self.hh.HH_GetWarningsText(ct.c_int(dev), text, warnings)
        return warnings.value, text.value.decode()

    def read_tttr(self, dev: int, tacq_ms: int, start_twice: bool = False) -> np.ndarray:
        """StartMeas, then {GetFlags (stop on FIFO overrun), ReadFiFo, CTCStatus when nothing
        came, a few more rounds after it ends (the C demo's stopretry)}, StopMeas."""
        buffer = (ct.c_uint * TTREADMAX)()
        flags, n_records, ctcstatus = ct.c_int(), ct.c_int(), ct.c_int()
        chunks = []
        self("StartMeas", ct.c_int(dev), ct.c_int(tacq_ms))
        if start_twice:  # the 2024 Python instant-processing demo starts twice in T2 mode
            self("StartMeas", ct.c_int(dev), ct.c_int(tacq_ms))
        stop_retry = 0
        while True:
            self("GetFlags", ct.c_int(dev), ct.byref(flags))
            assert not flags.value & FLAG_FIFOFULL, "FiFo Overrun!"
            self("ReadFiFo", ct.c_int(dev), ct.byref(buffer), TTREADMAX, ct.byref(n_records))
            if n_records.value > 0:
                chunks.append(np.frombuffer(buffer, dtype=np.uint32, count=n_records.value).copy())
                continue
            self("CTCStatus", ct.c_int(dev), ct.byref(ctcstatus))
            if ctcstatus.value > 0:
                stop_retry += 1
                if stop_retry > 5:
                    break
        self("StopMeas", ct.c_int(dev))
        return np.concatenate(chunks) if chunks else np.zeros(0, np.uint32)


@pytest.fixture
def demo(library_path: Path) -> Iterator[Demo]:
    client = Demo(library_path)
    yield client
    client.close_all()


def _poisson_close(observed: float, expected: float, sigmas: float = 5.0) -> bool:
    return abs(observed - expected) <= sigmas * np.sqrt(max(expected, 1.0)) + 0.02 * expected


def _open_fraction(phases: np.ndarray) -> float:
    """Fraction of photons in the first half of the chopper period (blade open, phase 0)."""
    return float(np.mean(phases < DUTY))


def test_histomode_sequence(demo: Demo, source: BenchSignalSource) -> None:
    """histomode.py / histomode.c (+ histomode_extcontrol.c's HH_SetMeasControl and
    HH_GetElapsedMeasTime): the histogram of photon delays after the sync shows the chopper window."""
    dev = demo.open_first_device()
    channels = demo.initialize_and_set_inputs(dev, MODE_HIST)
    hist_len, resolution = ct.c_int(), ct.c_double()
    demo("SetHistoLen", ct.c_int(dev), ct.c_int(MAXLENCODE), ct.byref(hist_len))
    assert hist_len.value == MAXHISTLEN
    binning = 17  # 131 ns bins: 65536 of them span 8.6 ms, more than a 5 ms chopper period
    demo("SetBinning", ct.c_int(dev), ct.c_int(binning))
    demo("SetOffset", ct.c_int(dev), ct.c_int(0))
    demo("GetResolution", ct.c_int(dev), ct.byref(resolution))
    assert resolution.value == 2.0 ** binning
    time.sleep(0.4)  # "allow >400 ms for valid count rate readings"
    sync, counts = demo.rates(dev, channels)
    assert sync == pytest.approx(CHOPPER_HZ, abs=1)
    assert counts[0] > 1000 and counts[1:] == [0] * (channels - 1)
    warnings, text = demo.warnings(dev)
    assert warnings == WARNING_INPT_RATE_RATIO and "5%" in text  # kHz photons on a 200 Hz sync
    demo("SetStopOverflow", ct.c_int(dev), ct.c_int(0), ct.c_int(10000))
    demo("SetMeasControl", ct.c_int(dev), ct.c_int(MEASCTRL_SINGLESHOT_CTC), ct.c_int(EDGE_RISING),
         ct.c_int(0))
    histograms = [(ct.c_uint * MAXHISTLEN)() for _ in range(channels)]
    tacq = 500
    for _ in range(2):  # the demo's "c to continue" loop, twice
        demo("ClearHistMem", ct.c_int(dev))
        demo.rates(dev, channels)
        demo("StartMeas", ct.c_int(dev), ct.c_int(tacq))
        ctcstatus = ct.c_int(0)
        while ctcstatus.value == 0:
            demo("CTCStatus", ct.c_int(dev), ct.byref(ctcstatus))
        demo("StopMeas", ct.c_int(dev))
        elapsed = ct.c_double()
        demo("GetElapsedMeasTime", ct.c_int(dev), ct.byref(elapsed))
        assert elapsed.value == pytest.approx(tacq)
        for i in range(channels):
            demo("GetHistogram", ct.c_int(dev), ct.byref(histograms[i]), ct.c_int(i), ct.c_int(0))
        flags = ct.c_int()
        demo("GetFlags", ct.c_int(dev), ct.byref(flags))
        assert not flags.value & FLAG_OVERFLOW
        run = source.completed[-1]
        assert run.end_t - run.start_t == pytest.approx(tacq * 1e-3)
        hist = np.frombuffer(histograms[0], dtype=np.uint32).astype(np.int64)
        # photons before the first sync of the run have no start: about half a period's worth
        assert _poisson_close(hist.sum(), run.expected_photons * (1 - CHOPPER_HZ ** -1 / 2 / (tacq * 1e-3)),
                              sigmas=6)
        assert np.frombuffer(histograms[1], dtype=np.uint32).sum() == 0
        period_bins = int(1 / CHOPPER_HZ / (resolution.value * 1e-12))
        assert hist[period_bins + 2:].sum() == 0  # nothing later than one sync period
        phases = np.repeat(np.arange(hist.size), hist) / period_bins
        assert _open_fraction(phases) > 0.6  # the chopper modulates the emission (unmodulated: 0.5)


def test_tttrmode_t2_sequence(demo: Demo, source: BenchSignalSource) -> None:
    """tttrmode.py / tttrmode.c in T2 mode and the instant-processing demo's T2 path: photon time
    tags, the sync in the stream, every count the bench delivered."""
    dev = demo.open_first_device()
    channels = demo.initialize_and_set_inputs(dev, MODE_T2)
    resolution = ct.c_double()
    demo("GetResolution", ct.c_int(dev), ct.byref(resolution))
    assert resolution.value == 1.0  # T2 time tags are in base resolution units (ps)
    time.sleep(0.2)
    demo.rates(dev, channels)
    tacq = 400
    records = demo.read_tttr(dev, tacq, start_twice=True)
    events = decode_t2(records, RecordType.HYDRAHARP_V2_T2)
    run = source.completed[-1]
    assert _poisson_close(events.photon_times.size, run.expected_photons)
    assert events.photon_times.size == run.drawn_photons
    assert np.all(events.photon_channels == 1)
    assert events.marker_times.size == 0  # the demo leaves the markers disabled
    assert events.sync_times.size == pytest.approx(CHOPPER_HZ * tacq * 1e-3, abs=1)
    assert np.all((events.photon_times >= 0) & (events.photon_times < tacq * 10**9))
    # the sync channel offset (-5000 ps) moves the sync records, not the photons
    sync_s = events.sync_times * 1e-12
    assert np.diff(sync_s) == pytest.approx(1 / CHOPPER_HZ, rel=1e-3)
    latest = np.searchsorted(events.sync_times, events.photon_times, side="right") - 1
    after_first = latest >= 0
    phases = (events.photon_times[after_first] - events.sync_times[latest[after_first]]) * 1e-12 * CHOPPER_HZ
    assert _open_fraction(phases) > 0.6


def test_tttrmode_t3_sequence(demo: Demo, source: BenchSignalSource) -> None:
    """tttrmode.c / tttrmode.py in T3 mode and the instant-processing demo's T3 path with
    HH_GetSyncPeriod: truensync x period is the macro time, dtime x resolution the delay."""
    dev = demo.open_first_device()
    channels = demo.initialize_and_set_inputs(dev, MODE_T3)
    binning = 18  # 262 ns: 32768 dtime bins span 8.6 ms
    demo("SetBinning", ct.c_int(dev), ct.c_int(binning))
    demo("SetOffset", ct.c_int(dev), ct.c_int(0))
    resolution = ct.c_double()
    demo("GetResolution", ct.c_int(dev), ct.byref(resolution))
    time.sleep(0.2)
    sync, _ = demo.rates(dev, channels)
    tacq = 400
    buffer = (ct.c_uint * TTREADMAX)()
    flags, n_records, ctcstatus = ct.c_int(), ct.c_int(), ct.c_int()
    demo("StartMeas", ct.c_int(dev), ct.c_int(tacq))
    time.sleep(3 / CHOPPER_HZ)  # "two sync periods must have elapsed"
    sync_period = ct.c_double()
    demo("GetSyncPeriod", ct.c_int(dev), ct.byref(sync_period))
    assert sync_period.value == pytest.approx(1 / CHOPPER_HZ, rel=1e-3)  # seconds, as the demo prints
    chunks = []
    while True:
        demo("GetFlags", ct.c_int(dev), ct.byref(flags))
        assert not flags.value & FLAG_FIFOFULL
        demo("ReadFiFo", ct.c_int(dev), ct.byref(buffer), TTREADMAX, ct.byref(n_records))
        if n_records.value:
            chunks.append(np.frombuffer(buffer, dtype=np.uint32, count=n_records.value).copy())
        else:
            demo("CTCStatus", ct.c_int(dev), ct.byref(ctcstatus))
            if ctcstatus.value > 0:
                break
    demo("StopMeas", ct.c_int(dev))
    events = decode_t3(np.concatenate(chunks), RecordType.HYDRAHARP_V2_T3)
    run = source.completed[-1]
    # photons before the first sync have no nsync: about half a period's worth are missing
    expected = run.expected_photons * (1 - 1 / CHOPPER_HZ / 2 / (tacq * 1e-3))
    assert _poisson_close(events.nsync.size, expected, sigmas=6)
    assert events.nsync.max() == pytest.approx(sync * tacq * 1e-3, abs=2)
    macro_s = events.nsync * sync_period.value
    assert np.all((macro_s >= 0) & (macro_s < tacq * 1e-3))
    delays_s = events.dtime * resolution.value * 1e-12
    assert np.all(delays_s < 1 / CHOPPER_HZ)
    assert _open_fraction(delays_s * CHOPPER_HZ) > 0.6


def test_t2_markers_as_the_avalab_driver_enables_them(demo: Demo, source: BenchSignalSource) -> None:
    """HH_SetMarkerEdges / HH_SetMarkerEnable: the chopper reference on marker 1 and the pump
    shutter on marker 2 (its TTL is high while open) arrive as marker records."""
    dev = demo.open_first_device()
    demo.initialize_and_set_inputs(dev, MODE_T2)
    demo("SetMarkerEdges", ct.c_int(dev), ct.c_int(1), ct.c_int(0), ct.c_int(1), ct.c_int(1))
    demo("SetMarkerEnable", ct.c_int(dev), ct.c_int(1), ct.c_int(1), ct.c_int(0), ct.c_int(0))
    demo("SetMarkerHoldoffTime", ct.c_int(dev), ct.c_int(0))
    rig_shutter = source.bench.pump_shutter
    records = demo.read_tttr(dev, 200)
    events = decode_t2(records, RecordType.HYDRAHARP_V2_T2)
    assert set(events.marker_bits.tolist()) == {1}  # the shutter stayed open: no falling edge
    assert events.marker_times.size == pytest.approx(CHOPPER_HZ * 0.2, abs=1)
    assert rig_shutter.is_open


def test_contmode_sequence(demo: Demo, source: BenchSignalSource) -> None:
    """contmode.c: MODE_CONT with MEASCTRL_CONT_CTC_RESTART; one block per acquisition time, each
    header + (histolen x 4 + 8) bytes per enabled channel, numbered from 0, sums after the bins."""
    dev = demo.open_first_device()
    demo("Initialize", ct.c_int(dev), ct.c_int(MODE_CONT), ct.c_int(0))
    channels = ct.c_int()
    demo("GetNumOfInputChannels", ct.c_int(dev), ct.byref(channels))
    for i in range(channels.value):
        demo("SetInputChannelEnable", ct.c_int(dev), ct.c_int(i), ct.c_int(1))
    demo("ClearHistMem", ct.c_int(dev))
    demo("SetMeasControl", ct.c_int(dev), ct.c_int(MEASCTRL_CONT_CTC_RESTART), ct.c_int(EDGE_RISING),
         ct.c_int(EDGE_RISING))
    demo("Calibrate", ct.c_int(dev))
    demo("SetSyncDiv", ct.c_int(dev), ct.c_int(1))
    demo("SetSyncCFD", ct.c_int(dev), ct.c_int(50), ct.c_int(10))
    demo("SetSyncChannelOffset", ct.c_int(dev), ct.c_int(-5000))
    for i in range(channels.value):
        demo("SetInputCFD", ct.c_int(dev), ct.c_int(i), ct.c_int(50), ct.c_int(10))
        demo("SetInputChannelOffset", ct.c_int(dev), ct.c_int(i), ct.c_int(0))
    binning = 23  # 8.4 us x 1024 bins = 8.6 ms
    demo("SetBinning", ct.c_int(dev), ct.c_int(binning))
    demo("SetOffset", ct.c_int(dev), ct.c_int(0))
    resolution, histolen = ct.c_double(), ct.c_int()
    demo("GetResolution", ct.c_int(dev), ct.byref(resolution))
    demo("SetHistoLen", ct.c_int(dev), ct.c_int(0), ct.byref(histolen))
    assert histolen.value == 1024
    demo("ClearHistMem", ct.c_int(dev))
    time.sleep(0.2)
    demo.rates(dev, channels.value)
    tacq, n_blocks = 50, 6
    block = (ct.c_ubyte * MAXCONTMODEBUFLEN)()
    received, flags = ct.c_int(), ct.c_int()
    demo("StartMeas", ct.c_int(dev), ct.c_int(tacq))
    expected_size = 64 + (histolen.value * 4 + 8) * channels.value
    sums, marker_counts, starts = [], [], []
    blocknum = 0
    while blocknum < n_blocks:
        demo("GetFlags", ct.c_int(dev), ct.byref(flags))
        assert not flags.value & FLAG_FIFOFULL
        demo("GetContModeBlock", ct.c_int(dev), ct.byref(block), ct.byref(received))
        if received.value == 0:
            continue
        assert received.value == expected_size
        raw = bytes(block)[:received.value]
        n_channels, length, number = np.frombuffer(raw[:8], dtype="<u2", count=2).tolist() + [
            int(np.frombuffer(raw[4:8], dtype="<u4")[0])]
        assert (n_channels, length, number) == (channels.value, histolen.value, blocknum)
        start_ns, ctc_ns = np.frombuffer(raw[8:24], dtype="<u8").tolist()
        assert (start_ns, ctc_ns) == (blocknum * tacq * 10**6, tacq * 10**6)
        marker_counts.append(int(np.frombuffer(raw[56:64], dtype="<u2")[0]))
        stride = histolen.value * 4 + 8
        for channel in range(channels.value):
            part = raw[64 + channel * stride: 64 + (channel + 1) * stride]
            histogram = np.frombuffer(part[:-8], dtype="<u4").astype(np.int64)
            total = int(np.frombuffer(part[-8:], dtype="<u8")[0])
            assert total == histogram.sum()
            if channel == 0:
                sums.append(total)
            else:
                assert total == 0  # nothing is wired to the other inputs
        starts.append(start_ns)
        blocknum += 1
    demo("StopMeas", ct.c_int(dev))
    assert marker_counts == [0] * n_blocks  # markers stay disabled, as in the demo
    rate = np.mean(sums[1:]) / (tacq * 1e-3)
    _, counts = demo.rates(dev, channels.value)
    assert rate == pytest.approx(counts[0], rel=0.3)


def test_identification_and_service_functions(demo: Demo) -> None:
    """The calls the C# demos declare: serial number, features, base resolution, modules,
    debug info; and the error string of a device that is not there."""
    dev = demo.open_first_device()
    demo.initialize_and_set_inputs(dev, MODE_T2)
    serial = ct.create_string_buffer(b"", 8)
    demo("GetSerialNumber", ct.c_int(dev), serial)
    assert serial.value == b"1000000"
    features, binsteps, modules, model, version = (ct.c_int() for _ in range(5))
    base = ct.c_double()
    demo("GetFeatures", ct.c_int(dev), ct.byref(features))
    assert features.value & 0x0002  # FEATURE_TTTR
    demo("GetBaseResolution", ct.c_int(dev), ct.byref(base), ct.byref(binsteps))
    assert (base.value, binsteps.value) == (1.0, 26)
    demo("GetNumOfModules", ct.c_int(dev), ct.byref(modules))
    for index in range(modules.value):
        demo("GetModuleInfo", ct.c_int(dev), ct.c_int(index), ct.byref(model), ct.byref(version))
    debug = ct.create_string_buffer(b"", 65536)
    demo("GetHardwareDebugInfo", ct.c_int(dev), debug)
    assert b"HydraHarp" in debug.value
    text = ct.create_string_buffer(b"", 40)
    assert demo.hh.HH_Initialize(ct.c_int(3), ct.c_int(MODE_T2), ct.c_int(0)) == -10
    demo.hh.HH_GetErrorString(text, ct.c_int(-10))
    assert text.value == b"HH_ERROR_DEVICE_NOT_OPEN"
    records = ct.c_int()
    small = (ct.c_uint * 100)()
    assert demo.hh.HH_ReadFiFo(ct.c_int(dev), small, ct.c_int(100), ct.byref(records)) == -17
