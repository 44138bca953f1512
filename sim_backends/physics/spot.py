"""The focal spot: the few nanoparticles an APD sees inside the Gaussian pump focus.

Each particle sits at radius r from the beam axis, sees I_peak * exp(-2 r^2 / w^2) times its own
local-field factor, has its own Nd fraction (hence its own thresholds) and its own volume and
collection weight, and keeps its own state: the spot's history is the particles' histories.
The particles are those of the film (``film.Film``, seeded) within the field of view around the
spot's film position: a spot is reproducible, distant spots differ, and spots closer than the
field of view share particles (and, through a shared ``particle_pool``, their states).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

import numpy as np

from drivers.validation import check_int_range, check_positive, check_range

from .bins import bin_centres
from .drive import Drive, SpotEmission
from .film import Film, FilmParticle
from .material import Material
from .materials import (DOPANT_FRACTION_SD, FIELD_OF_VIEW_RADII, LOCAL_FIELD_MEDIAN, LOCAL_FIELD_SIGMA,
                        VOLUME_SIGMA, get_material)
from .parameters import with_parameters
from .particle import Particle

@dataclass(frozen=True)
class ParticleSpec:
    radius_m: float
    local_field: float
    dopant_fraction: float
    volume_factor: float
    intensity_factor: float     # exp(-2 r^2 / w^2) * local_field
    collection_weight: float    # confocal detection profile * volume


def draw_particle_properties(rng: np.random.Generator, heterogeneity: float,
                             nominal_fraction: float) -> tuple[float, float, float]:
    """One particle's (local-field factor, Nd fraction, volume factor): the film's heterogeneity."""
    local_field = LOCAL_FIELD_MEDIAN * math.exp(heterogeneity * LOCAL_FIELD_SIGMA * rng.standard_normal())
    fraction = float(np.clip(nominal_fraction + heterogeneity * DOPANT_FRACTION_SD * rng.standard_normal(),
                             0.5 * nominal_fraction, min(1.0, 1.5 * nominal_fraction)))
    volume = math.exp(heterogeneity * VOLUME_SIGMA * rng.standard_normal())
    return local_field, fraction, volume


def spot_specs(film: Film, position_m: tuple[float, float],
               beam_radius_m: float) -> list[tuple[FilmParticle, ParticleSpec]]:
    """The film's particles in the field of view at ``position_m`` and how the beam sees them."""
    out = []
    for particle in film.particles_within(position_m[0], position_m[1], film.field_of_view_m):
        radius = math.hypot(particle.x_m - position_m[0], particle.y_m - position_m[1])
        profile = math.exp(-2.0 * radius**2 / beam_radius_m**2)
        out.append((particle, ParticleSpec(radius, particle.local_field, particle.dopant_fraction,
                                           particle.volume_factor, profile * particle.local_field,
                                           profile * particle.volume_factor)))
    return out


class FocalSpot:
    """Particles in one focal spot; ``advance`` moves them all forward in time under a Drive."""

    def __init__(self, material: str = "Nd:KPb2Cl5", temperature_k: float = 77.0, beam_radius_m: float = 0.63e-6,
                 n_particles: int = 10, heterogeneity: float = 1.0, seed: int = 0,
                 position_m: tuple[float, float] = (0.0, 0.0), dopant_fraction: float | None = None,
                 knockouts: tuple[str, ...] = (), parameters: Mapping[str, float] | None = None, *,
                 film: Film | None = None,
                 particle_pool: MutableMapping[tuple[int, int, int], Particle] | None = None,
                 time_s: float = 0.0) -> None:
        """``n_particles`` is the film's mean number of particles per spot. A ``film`` (else one
        is made from seed, n_particles, heterogeneity) and a ``particle_pool`` shared between
        spots make particles in both keep their identity and their state."""
        #: named numbers of the material description replaced (sim_backends.physics.parameters)
        self.parameters = dict(parameters or {})
        base = with_parameters(get_material(material, dopant_fraction=dopant_fraction, knockouts=knockouts),
                               self.parameters)
        check_positive("temperature_k", temperature_k, "K")
        check_range("beam_radius_m", beam_radius_m, 1e-8, 1e-3, "m")
        check_int_range("n_particles", n_particles, 1, 1000)
        check_range("heterogeneity", heterogeneity, 0.0, 5.0)
        check_int_range("seed", seed, 0, 2**63 - 1)
        if len(position_m) != 2 or not all(math.isfinite(float(p)) for p in position_m):
            raise ValueError(f"position_m={position_m!r} is not allowed; allowed values: (x, y) finite, in m")
        self.material_name = material
        self.beam_radius_m = beam_radius_m
        self.seed, self.position_m = seed, (float(position_m[0]), float(position_m[1]))
        self.film = film or Film(seed, n_particles, FIELD_OF_VIEW_RADII * beam_radius_m, heterogeneity,
                                 base.dopant_fraction)
        pool = {} if particle_pool is None else particle_pool
        chosen = spot_specs(self.film, self.position_m, beam_radius_m)
        self.keys = [particle.key for particle, _ in chosen]
        self.specs = [spec for _, spec in chosen]
        self.particles = []
        for particle, spec in chosen:
            if particle.key not in pool:
                pool[particle.key] = Particle(_with_fraction(base, spec.dopant_fraction, self.parameters),
                                              temperature_k)
            self.particles.append(pool[particle.key])
        self._lines = (self.particles[0].model.lines if self.particles
                       else Particle(base, temperature_k).model.lines)
        self.time_s = time_s

    @property
    def n_particles(self) -> int:
        return len(self.particles)

    @property
    def lines(self) -> tuple[str, ...]:
        return self._lines

    def reset(self) -> None:
        """All particles back to the dark (never pumped) state; the spot clock restarts at 0."""
        for particle in self.particles:
            particle.reset()
        self.time_s = 0.0

    def advance(self, duration_s: float, drive: Drive, trace_resolution_s: float | None = None) -> SpotEmission:
        check_range("duration_s", duration_s, 0.0, 1e6, "s", low_inclusive=False)
        if trace_resolution_s is not None:
            check_range("trace_resolution_s", trace_resolution_s, 1e-9, duration_s, "s")
        n_samples = None if trace_resolution_s is None else max(1, round(duration_s / trace_resolution_s))
        mean = {line: 0.0 for line in self.lines}
        trace = None if n_samples is None else {line: np.zeros(n_samples) for line in self.lines}
        bright = 0
        for spec, particle in zip(self.specs, self.particles):
            result = particle.advance(self.time_s, duration_s, drive, spec.intensity_factor, n_samples)
            for line in self.lines:
                mean[line] += spec.collection_weight * result.mean_rate[line]
                if trace is not None and result.trace is not None:
                    trace[line] += spec.collection_weight * result.trace[line]
            bright += int(particle.is_bright)
        times = None if n_samples is None else bin_centres(self.time_s, duration_s, n_samples)
        self.time_s += duration_s
        return SpotEmission(duration_s, mean, bright / max(self.n_particles, 1), times, trace)


def _with_fraction(material: Material, fraction: float, parameters: Mapping[str, float]) -> Material:
    """The particle's material: its own dopant fraction, then the replaced parameters (a replaced
    dopant_fraction is the nominal one the particles spread around)."""
    own = {k: v for k, v in parameters.items() if k != "dopant_fraction"}
    return with_parameters(get_material(material.name, dopant_fraction=fraction,
                                        knockouts=material.knocked_out), own)
