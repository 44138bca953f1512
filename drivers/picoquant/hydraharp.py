"""PicoQuant HydraHarp 400 as a TimeTagger, through HHLib 3.x (ctypes).

T2 mode is the default: every photon and every marker edge (the chopper's reference output or
the pump shutter's trigger, wired to a marker input) is time-tagged, so rise and decay histograms
are built relative to the excitation edge in software (``histogram``), and the raw tags can be
kept (``time_tags``). Histogram mode (hardware histogram relative to the sync) is available as
``hardware_histogram``.

UNVERIFIED against a real HydraHarp: the acquisition loop follows PicoQuant's T2 demo
(StartMeas, loop {GetFlags (abort on FIFOFULL or SYSERROR), ReadFiFo, when nothing came check
CTCStatus}, StopMeas); error codes and limits are those of HHLib 3.0's errorcodes.h / hhdefin.h;
tested against sim_backends/emulators/hhlib_sim (a C library with the same API, fed by the
simulated bench) and with the call sequences of PicoQuant's example programs
(tests/conformance/test_hydraharp_hhlib_demos_sequence.py).
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from drivers.clock import Clock
from drivers.errors import InstrumentError
from drivers.interfaces import TimeTagger, TimeTags
from drivers.picoquant import hhlib
from drivers.picoquant.records import RecordType, decode_t2, t2_histogram_after_markers
from drivers.validation import check_choice, check_int_range, check_positive, check_range

log = logging.getLogger(__name__)

T2_RESOLUTION_S = 1e-12  # HydraHarp T2 time tags are in picoseconds
ACQUISITION_RANGE_S = (1e-3, 360e3)
#: HH_SetSyncDiv accepts 1, 2, 4, .., 16 (HHLib manual 3.0.0.2, page 22)
SYNC_DIVIDERS = (1, 2, 4, 8, 16)
_POLL_S = 0.005


class HydraHarpTimeTagger(TimeTagger):
    """HydraHarp 400. ``address`` is the device index ("0".."7") or "hh:<index>"."""

    model = "PicoQuant HydraHarp 400"

    def __init__(self, name: str, address: str, clock: Clock, *, library_path: str | None = None,
                 sync_divider: int = 1, sync_cfd_mv: int = 50, input_cfd_mv: int = 50,
                 zero_cross_mv: int = 10, marker_input: int = 1, marker_rising: bool = True,
                 channels: int = 1) -> None:
        super().__init__(name, address)
        self.clock = clock
        index_text = address.split(":")[-1] if address.startswith("hh:") or ":" not in address else ""
        if not index_text.strip().isdigit():
            raise ValueError(f"address={address!r} is not a device index; allowed: "
                             "'0'..'7' or 'hh:0'..'hh:7'")
        self.device_index = check_int_range("address (device index)", int(index_text), 0, 7)
        self.sync_divider = check_choice("sync_divider", sync_divider, SYNC_DIVIDERS)
        self.sync_cfd_mv = check_int_range("sync_cfd_mv", sync_cfd_mv, 0, 1000)
        self.input_cfd_mv = check_int_range("input_cfd_mv", input_cfd_mv, 0, 1000)
        self.zero_cross_mv = check_int_range("zero_cross_mv", zero_cross_mv, 0, 40)
        self.marker_input = check_int_range("marker_input", marker_input, 1, 4)
        self.marker_rising = marker_rising
        self.channels = check_int_range("channels", channels, 1, 8)
        self._library_path = library_path
        self._lib: hhlib.HHLib | None = None
        self._mode: int | None = None
        self._serial = ""
        self._lock = threading.RLock()
        self._buffer = np.zeros(hhlib.TTREADMAX, dtype=np.uint32)

    # ------------------------------------------------------------------ life cycle
    def connect(self) -> None:
        with self._lock:
            if self._lib is not None:
                return
            lib = hhlib.HHLib(hhlib.find_library(self._library_path), self.name, self.address)
            self._serial = lib.open_device(self.device_index)
            self._lib = lib
            try:
                self._initialize(hhlib.MODE_T2)
            except Exception:
                self.close()
                raise
            log.info("%s: HydraHarp serial %s, HHLib %s", self.name, self._serial, lib.version())

    def _initialize(self, mode: int) -> None:
        lib = self._require()
        idx = self.device_index
        lib.call("HH_Initialize", idx, mode, 0)
        lib.call("HH_Calibrate", idx)
        lib.call("HH_SetSyncDiv", idx, self.sync_divider)
        lib.call("HH_SetSyncCFD", idx, self.sync_cfd_mv, self.zero_cross_mv)
        lib.call("HH_SetSyncChannelOffset", idx, 0)
        for channel in range(self.channels):
            lib.call("HH_SetInputCFD", idx, channel, self.input_cfd_mv, self.zero_cross_mv)
            lib.call("HH_SetInputChannelOffset", idx, channel, 0)
        if mode != hhlib.MODE_HIST:
            edges = [1 if self.marker_rising else 0] * 4
            enable = [1 if i + 1 == self.marker_input else 0 for i in range(4)]
            lib.call("HH_SetMarkerEdges", idx, *edges)
            lib.call("HH_SetMarkerEnable", idx, *enable)
        self._mode = mode

    def close(self) -> None:
        with self._lock:
            if self._lib is None:
                return
            try:
                self.safe_state()
            except InstrumentError as exc:  # closing goes on: the device is released anyway
                log.warning("%s: could not stop the measurement before closing: %s", self.name, exc)
            self._lib.call("HH_CloseDevice", self.device_index)
            self._lib = None
            self._mode = None

    @property
    def is_connected(self) -> bool:
        return self._lib is not None

    def identify(self) -> str:
        with self._lock:
            model, part, version = self._require().hardware_info(self.device_index)
            return f"{model} (part {part}, hw {version}), serial {self._serial}"

    def safe_state(self) -> None:
        """Stop the measurement (nothing runs without an open library); raises when the
        device refuses, and the rig reports it."""
        with self._lock:
            if self._lib is None:
                return
            self._lib.call("HH_StopMeas", self.device_index)

    def _require(self) -> hhlib.HHLib:
        if self._lib is None:
            raise InstrumentError(self.name, self.address, "-", "not connected")
        return self._lib

    # ------------------------------------------------------------------ rates
    def sync_rate(self) -> int:
        with self._lock:
            return self._require().get_int("HH_GetSyncRate", self.device_index)

    def count_rate(self, channel: int = 1) -> int:
        check_int_range("channel", channel, 1, self.channels)
        with self._lock:
            return self._require().get_int("HH_GetCountRate", self.device_index, channel - 1)

    def warnings(self) -> str:
        """HHLib's warnings text for the current rates and settings ("" when there is none).

        The library judges the rates last read, so both rate meters are read first (page 15).
        """
        with self._lock:
            lib = self._require()
            lib.get_int("HH_GetSyncRate", self.device_index)
            for channel in range(self.channels):
                lib.get_int("HH_GetCountRate", self.device_index, channel)
            return lib.warnings(self.device_index)[1]

    # ------------------------------------------------------------------ T2 acquisition
    def read_records(self, acquisition_s: float) -> np.ndarray:
        """Run one T2 measurement and return its raw records (uint32)."""
        check_range("acquisition_s", acquisition_s, *ACQUISITION_RANGE_S, "s")
        with self._lock:
            lib = self._require()
            if self._mode != hhlib.MODE_T2:
                self._initialize(hhlib.MODE_T2)
            idx = self.device_index
            chunks: list[np.ndarray] = []
            lib.call("HH_StartMeas", idx, int(round(acquisition_s * 1e3)))
            try:
                while True:
                    flags = lib.get_int("HH_GetFlags", idx)
                    if flags & hhlib.FLAG_FIFOFULL:
                        raise InstrumentError(self.name, self.address, "HH_ReadFiFo",
                                              "FIFO overrun: count rate too high for the link")
                    if flags & hhlib.FLAG_SYSERROR:
                        raise InstrumentError(self.name, self.address, "HH_GetFlags",
                                              "hardware error flag (FLAG_SYSERROR) set")
                    n = lib.read_fifo(idx, self._buffer)
                    if n > 0:
                        chunks.append(self._buffer[:n].copy())
                        continue
                    if lib.get_int("HH_CTCStatus", idx):
                        # drain what arrived between the last read and the end of the measurement
                        while (n := lib.read_fifo(idx, self._buffer)) > 0:
                            chunks.append(self._buffer[:n].copy())
                        break
                    self.clock.sleep(_POLL_S)
            finally:
                lib.call("HH_StopMeas", idx)
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint32)

    def time_tags(self, acquisition_s: float) -> TimeTags:
        records = self.read_records(acquisition_s)
        events = decode_t2(records, RecordType.HYDRAHARP_V2_T2)
        return TimeTags(times_s=events.photon_times * T2_RESOLUTION_S,
                        channels=events.photon_channels,
                        marker_times_s=events.marker_times * T2_RESOLUTION_S,
                        resolution_s=T2_RESOLUTION_S,
                        meta={"n_records": int(records.size), "serial": self._serial})

    def histogram(self, acquisition_s: float, bin_width_s: float, n_bins: int,
                  channel: int = 1) -> np.ndarray:
        check_positive("bin_width_s", bin_width_s, "s")
        check_int_range("n_bins", n_bins, 1, hhlib.MAXHISTLEN)
        check_int_range("channel", channel, 1, self.channels)
        bin_ps = max(1, int(round(bin_width_s / T2_RESOLUTION_S)))
        records = self.read_records(acquisition_s)
        return t2_histogram_after_markers(records, bin_ps, n_bins, RecordType.HYDRAHARP_V2_T2,
                                          channel=channel)

    # ------------------------------------------------------------------ histogram mode
    def hardware_histogram(self, acquisition_s: float, binning: int = 0, offset_ns: int = 0,
                           length_code: int = 6, channel: int = 1) -> tuple[np.ndarray, float]:
        """Hardware histogram relative to the sync; returns (counts, bin width in s)."""
        check_range("acquisition_s", acquisition_s, *ACQUISITION_RANGE_S, "s")
        check_int_range("binning", binning, 0, 25)
        check_int_range("offset_ns", offset_ns, 0, 500000)
        check_int_range("length_code", length_code, 0, 6)
        check_int_range("channel", channel, 1, self.channels)
        with self._lock:
            lib = self._require()
            idx = self.device_index
            if self._mode != hhlib.MODE_HIST:
                self._initialize(hhlib.MODE_HIST)
            length = lib.set_histo_len(idx, length_code)
            lib.call("HH_SetBinning", idx, binning)
            lib.call("HH_SetOffset", idx, offset_ns)
            lib.call("HH_SetStopOverflow", idx, 1, 65535)
            resolution_ps = lib.get_double("HH_GetResolution", idx)
            lib.call("HH_ClearHistMem", idx)
            lib.call("HH_StartMeas", idx, int(round(acquisition_s * 1e3)))
            try:
                while not lib.get_int("HH_CTCStatus", idx):
                    self.clock.sleep(_POLL_S)
            finally:
                lib.call("HH_StopMeas", idx)
            counts = lib.histogram(idx, channel - 1, length, clear=True)
            if lib.get_int("HH_GetFlags", idx) & hhlib.FLAG_OVERFLOW:
                log.warning("%s: histogram overflow flag set", self.name)
        return counts.astype(np.int64), resolution_ps * 1e-12
