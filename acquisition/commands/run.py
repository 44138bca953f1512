"""``avalab <experiment>``: one run of any registered experiment (``acquisition.experiments``),
options from its schema (``--dwell-s 0.2``, ``--frequencies-hz 100 500``, ``--refine``).

Order of business, so that bad input never moves anything: parse -> load and validate the rig
file -> validate every parameter against the schema and the rig -> check the output path ->
only then connect and run. SIGINT/SIGTERM abort the run (instruments to their safe state) and
exit 130/143; a second signal makes everything safe at once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from acquisition import exit_codes
from acquisition.cli import UsageError, connect_checked, report_safe_state
from acquisition.cli_output import OperatorResume, ProgressBar, dumps, human_summary
from acquisition.events import RunFinished, RunStatus
from acquisition.interlocks import TEMPERATURE_FIELDS, allowed_temperature_range
from acquisition.operator_signals import OperatorSignals
from acquisition.schema import Parameter
from acquisition.storage.naming import new_run_path

DEFAULT_RUN_DIR = Path("runs")


def option_strings(name: str) -> list[str]:
    dashed = "--" + name.replace("_", "-")
    return [dashed] if "_" not in name else [dashed, "--" + name]


def _help(p: Parameter) -> str:
    parts = [p.label + (f" [{p.unit}]" if p.unit else "")]
    if p.choices:
        parts.append("one of " + ", ".join(map(str, p.choices)))
    elif p.minimum is not None or p.maximum is not None:
        parts.append(f"range [{p.minimum:g}, {p.maximum:g}]" if p.minimum is not None and p.maximum is not None
                     else "")
    parts.append(f"default {p.default!r}")
    if p.help:
        parts.append(p.help)
    return "; ".join(x for x in parts if x).replace("%", "%%")


def add_schema_options(parser: argparse.ArgumentParser, parameters: list[Parameter]) -> None:
    """One option per parameter; values stay text so the schema gives every error message."""
    for p in parameters:
        if p.name == "temperature_k":
            continue  # the common --temperature option
        kwargs: dict[str, Any] = {"dest": p.name, "default": argparse.SUPPRESS, "help": _help(p)}
        if p.kind == "bool":
            kwargs.update(nargs="?", const="true", metavar="BOOL")
        elif p.kind == "float_list":
            kwargs.update(nargs="+", metavar="X")
        else:
            kwargs.update(metavar=p.kind.upper() if not p.choices else "{" + ",".join(map(str, p.choices)) + "}")
        parser.add_argument(*option_strings(p.name), **kwargs)


TEMPERATURE_HELP = {
    "temperature_k": "cryostat setpoint to reach and hold before measuring [K]",
    "temperatures_k": "Setpoints [K], each reached and held in turn",
}


class RigHelpAction(argparse.Action):
    """``-h/--help`` that states the temperature range of the rig given by ``--rig`` (before
    ``--help``; the simulated rig otherwise)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        source = str(getattr(namespace, "rig", "sim") or "sim")
        try:
            rig = load_rig_checked(source, getattr(namespace, "clock", None))
            low, high = allowed_temperature_range(rig)
            rig.close_all()
        except Exception:  # noqa: BLE001 - help must always print; the run reports the rig problem
            rig = None
        if rig is not None:
            for action in parser._actions:  # noqa: SLF001 - argparse keeps no public list
                if action.dest in TEMPERATURE_FIELDS:
                    action.help = (f"{TEMPERATURE_HELP[action.dest]}; allowed range [{low:g}, {high:g}] K "
                                   f"(limits of rig {source})")
        parser.print_help()
        parser.exit()


def add_common_options(parser: argparse.ArgumentParser, with_temperature: bool = True) -> None:
    parser.add_argument("-h", "--help", action=RigHelpAction,
                        help="show this help (temperature range of the --rig given before it) and exit")
    parser.add_argument("--rig", default="sim", help="'sim' (built-in simulated rig) or a rig TOML file")
    parser.add_argument("--clock", choices=("virtual", "real"), default=None,
                        help="override the rig's clock (sim default: virtual, runs faster than real time)")
    if with_temperature:
        parser.add_argument("--temperature", dest="temperature_k", default=argparse.SUPPRESS, metavar="K",
                            help=TEMPERATURE_HELP["temperature_k"] + "; allowed: the rig's limits "
                                 "(min_temperature_k to max_temperature_k)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run file (default: runs/<timestamp>_<experiment>.h5)")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG plot of the run")
    parser.add_argument("--json", action="store_true", help="print ONE JSON object on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def register(subparsers: Any) -> None:
    from acquisition.experiments import listed_experiments

    for experiment in listed_experiments():
        name = experiment.name
        parser = subparsers.add_parser(name, help=experiment.title, description=experiment.title,
                                       add_help=False)
        add_common_options(parser, with_temperature=any(p.name == "temperature_k"
                                                        for p in experiment.schema.parameters))
        add_schema_options(parser, experiment.schema.parameters)
        parser.set_defaults(handler=run_command, experiment_command=name)


def collect_params(args: argparse.Namespace, parameters: list[Parameter]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in parameters:
        if hasattr(args, p.name):
            value = getattr(args, p.name)
            params[p.name] = ",".join(value) if p.kind == "float_list" and isinstance(value, list) else value
    return params


def load_rig_checked(source: str, clock: str | None = None) -> Any:
    """The rig, validated but not connected; any problem is a one-line UsageError."""
    from acquisition.rig import load_rig

    try:
        return load_rig(source if source == "sim" else Path(source), clock=clock)
    except (ValueError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if message.startswith(source):  # the loader names the file first; say which option it was
            message = message[len(source):].lstrip(": ")
        if "allowed" not in message:
            message += "; allowed: 'sim' or a readable rig TOML file (avalab rig template)"
        raise UsageError(f"rig={source}: {message}") from None


def default_out_path(experiment: str) -> Path:
    return new_run_path(DEFAULT_RUN_DIR, experiment)


def check_out_path(out: Path | None, experiment: str) -> Path:
    """The run file path, or a one-line UsageError: it must be new, .h5/.hdf5, and writable (its
    directory exists or can be created, and is writable), all checked before anything moves."""
    from acquisition.storage.naming import OUT_PATH_ALLOWED, out_path_problem

    path = out if out is not None else default_out_path(experiment)
    if path.suffix not in (".h5", ".hdf5"):
        raise UsageError(f"out={path} has suffix {path.suffix!r}; allowed: .h5 or .hdf5")
    problem = out_path_problem(path)
    if problem is not None:
        raise UsageError(f"out={path}: {problem}; {OUT_PATH_ALLOWED}")
    return path


def check_plot_path(plot: Path | None) -> None:
    """A ``--plot`` path that cannot be written is refused before anything moves (UsageError)."""
    from acquisition.storage.naming import PLOT_PATH_ALLOWED, plot_path_problem

    if plot is None:
        return
    if plot.suffix.lower() != ".png":
        raise UsageError(f"plot={plot} has suffix {plot.suffix!r}; allowed: .png")
    problem = plot_path_problem(plot)
    if problem is not None:
        raise UsageError(f"plot={plot}: {problem}; {PLOT_PATH_ALLOWED}")


def write_plot(run_file: Path, plot: Path) -> str | None:
    """Plot ``run_file`` to ``plot``; the one-line reason when that fails (the run file is
    untouched: plotting only reads it)."""
    from acquisition.plotting import plot_run_file

    try:
        plot_run_file(run_file, plot)
    except Exception as exc:  # noqa: BLE001 - any plotting failure is one line, never a traceback
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"plot={plot}: the plot could not be written ({type(exc).__name__}: {detail})"
    return None


def run_result(experiment: str, finished: RunFinished, path: Path) -> dict[str, Any]:
    """The run's result for stdout; ``run_file`` only names a file that exists (with
    ``run_journal`` when the points are still in the journal: the final file could not be
    written)."""
    from acquisition.storage import journal_path_for

    result = {"experiment": experiment, "status": finished.status.value, "reason": finished.reason,
              "run_id": finished.run_id, **finished.summary}
    if finished.safe_state_failures:
        result["safe_state_failed"] = dict(finished.safe_state_failures)
    if finished.storage_error:
        result["storage_error"] = finished.storage_error
    journal = journal_path_for(path)
    if path.exists() or journal.exists():
        result["run_file"] = str(path)
    if journal.exists():
        result["run_journal"] = str(journal)
    return result


def run_command(args: argparse.Namespace) -> int:
    from acquisition.calibration import CalibrationStore
    from acquisition.engine import Engine, preflight_run
    from acquisition.experiments import get_experiment

    experiment = get_experiment(args.experiment_command)
    params = collect_params(args, experiment.schema.parameters)
    rig = load_rig_checked(args.rig, args.clock)
    try:
        validated = experiment.validate(params, rig)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = check_out_path(args.out, experiment.name)
    check_plot_path(args.plot)
    store = CalibrationStore()
    try:  # roles and stored calibrations, still before anything is connected (out: checked above)
        preflight_run(rig, store, experiment.name, validated)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    connect_checked(rig)
    engine = Engine(rig, store)
    progress = ProgressBar(sys.stderr, enabled=not args.no_progress)
    engine.subscribe(progress.handle)
    closing = None
    try:
        with OperatorSignals("run", engine.abort, engine.emergency_stop, progress.note) as guard, \
                OperatorResume(engine) as resume:
            progress.resume_how = resume.how
            handle = engine.start(experiment.name, validated, out)
            while not handle.done:  # short waits so that signal handlers run promptly
                handle._done.wait(0.2)  # noqa: SLF001 - RunHandle.wait would block signals' effect
            finished = handle.wait()
    finally:
        closing = engine.close()
        rig.close_all()
    result = run_result(experiment.name, finished, out)
    plot_error = None
    if args.plot is not None and finished.status == RunStatus.COMPLETE:
        plot_error = write_plot(out, args.plot)
        if plot_error is None:
            result["plot_file"] = str(args.plot)
        else:
            result["plot_error"] = plot_error
    closing_failures = closing.failures if closing is not None else {}
    if closing_failures and not finished.safe_state_failures:
        result["safe_state_failed"] = closing_failures
    sys.stdout.write((dumps(result) if args.json else human_summary(result)) + "\n")
    sys.stdout.flush()
    code = exit_codes.for_run(finished, guard.received, closing_failures)
    report_safe_state(finished.safe_state_failures or closing_failures)
    if code == exit_codes.STORAGE_FAILED:
        sys.stderr.write(f"avalab: run failed: {finished.reason.splitlines()[0]}\n")
    if guard.received is not None or code != exit_codes.OK:
        if code == exit_codes.FAILED:
            sys.stderr.write(f"avalab: run {finished.status.value}: "
                             f"{finished.reason.splitlines()[0] if finished.reason else ''}\n")
        return code
    if plot_error is not None:
        sys.stderr.write(f"avalab: error: {plot_error}; the run file {out} is complete\n")
        return exit_codes.FAILED
    return exit_codes.OK
