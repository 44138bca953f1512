"""Where a map or a survey takes the sample stage: grids and position lists, checked up front.

Shared by the ``map`` and ``survey`` experiments (and campaign grids): the points are built from
the parameters in stage coordinates (m; mm/um at the edges), and every point is checked against
the rig's stage limits, the stage resolution and ``[limits] max_map_points`` before anything
moves. Errors are one line naming the field, the value and what is allowed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from acquisition.schema import Parameter

#: grid rows are visited in alternating directions (no fly-back across the whole map)
SERPENTINE = True

GRID_PARAMETERS: list[Parameter] = [
    Parameter("x_mm", "Stage x start, stop", "mm", "float_list", [12.495, 12.505], minimum=0.0,
              maximum=100.0, min_items=2, max_items=2, help="grid columns from start to stop"),
    Parameter("y_mm", "Stage y start, stop", "mm", "float_list", [12.495, 12.505], minimum=0.0,
              maximum=100.0, min_items=2, max_items=2, help="grid rows from start to stop"),
    Parameter("step_um", "Grid step", "um", "float", 1.0, minimum=0.001, maximum=10_000.0,
              help="at least the stage resolution; about the focal spot size resolves the film"),
]

POSITIONS_PARAMETER = Parameter(
    "positions_mm", "Stage positions x1 y1 x2 y2 ...", "mm", "float_list", [], minimum=0.0,
    maximum=100.0, max_items=200_000, help="a list of (x, y) points instead of the grid")


def _axis(start_mm: float, stop_mm: float, step_m: float) -> list[float]:
    start, stop = start_mm * 1e-3, stop_mm * 1e-3
    n = int(math.floor(abs(stop - start) / step_m + 1e-9)) + 1
    direction = 1.0 if stop >= start else -1.0
    return [start + direction * i * step_m for i in range(n)]


def grid_shape(params: dict[str, Any]) -> tuple[int, int]:
    """(columns, rows) of the grid the parameters describe."""
    step_m = params["step_um"] * 1e-6
    return (len(_axis(*params["x_mm"], step_m)), len(_axis(*params["y_mm"], step_m)))


def grid_points(params: dict[str, Any]) -> list[tuple[float, float]]:
    """Grid points (m), row by row, alternate rows reversed (serpentine)."""
    step_m = params["step_um"] * 1e-6
    xs, ys = _axis(*params["x_mm"], step_m), _axis(*params["y_mm"], step_m)
    points = []
    for row, y in enumerate(ys):
        columns = xs[::-1] if SERPENTINE and row % 2 else xs
        points += [(x, y) for x in columns]
    return points


def listed_points(positions_mm: Sequence[float]) -> list[tuple[float, float]]:
    if len(positions_mm) % 2:
        raise ValueError(f"positions_mm has {len(positions_mm)} numbers; allowed: x y pairs "
                         "(an even count)")
    return [(positions_mm[i] * 1e-3, positions_mm[i + 1] * 1e-3) for i in range(0, len(positions_mm), 2)]


def points_for(params: dict[str, Any]) -> list[tuple[float, float]]:
    """The listed positions if any were given, else the grid."""
    if params.get("positions_mm"):
        return listed_points(params["positions_mm"])
    return grid_points(params)


def count_points(params: dict[str, Any]) -> int:
    if params.get("positions_mm"):
        return len(params["positions_mm"]) // 2
    columns, rows = grid_shape(params)
    return columns * rows


def check_point_count(params: dict[str, Any], max_points: int) -> None:
    """Refuse more points than ``max_points`` before building them (a huge grid is one line)."""
    if params.get("positions_mm"):
        n, what = len(params["positions_mm"]) // 2, "positions_mm"
    else:
        step_m = params["step_um"] * 1e-6
        (x0, x1), (y0, y1) = params["x_mm"], params["y_mm"]
        n = (int(abs(x1 - x0) * 1e-3 / step_m + 1e-9) + 1) * (int(abs(y1 - y0) * 1e-3 / step_m + 1e-9) + 1)
        what = "x_mm, y_mm, step_um"
    if n > max_points:
        raise ValueError(f"{what}: {n} points is more than the rig allows; allowed range [1, "
                         f"{max_points}] points ([limits] max_map_points; use a coarser step or a "
                         "smaller area)")


def check_stage_points(params: dict[str, Any], rig: Any) -> None:
    """Everything about the points that the rig decides, before anything moves."""
    stage = getattr(rig, "xy_stage", None)
    if stage is None:
        raise ValueError("xy_stage=None: this rig has no sample stage; allowed: a rig file with "
                         "a [roles.xy_stage] entry")
    limits = stage.limits
    if not params.get("positions_mm"):
        step_m = params["step_um"] * 1e-6
        if step_m < limits.resolution_m * (1 - 1e-9):
            raise ValueError(f"step_um={params['step_um']:g} um is below the stage resolution; "
                             f"allowed range [{limits.resolution_m * 1e6:g}, 10000] um")
    check_point_count(params, int(rig.config.limits.max_map_points))
    for field, x_m, y_m in _labelled(params):
        reason = limits.problem("xy_stage", x_m, y_m)
        if reason is not None:
            raise ValueError(f"{field}: {reason}")


def _labelled(params: dict[str, Any]) -> list[tuple[str, float, float]]:
    if params.get("positions_mm"):
        return [(f"positions_mm[{i}]", x, y) for i, (x, y) in enumerate(listed_points(params["positions_mm"]))]
    # a grid is inside the limits when its corners are
    (x0, x1), (y0, y1) = params["x_mm"], params["y_mm"]
    return [("x_mm, y_mm", x * 1e-3, y * 1e-3) for x in (x0, x1) for y in (y0, y1)]
