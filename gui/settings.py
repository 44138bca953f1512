"""Where the GUI keeps its persistent state (window layout, last form values, data folder).

The location is overridable (argument or ``AVALAB_GUI_SETTINGS``) so that tests and several lab
PCs sharing one home directory never clobber each other's layout.
"""
from __future__ import annotations

import os
from pathlib import Path

from PyQt6.QtCore import QSettings

#: environment variable naming an INI file to use instead of the per-user default
SETTINGS_ENV = "AVALAB_GUI_SETTINGS"


def open_settings(path: Path | str | None = None) -> QSettings:
    """QSettings backed by ``path`` (INI), else ``$AVALAB_GUI_SETTINGS``, else the user default."""
    chosen = path if path is not None else os.environ.get(SETTINGS_ENV)
    if chosen:
        Path(chosen).parent.mkdir(parents=True, exist_ok=True)
        return QSettings(str(chosen), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "avalab", "gui")
