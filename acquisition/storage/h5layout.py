"""Write and read the finished HDF5 run file (layout: docs/run_file_format.md).

The file is always written whole, to a temporary name in the same directory, flushed to disk and
then renamed over the run path. A rename is atomic on POSIX and Windows, so a reader (or a crash)
sees either the previous complete file or the new complete file, never a half-written HDF5.
"""
from __future__ import annotations

import errno
import io
import json
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from acquisition.storage.columns import is_ragged
from acquisition.storage.jsonsafe import dumps_strict
from acquisition.storage.runfile import RunFile

logger = logging.getLogger(__name__)

FORMAT_NAME = "avalab-run"
FORMAT_VERSION = 1
#: status attribute of the header-only file written at RunStarted (readers report "incomplete")
STATUS_RUNNING = "running"
_JSON_ATTRS = ("params", "rig_config", "identities", "calibration", "summary")
_STRING = h5py.string_dtype("utf-8")


def h5_name(name: str) -> str:
    """An HDF5-safe link name for a stream or field name (the original is kept in attr "name")."""
    cleaned = name.replace("/", "_")
    return cleaned if cleaned not in ("", ".", "..") else f"_{cleaned}_"


def _write_column(group: h5py.Group, name: str, column: np.ndarray, compress: bool = True) -> None:
    link = h5_name(name)
    if is_ragged(column):
        sub = group.create_group(link)
        sub.attrs["layout"] = "ragged"
        sub.attrs["n_points"] = len(column)
        for row, value in enumerate(column):
            if value is not None:
                _create_dataset(sub, str(row), np.asarray(value), compress)
        target: h5py.HLObject = sub
    else:
        target = _create_dataset(group, link, column, compress)
        target.attrs["layout"] = "fixed" if column.ndim > 1 else "scalar"
    target.attrs["name"] = name


def _create_dataset(group: h5py.Group, name: str, data: np.ndarray, compress: bool = True) -> h5py.Dataset:
    if data.dtype.kind in "US":
        return group.create_dataset(name, data=data.astype(object), dtype=_STRING)
    if compress and data.ndim >= 1 and data.size >= 1024:
        return group.create_dataset(name, data=data, chunks=True, compression="gzip",
                                    compression_opts=1, shuffle=True)
    return group.create_dataset(name, data=data)


def _fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError:  # some filesystems (and directories on Windows) cannot be fsynced
        pass
    finally:
        os.close(descriptor)


def _replace(source: Path, target: Path, attempts: int = 100, pause_s: float = 0.02) -> None:
    # Windows refuses to replace a file another process has open (a reader mid-read); readers
    # hold the file for milliseconds, so waiting briefly is enough. POSIX never raises here.
    for attempt in range(attempts):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if attempt + 1 == attempts:
                raise
            time.sleep(pause_s)


#: a file's identity on disk, (device, inode): tells "the file this writer placed" from a file
#: another run created under the same name
FileIdentity = tuple[int, int]
#: ``write_run_h5(..., expected=ANY_FILE)``: replace whatever is at the path (recover_run)
ANY_FILE: FileIdentity = (-1, -1)


def file_identity(path: Path) -> FileIdentity | None:
    """(device, inode) of the file at ``path``, None if there is none."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


def write_run_h5(path: Path, run: RunFile, status: str,
                 expected: FileIdentity | None = ANY_FILE, *, snapshot: bool = False) -> FileIdentity:
    """Atomically (re)write the run file at ``path`` with ``status`` in its root attributes;
    returns the identity of the file placed there.

    ``expected`` guards other runs' files: None places the file only if ``path`` is free (never
    replacing anything); an identity replaces only the file with that identity (the one this
    writer placed before); ANY_FILE replaces whatever is there. A guard that does not hold
    raises FileExistsError and leaves ``path`` untouched.

    ``snapshot``: a live snapshot of a running run (``acquisition.storage.snapshot``): written
    uncompressed and not fsynced (its journal is the durable copy), for speed."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        _write_h5(temporary, run, status, compress=not snapshot)
        if not snapshot:
            _fsync_path(temporary)
        placed = file_identity(temporary)
        assert placed is not None
        _place(temporary, path, expected)
        if not snapshot:
            _fsync_path(path.parent)
        return placed
    finally:
        if temporary.exists():
            temporary.unlink()


def _place(temporary: Path, path: Path, expected: FileIdentity | None) -> None:
    if expected is None:
        try:
            os.link(temporary, path)  # atomic, and never replaces: FileExistsError if taken
        except FileExistsError:
            raise FileExistsError(f"{path} already exists (another run's file); left untouched") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # a filesystem without hard links: look, then rename (a narrow race remains)
            if path.exists():
                raise FileExistsError(f"{path} already exists (another run's file); left untouched") from None
            _replace(temporary, path)
        return
    if expected != ANY_FILE and file_identity(path) != expected:
        raise FileExistsError(f"{path} was removed or replaced by another program during the run; "
                              "left untouched")
    _replace(temporary, path)


def _write_h5(temporary: Path, run: RunFile, status: str, compress: bool = True) -> None:
    # HDF5 is built in memory and written out with plain file I/O: a full disk then fails in
    # os.write as a clean OSError, never inside the HDF5 library, whose failed closes left
    # half-dead file ids behind that crashed the process (SIGSEGV) when later deallocated
    buffer = io.BytesIO()
    _build_h5(buffer, run, status, compress)
    with open(temporary, "wb") as output:
        output.write(buffer.getbuffer())


def _build_h5(target: io.BytesIO, run: RunFile, status: str, compress: bool) -> None:
    with h5py.File(target, "w") as handle:
        attrs = handle.attrs
        attrs["format"] = FORMAT_NAME
        attrs["format_version"] = FORMAT_VERSION
        attrs["status"] = status
        attrs["reason"] = run.reason
        attrs["run_id"] = run.run_id
        attrs["experiment"] = run.experiment
        attrs["software_version"] = run.software_version
        attrs["started_at"] = math.nan if run.started_at is None else run.started_at
        attrs["finished_at"] = math.nan if run.finished_at is None else run.finished_at
        for name in _JSON_ATTRS:
            attrs[name] = dumps_strict(getattr(run, name))
        streams = handle.create_group("streams", track_order=True)
        for stream_name, columns in run.streams.items():
            group = streams.create_group(h5_name(stream_name), track_order=True)
            group.attrs["name"] = stream_name
            group.attrs["n_points"] = run.n_points(stream_name)
            for field_name, column in columns.items():
                _write_column(group, field_name, column, compress)
        log = handle.create_group("log")
        log.create_dataset("time", data=np.array([e["time"] for e in run.log], dtype=np.float64))
        log.create_dataset("kind", data=[e["kind"] for e in run.log], dtype=_STRING)
        log.create_dataset("detail", data=[e["detail"] for e in run.log], dtype=_STRING)


#: the status attribute a run file may carry (``running``: the header written at RunStarted)
FILE_STATUSES = ("complete", "aborted", "failed", "incomplete", STATUS_RUNNING)


def _layout_problem(handle: h5py.File) -> str | None:
    """Why ``handle`` (format attribute checked) does not have the run file layout, or None."""
    version = handle.attrs.get("format_version")
    if version is None:
        return "no format_version attribute"
    if not isinstance(version, (int, np.integer)) or not 1 <= int(version) <= FORMAT_VERSION:
        return f"format_version={version!r}; this avalab reads 1 to {FORMAT_VERSION}"
    status = _text_attr(handle.attrs, "status")
    if status not in FILE_STATUSES:
        return f"status={status!r}; allowed: {', '.join(FILE_STATUSES)}"
    streams = handle.get("streams")
    if streams is None:
        return None
    if not isinstance(streams, h5py.Group):
        return "/streams is not a group"
    for name, group in streams.items():
        if not isinstance(group, h5py.Group):
            return f"/streams/{name} is not a group"
        for field_name, node in group.items():
            if isinstance(node, h5py.Group) and node.attrs.get("layout") != "ragged":
                return f"/streams/{name}/{field_name} is a group without layout='ragged'"
    log = handle.get("log")
    if log is not None and not (isinstance(log, h5py.Group) and all(
            isinstance(log.get(key), h5py.Dataset) for key in ("time", "kind", "detail"))):
        return "/log lacks its time, kind and detail datasets"
    return None


def _read_dataset(dataset: h5py.Dataset) -> np.ndarray:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return np.array(dataset.asstr()[()], dtype=str).reshape(dataset.shape)
    return dataset[()]


def _read_column(node: h5py.HLObject) -> np.ndarray:
    if isinstance(node, h5py.Group):
        column = np.empty(int(node.attrs["n_points"]), dtype=object)
        for row_name, dataset in node.items():
            column[int(row_name)] = _read_dataset(dataset)
        return column
    return _read_dataset(node)


def _text_attr(attrs: h5py.AttributeManager, name: str) -> str:
    value = attrs.get(name, "")
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _time_attr(attrs: h5py.AttributeManager, name: str) -> float | None:
    value = float(attrs.get(name, math.nan))
    return None if math.isnan(value) else value


def read_run_h5(path: Path) -> tuple[RunFile, str]:
    """Read a run file; return it with the raw status attribute ("running" for a header-only file).

    Raises ValueError (one line) if the file is not a readable avalab run file.
    """
    try:
        with h5py.File(path, "r", locking=False) as handle:
            if _text_attr(handle.attrs, "format") != FORMAT_NAME:
                raise ValueError(f"{path}: not an avalab run file (no format={FORMAT_NAME!r} attribute)")
            problem = _layout_problem(handle)
            if problem is not None:
                raise ValueError(f"{path}: not a complete avalab run file ({problem})")
            attrs = handle.attrs
            decoded: dict[str, Any] = {name: json.loads(_text_attr(attrs, name) or "null")
                                       for name in _JSON_ATTRS}
            streams: dict[str, dict[str, np.ndarray]] = {}
            for group in handle.get("streams", {}).values():
                columns = {_text_attr(node.attrs, "name"): _read_column(node) for node in group.values()}
                streams[_text_attr(group.attrs, "name")] = columns
            log_group = handle.get("log")
            log: list[dict[str, Any]] = []
            if log_group is not None:
                times = log_group["time"][()]
                kinds = log_group["kind"].asstr()[()]
                details = log_group["detail"].asstr()[()]
                log = [{"time": float(t), "kind": str(k), "detail": str(d)}
                       for t, k, d in zip(times, kinds, details)]
            raw_status = _text_attr(attrs, "status")
            run = RunFile(
                path=path, status=raw_status, reason=_text_attr(attrs, "reason"),
                run_id=_text_attr(attrs, "run_id"), experiment=_text_attr(attrs, "experiment"),
                params=decoded["params"] or {}, started_at=_time_attr(attrs, "started_at"),
                finished_at=_time_attr(attrs, "finished_at"),
                software_version=_text_attr(attrs, "software_version"),
                rig_config=decoded["rig_config"] or {}, identities=decoded["identities"] or {},
                calibration=decoded["calibration"], summary=decoded["summary"] or {},
                streams=streams, log=log)
            return run, raw_status
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: unreadable run file (bad JSON attribute: {error})") from None
    except ValueError:
        raise
    except (OSError, KeyError, TypeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: unreadable run file ({first_line})") from None
