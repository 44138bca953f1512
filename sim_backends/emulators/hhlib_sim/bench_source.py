"""The simulated optical bench wired to a hhlib_sim HydraHarp: its inputs see the bench's signals.

Wiring (``BenchWiring``, docs/drivers/picoquant.md): the APD on input channel 1; the chopper's
reference output on the sync input and on marker line 1; the pump shutter's TTL (high = open) on
marker line 2. Every photon comes from the bench's emission (the rate-equation physics behind the
optics), drawn as the bench records while the measurement runs; the rate meters read the bench's
registered APD rate and the chopper frequency.

The library calls the source back before it answers anything time-dependent; the source then
brings the bench up to its clock and pushes what happened since the last call, so the measurement
time of the unit is the bench's time. Two paces:
- ``"clock"``: follow the bench clock, whoever drives it (a real clock, or a rig whose driver
  sleeps on the virtual clock while it polls);
- ``"instant"`` (virtual clock only): at the first look after HH_StartMeas the source itself
  advances the bench to the end of the acquisition time and delivers it in one piece (continuous
  mode: one slice of at least one block per look), as the simulated tagger sleeps on the virtual
  clock. Programs written for real hardware (PicoQuant's demos poll HH_CTCStatus without
  sleeping) then run at the speed of the physics, and each acquisition costs one physics call.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from sim_backends.bench import Bench
from sim_backends.bench.optics import registered_rate
from sim_backends.bench.recorder import RateRecorder
from sim_backends.emulators.hhlib_sim import (SIG_MARKER_FALLING, SIG_MARKER_RISING, SIG_SYNC,
                                              SOURCE_POLL, SOURCE_RATES, SOURCE_START, SOURCE_STOP,
                                              HHSimLibrary)

log = logging.getLogger(__name__)

MODE_CONT = 8
#: the emission trace is sampled at least this finely per chopper period (as the simulated tagger)
SAMPLES_PER_CHOPPER_PERIOD = 100
#: gate time of the HydraHarp rate meters (manual page 26: 100 ms)
RATE_GATE_S = 0.1
PACES = ("clock", "instant")
#: bench time an instant source delivers per look in continuous mode (each physics call has a
#: fixed cost, so a few blocks at a time)
INSTANT_CONTINUOUS_SLICE_S = 0.5


@dataclass(frozen=True)
class BenchWiring:
    """What is plugged into the unit: detector input (0-based), sync, marker lines 1-4."""

    detector_input: int = 0
    sync: str | None = "chopper"
    marker_lines: tuple[str | None, str | None, str | None, str | None] = (
        "chopper", "pump_shutter", None, None)


@dataclass(frozen=True)
class CompletedRun:
    """What the bench delivered to one measurement: its bench-time span, the expected number of
    registered detector photons in it (the physics' own figure) and how many were drawn."""

    start_t: float
    end_t: float
    expected_photons: float
    drawn_photons: int


@dataclass
class _Run:
    generation: int
    start_t: float
    end_t: float | None  # None: continuous mode runs until stopped
    block_s: float       # acquisition time (continuous mode: one block)
    recorder: RateRecorder
    covered_t: float
    drawn_chunks: int = 0
    drawn_photons: int = 0


class BenchSignalSource:
    """Feeds device ``device_index`` of a loaded hhlib_sim from ``bench``. Use as a context
    manager or call ``detach``; failures inside the callback raise FLAG_SYSERROR on the unit and
    are kept in ``errors``."""

    def __init__(self, library: HHSimLibrary, device_index: int, bench: Bench, *,
                 wiring: BenchWiring | None = None, pace: str = "clock",
                 min_slice_s: float = 0.1, seed: int | None = None,
                 samples_per_chopper_period: int = SAMPLES_PER_CHOPPER_PERIOD) -> None:
        self.library = library
        self.device_index = device_index
        self.bench = bench
        self.wiring = wiring or BenchWiring()
        self.min_slice_s = min_slice_s
        self.samples_per_chopper_period = samples_per_chopper_period
        self.errors: list[BaseException] = []
        if pace not in PACES:
            raise ValueError(f"pace={pace!r} is not allowed; allowed values: {', '.join(map(repr, PACES))}")
        if pace == "instant" and not getattr(bench.clock, "is_virtual", False):
            raise ValueError("pace='instant' needs a bench on a virtual clock")
        self.pace = pace
        # the bench's own noise stream by default, as every simulated device draws from it: on
        # the same bench and history the unit then sees the photons the simulated tagger sees
        self._rng = bench.rng if seed is None else np.random.default_rng(seed)
        self._lock = threading.RLock()
        self._run: _Run | None = None
        self._gate: tuple[float, float] | None = None  # (bench time, registered total) at gate start
        self._rates: tuple[int, int] | None = None      # last reading: (sync, detector)
        self.completed: list[CompletedRun] = []
        library.set_source(device_index, self._on_call)

    def __enter__(self) -> BenchSignalSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def detach(self) -> None:
        self.library.set_source(self.device_index, None)
        with self._lock:
            self._finish()

    # ------------------------------------------------------------------ the callback
    def _on_call(self, device_index: int, reason: int) -> None:
        try:
            with self._lock:
                if reason == SOURCE_START:
                    self._start()
                elif reason == SOURCE_POLL:
                    self._drive_clock()
                    self._harvest(final=self.pace == "instant")
                elif reason == SOURCE_STOP:
                    self._harvest(final=True)
                    self._finish()
                elif reason == SOURCE_RATES:
                    self._update_rates()
        except BaseException as exc:  # a callback cannot raise into C: flag it on the unit
            log.exception("hhlib_sim bench source failed (reason %d)", reason)
            self.errors.append(exc)
            self.library.set_system_error(device_index)

    def _drive_clock(self) -> None:
        """Instant pace: move the virtual bench clock to where the next delivery ends."""
        run = self._run
        if self.pace != "instant" or run is None:
            return
        if run.end_t is not None:
            target = run.end_t
        else:  # continuous mode: at least one block, and blocks enough to make a physics call worth it
            target = run.covered_t + max(run.block_s, INSTANT_CONTINUOUS_SLICE_S)
        step = target - self.bench.clock.now()
        if step > 0:
            self.bench.clock.advance(step)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ measurements
    def _trace_resolution(self, now: float, duration_s: float) -> float:
        """Time step of the emission trace photons are drawn from, as the simulated tagger
        chooses it: the bench's step, finer while chopping, capped in points per acquisition."""
        params = self.bench.config.tagger
        resolution = params.trace_resolution_s
        chopper = self.bench.chopper
        if chopper.is_chopping_at(now):
            resolution = min(resolution, 1.0 / chopper.frequency_at(now) / self.samples_per_chopper_period)
        return max(resolution, duration_s / params.max_trace_points)

    def _start(self) -> None:
        self._finish()
        state = self.library.measurement(self.device_index)
        duration = state.tacq_ms * 1e-3
        with self.bench.lock:
            now = self.bench.sync_sample()
            recorder = self.bench.start_recording(self._trace_resolution(now, duration))
        end = None if state.mode == MODE_CONT else now + duration
        self._run = _Run(state.generation, now, end, duration, recorder, covered_t=now)

    def _finish(self) -> None:
        run = self._run
        if run is None:
            return
        self.bench.stop_recording(run.recorder)
        end = run.covered_t if run.end_t is None else min(run.covered_t, run.end_t)
        expected = float(run.recorder.expected_in_bins(np.array([run.start_t, end]))[0])
        self.completed.append(CompletedRun(run.start_t, end, expected, run.drawn_photons))
        self._run = None

    def _harvest(self, final: bool) -> None:
        """Push the bench's signals since the last harvest (``final``: even a short slice)."""
        run = self._run
        if run is None:
            return
        if self.library.measurement(self.device_index).generation != run.generation:
            self._finish()
            return
        now = self.bench.clock.now()
        due = run.end_t is not None and now >= run.end_t
        if not (final or due) and now - run.covered_t < self.min_slice_s:
            return  # clients poll in tight loops; the physics advances in slices of min_slice_s
        with self.bench.lock:
            now = self.bench.sync_sample()
            arrivals = run.recorder.draw_arrivals(self._rng, since_chunk=run.drawn_chunks)
            run.drawn_chunks = run.recorder.n_chunks
            if run.end_t is not None:
                arrivals = arrivals[arrivals < run.end_t]
            run.drawn_photons += arrivals.size
            times, codes = self._signals(arrivals, run.covered_t, now)
        covered = now
        self.library.push_signals(self.device_index, np.round((times - run.start_t) * 1e12),
                                  codes, int(round((covered - run.start_t) * 1e12)))
        run.covered_t = covered
        if run.end_t is not None and covered >= run.end_t:
            self._finish()

    def _signals(self, arrivals: np.ndarray, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Every signal at the unit's inputs in [t0, t1): photons, sync and marker edges."""
        times = [arrivals]
        codes = [np.full(arrivals.size, self.wiring.detector_input, dtype=np.int32)]
        chopper_edges = self.bench.chopper.reference_edges(t0, t1)
        if self.wiring.sync == "chopper":
            times.append(chopper_edges)
            codes.append(np.full(chopper_edges.size, SIG_SYNC, dtype=np.int32))
        for line, wired in enumerate(self.wiring.marker_lines):
            if wired == "chopper":
                times.append(chopper_edges)
                codes.append(np.full(chopper_edges.size, SIG_MARKER_RISING + line, dtype=np.int32))
            elif wired == "pump_shutter":
                edges = self.bench.pump_shutter.edges_between(t0, t1)
                times.append(np.array([t for t, _ in edges], dtype=float))
                codes.append(np.array([(SIG_MARKER_RISING if opened else SIG_MARKER_FALLING) + line
                                       for _, opened in edges], dtype=np.int32))
        return np.concatenate(times), np.concatenate(codes)

    # ------------------------------------------------------------------ rate meters
    def _update_rates(self) -> None:
        with self.bench.lock:
            now = self.bench.sync_sample()
            total = self.bench.detected_total()
            if self._gate is None or self._rates is None:
                # the first reading: the registered rate right now, counted over one gate
                expected = float(registered_rate(self.bench.last_true_rate_cps,
                                                 self.bench.config.detection.dead_time_s))
                detector = int(self._rng.poisson(expected * RATE_GATE_S) / RATE_GATE_S)
                self._gate = (now, total)
            elif now - self._gate[0] >= RATE_GATE_S:
                gate_t, gate_total = self._gate
                counts = self._rng.poisson(max(total - gate_total, 0.0))
                detector = int(round(counts / (now - gate_t)))
                self._gate = (now, total)
            else:
                return  # the meter shows its last complete gate
            chopper = self.bench.chopper
            sync = chopper.frequency_at(now) if (self.wiring.sync == "chopper"
                                                 and chopper.is_chopping_at(now)) else 0.0
        self._rates = (int(round(sync)), detector)
        counts = [0] * (self.wiring.detector_input + 1)
        counts[self.wiring.detector_input] = detector
        self.library.set_rates(self.device_index, int(round(sync)), counts)
