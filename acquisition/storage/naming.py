"""Where run output goes: fresh run file names (``<timestamp>_<experiment>.h5``, never reusing
an existing name) and, before anything moves, whether a run file, plot or folder can be written."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def new_run_path(directory: Path, experiment: str, now: float | None = None) -> Path:
    """A fresh run file path; a counter is appended when two runs start within the same second
    (queued runs on a virtual clock do), because the writer refuses to overwrite a run."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    stem = f"{stamp}_{experiment}"
    path = directory / f"{stem}.h5"
    counter = 2
    while path.exists():
        path = directory / f"{stem}_{counter}.h5"
        counter += 1
    return path


#: what a run file path must be; the end of every out_path error
OUT_PATH_ALLOWED = "allowed: a writable .h5 path (a new file in a directory that exists or can be created)"


def out_path_problem(path: Path) -> str | None:
    """Why a run file cannot be written at ``path`` (None: it can); creates nothing that stays.

    The writer needs the file and its journal (``<path>.journal``) to be new, and the parent
    directory to exist or be creatable and to be writable (tried with a temporary file in the
    nearest existing directory)."""
    path = Path(path)
    for existing in (path, path.with_name(path.name + ".journal")):
        if existing.exists() or existing.is_symlink():
            what = "a directory" if existing.is_dir() else "a file"
            return f"{existing} already exists ({what}; run files are never overwritten)"
    return parent_write_problem(path)


def parent_write_problem(path: Path) -> str | None:
    """Why no file can be created at ``path`` (None: it can): the nearest existing ancestor
    directory must be a directory and writable (the missing ones are created later)."""
    ancestor = path.parent if str(path.parent) else Path(".")
    while not ancestor.exists():
        if ancestor.is_symlink():  # a dangling link cannot be made a directory
            return f"{ancestor} is a broken symbolic link"
        if ancestor == ancestor.parent:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"directory {ancestor} is not writable"
    return directory_write_problem(ancestor)


def directory_write_problem(directory: Path) -> str | None:
    """Why no file can be created in the existing ``directory`` (None: one can). Permission
    bits do not tell (root, read-only mounts, /proc): a temporary file is created and removed."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".avalab-write-test-"):
            pass
    except OSError:
        # the errno of a refused create can name something else (/proc says "no such file")
        return f"directory {directory} is not writable (no file can be created in it)"
    return None


#: what a plot path must be; the end of every plot error
PLOT_PATH_ALLOWED = "allowed: a writable .png path (in a directory that exists or can be created)"


def plot_path_problem(path: Path) -> str | None:
    """Why a PNG cannot be written at ``path`` (None: it can); an existing file is replaced,
    the directory may still have to be created. Creates nothing that stays."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a directory"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is not writable"
    return parent_write_problem(path)


def check_out_path_writable(path: Path, field_name: str = "out_path") -> None:
    """ValueError (one line) if no run file can be written at ``path``."""
    problem = out_path_problem(path)
    if problem is not None:
        raise ValueError(f"{field_name}={path}: {problem}; {OUT_PATH_ALLOWED}")
