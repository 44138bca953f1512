"""Export a run's streams to CSV: one file of per-point scalars, one long file of per-point arrays.

Traces and histograms are arrays per point; a CSV has no cells for arrays, so they go to a
second, long-format file (point_index, sample, field...) that spreadsheet and pandas users read
without any HDF5 tooling.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np

log = logging.getLogger(__name__)


def _split_columns(columns: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, list[Any]]]:
    scalars: dict[str, np.ndarray] = {}
    arrays: dict[str, list[Any]] = {}
    for name, column in columns.items():
        column = np.asarray(column)
        if column.dtype == object:
            arrays[name] = list(column)
        elif column.ndim == 1:
            scalars[name] = column
        else:
            arrays[name] = [row.ravel() for row in column]
    return scalars, arrays


def _cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else repr(float(value))
    if isinstance(value, (np.integer, np.bool_)):
        return str(value.item())
    return str(value)


def export_stream_csv(columns: Mapping[str, np.ndarray], scalar_path: Path, array_path: Path) -> list[Path]:
    """Write one stream; return the files written (the array file only if there are arrays)."""
    scalars, arrays = _split_columns(columns)
    written: list[Path] = []
    if scalars:
        n = len(next(iter(scalars.values())))
        with scalar_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(scalars))
            for row in range(n):
                writer.writerow([_cell(col[row]) for col in scalars.values()])
        written.append(scalar_path)
    if arrays:
        index = np.asarray(columns.get("point_index", np.arange(len(next(iter(arrays.values()))))))
        with array_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["point_index", "sample", *arrays])
            for row in range(len(index)):
                per_field = [np.asarray(arrays[name][row]).ravel() if arrays[name][row] is not None
                             else np.empty(0) for name in arrays]
                for sample in range(max((len(v) for v in per_field), default=0)):
                    writer.writerow([int(index[row]), sample,
                                     *[_cell(v[sample]) if sample < len(v) else "" for v in per_field]])
        written.append(array_path)
    return written


def export_run_csv(streams: Mapping[str, Mapping[str, np.ndarray]], directory: Path, stem: str) -> list[Path]:
    """Export every stream of a run into ``directory`` as ``<stem>_<stream>.csv`` (+ ``_arrays``)."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stream, columns in streams.items():
        written += export_stream_csv(columns, directory / f"{stem}_{stream}.csv",
                                     directory / f"{stem}_{stream}_arrays.csv")
    log.info("exported %d CSV files to %s", len(written), directory)
    return written
