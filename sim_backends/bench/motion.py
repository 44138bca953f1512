"""Rotation stage and shutter mechanics: where a mount is and whether a beam passes, versus time."""
from __future__ import annotations

import math
from dataclasses import dataclass, field


class StageModel:
    """A rotation mount moving at constant angular speed (acceleration is short against the moves
    a sweep makes and is neglected). Times are clock times in seconds."""

    def __init__(self, velocity_deg_s: float, position_deg: float = 0.0) -> None:
        self.velocity_deg_s = velocity_deg_s
        self._start_deg = position_deg
        self._target_deg = position_deg
        self._start_t = 0.0
        self._end_t = 0.0

    def position_at(self, t: float) -> float:
        if t >= self._end_t:
            return self._target_deg
        direction = math.copysign(1.0, self._target_deg - self._start_deg)
        return self._start_deg + direction * self.velocity_deg_s * max(t - self._start_t, 0.0)

    def moving_at(self, t: float) -> bool:
        return t < self._end_t

    @property
    def move_end_t(self) -> float:
        return self._end_t

    @property
    def target_deg(self) -> float:
        return self._target_deg

    def start_move(self, t: float, target_deg: float) -> float:
        """Start an absolute move at time ``t``; return when it completes."""
        self._start_deg = self.position_at(t)
        self._target_deg = target_deg
        self._start_t = t
        self._end_t = t + abs(target_deg - self._start_deg) / self.velocity_deg_s
        return self._end_t

    def stop(self, t: float) -> None:
        here = self.position_at(t)
        self._start_deg = self._target_deg = here
        self._start_t = self._end_t = t


@dataclass
class ShutterModel:
    """An instantaneous beam shutter that remembers its edges (they are TCSPC markers)."""

    is_open: bool = False
    edges: list[tuple[float, bool]] = field(default_factory=list)
    max_edges: int = 10_000

    def set_open(self, t: float, open_: bool) -> None:
        if open_ != self.is_open:
            self.edges.append((t, open_))
            if len(self.edges) > self.max_edges:
                del self.edges[: len(self.edges) - self.max_edges]
        self.is_open = open_

    def edges_between(self, t0: float, t1: float) -> list[tuple[float, bool]]:
        return [(t, state) for t, state in self.edges if t0 <= t < t1]

    def open_at(self, t: float) -> bool:
        """State at time ``t`` (from the edge history; edges after ``t`` are undone)."""
        state = self.is_open
        for edge_t, edge_state in reversed(self.edges):
            if edge_t <= t:
                break
            state = not edge_state
        return state
