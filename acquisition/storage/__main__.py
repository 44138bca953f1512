"""Inspect or recover run files from a shell.

    python -m acquisition.storage info RUN.h5      # status, reason, streams and point counts
    python -m acquisition.storage recover RUN.h5   # journal of a dead writer -> final HDF5 file
"""
from __future__ import annotations

import argparse
import sys

from acquisition.storage.reader import open_run, recover_run
from acquisition.storage.runfile import RunFile


def describe(run: RunFile) -> str:
    streams = ", ".join(f"{name} ({run.n_points(name)} points)" for name in run.streams) or "none"
    lines = [f"{run.path}: {run.status}" + (f" - {run.reason}" if run.reason else ""),
             f"experiment {run.experiment or '?'}, run {run.run_id or '?'}, "
             f"software {run.software_version or '?'}",
             f"streams: {streams}"]
    if run.writer_active:
        lines.append("a writer is still running")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acquisition.storage", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("info", "recover"))
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    failed = False
    for path in args.paths:
        try:
            run = open_run(path) if args.command == "info" else recover_run(path)
        except ValueError as error:
            sys.stderr.write(f"error: {error}\n")
            failed = True
            continue
        sys.stdout.write(describe(run) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
