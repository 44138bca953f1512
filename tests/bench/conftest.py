"""Fixtures of the bench tests: a connected, fully simulated rig on virtual time."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from acquisition.rig import Rig, RigConfig, load_rig


@pytest.fixture
def sim_rig() -> Iterator[Rig]:
    rig = load_rig("sim")
    rig.connect_all()
    yield rig
    rig.safe_state_all()
    rig.close_all()


def build_rig(config: RigConfig) -> Rig:
    rig = Rig(config)
    rig.connect_all()
    return rig
