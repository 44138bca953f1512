"""Simulated TCSPC unit (HydraHarp-like): photon time tags and marker edges from the bench.

Markers are the chopper reference edges (while it runs) and the pump shutter's edges; the
histogram is of each photon's delay after the latest marker, like a T3 measurement synced to them.
"""
from __future__ import annotations

import numpy as np

from drivers.interfaces import TimeTagger, TimeTags
from drivers.validation import check_int_range, check_range
from sim_backends.bench import Bench
from sim_backends.devices.base import SimInstrument

#: HydraHarp limits (instruments.md): acquisition 1 ms - 360e6 ms, histogram up to 65536 bins
MIN_ACQUISITION_S = 1e-3
MAX_ACQUISITION_S = 360e3
MAX_HISTOGRAM_BINS = 65536
N_CHANNELS = 4
#: the APD is wired to this input; other inputs see nothing
APD_CHANNEL = 1
SAMPLES_PER_CHOPPER_PERIOD = 100


class SimTimeTagger(SimInstrument, TimeTagger):
    model = "simulated PicoQuant HydraHarp 400"

    def histogram(self, acquisition_s: float, bin_width_s: float, n_bins: int,
                  channel: int = 1) -> np.ndarray:
        check_range(f"{self.name}.acquisition_s", acquisition_s, MIN_ACQUISITION_S, MAX_ACQUISITION_S, "s")
        bin_width_s = check_range(f"{self.name}.bin_width_s", bin_width_s, 1e-12, 1.0, "s")
        n_bins = check_int_range(f"{self.name}.n_bins", n_bins, 1, MAX_HISTOGRAM_BINS)
        channel = check_int_range(f"{self.name}.channel", channel, 1, N_CHANNELS)
        self._require("histogram")
        tags = self._acquire(acquisition_s, finest_s=bin_width_s)
        counts = np.zeros(n_bins, dtype=np.int64)
        if channel != APD_CHANNEL or tags.marker_times_s.size == 0 or tags.times_s.size == 0:
            return counts
        markers = np.sort(tags.marker_times_s)
        index = np.searchsorted(markers, tags.times_s, side="right") - 1
        valid = index >= 0
        delays = tags.times_s[valid] - markers[index[valid]]
        hist, _ = np.histogram(delays, bins=n_bins, range=(0.0, n_bins * bin_width_s))
        return hist.astype(np.int64)

    def time_tags(self, acquisition_s: float) -> TimeTags:
        check_range(f"{self.name}.acquisition_s", acquisition_s, MIN_ACQUISITION_S, MAX_ACQUISITION_S, "s")
        self._require("time_tags")
        return self._acquire(acquisition_s, finest_s=None)

    def _acquire(self, acquisition_s: float, finest_s: float | None) -> TimeTags:
        params = self.bench.config.tagger
        with self.bench.lock:
            now = self.bench.sync()
            # a histogram needs the emission no finer than its bins; raw tags use the configured step
            resolution = params.trace_resolution_s if finest_s is None else finest_s
            if self.bench.chopper.is_chopping_at(now):
                resolution = min(resolution, 1.0 / self.bench.chopper.frequency_at(now)
                                 / SAMPLES_PER_CHOPPER_PERIOD)
            resolution = max(resolution, acquisition_s / params.max_trace_points)
            recorder = self.bench.start_recording(resolution)
        try:
            self.clock.sleep(acquisition_s)
        finally:
            self.bench.stop_recording(recorder)
        start, end = recorder.start_t, recorder.start_t + acquisition_s
        with self.bench.lock:
            arrivals = recorder.draw_arrivals(self.bench.rng)
            markers = list(self.bench.chopper.reference_edges(start, end))
            markers += [t for t, _ in self.bench.pump_shutter.edges_between(start, end)]
        arrivals = arrivals[(arrivals >= start) & (arrivals < end)]
        quantised = np.round((arrivals - start) / params.resolution_s) * params.resolution_s
        return TimeTags(times_s=quantised, channels=np.full(quantised.size, APD_CHANNEL, dtype=np.int64),
                        marker_times_s=np.sort(np.array(markers, dtype=float)) - start,
                        resolution_s=params.resolution_s,
                        meta={"acquisition_s": acquisition_s, "trace_resolution_s": resolution,
                              "markers": "chopper reference edges + pump shutter edges"})
