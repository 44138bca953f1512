"""How the particles of a film differ from one another: the one declarative place for the spread.

A focal spot (spot.py) and a 2-D film (the bench's film of particles at film coordinates) both
draw their particles from here, so the statistics of spots on a film (published: 71 spots, switch-on
5.2 kW/cm2 mean, width 1.0 kW/cm2 mean, contrast 14 +- 4 dB) come from one calibrated description.
Each entry says what it stands for and where its value comes from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FilmHeterogeneity:
    """Particle-to-particle spread at heterogeneity = 1 (the spot scales every spread by it)."""

    #: median local-field intensity factor: neighbouring high-index particles and the substrate
    #: concentrate the field. Calibrated: brings the mean spot switch-on (peak intensity) from the
    #: single-particle 6.7 kW/cm2 to the published film mean 5.2 kW/cm2.
    local_field_median: float = 1.25
    #: lognormal sigma of the local-field factor (film roughness, neighbours), calibrated
    local_field_sigma: float = 0.15
    #: absolute spread of the Nd fraction around the nominal (synthesis batch: 16-20 % band)
    dopant_fraction_sd: float = 0.01
    #: lognormal sigma of the particle volume (size dispersion of the synthesis)
    volume_sigma: float = 0.3
    #: particles the confocal pinhole selects lie within this many beam radii of the axis
    field_of_view_radii: float = 0.6


FILM = FilmHeterogeneity()


@dataclass(frozen=True)
class ParticleTraits:
    """What makes one particle differ from the nominal one (independent of where it sits)."""

    local_field: float
    dopant_fraction: float
    volume_factor: float


def draw_traits(rng: np.random.Generator, heterogeneity: float, nominal_fraction: float,
                film: FilmHeterogeneity = FILM) -> ParticleTraits:
    """One particle's traits; ``heterogeneity`` scales every spread (0 = identical particles)."""
    local_field = film.local_field_median * math.exp(heterogeneity * film.local_field_sigma * rng.standard_normal())
    fraction = float(np.clip(nominal_fraction + heterogeneity * film.dopant_fraction_sd * rng.standard_normal(),
                             0.5 * nominal_fraction, min(1.0, 1.5 * nominal_fraction)))
    volume = math.exp(heterogeneity * film.volume_sigma * rng.standard_normal())
    return ParticleTraits(local_field, fraction, volume)
