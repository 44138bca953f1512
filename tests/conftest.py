"""Suite-wide settings: headless Qt, a private avalab home so tests never touch ~/.local, and
property tests that never race the wall clock."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# CI is a loaded 2-core machine: hypothesis's default 200 ms deadline per example and its
# too-slow health check would fail a correct property test whenever the box is busy
settings.register_profile("avalab", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("avalab")


@pytest.fixture(autouse=True, scope="session")
def _private_avalab_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("avalab_home")
    previous = os.environ.get("AVALAB_HOME")
    os.environ["AVALAB_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("AVALAB_HOME", None)
    else:
        os.environ["AVALAB_HOME"] = previous
