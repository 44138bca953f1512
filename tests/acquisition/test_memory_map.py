"""The 808 nm memory map: at every point the spot is reset dark, held at a 1064 nm bias and hit
by a control pulse; the map shows which spots latch. Each pulsed map is compared with the same
timeline and a pulse 7000 times weaker (what the bias alone does after the reset), not with
expected numbers: the pulse only ever sets the bright state, it latches spots at the published
bias inside the window, and nothing below every window."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acquisition.engine import Engine
from acquisition.events import RunStatus
from acquisition.rig import load_rig
from acquisition.storage import open_run

#: four film spots 4 um apart (other particles at each, beyond the field of view of the others)
POSITIONS_MM = [12.5, 12.5, 12.496, 12.5, 12.5, 12.496, 12.496, 12.496]
#: the published photoswitching conditions: a 4.7 kW/cm2 bias, 1 s of 7 W/cm2 at 808 nm, 77 K
BIAS_KW_CM2 = 4.7
PULSE = {"protocol": "control_pulse", "control_wavelength_nm": 808.0, "control_density_w_cm2": 7.0,
         "pulse_s": 1.0, "reset_s": 1.0, "settle_s": 0.2, "dwell_s": 0.1, "temperature_k": 77.0}
#: below every spot's window (the start of the survey's default sweep, under any switch-off)
BELOW_WINDOWS_KW_CM2 = 1.5
#: the reference timeline: the same protocol with a pulse far too weak to cross the barrier
WEAK_W_CM2 = 0.001


def measure(experiment: str, params: dict[str, Any], path: Path) -> dict[str, np.ndarray]:
    """One run on a freshly loaded simulated rig (fresh particles: no history between runs)."""
    engine = Engine(load_rig("sim"))
    try:
        finished = engine.start(experiment, {"positions_mm": POSITIONS_MM, **params}, out_path=path).wait(600)
    finally:
        engine.close()
    assert finished.status == RunStatus.COMPLETE, finished.reason
    stream = open_run(path).streams[experiment]
    return {name: np.asarray(values) for name, values in stream.items()}


def test_an_808_nm_pulse_latches_spots_at_the_published_bias(tmp_path: Path) -> None:
    pulsed = measure("map", {**PULSE, "density_kw_cm2": BIAS_KW_CM2}, tmp_path / "pulsed.h5")
    alone = measure("map", {**PULSE, "density_kw_cm2": BIAS_KW_CM2, "control_density_w_cm2": WEAK_W_CM2},
                    tmp_path / "alone.h5")
    assert pulsed["x_m"] == pytest.approx(alone["x_m"]) and len(pulsed["x_m"]) == 4
    # the same spots at the same bias: the pulse only adds bright particles; a dark spot counts
    # ~10 photons per 0.1 s dwell, so allow 5 Poisson standard deviations of the difference
    counting = 5.0 * np.sqrt((pulsed["rate_cps"] + alone["rate_cps"]) / PULSE["dwell_s"])
    assert (pulsed["rate_cps"] >= alone["rate_cps"] - counting).all()
    latched = pulsed["rate_cps"] > 2.0 * alone["rate_cps"]
    assert latched.any(), "the published conditions latch the bright state somewhere on the film"
    # the map's own classification agrees with the rates it stores
    assert (pulsed["bright"].astype(bool) == (pulsed["rate_cps"] > 1000.0)).all()


def test_below_every_window_the_pulse_latches_nothing(tmp_path: Path) -> None:
    slow = {**PULSE, "density_kw_cm2": BELOW_WINDOWS_KW_CM2, "dwell_s": 1.0}  # dark: count longer
    pulsed = measure("map", slow, tmp_path / "pulsed.h5")
    alone = measure("map", {**slow, "control_density_w_cm2": WEAK_W_CM2}, tmp_path / "alone.h5")
    assert (pulsed["rate_cps"] <= 1.5 * alone["rate_cps"]).all()
