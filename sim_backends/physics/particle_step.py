"""What one particle returns for one dwell."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ParticleStep:
    mean_rate: dict[str, float]             # photons/s per line, averaged over the dwell
    trace: dict[str, np.ndarray] | None     # instantaneous photons/s at the requested samples
