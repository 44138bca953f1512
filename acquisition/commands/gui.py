"""``avalab gui``: the PyQt6 application, imported only when asked for (Qt is heavy)."""
from __future__ import annotations

import argparse
import importlib
from typing import Any

from acquisition.cli import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gui", help="start the graphical application")
    parser.add_argument("gui_args", nargs=argparse.REMAINDER, help="options passed to the GUI")
    parser.set_defaults(handler=gui_command)


def gui_command(args: argparse.Namespace) -> int:
    try:
        app = importlib.import_module("gui.app")
    except ImportError as exc:
        raise UsageError(f"gui=gui.app cannot be imported ({exc}); allowed: an installation with PyQt6 "
                         "and the gui package") from None
    return int(app.main(list(args.gui_args)) or 0)
