"""One power calibration of the plain simulated rig, measured into a directory (the fixtures of
several test folders each keep their own, at their own scope, so no test sees another's store)."""
from __future__ import annotations

from pathlib import Path

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.events import RunStatus
from acquisition.experiments import POWER_CALIBRATION, providing
from acquisition.rig import load_rig


def measure_sim_calibration(directory: Path) -> Path:
    """Run the power calibration on a fresh simulated rig, store it in ``directory``, return it."""
    rig = load_rig("sim")
    engine = Engine(rig, CalibrationStore(directory))
    finished = engine.start(providing(POWER_CALIBRATION).name, {}).wait(600)
    engine.close()
    rig.close_all()
    assert finished.status == RunStatus.COMPLETE, finished.reason
    return directory
