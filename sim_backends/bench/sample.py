"""The particles under the focus: a thin adapter between the bench and ``sim_backends.physics``.

The bench speaks in optical settings; the physics speaks in local intensities. This module only
translates (it holds no physics of its own): it builds the ``FocalSpot`` for a film position and
passes each time segment's drive to it.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim_backends.bench.config import BeamConfig, SampleConfig


@dataclass(frozen=True)
class DriveState:
    """What the sample sees during one time segment (local peak intensities, W/m2)."""

    pump_peak_w_m2: float
    #: (frequency_hz, duty, blade_phase_deg at the segment start: 0 = blade just opened) or None (CW)
    chopper: tuple[float, float, float] | None
    control_peak_w_m2: float
    control_wavelength_m: float
    temperature_k: float


@dataclass
class EmissionSegment:
    """Emitted photon rates (photons/s per line) over one segment, optionally time-resolved.

    ``times_s`` are relative to the segment start; sample i covers [times_s[i], times_s[i+1]).
    """

    duration_s: float
    mean_rate: dict[str, float]
    times_s: np.ndarray | None = None
    rate: dict[str, np.ndarray] = field(default_factory=dict)


class ParticlePool(OrderedDict):  # type: ignore[type-arg]
    """Particles (with their state) by film key, the least recently placed dropped beyond
    ``max_size``: neighbouring spots reuse them, a long map does not keep them all."""

    def __init__(self, max_size: int = 2000) -> None:
        super().__init__()
        self.max_size = max_size

    def __getitem__(self, key: object) -> object:
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key: object, value: object) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.max_size:
            self.popitem(last=False)


class FilmSpot:
    """The focal spot at one film position. ``n_particles == 0`` is bare substrate (no emission)."""

    def __init__(self, sample: SampleConfig, beam: BeamConfig, temperature_k: float,
                 focus_m: tuple[float, float] | None = None, film: Any = None,
                 particle_pool: Any = None, time_s: float = 0.0) -> None:
        """``focus_m``: film position under the focus (default ``sample.film_position_m``);
        ``film`` / ``particle_pool``: shared with the previous spot so that particles keep their
        identity and state when the focus moves by less than the field of view."""
        from sim_backends import physics  # imported late: the bench module loads without it

        self.sample = sample
        self.focus_m = focus_m or (float(sample.film_position_m[0]), float(sample.film_position_m[1]))
        self._spot: Any = None
        # the detected lines are the material's own (Nd: 810/880 nm, Tm: 800 nm)
        self.line_wavelength_m: dict[str, float] = {
            line: nm * 1e-9 for line, nm in physics.get_material(sample.material).lines_nm.items()}
        if sample.n_particles > 0:
            self._physics = physics
            self._spot = physics.FocalSpot(
                material=sample.material, temperature_k=temperature_k,
                beam_radius_m=beam.beam_radius_m, n_particles=sample.n_particles,
                heterogeneity=sample.heterogeneity, seed=sample.seed,
                position_m=self.focus_m,
                dopant_fraction=sample.dopant_fraction, knockouts=tuple(sample.knockouts),
                parameters=dict(sample.parameters),
                film=film, particle_pool=particle_pool, time_s=time_s)

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.line_wavelength_m)

    @property
    def film(self) -> Any:
        return None if self._spot is None else self._spot.film

    @property
    def time_s(self) -> float:
        return 0.0 if self._spot is None else float(self._spot.time_s)

    @property
    def n_particles(self) -> int:
        """Particles in the field of view here (the film's count varies from spot to spot)."""
        return 0 if self._spot is None else self._spot.n_particles

    def reset(self) -> None:
        if self._spot is not None:
            self._spot.reset()

    def advance(self, duration_s: float, drive: DriveState,
                trace_resolution_s: float | None) -> EmissionSegment:
        if self._spot is None:
            return self._dark(duration_s, trace_resolution_s)
        physics = self._physics
        chopper = None
        if drive.chopper is not None:
            frequency_hz, duty, blade_phase_deg = drive.chopper
            # the physics opens the blade at spot times (phase/360 + k) / f: place that so the
            # blade is blade_phase_deg into its period at the spot's present time
            cycles_now = self._spot.time_s * frequency_hz - blade_phase_deg / 360.0
            chopper = physics.ChopperWaveform(frequency_hz, duty, (cycles_now % 1.0) * 360.0)
        physics_drive = physics.Drive(drive.pump_peak_w_m2, chopper=chopper,
                                      control_peak_w_m2=drive.control_peak_w_m2,
                                      control_wavelength_m=drive.control_wavelength_m,
                                      temperature_k=drive.temperature_k)
        emission = self._spot.advance(duration_s, physics_drive, trace_resolution_s=trace_resolution_s)
        mean_rate = {line: float(v) for line, v in emission.mean_rate.items()}
        if trace_resolution_s is None:
            return EmissionSegment(duration_s, mean_rate)
        rates = {line: np.asarray(v, dtype=float) for line, v in (emission.rate or {}).items()}
        n_samples = len(next(iter(rates.values()))) if rates else 0
        # the physics stamps samples on its own clock (end of each sample); the bench wants
        # sample starts relative to the segment
        times = duration_s * np.arange(n_samples) / max(n_samples, 1)
        return EmissionSegment(duration_s, mean_rate, times, rates)

    def _dark(self, duration_s: float, trace_resolution_s: float | None) -> EmissionSegment:
        zero = {line: 0.0 for line in self.lines}
        if trace_resolution_s is None:
            return EmissionSegment(duration_s, zero)
        n_samples = max(1, round(duration_s / trace_resolution_s))
        times = duration_s * np.arange(n_samples) / n_samples
        return EmissionSegment(duration_s, zero, times,
                               {line: np.zeros_like(times) for line in self.lines})
