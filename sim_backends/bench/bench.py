"""The virtual optical bench: one clock, one beam path, one sample, advanced lazily.

Nothing runs in the background. Every device call brings the instruments (the cryostat) up to
``clock.now()``; before a setting changes and whenever a detector reads, the bench also advances
the sample from the last time it was brought up to date, with the settings that held in between
(settings only change through ``Bench.change``, which does this first). Virtual and real clocks
therefore behave identically.

Beam path (docs/rig_config.md):
pump laser -> pump shutter -> ND wheel -> HWP + Glan-Taylor -> chopper -> pick-off (power meter,
control beam joins before it) -> objective -> sample; emission -> emission shutter -> band-pass
-> APD -> counter / TCSPC. The control laser -> its shutter -> control shutter -> fixed ND ->
polariser attenuator -> dichroic into the pump path.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
from collections.abc import Iterator

import numpy as np

from drivers.clock import Clock
from sim_backends.bench import optics
from sim_backends.bench.chopper import ChopperModel
from sim_backends.bench.config import BeamConfig, BenchConfig, DetectionParams, SampleConfig
from sim_backends.bench.cryostat import CryostatModel
from sim_backends.bench.lasers import ControlLaserModel, PumpLaserModel
from sim_backends.bench.motion import ShutterModel, StageModel
from sim_backends.bench.recorder import RateRecorder
from sim_backends.bench.sample import DriveState, EmissionSegment, FilmSpot, ParticlePool

log = logging.getLogger(__name__)

#: within a transition (a stage moving, a chopper spinning up) the drive is cut into steps no
#: larger than these, so the sample sees a staircase ramp finer than any sweep step
MAX_PUMP_STEP_W_M2 = 1e7            # 1 kW/cm2
MAX_CONTROL_STEP_W_M2 = 1e4        # 1 W/cm2, or a quarter of the intensity if that is more
MAX_CONTROL_STEP_REL = 0.25
MAX_CHOPPER_STEP = 0.25             # relative blade frequency change
MAX_SEGMENTS_PER_TRANSITION = 40
#: the cryostat is integrated (and its temperature remembered) in steps of this length; while the
#: temperature changes by more than MAX_TEMPERATURE_STEP_K the sample gets segments this short
THERMAL_SEGMENT_S = 10.0
MAX_TEMPERATURE_STEP_K = 0.25
#: intensities go to the physics rounded to this relative step: a 0.01 % change is far below any
#: threshold resolution, and identical drives let the physics reuse a settled state
INTENSITY_QUANTUM = 1e-4
#: longest single call to the physics (it accepts up to 1e6 s); a week-long idle is a few calls
MAX_SEGMENT_S = 1e5
#: a focus move smaller than this keeps the focal spot (1 nm: far below the field of view)
FOCUS_TOLERANCE_M = 1e-9
#: a particle this many beam radii from the focus sees less than exp(-8) of the peak pump: out of
#: the beam it loses its bright state within milliseconds (the 4I11/2 lifetime), faster than any
#: stage move, so the bench puts it dark (only the particles in the field of view are advanced)
DARK_BEYOND_BEAM_RADII = 2.0


class Bench:
    """Owns the clock, every simulated part and the focal spot. Thread-safe through ``lock``."""

    def __init__(self, beam: BeamConfig, sample: SampleConfig, config: BenchConfig,
                 clock: Clock, noise_stream: int | None = None,
                 stage_m: tuple[float, float] | None = None) -> None:
        """``stage_m``: where the sample stage is at switch-on (m; default its reference
        position, where the focus is on ``sample.film_position_m``)."""
        self.beam = beam
        self.sample_config = sample
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = np.random.default_rng(config.seed)
        pump_phase, self._focus_phases = drift_phases(self.rng)
        self.pump = PumpLaserModel(config.pump, drift_phase_rad=pump_phase)
        if noise_stream is not None:
            # the slow drifts stay those of ``seed`` (one rig, one history); the instrument noise
            # is a stream of its own, so a campaign unit draws the same noise whichever process
            # runs it and whatever ran before it
            self.rng = np.random.default_rng(np.random.SeedSequence((config.seed, noise_stream)))
        self.nd_wheel = StageModel(config.stage.velocity_deg_s)
        self.hwp = StageModel(config.stage.velocity_deg_s)
        self.control_attenuator = StageModel(config.stage.velocity_deg_s)
        # the sample stage's axes (positions in m, speed in m/s; StageModel is unit-free)
        stage = config.xy_stage.reference_m if stage_m is None else stage_m
        self.xy_x = StageModel(config.xy_stage.velocity_m_s, float(stage[0]))
        self.xy_y = StageModel(config.xy_stage.velocity_m_s, float(stage[1]))
        self._particle_pool = ParticlePool()
        self.chopper = ChopperModel(config.chopper.spinup_time_constant_s)
        self.pump_shutter = ShutterModel()
        self.control_shutter = ShutterModel()
        self.emission_shutter = ShutterModel()
        self.cryostat = CryostatModel(config.cryostat)
        self.control_laser = ControlLaserModel(config.control_laser)
        self.power_meter_wavelength_m = beam.pump_wavelength_m
        self._t = clock.now()
        self._sample_t = self._t
        self.cryostat.t = self._t
        self._temperature_times: list[float] = [self._t]
        self._temperature_values: list[float] = [self.cryostat.sample_k]
        self.spot = FilmSpot(sample, beam, self.cryostat.sample_k, self.focus_at(self._t),
                             particle_pool=self._particle_pool)
        #: film positions of the particles near enough the focus to keep their state (by key)
        self._near_focus: dict[tuple[int, int, int], tuple[float, float]] = {}
        self._relax_left_behind(self.focus_at(self._t))
        self._detected_total = 0.0
        self._recorders: list[RateRecorder] = []
        self._hwp_pair = optics.malus_pair(config.optics.hwp_max_transmission,
                                           config.optics.hwp_extinction_ratio)
        self._attenuator_pair = optics.malus_pair(1.0, config.control_laser.attenuator_extinction_ratio)
        self._warned_damage_t = -math.inf
        #: true photon rate on the APD at the end of the last advanced segment (cps)
        self.last_true_rate_cps = 0.0

    # --- time ---------------------------------------------------------------------------------
    def sync(self) -> float:
        """Bring the instruments (the cryostat) up to ``clock.now()`` and return that time.

        The sample is not advanced here: reading a power meter or a stage does not need it, and
        leaving it alone lets one long, unchanged stretch go to the physics as one call.
        """
        with self.lock:
            now = max(self.clock.now(), self._t)
            self._advance_thermal(now)
            self._t = now
            return now

    def sync_sample(self) -> float:
        """Bring everything, the sample included, up to ``clock.now()``; return that time."""
        with self.lock:
            now = self.sync()
            self._advance_sample_to(now)
            return now

    @contextlib.contextmanager
    def change(self) -> Iterator[float]:
        """Context for a settings change: the past is advanced with the old settings first."""
        with self.lock:
            yield self.sync_sample()

    # --- optics -------------------------------------------------------------------------------
    def pump_power_into_objective(self, t: float, include_chopper: bool = True) -> float:
        """Pump power entering the objective (W); with the chopper as its mean transmission."""
        o = self.config.optics
        if not self.pump_shutter.open_at(t):
            return 0.0
        power = self.pump.power_at(t)
        power *= optics.nd_wheel_transmission(self.nd_wheel.position_at(t), o.nd_max_od, o.nd_span_deg)
        power *= optics.half_wave_plate_transmission(self.hwp.position_at(t), o.hwp_offset_deg,
                                                     *self._hwp_pair)
        if include_chopper:
            power *= self.chopper.mean_transmission_at(t)
        return power * o.path_transmission

    def control_power_into_objective(self, t: float) -> float:
        c = self.config.control_laser
        if not self.control_shutter.open_at(t):
            return 0.0
        power = self.control_laser.delivered_at(t)
        power *= optics.rotating_polariser_transmission(self.control_attenuator.position_at(t),
                                                        c.attenuator_offset_deg, *self._attenuator_pair)
        return power * 10.0 ** (-c.fixed_od) * c.path_transmission

    def focus_factor(self, t: float) -> float:
        """Slow drift of the intensity at the focus, invisible to the pick-off power meter."""
        o = self.config.optics
        return optics.focus_drift_factor(t, o.focus_drift_rel, o.focus_drift_period_s, self._focus_phases)

    def pump_peak_intensity(self, t: float) -> float:
        """Peak local intensity at the focus centre while the chopper is open (W/m2)."""
        b = self.beam
        return 2.0 * b.objective_transmission * self.pump_power_into_objective(t, False) \
            * self.focus_factor(t) / b.beam_area_m2

    def control_peak_intensity(self, t: float) -> float:
        b = self.beam
        return 2.0 * b.control_objective_transmission * self.control_power_into_objective(t) \
            * self.focus_factor(t) / b.control_beam_area_m2

    def power_at_meter(self, t: float) -> float:
        """Optical power on the pick-off sensor as the sensor reports it, i.e. including the error
        of its wavelength correction for light at another wavelength (W)."""
        set_response = optics.silicon_responsivity(self.power_meter_wavelength_m)
        pump = self.pump_power_into_objective(t) * optics.silicon_responsivity(self.beam.pump_wavelength_m)
        control = self.control_power_into_objective(t) * optics.silicon_responsivity(
            self.control_laser.wavelength_m)
        return self.beam.pickoff_ratio * (pump + control) / set_response

    def drive_at(self, t: float, temperature_k: float) -> DriveState:
        chopper = None
        if self.chopper.is_chopping_at(t):
            chopper = (self.chopper.frequency_at(t), self.chopper.duty, self.chopper.blade_phase_deg_at(t))
        return DriveState(self.pump_peak_intensity(t), chopper, self.control_peak_intensity(t),
                          self.control_laser.wavelength_m, temperature_k)

    # --- detection ----------------------------------------------------------------------------
    def _line_efficiency(self, line: str) -> float:
        return detection_efficiency(self.config.detection, self.spot.line_wavelength_m[line])

    def _stray_rate(self, t: float) -> float:
        """Laser light scattered at the sample that leaks through the filters to the APD (cps)."""
        d = self.config.detection
        rate = 0.0
        sources = ((self.beam.objective_transmission * self.pump_power_into_objective(t),
                    self.beam.pump_wavelength_m),
                   (self.beam.control_objective_transmission * self.control_power_into_objective(t),
                    self.control_laser.wavelength_m))
        for power_w, wavelength in sources:
            if power_w <= 0:
                continue
            leak = optics.emission_filter_transmission(wavelength, d.emission_filter,
                                                       d.filter_transmission, d.filter_blocking_od,
                                                       d.pump_blocking_od)
            rate += (power_w * d.stray_fraction * leak * optics.apd_detection_efficiency(wavelength)
                     / optics.photon_energy_j(wavelength))
        return rate

    def _true_rates(self, t_mid: float, emission: EmissionSegment) -> tuple[float, np.ndarray | None]:
        """Photon rate arriving at the APD (plus dark counts): mean, and per trace sample."""
        d = self.config.detection
        shutter = 1.0 if self.emission_shutter.open_at(t_mid) else 0.0
        background = shutter * self._stray_rate(t_mid) + d.dark_count_rate_cps
        mean = background + shutter * sum(
            self._line_efficiency(line) * rate for line, rate in emission.mean_rate.items())
        if emission.times_s is None:
            return mean, None
        trace = np.full(emission.times_s.shape, background)
        for line, rate in emission.rate.items():
            trace = trace + shutter * self._line_efficiency(line) * rate
        return mean, trace

    def detected_total(self) -> float:
        """Expected number of registered APD counts since the bench started, up to now."""
        with self.lock:
            self.sync_sample()
            return self._detected_total

    def start_recording(self, resolution_s: float) -> RateRecorder:
        with self.lock:
            recorder = RateRecorder(self.sync_sample(), resolution_s)
            self._recorders.append(recorder)
            return recorder

    def stop_recording(self, recorder: RateRecorder) -> None:
        with self.lock:
            self.sync_sample()
            if recorder in self._recorders:
                self._recorders.remove(recorder)

    # --- film ---------------------------------------------------------------------------------
    def set_film_position(self, x_m: float, y_m: float) -> None:
        """Put film position (x, y) under the focus with the stage at its reference position (the
        particles there are the film's own: reproducible, shared with spots nearer than the
        field of view)."""
        with self.change():
            self.sample_config.film_position_m = [float(x_m), float(y_m)]
            self._refocus(self._t, force=True)

    def focus_at(self, t: float) -> tuple[float, float]:
        """Film position under the focus at time ``t``: the sample moves under a fixed focus, so
        the focus moves over the film opposite to the stage."""
        reference = self.config.xy_stage.reference_m
        film = self.sample_config.film_position_m
        return (float(film[0]) - (self.xy_x.position_at(t) - float(reference[0])),
                float(film[1]) - (self.xy_y.position_at(t) - float(reference[1])))

    def _refocus(self, t: float, force: bool = False) -> None:
        """Swap the focal spot for the one at ``focus_at(t)`` if the focus has moved."""
        focus = self.focus_at(t)
        current = self.spot.focus_m
        if not force and current is not None and math.dist(focus, current) < FOCUS_TOLERANCE_M:
            return
        self.spot = FilmSpot(self.sample_config, self.beam, self._sample_temperature(t), focus,
                             film=self.spot.film, particle_pool=self._particle_pool,
                             time_s=self.spot.time_s)
        self._relax_left_behind(focus)

    def _relax_left_behind(self, focus: tuple[float, float]) -> None:
        """Put dark the particles the focus has left out of the beam (``DARK_BEYOND_BEAM_RADII``):
        coming back to a spot after visiting others finds it dark, as on a real film. Particles
        still near the focus (a step smaller than the spot) keep their state."""
        film = self.spot.film
        if film is None:  # bare substrate: no particles
            return
        for particle in film.particles_within(focus[0], focus[1], film.field_of_view_m):
            self._near_focus[particle.key] = (particle.x_m, particle.y_m)
        reach = DARK_BEYOND_BEAM_RADII * self.beam.beam_radius_m
        for key, (x_m, y_m) in list(self._near_focus.items()):
            if math.hypot(x_m - focus[0], y_m - focus[1]) > reach:
                del self._near_focus[key]
                if key in self._particle_pool:
                    self._particle_pool[key].reset()

    # --- the lazy advance ---------------------------------------------------------------------
    def _transition_ends(self) -> list[float]:
        return [self.nd_wheel.move_end_t, self.hwp.move_end_t, self.control_attenuator.move_end_t,
                self.pump.warmup_end_t(), self.chopper.spun_up_t(), self.control_laser.tuned_t]

    def _advance_thermal(self, t_end: float) -> None:
        """Integrate the cryostat to ``t_end``, remembering the sample temperature on the way
        (the sample, advanced later, needs the temperature at past times)."""
        while self.cryostat.t < t_end:
            step_end = min(t_end, self.cryostat.t + THERMAL_SEGMENT_S)
            self.cryostat.advance_to(step_end)
            self._temperature_times.append(step_end)
            self._temperature_values.append(self.cryostat.sample_k)
        # keep only what the sample has not consumed yet (plus one point before it)
        keep_from = max(0, int(np.searchsorted(self._temperature_times, self._sample_t)) - 1)
        if keep_from > 0:
            del self._temperature_times[:keep_from]
            del self._temperature_values[:keep_from]

    def _sample_temperature(self, t: float) -> float:
        """Sample temperature at past time ``t``, rounded to 1 mK (finer changes are noise to the
        physics and would only defeat its settled-state cache)."""
        kelvin = float(np.interp(t, self._temperature_times, self._temperature_values))
        return round(kelvin, 3)

    def _segment_end(self, t0: float, t_end: float) -> float:
        ends = [e for e in self._transition_ends() if t0 < e < t_end]
        in_transition = bool(ends) or any(t0 < e for e in self._transition_ends())
        t1 = min([t_end, t0 + MAX_SEGMENT_S, *ends])
        if abs(self._sample_temperature(t1) - self._sample_temperature(t0)) > MAX_TEMPERATURE_STEP_K:
            t1 = min(t1, t0 + THERMAL_SEGMENT_S)
        if not in_transition:
            return t1
        pieces = 1.0
        for t in (0.5 * (t0 + t1), t1):
            pieces = max(pieces,
                         abs(self.pump_peak_intensity(t) - self.pump_peak_intensity(t0))
                         / MAX_PUMP_STEP_W_M2,
                         _control_steps(self.control_peak_intensity(t0), self.control_peak_intensity(t)),
                         abs(self.chopper.frequency_at(t) - self.chopper.frequency_at(t0))
                         / max(self.chopper.frequency_at(t), 1.0) / MAX_CHOPPER_STEP)
        pieces = min(math.ceil(pieces), MAX_SEGMENTS_PER_TRANSITION)
        return t0 + (t1 - t0) / pieces

    def _advance_sample_to(self, t_end: float) -> None:
        """Advance the sample to ``t_end``; where the sample stage arrives on the way, the focal
        spot is swapped for the one at the new focus (the spot it left emits while moving)."""
        arrivals = sorted(t for t in (self.xy_x.move_end_t, self.xy_y.move_end_t)
                          if self._sample_t < t < t_end)
        for t in arrivals:
            self._advance_pieces_to(t)
            self._refocus(t)
        self._advance_pieces_to(t_end)
        self._refocus(t_end)

    def _advance_pieces_to(self, t_end: float) -> None:
        """Cut [sample time, t_end] where the drive changes, merge neighbours that hand the physics
        the same drive (one long call lets it settle cheaply), and advance the sample."""
        pieces: list[tuple[float, float, DriveState]] = []
        t0 = self._sample_t
        while t0 < t_end:
            t1 = self._segment_end(t0, t_end)
            if t1 <= t0:  # floating point: a transition end equal to t0
                t1 = t_end
            # a piece is applied at its end value: a staircase that lands on the final setting
            drive = _quantised(self.drive_at(t1, self._sample_temperature(0.5 * (t0 + t1))))
            if pieces and _same_drive(pieces[-1][2], drive):
                pieces[-1] = (pieces[-1][0], t1, pieces[-1][2])
            else:
                pieces.append((t0, t1, drive))
            t0 = t1
        for start, end, drive in pieces:
            self._advance_segment(start, end, drive)
            self._sample_t = end

    def _trace_resolution(self) -> float | None:
        if not self._recorders:
            return None
        return min(r.resolution_s for r in self._recorders)

    def _advance_segment(self, t0: float, t1: float, drive: DriveState) -> None:
        t_mid = 0.5 * (t0 + t1)
        if drive.chopper is not None:  # the waveform is anchored at the segment start
            frequency_hz, duty, _ = drive.chopper
            drive = dataclasses.replace(drive, chopper=(frequency_hz, duty,
                                                         self.chopper.blade_phase_deg_at(t0)))
        duration = t1 - t0
        resolution = self._trace_resolution()
        if resolution is not None and resolution >= duration:
            resolution = None
        emission = self.spot.advance(duration, drive, resolution)
        mean_true, trace_true = self._true_rates(t_mid, emission)
        dead_time = self.config.detection.dead_time_s
        self.last_true_rate_cps = mean_true if trace_true is None else float(trace_true[-1])
        peak = mean_true if trace_true is None else float(trace_true.max(initial=mean_true))
        self._warn_if_damaging(t1, peak)
        if trace_true is None:
            registered = float(optics.registered_rate(mean_true, dead_time))
            self._detected_total += registered * duration
            for recorder in self._recorders:
                recorder.add(np.array([t0]), np.array([duration]), np.array([registered]))
            return
        times = np.asarray(emission.times_s, dtype=float)
        widths = np.diff(np.append(times, duration))
        registered_trace = optics.registered_rate(trace_true, dead_time)
        self._detected_total += float(np.sum(registered_trace * widths))
        for recorder in self._recorders:
            recorder.add(t0 + times, widths, registered_trace)

    def _warn_if_damaging(self, t: float, rate_cps: float) -> None:
        if rate_cps > self.config.detection.damage_rate_cps and t - self._warned_damage_t > 10.0:
            self._warned_damage_t = t
            log.warning("simulated APD sees %.3g cps, above its damage level %.3g cps "
                        "(close the emission shutter during control pulses)",
                        rate_cps, self.config.detection.damage_rate_cps)


def drift_phases(rng: np.random.Generator) -> tuple[float, tuple[float, ...]]:
    """The phases of the slow drifts (pump power, focus) a bench draws first from its seed."""
    pump = float(rng.uniform(0, 2 * math.pi))
    return pump, tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 3))


def detection_efficiency(detection: DetectionParams, wavelength_m: float) -> float:
    """Fraction of the photons emitted at ``wavelength_m`` that the APD registers (before dead time)."""
    d = detection
    return (d.collection_efficiency * optics.emission_filter_transmission(
        wavelength_m, d.emission_filter, d.filter_transmission, d.filter_blocking_od,
        d.pump_blocking_od) * optics.apd_detection_efficiency(wavelength_m))


def _quantise(value: float) -> float:
    if value <= 0.0:
        return 0.0
    return math.exp(round(math.log(value) / INTENSITY_QUANTUM) * INTENSITY_QUANTUM)


def _control_steps(start_w_m2: float, end_w_m2: float) -> float:
    """How many staircase steps a control-intensity change needs (the latch responds to the dose
    near a few W/cm2; far above it a coarse relative staircase is enough)."""
    step = max(MAX_CONTROL_STEP_W_M2, MAX_CONTROL_STEP_REL * max(start_w_m2, end_w_m2))
    return abs(end_w_m2 - start_w_m2) / step


def _same_drive(a: DriveState, b: DriveState) -> bool:
    """Equal for the physics, ignoring the blade phase (it is re-anchored at each call)."""
    if (a.chopper is None) != (b.chopper is None):
        return False
    if a.chopper is not None and b.chopper is not None and a.chopper[:2] != b.chopper[:2]:
        return False
    return (a.pump_peak_w_m2, a.control_peak_w_m2, a.control_wavelength_m, a.temperature_k) == \
        (b.pump_peak_w_m2, b.control_peak_w_m2, b.control_wavelength_m, b.temperature_k)


def _quantised(drive: DriveState) -> DriveState:
    chopper = drive.chopper
    if chopper is not None:
        chopper = (_quantise(chopper[0]), chopper[1], chopper[2])
    return dataclasses.replace(drive, pump_peak_w_m2=_quantise(drive.pump_peak_w_m2),
                               control_peak_w_m2=_quantise(drive.control_peak_w_m2), chopper=chopper)
