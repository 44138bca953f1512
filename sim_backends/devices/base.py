"""Common life cycle of the simulated instruments: a link flag, identification, the bench lock."""
from __future__ import annotations

import logging

from drivers.errors import InstrumentConnectionError
from drivers.interfaces import Instrument
from sim_backends.bench import Bench

log = logging.getLogger(__name__)


class SimInstrument(Instrument):
    """Base of every simulated device. All of them share the bench's one lock, so a GUI poll and
    an experiment thread never interleave inside a device call; waits happen outside the lock."""

    model = "simulated"

    def __init__(self, name: str, address: str, bench: Bench) -> None:
        super().__init__(name, address)
        self.bench = bench
        self.clock = bench.clock
        self._connected = False

    def connect(self) -> None:
        self._connected = True

    def close(self) -> None:
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected

    def identify(self) -> str:
        self._require("identify")
        return f"{self.model}, serial SIM-{self.name}, avalab virtual bench"

    def _require(self, command: str) -> None:
        if not self._connected:
            raise InstrumentConnectionError(self.name, self.address, command,
                                            "not connected (call connect() first)")
