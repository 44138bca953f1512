"""``avalab gui [--rig sim|FILE]``: the operator application.

Without ``--rig`` it opens on the built-in simulated rig running on wall-clock time, so a new user
sees every panel working (live readings, a sweep drawing its hysteresis loop) before touching
hardware.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Sequence

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from acquisition import exit_codes
from gui.options import add_gui_arguments

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """Runs go under ``$AVALAB_HOME/runs`` (``~/avalab/runs`` if unset)."""
    return Path(os.environ.get("AVALAB_HOME", "~/avalab")).expanduser() / "runs"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avalab gui", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr: info (the GUI's default) or, with -vv, debug")
    return add_gui_arguments(parser)


def configure_logging(verbosity: int) -> int:
    """The GUI logs at INFO (its log panel shows the engine's messages), DEBUG with -vv; the
    level is set even when ``avalab``'s own logging was configured first. Returns the level."""
    level = logging.DEBUG if verbosity >= 2 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    return level


def log_safe_state(results: dict[str, str | None]) -> None:
    """One line at shutdown: each role's safe state (``rig.safe_state_all()``'s result)."""
    parts = [f"{role} {'ok' if error is None else 'FAILED (' + str(error).splitlines()[0] + ')'}"
             for role, error in results.items()]
    text = "safe state at shutdown: " + (", ".join(parts) if parts else "no instruments")
    if any(error is not None for error in results.values()):
        log.error(text)
    else:
        log.info(text)


def open_rig(spec: str, clock: str = "real") -> Any:
    """The rig named on the command line, connected (``clock`` applies to the simulated rig)."""
    from acquisition.rig import load_rig
    rig = load_rig("sim", clock=clock) if spec == "sim" else load_rig(Path(spec))
    rig.connect_all()
    return rig


def create_window(rig: Any, settings_path: Path | None = None, data_dir: Path | None = None,
                  poll_hz: float = 3.0) -> Any:
    """Engine + main window on an already connected rig (tests and ``main`` share this)."""
    from acquisition.engine import Engine
    from acquisition.experiments import listed_experiments
    from gui.main_window import MainWindow
    from gui.settings import open_settings
    engine = Engine(rig)
    return MainWindow(rig, engine, {e.name: e for e in listed_experiments()}, open_settings(settings_path),
                      data_dir or default_data_dir(), poll_hz=poll_hz)


def _display_available() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _close_on_signals(app: QApplication) -> QTimer:
    """Ctrl+C / SIGTERM close the window normally, so the rig is left in its safe state.

    Python runs signal handlers only between bytecodes; a short idle timer gives it that chance
    while Qt's event loop (C++) is waiting.
    """
    def close(signum: int, _frame: Any) -> None:
        log.warning("signal %d: closing the GUI (instruments to safe state)", signum)
        app.closeAllWindows()

    signal.signal(signal.SIGINT, close)
    signal.signal(signal.SIGTERM, close)
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    return wake


def _log_unhandled(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Log exceptions escaping Qt slots. With the default hook PyQt6 aborts the process, which
    would take the STOP button (and the safe shutdown of the rig) with it."""
    log.critical("unhandled exception in the GUI", exc_info=(exc_type, exc, tb))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv) if argv is not None else sys.argv[1:]
    if arguments[:1] == ["--"]:  # "avalab gui -- --rig x": the separator is the CLI's, not ours
        arguments = arguments[1:]
    args = build_parser().parse_args(arguments)
    level = configure_logging(args.verbose)
    log.debug("GUI options: %s (log level %s)", vars(args), logging.getLevelName(level))
    if QApplication.instance() is None and not _display_available():
        # Qt would abort() the process with a long plugin message; say what to do instead
        log.error("no display: set DISPLAY (X11) or WAYLAND_DISPLAY, or QT_QPA_PLATFORM=offscreen")
        return 2
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("avalab")
    try:
        rig = open_rig(args.rig, args.clock)
    except (ValueError, OSError) as exc:
        log.error("cannot open rig %s: %s", args.rig, exc)
        return 2
    log.info("rig %s connected (%s clock): %s", args.rig, rig.config.clock, ", ".join(rig.instruments))
    previous_hook, sys.excepthook = sys.excepthook, _log_unhandled
    window = None
    try:
        window = create_window(rig, args.settings, args.data_dir, args.poll_hz)
        window.show()
        previous_handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        wake = _close_on_signals(app)
        try:
            code = int(app.exec())
        finally:
            wake.stop()
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
    finally:
        if window is not None:
            window.shutdown()
            # aborts a run in progress, then the safe state: the log confirms what each role reported
            report = window.engine.close()
        else:
            report = rig.safe_state_all()
        log_safe_state(report)
        rig.close_all()
        sys.excepthook = previous_hook
    # the window is gone: the exit code is what is left to tell that an instrument may not be safe
    return exit_codes.SAFE_STATE_FAILED if any(report.values()) else code


if __name__ == "__main__":
    sys.exit(main())
