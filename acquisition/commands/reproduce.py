"""``avalab reproduce [--only NAME ...] [--out DIR] [--quick] [--workers N] [--json]``: measure the
published figures on the simulated rig through campaigns and write the report
(``acquisition.reproduce``).

Exit codes: 0 every row was measured (pass or fail is the report's content, not an error);
6 at least one row could not be measured (a campaign did not complete, or its analysis gave no
value); 2 bad input, nothing run; 130/143 interrupted.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from acquisition.cli import UsageError

EXIT_NOT_MEASURED = 6


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reproduce", help="measure the published figures on the simulated rig and write the report",
        description="Run each published experiment (physics.md) on the simulated rig as an operator "
                    "would (campaign files, run files, analysis of the stored runs) and write a table "
                    "published | simulated | tolerance | pass/fail as Markdown, HTML with figures, and JSON. "
                    "Exit 0 when every row was measured (fails included), 6 when a row could not be.")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="only these groups (see --list)")
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default: ./reproduce_<timestamp>); must be new or empty")
    parser.add_argument("--quick", action="store_true",
                        help="a cheap subset (one short run per group where cheap): minutes, not an hour")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="run each campaign's units on a local dask cluster of N processes")
    parser.add_argument("--from", dest="from_folder", type=Path, default=None, metavar="DIR",
                        help="measure nothing: evaluate the run files an earlier reproduce left in DIR "
                             "again and rewrite its report there")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("--json", action="store_true", help="print ONE JSON object (the report) on stdout")
    parser.set_defaults(handler=reproduce_command)


def _out_folder(out: Path | None) -> Path:
    folder = out if out is not None else Path(f"reproduce_{time.strftime('%Y%m%d-%H%M%S')}")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"out={folder} exists and is not an empty folder; allowed: a new or empty folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"out={folder} cannot be created ({exc.strerror}); allowed: a writable folder") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"out={folder} is not writable; allowed: a writable folder")
    return folder


def reproduce_command(args: argparse.Namespace) -> int:
    from acquisition.reproduce import GROUPS, selected

    if args.list:
        for group in GROUPS:
            sys.stdout.write(f"{group.name:<12} {'quick ' if group.quick else '      '}{group.title}\n")
        return 0
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise UsageError(f"workers={args.workers} is outside the allowed range [1, 64]")
    try:
        groups = selected(args.only, args.quick)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.from_folder is not None:
        return _reevaluate(groups, args)
    folder = _out_folder(args.out).resolve()
    # the reproduction keeps its own power calibration (its rig reaches the chopped sweeps' peak
    # densities): the operator's stored calibrations are left alone, dask workers see it too
    previous_home = os.environ.get("AVALAB_HOME")
    os.environ["AVALAB_HOME"] = str(folder / "home")
    try:
        return _run(groups, folder, args)
    finally:
        if previous_home is None:
            os.environ.pop("AVALAB_HOME", None)
        else:
            os.environ["AVALAB_HOME"] = previous_home


def _reevaluate(groups: list[Any], args: argparse.Namespace) -> int:
    """``--from DIR``: the rows and figures again from the run files in DIR (every group with a
    campaign there, or those of ``--only``), the report rewritten there; quick as recorded in
    DIR/report.json (full when there is none)."""
    import json

    from acquisition.reproduce import GROUPS
    from acquisition.reproduce.runner import evaluate_group

    folder = args.from_folder.resolve()
    present = [g for g in (groups if args.only else GROUPS)
               if (folder / "campaigns" / g.name / "campaign.sqlite").exists()]
    if not present:
        raise UsageError(f"from={args.from_folder} holds no campaign of a reproduction group; allowed: "
                         "the folder of an earlier avalab reproduce")
    try:
        quick = bool(json.loads((folder / "report.json").read_text(encoding="utf-8")).get("quick", False))
    except (OSError, ValueError):
        quick = False
    results = [evaluate_group(g, folder, quick) for g in present]
    return _finish(results, folder, quick, args)


def _run(groups: list[Any], folder: Path, args: argparse.Namespace) -> int:
    from acquisition.reproduce.report import counts
    from acquisition.reproduce.runner import GroupFailed, calibrate, run_group, write_rig

    def line(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    try:
        calibration = calibrate(folder, write_rig(folder, "calibration", {}))
    except GroupFailed as exc:
        line(f"avalab: error: {exc}")
        return EXIT_NOT_MEASURED
    line(f"reproduce: power calibration {calibration}")
    results = []
    for group in groups:
        line(f"reproduce: {group.name}: {group.title}")
        result = run_group(group, folder, args.quick, args.workers, line)
        results.append(result)
        tally = counts([result])
        line(f"reproduce: {group.name}: {tally['pass']} pass, {tally['fail']} fail, "
             f"{tally['not measured']} not measured ({result.wall_s:.0f} s)"
             + (f"; {result.problem}" if result.problem else ""))
    return _finish(results, folder, args.quick, args)


def _finish(results: list[Any], folder: Path, quick: bool, args: argparse.Namespace) -> int:
    """Write the report, print it (table or JSON) and return the exit code."""
    from acquisition.cli_output import dumps
    from acquisition.reproduce.base import NOT_MEASURED
    from acquisition.reproduce.report import markdown_table, report_dict, write_all

    paths = write_all(results, folder, quick)
    if args.json:
        sys.stdout.write(dumps({**report_dict(results, {"quick": quick}), "folder": str(folder),
                                "files": {k: str(v) for k, v in paths.items()}}) + "\n")
    else:
        sys.stdout.write(markdown_table(results) + "\n")
        sys.stdout.write(f"report: {paths['html']}\n")
    unmeasured = [row for r in results for row in r.rows if row.status == NOT_MEASURED and not row.outside_rig]
    return EXIT_NOT_MEASURED if unmeasured else 0
