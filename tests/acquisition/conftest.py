"""Fixtures for engine/experiment/CLI tests: the simulated rig on virtual time, an engine, and an
event recorder that lets a test wait for "the run paused" without sleeping blindly."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.rig import Rig, load_rig
from engine_helpers import EventRecorder
from sim_calibration import measure_sim_calibration


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = load_rig("sim")
    yield rig
    rig.safe_state_all()
    rig.close_all()


@pytest.fixture(scope="session")
def shared_calibration_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One calibration for the session (the sim rig is the same each time), measured once."""
    return measure_sim_calibration(tmp_path_factory.mktemp("calibration"))


@pytest.fixture
def engine(rig: Rig, shared_calibration_dir: Path) -> Iterator[Engine]:
    engine = Engine(rig, CalibrationStore(shared_calibration_dir))
    yield engine
    engine.close()


@pytest.fixture
def recorder(engine: Engine) -> Iterator[EventRecorder]:
    events = EventRecorder()
    engine.subscribe(events)
    yield events
    events.release()  # never leave the worker held, whatever the test did
