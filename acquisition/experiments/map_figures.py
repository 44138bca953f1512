"""Matplotlib drawing of maps over stage positions and histograms of per-point figures, for the
``map`` and ``survey`` experiments' plots and campaign report sections.

Maps are drawn in stage coordinates (mm, what ``--x-mm``/``--y-mm`` take): a grid as an image on
its own lattice (unmeasured pixels blank), a list of positions as coloured markers.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

#: relative spread of a lattice's steps below which points are drawn as an image, not markers
_LATTICE_TOLERANCE = 0.05


def _lattice(values: np.ndarray) -> np.ndarray | None:
    """The distinct coordinates if they are evenly spaced (a grid axis), else None."""
    distinct = np.unique(np.round(values, 9))
    if distinct.size < 2:
        return distinct
    steps = np.diff(distinct)
    return distinct if np.ptp(steps) <= _LATTICE_TOLERANCE * steps.mean() else None


def draw_map(fig: Any, ax: Any, x_m: Any, y_m: Any, values: Any, title: str, unit: str) -> None:
    x, y, v = (np.asarray(a, dtype=float) for a in (x_m, y_m, values))
    xs, ys = _lattice(x), _lattice(y)
    ax.set_title(title)
    ax.set_xlabel("stage x (mm)")
    ax.set_ylabel("stage y (mm)")
    finite = np.isfinite(v)
    if not finite.any():
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    if xs is not None and ys is not None and xs.size * ys.size <= 4 * x.size:
        image = np.full((ys.size, xs.size), math.nan)
        image[np.searchsorted(ys, np.round(y, 9)), np.searchsorted(xs, np.round(x, 9))] = v
        dx = (xs[1] - xs[0]) if xs.size > 1 else 1e-6
        dy = (ys[1] - ys[0]) if ys.size > 1 else 1e-6
        extent = [1e3 * (xs[0] - dx / 2), 1e3 * (xs[-1] + dx / 2), 1e3 * (ys[0] - dy / 2), 1e3 * (ys[-1] + dy / 2)]
        shown = ax.imshow(np.ma.masked_invalid(image), origin="lower", extent=extent, aspect="equal",
                          cmap="viridis", interpolation="nearest")
    else:
        shown = ax.scatter(1e3 * x[finite], 1e3 * y[finite], c=v[finite], cmap="viridis", s=40)
        ax.set_aspect("equal", adjustable="datalim")
    from matplotlib.ticker import MaxNLocator

    ax.ticklabel_format(useOffset=False)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    fig.colorbar(shown, ax=ax, label=unit)


def draw_histogram(ax: Any, values: Any, title: str, unit: str) -> None:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    ax.set_title(title)
    ax.set_xlabel(unit)
    ax.set_ylabel("points")
    if not v.size:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    ax.hist(v, bins=max(5, min(30, int(np.sqrt(v.size)) + 2)), color="tab:blue", edgecolor="white")
    mean = float(v.mean())
    spread = float(v.std(ddof=1)) if v.size > 1 else 0.0
    ax.axvline(mean, color="k", linestyle="--", linewidth=1)
    ax.text(0.98, 0.95, f"{mean:.3g} ± {spread:.2g}\nn = {v.size}", ha="right", va="top",
            transform=ax.transAxes, fontsize=8)
