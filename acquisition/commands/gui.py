"""``avalab gui``: the PyQt6 application, imported only when asked for (Qt is heavy)."""
from __future__ import annotations

import argparse
import importlib
from typing import Any

from acquisition.cli import UsageError


def register(subparsers: Any) -> None:
    from gui.options import add_gui_arguments  # Qt-free: the GUI's options without loading Qt

    parser = subparsers.add_parser("gui", help="start the graphical application",
                                   description="The operator window; with no rig it opens on the "
                                               "simulated rig (wall-clock time).")
    add_gui_arguments(parser)
    parser.set_defaults(handler=gui_command)


def gui_command(args: argparse.Namespace) -> int:
    try:
        app = importlib.import_module("gui.app")
    except ImportError as exc:
        raise UsageError(f"gui=gui.app cannot be imported ({exc}); allowed: an installation with PyQt6 "
                         "and the gui package") from None
    from gui.options import gui_argv
    # the global -v/-vv applies to the GUI's logging too
    return int(app.main(gui_argv(args) + ["-v"] * int(getattr(args, "verbose", 0) or 0)) or 0)
