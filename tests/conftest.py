"""Suite-wide settings: headless Qt and a private avalab home so tests never touch ~/.local."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
