"""Simulated motorised rotation mount (K10CR1-like) turning the HWP, the ND wheel or the control
attenuator polariser; which one is chosen by the bench part it drives."""
from __future__ import annotations

from drivers.interfaces import RotationStage
from drivers.validation import check_range
from sim_backends.bench import Bench
from sim_backends.bench.motion import StageModel
from sim_backends.devices.base import SimInstrument

#: commanded absolute angles are accepted in this window (continuous-rotation mount)
ANGLE_LIMIT_DEG = 720.0


class SimRotationStage(SimInstrument, RotationStage):
    model = "simulated Thorlabs K10CR1"

    def __init__(self, name: str, address: str, bench: Bench, stage: StageModel) -> None:
        super().__init__(name, address, bench)
        self._stage = stage

    @property
    def travel_range(self) -> tuple[float, float]:
        """Absolute angles this mount accepts (an emulator's continuous moves stay inside)."""
        return (-ANGLE_LIMIT_DEG, ANGLE_LIMIT_DEG)

    def move_to(self, angle_deg: float, wait: bool = True) -> None:
        angle_deg = check_range(f"{self.name}.angle_deg", angle_deg, -ANGLE_LIMIT_DEG,
                                ANGLE_LIMIT_DEG, "deg")
        self._require("move_to")
        with self.bench.change() as now:
            end = self._stage.start_move(now, angle_deg)
        if wait:
            self.clock.sleep(max(end - now, 0.0))

    def move_by(self, delta_deg: float, wait: bool = True) -> None:
        delta_deg = check_range(f"{self.name}.delta_deg", delta_deg, -ANGLE_LIMIT_DEG,
                                ANGLE_LIMIT_DEG, "deg")
        self._require("move_by")
        with self.bench.lock:
            target = self._stage.target_deg + delta_deg
        check_range(f"{self.name}.target_deg", target, -ANGLE_LIMIT_DEG, ANGLE_LIMIT_DEG, "deg")
        self.move_to(target, wait)

    def home(self, wait: bool = True) -> None:
        self._require("home")
        self.move_to(0.0, wait)

    def get_position(self) -> float:
        self._require("get_position")
        with self.bench.lock:
            return self._stage.position_at(self.bench.sync())

    def is_moving(self) -> bool:
        self._require("is_moving")
        with self.bench.lock:
            return self._stage.moving_at(self.bench.sync())

    def stop(self) -> None:
        with self.bench.change() as now:
            self._stage.stop(now)
