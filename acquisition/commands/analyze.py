"""``avalab analyze RUN.h5``: the run's figures recomputed from its stored points."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from acquisition.cli import UsageError
from acquisition.cli_output import dumps, human_summary


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("analyze", help="re-analyse a run file (same figures as the run)",
                                   description="Recompute a run's figures from its stored points.")
    parser.add_argument("run_file", type=Path, help="an avalab run file (.h5)")
    parser.add_argument("--noise-cps", type=str, default=None,
                        help="I_noise for the contrast [cps] (default: the run's own)")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG plot of the run")
    parser.add_argument("--json", action="store_true", help="print ONE JSON object on stdout")
    parser.set_defaults(handler=analyze_command)


#: no detector noise exceeds the largest count rate a rig may allow (limits.max_count_rate_cps)
MAX_NOISE_CPS = 1e9


def _noise(text: str | None) -> float | None:
    if text is None:
        return None
    allowed = f"allowed range (0, {MAX_NOISE_CPS:g}] cps"
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"noise_cps={text!r} is not a number; {allowed}") from None
    if not math.isfinite(value):
        raise UsageError(f"noise_cps={text} is not a finite number; {allowed}")
    if not 0 < value <= MAX_NOISE_CPS:
        raise UsageError(f"noise_cps={value:g} cps is outside the {allowed}")
    return value


def open_run_checked(path: Path) -> Any:
    from acquisition.storage import open_run

    if not path.exists():
        raise UsageError(f"run_file={path} does not exist; allowed: an avalab run file (.h5)")
    try:
        return open_run(path)
    except (ValueError, OSError, KeyError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"run_file={path} is not a readable run file ({detail}); "
                         "allowed: an avalab run file (.h5)") from None


def analyze_command(args: argparse.Namespace) -> int:
    from acquisition.reanalysis import reanalyze

    from acquisition.commands.run import check_plot_path, write_plot

    noise = _noise(args.noise_cps)
    check_plot_path(args.plot)
    run = open_run_checked(args.run_file)
    try:
        figures = reanalyze(run, noise)
    except (KeyError, ValueError) as exc:
        raise UsageError(f"run_file={args.run_file} holds no data to analyse ({str(exc).splitlines()[0]}); "
                         "allowed: a run with measured points") from None
    result = {"experiment": run.experiment, "status": run.status, "run_id": run.run_id,
              **figures, "run_file": str(args.run_file)}
    plot_error = write_plot(args.run_file, args.plot) if args.plot is not None else None
    if args.plot is not None:
        result["plot_file" if plot_error is None else "plot_error"] = plot_error or str(args.plot)
    sys.stdout.write((dumps(result) if args.json else human_summary(result)) + "\n")
    sys.stdout.flush()
    if plot_error is not None:
        sys.stderr.write(f"avalab: error: {plot_error}\n")
        return 1
    return 0
