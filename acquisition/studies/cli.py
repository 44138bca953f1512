"""``avalab study SPEC.toml``: a parameter map run in parallel on the simulated rig, reduced to a
table and heat maps (registered by acquisition.cli)."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from acquisition.campaigns.cli import (_print_errors, campaign_folder_problem, load_file_rig, open_runner,
                                       parallel_rig_problem, parse_overrides, run_stoppable)
from acquisition.campaigns.spec import CampaignError


def register(subparsers: Any) -> None:
    study = subparsers.add_parser(
        "study", help="a parameter map on the simulated rig: table, heat maps, HTML report",
        description="Expand the study's axes like a campaign loop, run every point in parallel on "
                    "dask workers, then write STUDY/report: study.csv, map_*.png, index.html.")
    study.add_argument("file", type=Path, help="study file (TOML)")
    study.add_argument("--rig", default=None, help="sim (default) or a fully simulated rig file")
    study.add_argument("--out", type=Path, default=None, help="study folder (default: studies/<name>)")
    study.add_argument("--workers", type=int, default=None, metavar="N",
                       help="local dask worker processes (default: the number of cores)")
    study.add_argument("--scheduler", default=None, metavar="ADDRESS", help="an existing dask cluster")
    study.add_argument("--resume", action="store_true", help="keep the points already computed")
    study.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                       help="override a [vars] entry (VALUE in TOML syntax)")
    study.add_argument("--json", action="store_true", help="one JSON object on stdout")
    study.set_defaults(handler=study_command)


def study_command(args: argparse.Namespace) -> int:
    from acquisition.calibration import CalibrationStore
    from acquisition.campaigns.checks import experiment_checker
    from acquisition.experiments import EXPERIMENTS
    from acquisition.interlocks import temperature_range_k
    from acquisition.studies.report import write_study_report
    from acquisition.studies.spec import load_study

    try:
        rig_name, rig = load_file_rig(args.file, args.rig)
    except ValueError as exc:
        print(f"avalab: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    problem = parallel_rig_problem(rig_name, rig)
    if problem is not None:
        print(f"avalab: error: {problem}", file=sys.stderr)
        return 2
    store = CalibrationStore()

    def parameters(name: str) -> list[str] | None:
        return EXPERIMENTS[name].schema.names if name in EXPERIMENTS else None

    try:
        study = load_study(args.file, parameters, experiment_checker(rig, store), temperature_range_k(rig),
                           parse_overrides(args.set))
    except CampaignError as exc:
        _print_errors(args.file, exc.errors)
        return 2
    folder = args.out or Path("studies") / study.campaign.name
    problem = campaign_folder_problem(folder)
    if problem is not None:
        print(f"avalab: error: out={folder}: {problem}; allowed: a writable folder", file=sys.stderr)
        return 2
    workers = args.workers if args.workers is not None or args.scheduler else (os.cpu_count() or 1)
    with contextlib.ExitStack() as stack:
        runner = open_runner(stack, study.campaign, rig, store, folder, workers, args.scheduler)
        if isinstance(runner, int):
            return runner
        result = run_stoppable(args.file, runner, runner.engine, args.resume)
    if isinstance(result, int):
        return result
    report = write_study_report(study, folder, rig.loaded_config.sample)
    if args.json:
        print(json.dumps({"study": study.campaign.name, "folder": str(folder), "points": len(report.rows),
                          "table": str(report.table), "page": str(report.page),
                          "maps": [str(p) for p in report.maps]}))
    else:
        print(f"study {study.campaign.name!r}: {len(report.rows)} point(s); report {report.page} "
              f"({len(report.maps)} maps, table {report.table})")
    return 0

