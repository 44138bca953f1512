"""``avalab campaign FILE`` and ``avalab report CAMPAIGN`` (registered by acquisition.cli)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from acquisition import exit_codes
from acquisition.campaigns.dryrun import dry_run_dict, format_dry_run, format_duration, plan_dry_run
from acquisition.campaigns.prepare import ensure_registered
from acquisition.campaigns.runner import CampaignProgress, CampaignRunner, CampaignStopped
from acquisition.campaigns.spec import Campaign, CampaignError, load_campaign
from acquisition.cli import one_line, report_safe_state


def register(subparsers: Any) -> None:
    campaign = subparsers.add_parser(
        "campaign", help="run a scripted measurement campaign (TOML file)",
        description="Validate the whole file first, then run every step, one HDF5 file per run "
                    "plus a SQLite index; --resume continues after a crash or abort.")
    campaign.add_argument("file", type=Path, help="campaign file (TOML)")
    campaign.add_argument("--rig", default=None, help="sim (default) or a rig file; overrides the file's rig")
    campaign.add_argument("--out", type=Path, default=None,
                          help="campaign folder (default: campaigns/<name>)")
    campaign.add_argument("--resume", action="store_true",
                          help="continue from the first incomplete step of an earlier run of this campaign")
    campaign.add_argument("--dry-run", action="store_true",
                          help="print the plan, its duration and every setting range; move nothing")
    campaign.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                          help="override a [vars] entry (VALUE in TOML syntax), e.g. --set n_spots=5")
    campaign.add_argument("--json", action="store_true", help="one JSON object on stdout")
    campaign.set_defaults(handler=campaign_command)

    report = subparsers.add_parser("report", help="write plots, CSV and HTML for a campaign folder")
    report.add_argument("campaign", type=Path, help="campaign folder (holds campaign.sqlite)")
    report.add_argument("--out", type=Path, default=None, help="report folder (default: CAMPAIGN/report)")
    report.add_argument("--json", action="store_true", help="one JSON object on stdout")
    report.set_defaults(handler=report_command)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``VAR=VALUE`` pairs, VALUE parsed as a TOML value (numbers, strings, lists)."""
    import tomllib
    overrides: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise CampaignError([f"--set {pair!r}: expected VAR=VALUE"])
        try:
            overrides[name.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[name.strip()] = text  # a bare word is a string
    return overrides


def _validate(path: Path, rig: Any, overrides: dict[str, Any] | None = None,
              calibration_store: Any | None = None) -> Campaign:
    """The whole file checked on ``rig``: every unit's params against the schema, the rig, and
    (``calibration_store``) the experiment's preflight against the stored calibrations."""
    from acquisition.campaigns.checks import experiment_checker
    from acquisition.experiments import EXPERIMENTS
    from acquisition.interlocks import temperature_range_k
    ensure_registered()
    return load_campaign(path, experiment_names=list(EXPERIMENTS),
                         schema_check=experiment_checker(rig, calibration_store),
                         overrides=overrides, temperature_range_k=temperature_range_k(rig))


def _progress_printer(stream: Any) -> Any:
    def show(progress: CampaignProgress) -> None:
        percent = 100.0 * progress.done / max(progress.total, 1)
        eta = format_duration(progress.eta_s) if progress.eta_s is not None else "?"
        step = (f" | step {progress.step_index + 1}: {progress.step_done + 1}/{progress.step_total}"
                if progress.step_index is not None else "")
        stream.write(f"\r[{progress.done}/{progress.total} {percent:5.1f}%] {progress.message[:48]:<48}"
                     f"{step} | elapsed {format_duration(progress.elapsed_s)} ETA {eta}   ")
        if progress.unit is None:
            stream.write("\n")
        stream.flush()
    return show


def _print_errors(file: Path, errors: list[str]) -> None:
    """One ``avalab: error:`` line per problem; a file-level one (``file=...: cannot be read``)
    names the file itself, the others are prefixed with it."""
    for line in errors:
        prefix = "" if line.startswith("file=") else f"{file}: "
        print(f"avalab: error: {one_line(prefix + line)}", file=sys.stderr)


def _rig_named_in(file: Path) -> str:
    """The rig a campaign file names (read without validation, just for that); "sim" when it
    names none or cannot be read: validation then reports the file's problems, each in one line."""
    import tomllib

    try:
        rig = tomllib.loads(file.read_text(encoding="utf-8")).get("rig", "sim")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "sim"
    return rig if isinstance(rig, str) and rig.strip() else "sim"


def campaign_command(args: argparse.Namespace) -> int:
    from acquisition.cli import UsageError, connect_checked
    from acquisition.rig import load_rig
    rig_name = args.rig if args.rig is not None else _rig_named_in(args.file)
    try:
        rig = load_rig(rig_name if rig_name == "sim" else Path(rig_name))
    except ValueError as exc:
        print(f"avalab: error: {one_line(exc)}", file=sys.stderr)
        return 2
    from acquisition.calibration import CalibrationStore
    store = CalibrationStore()
    try:
        campaign = _validate(args.file, rig, parse_overrides(args.set), store)
    except CampaignError as exc:
        _print_errors(args.file, exc.errors)
        return 2
    folder = args.out or Path("campaigns") / campaign.name
    problem = campaign_folder_problem(folder)
    if problem is not None:
        print(f"avalab: error: out={folder}: {problem}; allowed: a writable folder (it may exist: "
              "--resume) in a directory that exists or can be created", file=sys.stderr)
        return 2
    if args.dry_run:
        dry = plan_dry_run(campaign)
        if args.json:
            print(json.dumps(dry_run_dict(campaign, dry)))
        else:
            print(format_dry_run(campaign, dry))
        return 0
    try:
        connect_checked(rig)
    except UsageError as exc:
        print(f"avalab: error: {one_line(exc)}", file=sys.stderr)
        return 2
    from acquisition.engine import Engine
    engine = Engine(rig, store)
    runner = CampaignRunner(campaign, engine, folder, on_progress=_progress_printer(sys.stderr))

    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        # honoured between units too: no further unit starts after this
        runner.request_stop(f"{signal.Signals(signum).name} received")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    closing: dict[str, str] = {}
    try:
        result = runner.run(resume=args.resume)
    except CampaignError as exc:  # the runner's own check before the first unit: nothing moved
        _print_errors(args.file, exc.errors)
        return 2
    except CampaignStopped as exc:
        closing = engine.close().failures
        return _stopped_exit_code(exc, received, closing)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        closing = closing or engine.close().failures
    if closing:
        report_safe_state(closing)
        return exit_codes.SAFE_STATE_FAILED
    from acquisition.campaigns.index import CampaignIndex
    from acquisition.campaigns.report import sweep_statistics
    index = CampaignIndex(folder)
    try:
        statistics = sweep_statistics(index.runs("complete"))
    finally:
        index.close()
    output = {"campaign": campaign.name, "folder": str(folder), "completed": len(result.completed),
              "skipped": len(result.skipped), "reconciled": len(result.reconciled),
              "wall_s": time.monotonic() - started, "statistics": statistics}
    if args.json:
        print(json.dumps(output))
    else:
        print(f"campaign {campaign.name!r}: {len(result.completed)} unit(s) run, "
              f"{len(result.skipped)} already complete; folder {folder}")
        for key, stats in statistics.items():
            spread = (f"std {stats['std']:.3f}" if "std" in stats
                      else f"binomial standard error {stats['stderr']:.3f}")
            print(f"  {key:<26} mean {stats['mean']:.3f}  {spread}  (n={stats['n']})")
    return 0


def _stopped_exit_code(exc: CampaignStopped, received: list[int], closing: dict[str, str]) -> int:
    """The most urgent of: an instrument not safe, a run file not written, the operator's
    signal, a unit that failed (exit_codes)."""
    finished = exc.finished
    failures = {**(finished.safe_state_failures if finished is not None else {}), **closing}
    if failures:
        print(f"\navalab: campaign stopped: {exc}", file=sys.stderr)
        report_safe_state(failures)
        return exit_codes.SAFE_STATE_FAILED
    if finished is not None and finished.storage_error:
        print(f"\navalab: campaign stopped: {exc}", file=sys.stderr)
        return exit_codes.STORAGE_FAILED
    if received:  # the operator's signal, as a single run reports it (130 / 143)
        name = signal.Signals(received[0]).name
        print(f"\navalab: {name}: campaign aborted, instruments safe ({exc}); --resume continues it",
              file=sys.stderr)
        return 128 + received[0]
    print(f"\navalab: campaign stopped: {exc}", file=sys.stderr)
    return exit_codes.CAMPAIGN_STOPPED


def campaign_folder_problem(folder: Path) -> str | None:
    """Why the campaign's folder (index, run files) cannot be written (None: it can)."""
    from acquisition.storage.naming import directory_write_problem, parent_write_problem

    if folder.exists():
        return directory_write_problem(folder) if folder.is_dir() else f"{folder} is not a directory"
    return parent_write_problem(folder / "campaign.sqlite")


def report_command(args: argparse.Namespace) -> int:
    from acquisition.campaigns.report import write_report
    try:
        report = write_report(args.campaign, args.out)
    except ValueError as exc:
        print(f"avalab: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the report folder cannot be written
        print(f"avalab: error: out={args.out}: {exc.strerror or exc}; allowed: a writable folder",
              file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"folder": str(report.folder), "page": str(report.page),
                          "figures": [str(p) for p in report.figures], "table": str(report.table),
                          "statistics": report.statistics}))
    else:
        print(f"report: {report.page} ({len(report.figures)} figures, table {report.table})")
    return 0
