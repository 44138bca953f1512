"""`avalab analyze` reports every figure the run reported: recomputed where the stored points
allow it, as measured otherwise (a calibration's laser power and reach, a lifetime's counts)."""
from __future__ import annotations

from pathlib import Path

import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.reanalysis import reanalyze
from acquisition.rig import load_rig
from acquisition.storage import open_run


@pytest.mark.parametrize("experiment, params", [
    ("calibrate", {"save": False}),
    ("lifetime", {}),
])
def test_analyze_gives_every_figure_of_the_run(tmp_path: Path, shared_calibration_dir: Path,
                                               experiment: str, params: dict) -> None:
    rig = load_rig("sim")
    engine = Engine(rig, CalibrationStore(shared_calibration_dir))
    try:
        finished = engine.start(experiment, params, tmp_path / "run.h5").wait(600)
    finally:
        engine.close()
        rig.close_all()
    assert finished.status.value == "complete", finished.reason
    figures = reanalyze(open_run(tmp_path / "run.h5"))
    for key, value in finished.summary.items():
        if key == "calibration" or isinstance(value, (dict, list)):
            continue
        assert key in figures, key
        if isinstance(value, float):
            assert figures[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert figures[key] == value, key
