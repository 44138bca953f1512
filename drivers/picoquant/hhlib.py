"""ctypes binding to PicoQuant's HHLib 3.x (libhh400.so / hhlib64.dll).

Every function of HHLib 3.0's hhlib.h is bound with its exact C signature so that ctypes
marshals char buffers, int/double out-parameters and the uint32 FIFO buffer correctly. Every
call's return code is checked: a negative code raises InstrumentError with HH_GetErrorString's
text and the function name.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from drivers.errors import InstrumentConnectionError, InstrumentError

log = logging.getLogger(__name__)

MODE_HIST = 0
MODE_T2 = 2
MODE_T3 = 3
MODE_CONT = 8
MAXHISTLEN = 65536
TTREADMAX = 131072
WARNINGS_TEXT_LENGTH = 16384
FLAG_OVERFLOW = 0x0001
FLAG_FIFOFULL = 0x0002
FLAG_SYNC_LOST = 0x0004
FLAG_REF_LOST = 0x0008
FLAG_SYSERROR = 0x0010
FLAG_ACTIVE = 0x0020

_c_int_p = ctypes.POINTER(ctypes.c_int)
_c_double_p = ctypes.POINTER(ctypes.c_double)
_c_uint_p = ctypes.POINTER(ctypes.c_uint)

#: name -> argument types (all return int): every function of HHLib 3.0's hhlib.h
SIGNATURES: dict[str, list[Any]] = {
    "HH_GetLibraryVersion": [ctypes.c_char_p],
    "HH_GetErrorString": [ctypes.c_char_p, ctypes.c_int],
    "HH_OpenDevice": [ctypes.c_int, ctypes.c_char_p],
    "HH_CloseDevice": [ctypes.c_int],
    "HH_Initialize": [ctypes.c_int, ctypes.c_int, ctypes.c_int],
    "HH_GetHardwareInfo": [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p],
    "HH_GetSerialNumber": [ctypes.c_int, ctypes.c_char_p],
    "HH_GetFeatures": [ctypes.c_int, _c_int_p],
    "HH_GetBaseResolution": [ctypes.c_int, _c_double_p, _c_int_p],
    "HH_GetHardwareDebugInfo": [ctypes.c_int, ctypes.c_char_p],
    "HH_GetNumOfInputChannels": [ctypes.c_int, _c_int_p],
    "HH_GetNumOfModules": [ctypes.c_int, _c_int_p],
    "HH_GetModuleInfo": [ctypes.c_int, ctypes.c_int, _c_int_p, _c_int_p],
    "HH_GetModuleIndex": [ctypes.c_int, ctypes.c_int, _c_int_p],
    "HH_Calibrate": [ctypes.c_int],
    "HH_SetSyncDiv": [ctypes.c_int, ctypes.c_int],
    "HH_SetSyncCFD": [ctypes.c_int, ctypes.c_int, ctypes.c_int],
    "HH_SetSyncChannelOffset": [ctypes.c_int, ctypes.c_int],
    "HH_SetInputCFD": [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int],
    "HH_SetInputChannelOffset": [ctypes.c_int, ctypes.c_int, ctypes.c_int],
    "HH_SetInputChannelEnable": [ctypes.c_int, ctypes.c_int, ctypes.c_int],
    "HH_SetStopOverflow": [ctypes.c_int, ctypes.c_int, ctypes.c_uint],
    "HH_SetBinning": [ctypes.c_int, ctypes.c_int],
    "HH_SetOffset": [ctypes.c_int, ctypes.c_int],
    "HH_SetHistoLen": [ctypes.c_int, ctypes.c_int, _c_int_p],
    "HH_SetMeasControl": [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int],
    "HH_ClearHistMem": [ctypes.c_int],
    "HH_StartMeas": [ctypes.c_int, ctypes.c_int],
    "HH_StopMeas": [ctypes.c_int],
    "HH_CTCStatus": [ctypes.c_int, _c_int_p],
    "HH_GetHistogram": [ctypes.c_int, _c_uint_p, ctypes.c_int, ctypes.c_int],
    "HH_GetResolution": [ctypes.c_int, _c_double_p],
    "HH_GetSyncPeriod": [ctypes.c_int, _c_double_p],
    "HH_GetSyncRate": [ctypes.c_int, _c_int_p],
    "HH_GetCountRate": [ctypes.c_int, ctypes.c_int, _c_int_p],
    "HH_GetFlags": [ctypes.c_int, _c_int_p],
    "HH_GetElapsedMeasTime": [ctypes.c_int, _c_double_p],
    "HH_GetWarnings": [ctypes.c_int, _c_int_p],
    "HH_GetWarningsText": [ctypes.c_int, ctypes.c_char_p, ctypes.c_int],
    "HH_SetMarkerHoldoffTime": [ctypes.c_int, ctypes.c_int],
    "HH_SetMarkerEdges": [ctypes.c_int] * 5,
    "HH_SetMarkerEnable": [ctypes.c_int] * 5,
    "HH_ReadFiFo": [ctypes.c_int, _c_uint_p, ctypes.c_int, _c_int_p],
    "HH_GetContModeBlock": [ctypes.c_int, ctypes.c_void_p, _c_int_p],
}


def find_library(explicit: str | None = None) -> str:
    """Path of the HHLib shared library: ``explicit``, $AVALAB_HHLIB, or the system's."""
    candidates = [explicit, os.environ.get("AVALAB_HHLIB")]
    names = ("hhlib64", "hhlib") if sys.platform == "win32" else ("hh400",)
    candidates += [ctypes.util.find_library(n) for n in names]
    for path in candidates:
        if path:
            return path
    raise InstrumentConnectionError("HydraHarp", "-", "load HHLib",
                                    "HHLib not found: install PicoQuant's HHLib or set AVALAB_HHLIB")


class HHLib:
    """The loaded library with checked calls. One instance per process is enough."""

    def __init__(self, path: str, instrument: str = "HydraHarp", address: str = "-") -> None:
        try:
            self._dll = ctypes.CDLL(path)
        except OSError as exc:
            raise InstrumentConnectionError(instrument, address, "load HHLib", str(exc)) from None
        self.path = path
        self.instrument = instrument
        self.address = address
        for name, argtypes in SIGNATURES.items():
            function = getattr(self._dll, name)
            function.argtypes = argtypes
            function.restype = ctypes.c_int

    def error_text(self, code: int) -> str:
        buffer = ctypes.create_string_buffer(40)
        self._dll.HH_GetErrorString(buffer, code)
        return buffer.value.decode("ascii", errors="replace")

    def call(self, name: str, *args: Any) -> int:
        """Call ``name``; raise InstrumentError (with HH_GetErrorString's text) on a negative code."""
        function: Callable[..., int] = getattr(self._dll, name)
        code = function(*args)
        if code < 0:
            raise InstrumentError(self.instrument, self.address, name,
                                  f"error {code} ({self.error_text(code)})")
        return code

    # ------------------------------------------------------------------ typed helpers
    def version(self) -> str:
        buffer = ctypes.create_string_buffer(8)
        self.call("HH_GetLibraryVersion", buffer)
        return buffer.value.decode()

    def open_device(self, index: int) -> str:
        serial = ctypes.create_string_buffer(8)
        self.call("HH_OpenDevice", index, serial)
        return serial.value.decode()

    def hardware_info(self, index: int) -> tuple[str, str, str]:
        model, part, version = (ctypes.create_string_buffer(16) for _ in range(3))
        self.call("HH_GetHardwareInfo", index, model, part, version)
        return model.value.decode(), part.value.decode(), version.value.decode()

    def get_int(self, name: str, index: int, *args: int) -> int:
        value = ctypes.c_int()
        self.call(name, index, *args, ctypes.byref(value))
        return value.value

    def get_double(self, name: str, index: int) -> float:
        value = ctypes.c_double()
        self.call(name, index, ctypes.byref(value))
        return value.value

    def set_histo_len(self, index: int, lencode: int) -> int:
        actual = ctypes.c_int()
        self.call("HH_SetHistoLen", index, lencode, ctypes.byref(actual))
        return actual.value

    def read_fifo(self, index: int, buffer: np.ndarray) -> int:
        """Fill ``buffer`` (uint32, TTREADMAX long) from the FIFO; returns the record count."""
        count = ctypes.c_int()
        self.call("HH_ReadFiFo", index, buffer.ctypes.data_as(_c_uint_p), int(buffer.size),
                  ctypes.byref(count))
        return count.value

    def warnings(self, index: int) -> tuple[int, str]:
        """HH_GetWarnings and its text (call after reading the sync and count rates)."""
        bits = self.get_int("HH_GetWarnings", index)
        if bits == 0:
            return 0, ""
        text = ctypes.create_string_buffer(WARNINGS_TEXT_LENGTH)
        self.call("HH_GetWarningsText", index, text, bits)
        return bits, text.value.decode("ascii", errors="replace").strip()

    def histogram(self, index: int, channel: int, length: int, clear: bool) -> np.ndarray:
        counts = np.zeros(length, dtype=np.uint32)
        self.call("HH_GetHistogram", index, counts.ctypes.data_as(_c_uint_p), channel, int(clear))
        return counts
