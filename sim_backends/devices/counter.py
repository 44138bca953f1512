"""Simulated APD + edge counter: Poisson counts of the detected photon rate, waited through the clock."""
from __future__ import annotations

import numpy as np

from drivers.interfaces import PhotonCounter
from drivers.validation import check_range
from sim_backends.bench import Bench
from sim_backends.devices.base import SimInstrument

MAX_DWELL_S = 3600.0
MIN_DWELL_S = 1e-6
MAX_TRACE_BINS = 1_000_000
#: cap on emission-trace samples per acquisition (memory of the physics trace)
MAX_TRACE_POINTS = 2_000_000
#: per chopper period, the emission trace is sampled at least this finely for binned traces
SAMPLES_PER_CHOPPER_PERIOD = 20


class SimPhotonCounter(SimInstrument, PhotonCounter):
    model = "simulated Excelitas SPCM + NI counter"

    def __init__(self, name: str, address: str, bench: Bench) -> None:
        super().__init__(name, address, bench)

    def count(self, dwell_s: float) -> int:
        dwell_s = check_range(f"{self.name}.dwell_s", dwell_s, MIN_DWELL_S, MAX_DWELL_S, "s")
        self._require("count")
        start = self.bench.detected_total()
        self.clock.sleep(dwell_s)
        with self.bench.lock:
            expected = self.bench.detected_total() - start
            return int(self.bench.rng.poisson(max(expected, 0.0)))

    def count_trace(self, dwell_s: float, bin_s: float) -> np.ndarray:
        dwell_s = check_range(f"{self.name}.dwell_s", dwell_s, MIN_DWELL_S, MAX_DWELL_S, "s")
        bin_s = check_range(f"{self.name}.bin_s", bin_s, MIN_DWELL_S, dwell_s, "s")
        n_bins = int(round(dwell_s / bin_s))
        check_range(f"{self.name}.dwell_s/bin_s", n_bins, 1, MAX_TRACE_BINS)
        self._require("count_trace")
        with self.bench.lock:
            now = self.bench.sync()
            resolution = bin_s
            if self.bench.chopper.is_chopping_at(now):
                period = 1.0 / self.bench.chopper.frequency_at(now)
                resolution = min(resolution, period / SAMPLES_PER_CHOPPER_PERIOD)
            resolution = max(resolution, dwell_s / MAX_TRACE_POINTS)
            recorder = self.bench.start_recording(resolution)
        try:
            self.clock.sleep(n_bins * bin_s)
        finally:
            self.bench.stop_recording(recorder)
        edges = recorder.start_t + bin_s * np.arange(n_bins + 1)
        expected = recorder.expected_in_bins(edges)
        with self.bench.lock:
            return self.bench.rng.poisson(np.maximum(expected, 0.0)).astype(np.int64)
