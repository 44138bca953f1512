"""hhlib_sim: a C library with HHLib 3.0's API that behaves like a HydraHarp 400 (see hhlib_sim.c).

``build_library`` compiles ``hhlib_sim.c`` with the system C compiler into ``libhh400.so``, the
file name PicoQuant's Linux programs load. ``HHSimLibrary`` binds the extra ``HHSIM_*`` entry
points through which a *source* tells the unit what arrives at its inputs: detector pulses, sync
edges, marker edges, and the rate-meter readings. Two sources exist:
- ``bench_source.BenchSignalSource``: the simulated optical bench (APD photons from the physics,
  the chopper reference and the pump shutter as TTL signals) — what the conformance tests and an
  emulated rig use;
- ``PlaybackSource`` (below): signals prepared by a test, played into the next measurement.
"""
from __future__ import annotations

import ctypes
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivers.interfaces import TimeTags

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("hhlib_sim.c")
LIBRARY_NAME = "libhh400.so"

#: signal codes of HHSIM_PushSignals: 0..7 are the input channels (0-based)
SIG_SYNC = 8
SIG_MARKER_RISING = 16   # + marker line 0..3
SIG_MARKER_FALLING = 20  # + marker line 0..3

#: reasons the library calls its source back
SOURCE_START, SOURCE_POLL, SOURCE_RATES, SOURCE_STOP = 0, 1, 2, 3

_ll_p = ctypes.POINTER(ctypes.c_longlong)
_int_p = ctypes.POINTER(ctypes.c_int)
SourceCallback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int)


def build_library(out_dir: Path) -> Path:
    """Compile hhlib_sim.c into ``out_dir``/libhh400.so and return its path."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc/gcc) found to build hhlib_sim")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / LIBRARY_NAME
    result = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-pthread", "-o", str(target),
                             str(SOURCE), "-lm"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"building {target} failed: {result.stderr.strip()}")
    return target


@dataclass(frozen=True)
class MeasurementState:
    running: bool
    mode: int
    tacq_ms: int
    generation: int
    covered_ps: int


class HHSimLibrary:
    """The ``HHSIM_*`` entry points of one loaded hhlib_sim (one per library file and process)."""

    def __init__(self, library_path: Path | str) -> None:
        # the same file in the same process is the same library: ctypes returns the loaded one
        self.path = str(library_path)
        self._dll = ctypes.CDLL(self.path)
        bind = {
            "HHSIM_SetDevicePresent": [ctypes.c_int, ctypes.c_int, ctypes.c_int],
            "HHSIM_SetSource": [ctypes.c_int, SourceCallback],
            "HHSIM_SetSystemError": [ctypes.c_int, ctypes.c_int],
            "HHSIM_GetMeasurement": [ctypes.c_int, _int_p, _int_p, _int_p, _ll_p, _ll_p],
            "HHSIM_SetRates": [ctypes.c_int, ctypes.c_int, _int_p, ctypes.c_int],
            "HHSIM_PushSignals": [ctypes.c_int, _ll_p, _int_p, ctypes.c_int, ctypes.c_longlong],
        }
        for name, argtypes in bind.items():
            function = getattr(self._dll, name)
            function.argtypes = argtypes
            function.restype = ctypes.c_int
        # ctypes callbacks must outlive their registration
        self._callbacks: dict[int, object] = {}

    def _check(self, name: str, code: int) -> int:
        if code < 0:
            raise RuntimeError(f"hhlib_sim {name} returned error {code}")
        return code

    def set_present(self, device_index: int, present: bool, n_channels: int = 2) -> None:
        """Plug a HydraHarp with ``n_channels`` inputs in at ``device_index`` (or unplug it)."""
        self._check("HHSIM_SetDevicePresent",
                    self._dll.HHSIM_SetDevicePresent(device_index, int(present), n_channels))

    def set_source(self, device_index: int, callback: Callable[[int, int], None] | None) -> None:
        """Register ``callback(device_index, reason)`` as the device's source (None removes it)."""
        if callback is None:
            self._check("HHSIM_SetSource", self._dll.HHSIM_SetSource(device_index, SourceCallback()))
            self._callbacks.pop(device_index, None)
            return
        wrapped = SourceCallback(callback)
        self._callbacks[device_index] = wrapped
        self._check("HHSIM_SetSource", self._dll.HHSIM_SetSource(device_index, wrapped))

    def set_system_error(self, device_index: int, on: bool = True) -> None:
        self._check("HHSIM_SetSystemError", self._dll.HHSIM_SetSystemError(device_index, int(on)))

    def measurement(self, device_index: int) -> MeasurementState:
        running, mode, tacq = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        generation, covered = ctypes.c_longlong(), ctypes.c_longlong()
        self._check("HHSIM_GetMeasurement", self._dll.HHSIM_GetMeasurement(
            device_index, ctypes.byref(running), ctypes.byref(mode), ctypes.byref(tacq),
            ctypes.byref(generation), ctypes.byref(covered)))
        return MeasurementState(bool(running.value), mode.value, tacq.value, generation.value,
                                covered.value)

    def set_rates(self, device_index: int, sync_hz: int, count_rates_hz: list[int]) -> None:
        rates = (ctypes.c_int * max(len(count_rates_hz), 1))(*count_rates_hz)
        self._check("HHSIM_SetRates", self._dll.HHSIM_SetRates(
            device_index, int(sync_hz), rates, len(count_rates_hz)))

    def push_signals(self, device_index: int, times_ps: np.ndarray, sources: np.ndarray,
                     covered_ps: int) -> int:
        """Signals at the inputs (ps since HH_StartMeas); returns how many the unit accepted."""
        t = np.ascontiguousarray(times_ps, dtype=np.int64)
        s = np.ascontiguousarray(sources, dtype=np.int32)
        if t.shape != s.shape:
            raise ValueError(f"times_ps has {t.size} entries but sources has {s.size}")
        return self._check("HHSIM_PushSignals", self._dll.HHSIM_PushSignals(
            device_index, t.ctypes.data_as(_ll_p), s.ctypes.data_as(_int_p), int(t.size),
            int(covered_ps)))


def time_tags_as_signals(tags: TimeTags, marker_line: int = 0,
                         sync_times_s: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(times in ps, signal codes) of photons (input = channel - 1), rising marker edges on
    ``marker_line`` and optional sync edges, in time order."""
    sync = np.zeros(0) if sync_times_s is None else np.asarray(sync_times_s, dtype=float)
    times = np.concatenate([tags.times_s, tags.marker_times_s, sync])
    codes = np.concatenate([np.asarray(tags.channels, dtype=np.int64) - 1,
                            np.full(tags.marker_times_s.size, SIG_MARKER_RISING + marker_line),
                            np.full(sync.size, SIG_SYNC)])
    order = np.argsort(times, kind="stable")
    return np.round(times[order] * 1e12).astype(np.int64), codes[order].astype(np.int32)


class PlaybackSource:
    """Plays prepared signals into the next measurement of one device, as its source.

    At HH_StartMeas every loaded signal is pushed at once and the whole acquisition time counts as
    covered, so the measurement ends as soon as the client looks: no thread, no wall clock.
    """

    def __init__(self, library: HHSimLibrary, device_index: int = 0) -> None:
        self.library = library
        self.device_index = device_index
        self._times = np.zeros(0, np.int64)
        self._codes = np.zeros(0, np.int32)
        self._lock = threading.Lock()
        self.accepted: int | None = None
        self.errors: list[BaseException] = []
        library.set_source(device_index, self._on_call)

    def load(self, times_ps: np.ndarray, codes: np.ndarray) -> None:
        with self._lock:
            self._times = np.asarray(times_ps, dtype=np.int64)
            self._codes = np.asarray(codes, dtype=np.int32)
            self.accepted = None

    def load_time_tags(self, tags: TimeTags, marker_line: int = 0,
                       sync_times_s: np.ndarray | None = None) -> None:
        self.load(*time_tags_as_signals(tags, marker_line, sync_times_s))

    def detach(self) -> None:
        self.library.set_source(self.device_index, None)

    def _on_call(self, device_index: int, reason: int) -> None:
        if reason != SOURCE_START:
            return
        try:
            with self._lock:
                state = self.library.measurement(device_index)
                self.accepted = self.library.push_signals(device_index, self._times, self._codes,
                                                          state.tacq_ms * 10**9)
        except BaseException as exc:  # a callback cannot raise into C: flag it on the unit
            log.exception("hhlib_sim playback source failed")
            self.errors.append(exc)
            self.library.set_system_error(device_index)
