"""Simulated sample XY stage (two KDC101 + Z825B-like axes) moving the film under the focus.

Its axes are the bench's ``xy_x`` / ``xy_y`` (positions in m, constant speed); the bench puts the
film position ``film_position_m - (stage - reference)`` under the focus (the sample moves, the
focus does not, so the spot on the film moves the opposite way) and swaps the focal spot when the
stage arrives (whenever the sample is next advanced: reading the stage does not advance it, so a
GUI poll costs no physics). Limits come from the same role options as the real driver (``x_range_mm``,
``y_range_mm``, ``min_step_um``), inside the 0..25 mm travel.
"""
from __future__ import annotations

from typing import Any

from drivers.interfaces import StageLimits, XYStage
from drivers.thorlabs_apt.xy_stage import DEFAULT_MIN_STEP_UM, Z8_TRAVEL_M, stage_limits
from drivers.validation import check_range
from sim_backends.bench import Bench
from sim_backends.bench.motion import StageModel
from sim_backends.devices.base import SimInstrument

#: encoder resolution of a Z8 axis (the smallest step the simulated stage resolves too), m
_ENCODER_M = 1.0 / 34554.96e3


class SimLinearAxis:
    """One axis of the simulated stage, in m, as an APT emulator drives it (``MotorAxis``).

    Moves go anywhere in the actuator's travel (the emulator stops at the ends like the limit
    switches); the role's soft limits are the driver's business, as on the real controller.
    """

    def __init__(self, name: str, bench: Bench, model: StageModel) -> None:
        self.name = name
        self.bench = bench
        self._model = model
        self.travel_range = Z8_TRAVEL_M

    @property
    def is_connected(self) -> bool:
        return True

    def connect(self) -> None:
        return None

    def get_position(self) -> float:
        with self.bench.lock:
            return self._model.position_at(self.bench.sync())

    def is_moving(self) -> bool:
        with self.bench.lock:
            return self._model.moving_at(self.bench.sync())

    def move_to(self, position: float, wait: bool = True) -> None:
        position = check_range(f"{self.name}.position_m", position, *self.travel_range, "m")
        with self.bench.change() as now:
            end = self._model.start_move(now, position)
        if wait:
            self.bench.clock.sleep(max(end - now, 0.0))

    def home(self, wait: bool = True) -> None:
        self.move_to(self.travel_range[0], wait)

    def stop(self) -> None:
        with self.bench.change() as now:
            self._model.stop(now)


class SimXYStage(SimInstrument, XYStage):
    model = "simulated Thorlabs 2 x KDC101 + Z825B"

    def __init__(self, name: str, address: str, bench: Bench, *, x_range_mm: Any = None,
                 y_range_mm: Any = None, min_step_um: float = DEFAULT_MIN_STEP_UM,
                 **_real_only: Any) -> None:
        super().__init__(name, address, bench)
        self._limits = stage_limits(name, x_range_mm, y_range_mm, min_step_um, Z8_TRAVEL_M,
                                    _ENCODER_M)
        self.axes = {"x": SimLinearAxis(f"{name}.x", bench, bench.xy_x),
                     "y": SimLinearAxis(f"{name}.y", bench, bench.xy_y)}

    @property
    def limits(self) -> StageLimits:
        return self._limits

    def move_to(self, x_m: float, y_m: float, wait: bool = True) -> None:
        x_m, y_m = self._limits.check(self.name, x_m, y_m)
        self._require("move_to")
        with self.bench.change() as now:
            end = max(self.bench.xy_x.start_move(now, x_m), self.bench.xy_y.start_move(now, y_m))
        if wait:
            self._arrive(end - now)

    def _arrive(self, duration_s: float) -> None:
        """Wait out a move; the bench then puts the new spot under the focus."""
        self.clock.sleep(max(duration_s, 0.0))
        self.bench.sync_sample()

    def home(self, wait: bool = True) -> None:
        reason = self._limits.home_problem(self.name, (Z8_TRAVEL_M[0], Z8_TRAVEL_M[0]))
        if reason is not None:
            raise ValueError(reason)
        self._require("home")
        with self.bench.change() as now:
            end = max(model.start_move(now, Z8_TRAVEL_M[0])
                      for model in (self.bench.xy_x, self.bench.xy_y))
        if wait:
            self._arrive(end - now)

    def get_position(self) -> tuple[float, float]:
        self._require("get_position")
        with self.bench.lock:
            now = self.bench.sync()
            return self.bench.xy_x.position_at(now), self.bench.xy_y.position_at(now)

    def is_moving(self) -> bool:
        self._require("is_moving")
        with self.bench.lock:
            now = self.bench.sync()
            return self.bench.xy_x.moving_at(now) or self.bench.xy_y.moving_at(now)

    def stop(self) -> None:
        with self.bench.change() as now:
            self.bench.xy_x.stop(now)
            self.bench.xy_y.stop(now)
