"""The film: a deterministic 2-D field of nanoparticles at fixed film coordinates.

The film is a jittered lattice: one particle sits at a uniformly random place in each lattice
cell of area 1 / density (a close-packed drop-cast film rather than a Poisson gas), each with its
own local field, Nd fraction and volume. Blocks of lattice cells are drawn from a
generator seeded by (film seed, cell index), so any part of the film is the same whenever and in
whatever order it is visited, and a focal spot at (x, y) sees exactly the particles within its
field of view there. Two spots closer than the field of view share particles; a map's resolution
is therefore the focal spot's. The density is set so that a spot sees ``mean_per_spot``
particles on average; the lattice keeps the spot-to-spot spread of that number small (about
+-15 % at 10 per spot, where a Poisson film would give +-30 %).

Placement is this module's job; the per-particle heterogeneity (the distributions of local field,
fraction and volume) is ``spot.draw_particle_properties``, with its parameters in ``materials``.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from drivers.validation import check_int_range, check_range

#: names the family of films the seeds draw from; with this one the default spot (seed 0 at the
#: origin) is a typical one (switch-on 5.1, switch-off 3.2 kW/cm2 at 77 K), which the
#: examples and tests that use the default spot assume
_FILM_SALT = "film7"
#: cells kept in memory (a 10 x 10 um map at 0.4 um cells touches ~700)
_CELL_CACHE = 4096


@dataclass(frozen=True)
class FilmParticle:
    """One particle of the film: where it is and what it is made of."""

    key: tuple[int, int, int]   # (cell ix, cell iy, index in cell): the particle's identity
    x_m: float
    y_m: float
    local_field: float
    dopant_fraction: float
    volume_factor: float


class Film:
    """Particles of one film (``seed``) at film coordinates (m)."""

    def __init__(self, seed: int, mean_per_spot: float, field_of_view_m: float,
                 heterogeneity: float, nominal_fraction: float) -> None:
        self.seed = check_int_range("seed", seed, 0, 2**63 - 1)
        self.mean_per_spot = check_range("mean_per_spot", mean_per_spot, 0.0, 1000.0)
        self.field_of_view_m = check_range("field_of_view_m", field_of_view_m, 1e-9, 1e-3, "m")
        self.heterogeneity = heterogeneity
        self.nominal_fraction = nominal_fraction
        self.density_per_m2 = mean_per_spot / (math.pi * field_of_view_m ** 2)
        #: lattice pitch: one particle per pitch^2
        self.pitch_m = (1.0 / math.sqrt(self.density_per_m2) if mean_per_spot > 0
                        else 2.0 * field_of_view_m)
        # a block of side ~ twice the field-of-view radius (a spot overlaps at most 2 x 2
        # blocks), a whole number of lattice cells across
        self.cells_across = max(1, round(2.0 * field_of_view_m / self.pitch_m))
        self.cell_m = self.cells_across * self.pitch_m
        self.per_cell = self.cells_across ** 2 if mean_per_spot > 0 else 0
        self._cells: OrderedDict[tuple[int, int], list[FilmParticle]] = OrderedDict()

    def particles_within(self, x_m: float, y_m: float, radius_m: float) -> list[FilmParticle]:
        """Every particle closer than ``radius_m`` to (x, y), nearest first."""
        lo_x, hi_x = math.floor((x_m - radius_m) / self.cell_m), math.floor((x_m + radius_m) / self.cell_m)
        lo_y, hi_y = math.floor((y_m - radius_m) / self.cell_m), math.floor((y_m + radius_m) / self.cell_m)
        found = []
        for ix in range(lo_x, hi_x + 1):
            for iy in range(lo_y, hi_y + 1):
                for particle in self._cell(ix, iy):
                    distance = math.hypot(particle.x_m - x_m, particle.y_m - y_m)
                    if distance < radius_m:
                        found.append((distance, particle))
        found.sort(key=lambda item: (item[0], item[1].key))
        return [particle for _, particle in found]

    def _cell(self, ix: int, iy: int) -> list[FilmParticle]:
        cached = self._cells.get((ix, iy))
        if cached is not None:
            self._cells.move_to_end((ix, iy))
            return cached
        from .spot import draw_particle_properties  # heterogeneity lives with the focal spot

        rng = np.random.default_rng(_cell_seed(self.seed, ix, iy))
        particles = []
        for index in range(self.per_cell):
            column, row = index % self.cells_across, index // self.cells_across
            x = ix * self.cell_m + (column + rng.uniform()) * self.pitch_m
            y = iy * self.cell_m + (row + rng.uniform()) * self.pitch_m
            local_field, fraction, volume = draw_particle_properties(
                rng, self.heterogeneity, self.nominal_fraction)
            particles.append(FilmParticle((ix, iy, index), x, y, local_field, fraction, volume))
        self._cells[(ix, iy)] = particles
        if len(self._cells) > _CELL_CACHE:
            self._cells.popitem(last=False)
        return particles


def _cell_seed(seed: int, ix: int, iy: int) -> np.random.SeedSequence:
    key = f"{_FILM_SALT}:{seed}:{ix}:{iy}".encode()
    return np.random.SeedSequence(int.from_bytes(hashlib.sha256(key).digest()[:16], "little"))
