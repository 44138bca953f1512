"""``avalab campaign FILE`` and ``avalab report CAMPAIGN`` (registered by acquisition.cli)."""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from acquisition import exit_codes
from acquisition.campaigns.dryrun import dry_run_dict, format_dry_run, format_duration, plan_dry_run
from acquisition.campaigns.runner import CampaignProgress, CampaignRunner, CampaignStopped
from acquisition.campaigns.spec import Campaign, CampaignError, load_campaign
from acquisition.cli import one_line, report_safe_state
from acquisition.operator_signals import OperatorSignals, exit_code


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
    campaign.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    campaign.add_argument("--workers", type=int, default=None, metavar="N",
                          help="fully simulated rig only: run units in parallel on a local dask "
                               "cluster of N worker processes (same figures as a serial run)")
    campaign.add_argument("--scheduler", default=None, metavar="ADDRESS",
                          help="fully simulated rig only: run units on the dask cluster at ADDRESS "
                               "(workers must see the campaign folder and AVALAB_HOME)")
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
    return load_campaign(path, experiment_names=list(EXPERIMENTS),
                         schema_check=experiment_checker(rig, calibration_store),
                         overrides=overrides, temperature_range_k=temperature_range_k(rig))


def _progress_printer(stream: Any, enabled: bool = True) -> Any:
    """The campaign's progress line on ``stream``: redrawn in place on a terminal; in logs and
    pipes (cron, nohup) one line per finished unit, so an overnight log stays readable; None with
    ``--no-progress``."""
    if not enabled:
        return None
    interactive = bool(getattr(stream, "isatty", lambda: False)())
    last_done: list[int] = []

    def show(progress: CampaignProgress) -> None:
        # the planned work done (running units' points included) when the runner knows it
        share = progress.fraction if progress.fraction is not None else progress.done / max(progress.total, 1)
        percent = 100.0 * share
        eta = format_duration(progress.eta_s) if progress.eta_s is not None else "?"
        step = (f" | step {progress.step_index + 1}: {progress.step_done + 1}/{progress.step_total}"
                if progress.step_index is not None else "")
        text = (f"[{progress.done}/{progress.total} {percent:5.1f}%] {progress.message[:48]:<48}"
                f"{step} | elapsed {format_duration(progress.elapsed_s)} ETA {eta}")
        if interactive:
            stream.write(f"\r{text}   " + ("\n" if progress.ended else ""))
        elif progress.ended or last_done != [progress.done]:
            last_done[:] = [progress.done]
            stream.write(text.rstrip() + "\n")
        stream.flush()
    return show


def _print_errors(file: Path, errors: list[str]) -> None:
    """One ``avalab: error:`` line per problem; a file-level one (``file=...: cannot be read``)
    names the file itself, the others are prefixed with it."""
    for line in errors:
        prefix = "" if line.startswith("file=") else f"{file}: "
        print(f"avalab: error: {one_line(prefix + line)}", file=sys.stderr)


def load_file_rig(file: Path, rig_arg: str | None) -> tuple[str, Any]:
    """The rig ``--rig`` names, else the one the (campaign or study) file names, else sim:
    (its name, the Rig). ValueError (one line) if it cannot be loaded."""
    from acquisition.rig import load_rig
    rig_name = rig_arg
    if rig_name is None:
        # the file may name its rig; read it without validation just for that
        import tomllib
        try:
            rig_name = tomllib.loads(file.read_text(encoding="utf-8")).get("rig", "sim")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            rig_name = "sim"
        if not isinstance(rig_name, str) or not rig_name.strip():
            rig_name = "sim"  # the file's validation reports its rig entry, in one line
    return str(rig_name), load_rig(rig_name if rig_name == "sim" else Path(rig_name))


def campaign_command(args: argparse.Namespace) -> int:
    try:
        rig_name, rig = load_file_rig(args.file, args.rig)
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
    parallel = args.workers is not None or args.scheduler is not None
    if parallel and (problem := parallel_rig_problem(rig_name, rig)) is not None:
        print(f"avalab: error: {problem}", file=sys.stderr)
        return 2
    from acquisition.cli import UsageError, connect_checked
    try:
        connect_checked(rig)  # an unreachable instrument is bad input: before the first unit
    except UsageError as exc:
        print(f"avalab: error: {one_line(exc)}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        runner = open_runner(stack, campaign, rig, store, folder, args.workers, args.scheduler,
                             progress=not args.no_progress)
        if isinstance(runner, int):
            return runner
        return _run_campaign(args, campaign, runner.engine, runner, folder)


def parallel_rig_problem(rig_name: str, rig: Any) -> str | None:
    """Why units of ``rig`` cannot run on dask workers (one line), None when they can."""
    from acquisition.campaigns.isolation import isolation_problem
    problem = isolation_problem(rig)
    if problem is None:
        return None
    return (f"rig={rig_name}: {problem}; allowed with --workers/--scheduler: a fully simulated rig on "
            "the virtual clock (a real rig runs its units serially)")


def open_runner(stack: contextlib.ExitStack, campaign: Campaign, rig: Any, store: Any, folder: Path,
                workers: int | None, scheduler: str | None,
                progress: bool = True) -> Any:
    """A serial runner, or (``workers``/``scheduler``) a parallel one on a dask client kept open
    by ``stack``; 2 after one line on stderr when the client cannot be had. ``progress``: the
    progress line on stderr."""
    on_progress = _progress_printer(sys.stderr, enabled=progress)
    from acquisition.engine import Engine
    engine = Engine(rig, store)
    if workers is None and scheduler is None:
        return CampaignRunner(campaign, engine, folder, on_progress=on_progress)
    from acquisition.campaigns.parallel import ParallelCampaignRunner, ParallelRefused, dask_client
    try:
        client = stack.enter_context(dask_client(workers, scheduler))
    except ParallelRefused as exc:
        engine.close()
        print(f"avalab: error: {exc}", file=sys.stderr)
        return 2
    return ParallelCampaignRunner(campaign, engine, folder, client, on_progress=on_progress)


def run_stoppable(file: Path, runner: CampaignRunner, engine: Any, resume: bool) -> Any:
    """Run ``runner`` with Ctrl+C / SIGTERM stopping it safely; the CampaignResult, or the exit
    code after one line on stderr (exit_codes: 2 refused before anything moved, 4 an instrument
    not safe, 5 a run file not written, 128+signal, 3 stopped)."""
    signals = OperatorSignals("campaign", runner.request_stop, runner.emergency_stop,
                              lambda line: print("\n" + line, file=sys.stderr, flush=True))
    try:
        with signals:
            return runner.run(resume=resume)
    except CampaignError as exc:  # the runner's own check before the first unit: nothing moved
        _print_errors(file, exc.errors)
        return 2
    except CampaignStopped as exc:
        return _stopped_exit_code(exc, signals.received, engine.close().failures)
    finally:
        engine.close()


def _stopped_exit_code(exc: CampaignStopped, received: int | None, closing: dict[str, str]) -> int:
    """The most urgent of: an instrument not safe, a run file not written, the operator's
    signal, a unit that failed (acquisition.exit_codes)."""
    finished = exc.finished
    failures = {**(finished.safe_state_failures if finished is not None else {}), **closing}
    if failures:
        print(f"\navalab: campaign stopped: {exc}", file=sys.stderr)
        report_safe_state(failures)
        return exit_codes.SAFE_STATE_FAILED
    if finished is not None and finished.storage_error:
        print(f"\navalab: campaign stopped: {exc}", file=sys.stderr)
        return exit_codes.STORAGE_FAILED
    if received is not None:  # the operator's signal, as a single run reports it (130 / 143)
        name = signal.Signals(received).name
        print(f"avalab: {name}: campaign aborted, instruments safe ({exc}); --resume continues it",
              file=sys.stderr)
        return exit_code(received)
    print(f"\navalab: campaign stopped: {exc}", file=sys.stderr)
    return exit_codes.CAMPAIGN_STOPPED


def _run_campaign(args: argparse.Namespace, campaign: Campaign, engine: Any, runner: CampaignRunner,
                  folder: Path) -> int:
    started = time.monotonic()
    result = run_stoppable(args.file, runner, engine, args.resume)
    if isinstance(result, int):
        return result
    closing = engine.close().failures  # closed already: the report of that close
    if closing:
        report_safe_state(closing)
        return exit_codes.SAFE_STATE_FAILED
    from acquisition.campaigns.index import CampaignIndex
    from acquisition.campaigns.report import campaign_statistics
    index = CampaignIndex(folder)
    try:
        statistics = campaign_statistics(index.runs("complete"))
    finally:
        index.close()
    output = {"campaign": campaign.name, "folder": str(folder), "completed": len(result.completed),
              "skipped": len(result.skipped), "reconciled": len(result.reconciled),
              "wall_s": time.monotonic() - started,
              "statistics": statistics}
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
        print(f"avalab: error: {exc}", file=sys.stderr)
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
