"""Simulated SC10-like beam shutter (pump, control or emission path)."""
from __future__ import annotations

from drivers.interfaces import Shutter
from sim_backends.bench import Bench
from sim_backends.bench.motion import ShutterModel
from sim_backends.devices.base import SimInstrument


class SimShutter(SimInstrument, Shutter):
    model = "simulated Thorlabs SC10"

    def __init__(self, name: str, address: str, bench: Bench, shutter: ShutterModel) -> None:
        super().__init__(name, address, bench)
        self._shutter = shutter

    def open(self) -> None:
        self._require("open")
        with self.bench.change() as now:
            self._shutter.set_open(now, True)

    def close_shutter(self) -> None:
        self._require("close_shutter")
        self._close()

    def is_open(self) -> bool:
        self._require("is_open")
        with self.bench.lock:
            return self._shutter.is_open

    def _close(self) -> None:
        with self.bench.change() as now:
            self._shutter.set_open(now, False)

    def safe_state(self) -> None:
        self._close()
