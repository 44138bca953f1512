"""Heat maps of a study's figures over two axes (one panel per value of the other axes), the
published points drawn where the map spans their conditions."""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from acquisition.studies.published import points_on_map
from acquisition.studies.table import numeric

MAPPED = (("switch_on_kw_cm2", "switch-on (kW/cm²)"), ("hysteresis_width_kw_cm2", "hysteresis width (kW/cm²)"),
          ("nonlinearity_s", "nonlinearity s"), ("bistable", "bistable fraction"))
PANEL_IN = (4.6, 3.6)
DPI = 100


def axis_values(rows: list[dict[str, Any]], axis: str) -> list[Any]:
    values: list[Any] = []
    for row in rows:
        value = _hashable(row.get(axis))
        if value not in values:
            values.append(value)
    try:
        return sorted(values)
    except TypeError:
        return values


def draw_maps(folder: Path, rows: list[dict[str, Any]], x: str, y: str | None, facets: list[str],
              fixed: dict[str, Any]) -> list[Path]:
    """One PNG per mapped figure; ``facets`` are the other axes with more than one value."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = axis_values(rows, x), axis_values(rows, y) if y else [None]
    panels = list(itertools.product(*(axis_values(rows, f) for f in facets))) or [()]
    paths = []
    for figure, title in MAPPED:
        if not any(numeric(r.get(figure)) is not None for r in rows):
            continue
        columns = min(len(panels), 3)
        lines = math.ceil(len(panels) / columns)
        fig, axes = plt.subplots(lines, columns, figsize=(PANEL_IN[0] * columns, PANEL_IN[1] * lines),
                                 squeeze=False, dpi=DPI)
        grids = [_grid(rows, figure, x, y, xs, ys, dict(zip(facets, panel))) for panel in panels]
        finite = np.concatenate([g[np.isfinite(g)] for g in grids]) if grids else np.array([])
        low, high = (0.0, 1.0) if figure == "bistable" else (
            (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0))
        for i, (panel, grid) in enumerate(zip(panels, grids)):
            ax = axes[i // columns][i % columns]
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=low,
                              vmax=high if high > low else low + 1.0)
            for (row_i, col_i), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    ax.text(col_i, row_i, f"{value:.3g}", ha="center", va="center", fontsize=7,
                            color="white" if value < (low + high) / 2 else "black")
            _overlay(ax, image, figure, x, y, xs, ys, {**fixed, **dict(zip(facets, panel))})
            ax.set_xticks(range(len(xs)), [_label(v) for v in xs], fontsize=8)
            ax.set_yticks(range(len(ys)), [_label(v) for v in ys], fontsize=8)
            ax.set_xlabel(x)
            ax.set_ylabel(y or "")
            ax.set_title(", ".join(f"{f}={_label(v)}" for f, v in zip(facets, panel)) or title, fontsize=9)
            fig.colorbar(image, ax=ax, label=title)
        for j in range(len(panels), lines * columns):
            axes[j // columns][j % columns].axis("off")
        fig.suptitle(f"{title}: simulated (cells), published (stars)", fontsize=10)
        fig.tight_layout()
        path = folder / f"map_{figure}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def _grid(rows: list[dict[str, Any]], figure: str, x: str, y: str | None, xs: list[Any], ys: list[Any],
          panel: dict[str, Any]) -> np.ndarray:
    """Mean of ``figure`` per (y, x) cell over repeats and chopper conditions; NaN where none."""
    sums = np.zeros((len(ys), len(xs)))
    counts = np.zeros((len(ys), len(xs)))
    for row in rows:
        if any(_hashable(row.get(k)) != v for k, v in panel.items()):
            continue
        value = numeric(row.get(figure))
        if value is None:
            continue
        i = ys.index(_hashable(row.get(y))) if y else 0
        j = xs.index(_hashable(row.get(x)))
        sums[i, j] += value
        counts[i, j] += 1
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _position(values: list[Any], value: Any) -> float | None:
    """Where ``value`` sits on a categorical axis of numbers (interpolated between ticks)."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if value is None or len(numbers) != len(values):
        return values.index(value) if value in values else None
    if not numbers[0] <= value <= numbers[-1]:
        return None
    return float(np.interp(value, numbers, range(len(numbers))))


def _overlay(ax: Any, image: Any, figure: str, x: str, y: str | None, xs: list[Any], ys: list[Any],
             fixed: dict[str, Any]) -> None:
    """Published points as stars filled with their own value's colour (red edge): a star that
    stands out from its cell is a disagreement. Labels alternate above and below it."""
    for i, (point, px, py) in enumerate(points_on_map(figure, x, y, fixed)):
        col = _position(xs, px)
        row = _position(ys, py) if y else 0.0
        if col is None or row is None:
            continue
        ax.plot(col, row, marker="*", markersize=16, markerfacecolor=image.cmap(image.norm(float(point.value))),
                markeredgecolor="red", markeredgewidth=1.5, linestyle="none")
        ax.annotate(f"{point.label}", (col, row), textcoords="offset points", xytext=(0, 10 if i % 2 == 0 else -16),
                    fontsize=7, color="red", ha="center")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "+".join(map(str, value)) or "none"
    return str(value)
