"""The APD sees each material's own emission lines: Tm3+:NaYF4 emits at 800 nm (3H4 -> 3H6), not
at Nd's 810/880 nm, and the bench must pass it through the emission filter to the APD."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.rig import default_rig_toml, load_rig
from acquisition.storage import open_run
from sim_backends.bench.config import BeamConfig, SampleConfig
from sim_backends.bench.sample import FilmSpot


def test_film_spot_lines_are_the_materials_own() -> None:
    tm = FilmSpot(SampleConfig(material="Tm:NaYF4"), BeamConfig(), 295.0).line_wavelength_m
    assert list(tm) == ["800nm"] and tm["800nm"] == pytest.approx(800e-9)
    assert set(FilmSpot(SampleConfig(), BeamConfig(), 77.0).lines) == {"810nm", "880nm"}


def test_a_tm_nayf4_film_avalanches_on_the_apd_without_hysteresis(tmp_path: Path) -> None:
    rig_file = tmp_path / "tm.toml"
    rig_file.write_text(default_rig_toml().replace('material = "Nd:KPb2Cl5"', 'material = "Tm:NaYF4"'))
    rig = load_rig(rig_file)
    engine = Engine(rig, CalibrationStore(tmp_path / "home"))
    try:
        finished = engine.start("sweep", {"temperature_k": 295.0, "start_kw_cm2": 0.5, "stop_kw_cm2": 12.5,
                                          "spacing": "log", "points": 60, "dwell_s": 0.1},
                                tmp_path / "tm.h5").wait(600)
    finally:
        engine.close()
        rig.close_all()
    assert finished.status.value == "complete", finished.reason
    sweep = open_run(tmp_path / "tm.h5").streams["sweep"]
    up = sweep["direction"] == "up"
    density, rate = sweep["density_w_m2"][up] / 1e7, sweep["rate_cps"][up]
    dark = float(np.median(rate[density < 1.0]))
    assert rate[-1] > 100 * dark  # the 800 nm line reaches the APD (it was dropped: dark counts only)
    slope = finished.summary["nonlinearity_s"]
    assert slope is not None and slope >= 20  # S-shaped and steep (physics.md: s about 26)
    # no memory: the down branch retraces the up branch where there is signal
    down_rate = np.interp(density, sweep["density_w_m2"][~up][::-1] / 1e7, sweep["rate_cps"][~up][::-1])
    bright = rate > 20 * dark
    assert np.all(np.abs(down_rate[bright] - rate[bright]) < 0.25 * rate[bright])
    assert finished.summary["bistable"] is False  # an avalanche, not a hysteresis loop
