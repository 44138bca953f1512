from __future__ import annotations

from pathlib import Path

import pytest

from sim_backends.emulators.hhlib_sim import build_library


@pytest.fixture(scope="session")
def hhlib_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hhlib_sim compiled with the system C compiler for this test session."""
    return build_library(tmp_path_factory.mktemp("hhlib"))
