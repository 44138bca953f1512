"""The GUI's command-line options, without importing Qt (``avalab gui`` registers them cheaply)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_gui_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--rig", default="sim",
                        help="'sim' (simulated rig, real-time clock; default) or a rig TOML file")
    parser.add_argument("--clock", choices=("real", "virtual"), default="real",
                        help="simulated rig only: wall-clock time (default) or virtual time "
                             "(a sweep runs as fast as the physics computes)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder for run files")
    parser.add_argument("--settings", type=Path, default=None,
                        help="INI file for window layout and form values (default: per user; "
                             "also $AVALAB_GUI_SETTINGS)")
    parser.add_argument("--poll-hz", type=float, default=3.0, help="instrument panel refresh rate")
    return parser


def gui_argv(args: argparse.Namespace) -> list[str]:
    """The parsed options back as an argument list for ``gui.app.main``."""
    argv = ["--rig", str(args.rig), "--clock", args.clock, "--poll-hz", str(args.poll_hz)]
    if args.data_dir is not None:
        argv += ["--data-dir", str(args.data_dir)]
    if args.settings is not None:
        argv += ["--settings", str(args.settings)]
    return argv
