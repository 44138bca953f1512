"""APD photon counting on an NI-DAQ counter input: the PhotonCounter role (registry ``nidaq_counter``).

The APD has no command interface; it sends one TTL pulse per detected photon. This driver turns
the cumulative counts of a sample-clocked counter task into counts per bin:

- ``count_trace(dwell_s, bin_s)`` runs the counter with a sample clock at ``1/bin_s``, waits
  ``(n + 1) * bin_s`` through the rig clock, reads ``n + 1`` cumulative samples and returns the
  ``n`` successive differences (the first sample is only the reference, so no bin depends on
  when exactly the task started);
- ``count(dwell_s)`` is the sum of a trace with short bins (about 10 ms), so the extra reference
  bin costs little and no single bin can overflow the counter;
- the 32-bit counter wraps; differences are taken modulo 2**32, which is exact as long as one bin
  holds fewer than 2**32 counts (guaranteed by ``MAX_BIN_S`` at the counter's maximum rate).

All hardware access goes through a :class:`~drivers.nidaq_backend.CounterBackend` (default: the
nidaqmx one); pass ``backend=`` to replace it (tests use a Poisson fake).

UNVERIFIED: this driver has never run against a real NI-DAQ card or APD. The counting maths is
tested against a fake backend only; see ``drivers.nidaq_backend`` for the hardware assumptions.
"""
from __future__ import annotations

import logging
import math
import re
import threading
from typing import Any

import numpy as np

from drivers.clock import Clock, RealClock
from drivers.errors import InstrumentConnectionError, InstrumentError
from drivers.interfaces import PhotonCounter
from drivers.nidaq_backend import CounterBackend, CounterBackendError, CounterWiring
from drivers.validation import check_range

log = logging.getLogger(__name__)

COUNTER_MODULUS = 2**32
#: fastest edge rate the counter can follow (100 MHz timebase of X-series cards)
MAX_EDGE_RATE_HZ = 100e6
#: longest bin whose count still fits the 32-bit register at MAX_EDGE_RATE_HZ (2**32 / 1e8 = 42.9 s)
MAX_BIN_S = 40.0
MAX_DWELL_S = 3600.0
MAX_BINS = 10_000_000
#: bin length used by count(); short so the reference bin adds little dead time
COUNT_BIN_TARGET_S = 0.01
#: how much longer than the acquisition a read may block before it is a timeout
READ_TIMEOUT_MARGIN_S = 2.0
#: APDs saturate (and can be damaged) above roughly 10-20 Mcps
APD_SATURATION_CPS = 20e6

_COUNTER_ADDRESS = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/ctr\d+$")


class NIDAQPhotonCounter(PhotonCounter):
    """Photon counter on ``address`` (e.g. ``"Dev1/ctr0"``) counting edges on ``edge_terminal``.

    Options (rig file): ``edge_terminal`` (default ``/<Dev>/PFI0``), ``clock_counter`` (default
    ``<Dev>/ctr1``, or ``ctr0`` when counting on ctr1; generates the sample clock), ``sample_clock_source`` (use an existing clock
    terminal instead), ``max_sample_rate_hz`` (default 1 MHz), ``backend`` (replaces nidaqmx).
    """

    model = "APD + NI-DAQ counter input (UNVERIFIED on hardware)"

    def __init__(self, name: str, address: str = "Dev1/ctr0", clock: Clock | None = None, *,
                 edge_terminal: str | None = None, clock_counter: str | None = None,
                 sample_clock_source: str | None = None, max_sample_rate_hz: float = 1e6,
                 backend: CounterBackend | None = None) -> None:
        super().__init__(name, address)
        if not _COUNTER_ADDRESS.match(address):
            raise ValueError(f"address={address!r} is not allowed; allowed: '<device>/ctr<N>', "
                             "e.g. 'Dev1/ctr0'")
        device = address.split("/", 1)[0]
        default_clock_counter = f"{device}/ctr1" if address != f"{device}/ctr1" else f"{device}/ctr0"
        self.wiring = CounterWiring(
            counter=address,
            edge_terminal=edge_terminal or f"/{device}/PFI0",
            clock_counter=clock_counter or default_clock_counter,
            sample_clock_source=sample_clock_source)
        if self.wiring.clock_counter == address and not sample_clock_source:
            raise ValueError(f"clock_counter={self.wiring.clock_counter!r} is not allowed; "
                             f"it must differ from the counting counter {address!r}")
        self.max_sample_rate_hz = check_range("max_sample_rate_hz", max_sample_rate_hz,
                                              1.0, 20e6, "Hz")
        self.clock: Clock = clock or RealClock()
        self._backend = backend
        self._connected = False
        self._lock = threading.RLock()

    # ------------------------------------------------------------ life cycle
    def connect(self) -> None:
        with self._lock:
            if self._connected:
                return
            if self._backend is None:
                from drivers.nidaq_backend import NIDAQmxCounterBackend

                self._backend = NIDAQmxCounterBackend(self.wiring)
            try:
                self._backend.open()
            except CounterBackendError as exc:
                raise InstrumentConnectionError(self.name, self.address, "<open>", str(exc)) from exc
            self._connected = True

    def close(self) -> None:
        with self._lock:
            if not self._connected:
                return
            self._connected = False
            try:
                self._backend.close()  # type: ignore[union-attr]
            except CounterBackendError:
                log.warning("%s: closing the counter failed", self.name, exc_info=True)

    @property
    def is_connected(self) -> bool:
        return self._connected

    def identify(self) -> str:
        return self._require_backend("<identify>").describe()

    def safe_state(self) -> None:
        """Stop counting (nothing to do without a backend: no task can run); a card that
        refuses to stop raises, and the rig reports it."""
        with self._lock:
            if self._backend is None:
                return
            try:
                self._backend.stop()
            except CounterBackendError as exc:
                raise InstrumentError(self.name, self.address, "<stop>", str(exc)) from exc

    # ------------------------------------------------------------ counting
    def count(self, dwell_s: float) -> int:
        dwell_s = check_range("dwell_s", dwell_s, 1.0 / self.max_sample_rate_hz, MAX_DWELL_S, "s")
        bins = max(1, math.ceil(dwell_s / COUNT_BIN_TARGET_S - 1e-9))
        return int(self.count_trace(dwell_s, dwell_s / bins).sum())

    def count_trace(self, dwell_s: float, bin_s: float) -> np.ndarray:
        bins, bin_s = self._validated_bins(dwell_s, bin_s)
        with self._lock:
            backend = self._require_backend("count_trace")
            command = f"count {bins} bins of {bin_s:g} s on {self.wiring.counter}"
            try:
                backend.start(1.0 / bin_s, buffer_samples=max(bins + 1, 1000))
                try:
                    # the acquisition takes n + 1 clock periods (the first sample is the reference)
                    self.clock.sleep((bins + 1) * bin_s)
                    raw = backend.read(bins + 1, timeout_s=(bins + 1) * bin_s
                                       + READ_TIMEOUT_MARGIN_S)
                finally:
                    backend.stop()
            except CounterBackendError as exc:
                raise InstrumentError(self.name, self.address, command, str(exc)) from exc
        if len(raw) != bins + 1:
            raise InstrumentError(self.name, self.address, command,
                                  f"got {len(raw)} samples, expected {bins + 1}")
        counts = cumulative_to_bins(raw)
        self._warn_if_saturating(counts, bin_s)
        return counts

    # ------------------------------------------------------------ helpers
    def _validated_bins(self, dwell_s: float, bin_s: float) -> tuple[int, float]:
        min_bin_s = 1.0 / self.max_sample_rate_hz
        dwell_s = check_range("dwell_s", dwell_s, min_bin_s, MAX_DWELL_S, "s")
        bin_s = check_range("bin_s", bin_s, min_bin_s, min(MAX_BIN_S, dwell_s), "s")
        ratio = dwell_s / bin_s
        bins = round(ratio)
        if abs(ratio - bins) > 1e-6 * ratio:
            raise ValueError(f"dwell_s={dwell_s:g} s is not a whole number of bins of "
                             f"bin_s={bin_s:g} s; allowed: dwell_s = N * bin_s")
        if bins > MAX_BINS:
            raise ValueError(f"dwell_s/bin_s={bins} bins is outside the allowed range "
                             f"[1, {MAX_BINS}]")
        return bins, dwell_s / bins

    def _require_backend(self, command: str) -> CounterBackend:
        if not self._connected or self._backend is None:
            raise InstrumentConnectionError(self.name, self.address, command,
                                            "not connected (call connect() first)")
        return self._backend

    def _warn_if_saturating(self, counts: np.ndarray, bin_s: float) -> None:
        if counts.size and counts.max() / bin_s > APD_SATURATION_CPS:
            log.warning("%s: %.3g counts/s in one bin exceeds the APD saturation/damage level "
                        "(~%.0g cps)", self.name, counts.max() / bin_s, APD_SATURATION_CPS)


def cumulative_to_bins(cumulative: Any) -> np.ndarray:
    """Counts per bin from cumulative 32-bit counter samples (first sample = reference).

    Differences are taken modulo 2**32, so a wrap of the register between two samples is exact.
    """
    values = np.asarray(cumulative, dtype=np.int64)
    return np.diff(values) % COUNTER_MODULUS
