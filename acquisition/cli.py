"""``avalab``: the command line. A registry of subcommand modules, each adding its own parsers.

A subcommand module has ``register(subparsers)``, which adds one or more parsers and sets
``handler=<function(args) -> exit code>`` on each (``parser.set_defaults(handler=...)``).
Modules are found three ways, so a new subcommand never needs this file edited heavily:
- ``COMMAND_MODULES`` below (the built-in ones and the known optional ones: a module that is not
  installed is skipped);
- any module in the ``acquisition.commands`` package;
- the ``avalab.commands`` entry-point group (``module:register``) of installed packages.

Errors are one line on stderr, ``avalab: error: <field>=<value> ... allowed ...``, exit code 2,
no traceback, and nothing moved (rig file and parameters are validated before connecting).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from acquisition.version import version

log = logging.getLogger(__name__)

PROG = "avalab"
EXIT_USAGE = 2

#: subcommand modules, in the order their commands appear in ``avalab --help``
COMMAND_MODULES: tuple[str, ...] = (
    "acquisition.commands.run",        # one command per registered experiment
    "acquisition.commands.analyze",    # analyze RUN.h5
    "acquisition.commands.rig",        # rig show / rig template
    "acquisition.commands.gui",        # gui (imports gui.app lazily)
    "acquisition.campaigns.cli",       # campaign, report
    "acquisition.studies.cli",         # study
    "acquisition.studies.fit_cli",     # fit
    "acquisition.commands.emulate",    # emulate
)
ENTRY_POINT_GROUP = "avalab.commands"


class UsageError(Exception):
    """Bad input detected by a handler; printed as one line, exit code 2."""


def one_line(text: object) -> str:
    """``text`` as one terminal line: its first line, with any other character that breaks a
    line or controls the terminal (a file's key may hold U+0085, a path an ESC) escaped."""
    first = str(text).split("\n", 1)[0].rstrip("\r")
    return "".join(ch if ch.isprintable() or ch == "\t" else ch.encode("unicode_escape").decode("ascii")
                   for ch in first)


class OneLineParser(argparse.ArgumentParser):
    """argparse with the one-line error the lab asked for instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{PROG}: error: {one_line(message) if message else 'bad arguments'}\n")
        raise SystemExit(EXIT_USAGE)


def _discovered_modules() -> list[str]:
    names = list(COMMAND_MODULES)
    try:
        package = importlib.import_module("acquisition.commands")
        for info in pkgutil.iter_modules(package.__path__, "acquisition.commands."):
            if info.name not in names and not info.name.rsplit(".", 1)[-1].startswith("_"):
                names.append(info.name)
    except ImportError:
        pass
    return names


def _register_module(name: str, subparsers: Any) -> None:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return  # optional subcommand not present in this installation
        log.warning("subcommand module %s not loaded: %s", name, exc)
        return
    except Exception as exc:  # a broken optional command must not take the whole CLI down
        log.warning("subcommand module %s failed to import: %s", name, exc)
        return
    register = getattr(module, "register", None)
    if callable(register):
        register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Control and acquisition for the photon-avalanche "
                                                  "bistability microscope (real or simulated rig).")
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}",
                        help="print 'avalab <version>' and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr (-v info, -vv debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in _discovered_modules():
        _register_module(name, subparsers)
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()(subparsers)
        except Exception as exc:  # same policy as above
            log.warning("entry point %s failed: %s", entry.name, exc)
    return parser


class ReportedByCliFilter(logging.Filter):
    """Drop log records the CLI reports on its own line (``extra={"reported_by_cli": True}``:
    interlocks -> ``avalab: INTERLOCK ...``, aborts -> the run's summary), so that at the default
    level they are not printed twice; ``-v`` shows them as well."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "reported_by_cli", False)


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbosity <= 0:
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                handler.addFilter(ReportedByCliFilter())


def connect_checked(rig: Any) -> None:
    """Connect every instrument before anything runs: an unreachable (or wrong) instrument at an
    address is bad input, a one-line UsageError (exit 2), and nothing has moved."""
    from acquisition.rig import RoleConnectionError

    drivers_log = logging.getLogger("drivers")
    previous = drivers_log.level
    if not drivers_log.isEnabledFor(logging.INFO):
        # at the default level the error line says it all: not the drivers' retry warnings too
        drivers_log.setLevel(logging.ERROR)
    try:
        rig.connect_all()
    except RoleConnectionError as exc:
        raise UsageError(str(exc)) from None
    finally:
        drivers_log.setLevel(previous)


def report_safe_state(failures: dict[str, str]) -> None:
    """The line an operator must not miss: which instruments may not be safe, and why."""
    if not failures:
        return
    details = "; ".join(f"{role}: {reason}" for role, reason in failures.items())
    sys.stderr.write(f"avalab: SAFE STATE FAILED for {', '.join(failures)}: {details}; check these "
                     "instruments by hand now (laser emission, shutters)\n")
    sys.stderr.flush()


def usage_error(message: str) -> int:
    """Print ``avalab: error: <message>`` (first line only) and return the usage exit code."""
    sys.stderr.write(f"{PROG}: error: {one_line(message) if message else 'error'}\n")
    sys.stderr.flush()
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except UsageError as exc:
        return usage_error(str(exc))
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130


if __name__ == "__main__":
    # ``python -m acquisition.cli``: run the imported module's main, so that its UsageError is
    # the one the subcommand modules raise (this file would otherwise exist twice)
    from acquisition.cli import main as _main
    raise SystemExit(_main())
