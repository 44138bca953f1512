"""The 808 nm memory map: at every point the spot is reset dark, held at a 1064 nm bias and hit
by a control pulse; the map shows which spots latch. Checked against each spot's own hysteresis
(a survey of the same points), not against expected numbers: a spot can hold the bright state
only where the bias lies inside its window, and the control pulse only ever sets."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acquisition.engine import Engine
from acquisition.events import RunStatus
from acquisition.rig import load_rig
from acquisition.storage import open_run

pytestmark = pytest.mark.timeout(900)

#: four film spots 4 um apart (other particles at each, beyond the field of view of the others)
POSITIONS_MM = [12.5, 12.5, 12.496, 12.5, 12.5, 12.496, 12.496, 12.496]
#: the published photoswitching conditions: a 4.7 kW/cm2 bias, 1 s of 7 W/cm2 at 808 nm, 77 K
BIAS_KW_CM2 = 4.7
PULSE = {"protocol": "control_pulse", "control_wavelength_nm": 808.0, "control_density_w_cm2": 7.0,
         "pulse_s": 1.0, "reset_s": 1.0, "settle_s": 0.2, "dwell_s": 0.1, "temperature_k": 77.0}
#: a sweep's density steps are about 6 % apart (log 1.5-12 kW/cm2, 36 points): a threshold found
#: by the survey is known to that step
STEP_TOLERANCE = 0.1


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


@pytest.fixture(scope="module")
def windows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Each spot's switch-off and switch-on (kW/cm2) from its own up/down sweep."""
    survey = measure("survey", {"temperature_k": 77.0}, tmp_path_factory.mktemp("survey") / "survey.h5")
    assert survey["bistable"].astype(bool).all(), "every spot of the film is bistable at 77 K"
    return {"off": survey["switch_off_kw_cm2"].astype(float), "on": survey["switch_on_kw_cm2"].astype(float)}


def test_an_808_nm_pulse_latches_the_spots_whose_window_holds_the_bias(tmp_path: Path,
                                                                       windows: dict[str, np.ndarray]) -> None:
    pulsed = measure("map", {**PULSE, "density_kw_cm2": BIAS_KW_CM2}, tmp_path / "pulsed.h5")
    # the same timeline with a pulse 7000 times weaker: what the bias alone does after the reset
    unpulsed = measure("map", {**PULSE, "density_kw_cm2": BIAS_KW_CM2, "control_density_w_cm2": 0.001},
                       tmp_path / "unpulsed.h5")
    assert pulsed["x_m"] == pytest.approx(unpulsed["x_m"]) and len(pulsed["x_m"]) == 4
    bright, bright_alone = pulsed["bright"].astype(bool), unpulsed["bright"].astype(bool)
    latched = bright & ~bright_alone
    assert not (bright_alone & ~bright).any(), "the control pulse only ever sets the bright state"
    assert latched.any(), "the published conditions latch at least one spot"
    # a latched spot holds the bright state at the bias: the bias is inside its hysteresis window
    off, on = windows["off"][latched], windows["on"][latched]
    assert (off * (1 - STEP_TOLERANCE) <= BIAS_KW_CM2).all() and (BIAS_KW_CM2 <= on * (1 + STEP_TOLERANCE)).all()
    # bright means bright: the latched spots emit like switched-on spots, far above the dark ones
    assert pulsed["rate_cps"][latched].min() > 3 * unpulsed["rate_cps"][latched].max()


def test_below_every_window_the_pulse_latches_nothing(tmp_path: Path, windows: dict[str, np.ndarray]) -> None:
    bias = 0.5 * float(windows["off"].min())  # below every spot's switch-off: no bright state to hold
    pulsed = measure("map", {**PULSE, "density_kw_cm2": bias}, tmp_path / "below.h5")
    assert not pulsed["bright"].astype(bool).any()
