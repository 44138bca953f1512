"""A fake of the nidaqmx boundary (``drivers.nidaq_backend.CounterBackend``) for the APD tests.

It behaves like the sample-clocked edge counter: every clock edge latches the cumulative count of
a Poisson photon stream into a 32-bit register that wraps. It starts near the top of the
register so that the tests cross a rollover.
"""
from __future__ import annotations

import numpy as np

from drivers.nidaq_backend import CounterBackendError

COUNTER_MODULUS = 2**32


class PoissonCounterBackend:
    """Cumulative uint32 counts of a Poisson source at ``rate_cps``; records every call."""

    def __init__(self, rate_cps: float, *, start_count: int = COUNTER_MODULUS - 5_000,
                 seed: int = 1234) -> None:
        self.rate_cps = rate_cps
        self.register = start_count
        self.rng = np.random.default_rng(seed)
        self.calls: list[tuple[object, ...]] = []
        self.sample_rate_hz: float | None = None
        self.running = False
        self.fail_on: str | None = None  # name of the call that raises CounterBackendError
        self.short_read = False

    def _maybe_fail(self, call: str) -> None:
        if self.fail_on == call:
            raise CounterBackendError(f"simulated DAQmx failure in {call}")

    def open(self) -> None:
        self.calls.append(("open",))
        self._maybe_fail("open")

    def describe(self) -> str:
        return "fake NI counter (Poisson)"

    def start(self, sample_rate_hz: float, buffer_samples: int) -> None:
        self.calls.append(("start", sample_rate_hz, buffer_samples))
        self._maybe_fail("start")
        self.sample_rate_hz = sample_rate_hz
        self.running = True

    def read(self, samples: int, timeout_s: float) -> np.ndarray:
        self.calls.append(("read", samples, timeout_s))
        self._maybe_fail("read")
        assert self.running and self.sample_rate_hz is not None
        per_sample = self.rng.poisson(self.rate_cps / self.sample_rate_hz, size=samples)
        cumulative = (self.register + np.cumsum(per_sample)) % COUNTER_MODULUS
        self.register = int(cumulative[-1])
        if self.short_read:
            cumulative = cumulative[:-1]
        return cumulative.astype(np.uint32)

    def stop(self) -> None:
        self.calls.append(("stop",))
        self.running = False

    def close(self) -> None:
        self.calls.append(("close",))
        self.running = False
