"""Fixtures of the fault-injection suite (the harness itself: fault_harness.py)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_harness import FaultOutcome, run_with_fault
from sim_calibration import measure_sim_calibration


@pytest.fixture(scope="session")
def fault_calibration_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibration measured once on the plain simulated rig (same optics as the emulated one)."""
    return measure_sim_calibration(tmp_path_factory.mktemp("fault_calibration"))


@pytest.fixture
def fault_run(fault_calibration_dir: Path, tmp_path: Path) -> Iterator[Any]:
    def run(experiment: str, params: dict[str, Any], role: str, fault: str,
            moment: str | int) -> FaultOutcome:
        return run_with_fault(fault_calibration_dir, tmp_path, experiment, params, role, fault, moment)
    yield run
