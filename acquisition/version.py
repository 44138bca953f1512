"""The software version, from the installed package's metadata: what ``avalab --version`` prints
and what every run file records."""
from __future__ import annotations

import importlib
import importlib.metadata

DISTRIBUTION = "avalab"


def version() -> str:
    """The installed distribution's version (``importlib.metadata``), else the package's
    ``__version__``, else ``"unknown"`` (a source tree that was never installed)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        package = importlib.import_module("acquisition")
    except ImportError:
        return "unknown"
    return str(getattr(package, "__version__", None) or "unknown")


def software_version() -> str:
    """``"avalab <version>"``, as run files record it."""
    return f"{DISTRIBUTION} {version()}"
