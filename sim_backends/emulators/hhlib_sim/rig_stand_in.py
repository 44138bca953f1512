"""A rig's ``tagger`` as the real HydraHarp driver on hhlib_sim fed by that rig's bench.

``address = "emulator"`` for ``driver = "hydraharp"`` in a rig file (or
``attach_emulated_drivers(rig, ["tagger"])``): the role's simulated tagger is replaced by
``HydraHarpTimeTagger`` loading its own copy of the stand-in library, whose inputs see the bench
(``BenchSignalSource``). An experiment then runs through the ctypes driver, the C library's
record encoding and the PTU record decoder, on the same physics as the simulated tagger.

Each attachment loads a separate copy of the library file: the library keeps its devices in
process-wide state, and two rigs in one process (tests) must not share a HydraHarp.
"""
from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from drivers.registry import create_driver
from sim_backends.emulators.hhlib_sim import LIBRARY_NAME, HHSimLibrary, build_library
from sim_backends.emulators.hhlib_sim.bench_source import BenchSignalSource

log = logging.getLogger(__name__)

DEVICE_INDEX = 0
#: the emission trace is sampled this finely per chopper period for the rig's tagger, so a
#: lifetime histogram's bins (typically period / 400) see the rise and decay, not a staircase
SAMPLES_PER_CHOPPER_PERIOD = 1000

_build_lock = threading.Lock()
_built: Path | None = None
_copies = itertools.count()


def _fresh_library_copy() -> Path:
    """A library file of its own (compiled once per process, then copied)."""
    global _built
    with _build_lock:
        if _built is None:
            _built = build_library(Path(tempfile.mkdtemp(prefix="avalab-hhlib-")))
        copy = _built.parent / f"stand-in-{next(_copies)}" / LIBRARY_NAME
        copy.parent.mkdir()
        shutil.copy2(_built, copy)
        return copy


class HydraHarpStandIn:
    """What ``attach_hydraharp`` put in place; ``close`` after the rig closed its instruments."""

    def __init__(self, source: BenchSignalSource, library_path: Path) -> None:
        self.source = source
        self.library_path = library_path

    def close(self) -> None:
        self.source.detach()
        if self.source.errors:
            log.error("hhlib_sim stand-in: %d signal-source failure(s), first: %r",
                      len(self.source.errors), self.source.errors[0])


def attach_hydraharp(rig: Any, role: str = "tagger") -> HydraHarpStandIn:
    """Swap ``role`` of ``rig`` (a rig with a bench) for the HydraHarp driver on the stand-in."""
    if rig.bench is None:
        raise ValueError(f"roles.{role}: the HydraHarp stand-in needs a simulated bench")
    path = _fresh_library_copy()
    library = HHSimLibrary(path)
    pace = "instant" if getattr(rig.clock, "is_virtual", False) else "clock"
    source = BenchSignalSource(library, DEVICE_INDEX, rig.bench, pace=pace,
                               samples_per_chopper_period=SAMPLES_PER_CHOPPER_PERIOD)
    driver = create_driver(role, "hydraharp", str(DEVICE_INDEX), rig.clock, library_path=str(path))
    rig.use_instrument(role, driver)
    log.info("%s: HydraHarp driver on the hhlib_sim stand-in %s (bench-fed, %s pace)", role, path, pace)
    return HydraHarpStandIn(source, path)
