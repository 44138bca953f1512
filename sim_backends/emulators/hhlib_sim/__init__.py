"""Build and feed hhlib_sim, the C stand-in for PicoQuant's HHLib used to test the ctypes driver.

``build_library`` compiles ``hhlib_sim.c`` with the system C compiler; ``HHSimFeeder`` pushes
photon and marker events (for instance the time tags of the simulated bench's TCSPC) into a
running measurement through the library's ``HHSIM_*`` entry points, so the driver reads records
that the C code encoded, through the real HHLib calling conventions.
"""
from __future__ import annotations

import ctypes
import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from drivers.interfaces import TimeTags

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("hhlib_sim.c")
_FLAG_ACTIVE = 0x0020
_ll_p = ctypes.POINTER(ctypes.c_longlong)
_int_p = ctypes.POINTER(ctypes.c_int)


def build_library(out_dir: Path) -> Path:
    """Compile hhlib_sim.c into ``out_dir``/libhh400.so and return its path."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc/gcc) found to build hhlib_sim")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "libhh400.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(target), str(SOURCE)],
                   check=True, capture_output=True, text=True)
    return target


class HHSimFeeder:
    """Pushes events into hhlib_sim device ``device_index`` once its measurement is running."""

    def __init__(self, library_path: Path | str, device_index: int = 0) -> None:
        # same file, same process: ctypes returns the already-loaded library
        self._dll = ctypes.CDLL(str(library_path))
        self._dll.HHSIM_PushEvents.argtypes = [ctypes.c_int, _ll_p, _ll_p, _int_p, ctypes.c_int]
        self._dll.HHSIM_PushEvents.restype = ctypes.c_int
        self._dll.HHSIM_SetRates.argtypes = [ctypes.c_int] * 4
        self._dll.HHSIM_SetRates.restype = ctypes.c_int
        self._dll.HH_GetFlags.argtypes = [ctypes.c_int, _int_p]
        self.device_index = device_index

    def set_rates(self, sync_hz: int, channel: int, count_hz: int) -> None:
        self._check(self._dll.HHSIM_SetRates(self.device_index, sync_hz, channel - 1, count_hz))

    def push_time_tags(self, tags: TimeTags) -> None:
        """Push photons (per channel) and marker edges, times in seconds, as T2 events."""
        times = np.concatenate([np.round(tags.times_s * 1e12), np.round(tags.marker_times_s * 1e12)])
        kinds = np.concatenate([-np.asarray(tags.channels, dtype=np.int64),
                                np.ones(tags.marker_times_s.size, dtype=np.int64)])
        order = np.argsort(times, kind="stable")
        self.push(times[order].astype(np.int64), np.zeros(times.size, np.int64),
                  kinds[order].astype(np.int32))

    def push(self, time_ps: np.ndarray, dtime_ps: np.ndarray, kind: np.ndarray) -> None:
        t = np.ascontiguousarray(time_ps, dtype=np.int64)
        d = np.ascontiguousarray(dtime_ps, dtype=np.int64)
        k = np.ascontiguousarray(kind, dtype=np.int32)
        self._check(self._dll.HHSIM_PushEvents(self.device_index, t.ctypes.data_as(_ll_p),
                                               d.ctypes.data_as(_ll_p), k.ctypes.data_as(_int_p),
                                               int(t.size)))

    def wait_active(self, timeout_s: float = 5.0) -> None:
        flags = ctypes.c_int()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._dll.HH_GetFlags(self.device_index, ctypes.byref(flags))
            if flags.value & _FLAG_ACTIVE:
                return
            time.sleep(0.001)
        raise TimeoutError("hhlib_sim measurement did not start")

    def feed_when_active(self, tags: TimeTags) -> threading.Thread:
        """Start a thread that waits for the next measurement and pushes ``tags`` into it."""
        def run() -> None:
            self.wait_active()
            self.push_time_tags(tags)
        thread = threading.Thread(target=run, name="hhlib-sim-feeder", daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _check(code: int) -> None:
        if code < 0:
            raise RuntimeError(f"hhlib_sim returned error {code}")
