"""``avalab emulate``: serve the whole emulated bench and print its rig-file addresses.

The command lives with the other commands (it builds a rig, which only ``acquisition`` may do);
``sim_backends`` serves the emulators and never imports ``acquisition``."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulate", help="serve every instrument's protocol emulator on the simulated bench",
        description="Start the simulated bench on wall-clock time and serve each wire-protocol "
                    "instrument (laser, stages, power meter, chopper, cryostat, control laser, "
                    "shutters) on a pseudo-terminal or a 127.0.0.1 TCP port; print the rig-file "
                    "tables that point real drivers at them. Runs until Ctrl-C.")
    parser.add_argument("--transport", choices=("tcp", "pty"), default="tcp",
                        help="TCP sockets on 127.0.0.1 (default) or pseudo-terminals")
    parser.add_argument("--roles", nargs="+", default=None, metavar="ROLE",
                        help="only these roles (default: every emulated role)")
    parser.add_argument("--use", nargs="+", default=[], metavar="ROLE=DRIVER",
                        help="emulate ROLE as DRIVER instead of its default "
                             "(cryostat=lakeshore336 serves a Lake Shore 336, default 335)")
    parser.set_defaults(handler=emulate_command)


def emulate_command(args: argparse.Namespace) -> int:
    from acquisition import exit_codes
    from acquisition.rig import load_rig
    from sim_backends.emulators.bench_server import EmulatedBench

    try:
        drivers = _parse_use(args.use)
        rig = load_rig("sim", clock="real")
        bench = EmulatedBench(rig, args.roles, args.transport, drivers)
    except ValueError as exc:
        print(f"avalab: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with bench:
        print(bench.rig_toml(), flush=True)
        print("# serving; Ctrl-C to stop", file=sys.stderr, flush=True)
        stop.wait()
    report = rig.safe_state_all()
    if report.failures:
        print(f"avalab: {report.message}", file=sys.stderr)
        return exit_codes.SAFE_STATE_FAILED
    return 0


def _parse_use(items: list[str]) -> dict[str, str]:
    drivers: dict[str, str] = {}
    for item in items:
        role, sep, driver = item.partition("=")
        if not sep or not role or not driver:
            raise ValueError(f"use={item!r} is not allowed; allowed: ROLE=DRIVER, "
                             "e.g. cryostat=lakeshore336")
        drivers[role] = driver
    return drivers
