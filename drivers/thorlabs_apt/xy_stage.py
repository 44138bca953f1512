"""Sample XY stage: two KDC101 K-Cubes driving Z825B (or MTS25-Z8) linear actuators over APT.

Registered as ``kdc101_z8_xy`` for the ``xy_stage`` role (instruments.md section 2b). One
controller per axis, each on its own serial port: the role's ``address`` names both,
``"<x port>,<y port>"`` (serial devices or ``socket://host:port`` URLs; "emulator" serves both
from the simulated rig). Options:

- ``actuator``: "Z825B" or "MTS25-Z8" (both Z8 series, 25 mm travel); ``counts_per_mm`` overrides
  the encoder scale (default 34554.96, the current APT manual's Z8 figure; see ``scaling``);
- ``x_range_mm`` / ``y_range_mm``: [low, high] within the 0..25 mm travel (default the full
  travel): moves outside are refused before anything is sent, and every map/survey point is
  checked against them before a run starts;
- ``min_step_um``: the smallest step a map may ask for (default 0.2 um, the Z825B's specified
  minimum incremental motion; the encoder count is 29 nm);
- ``timeout_s``, ``home_timeout_s``, ``check_model`` as for the rotation stages; ``check_stage``
  (True): a KDC101 that names a stage in HW_GET_INFO must name a Z8 actuator.

Units: positions are metres inside (the actuators' own readings, stage coordinates), velocity
and acceleration in the KDC101's units from the manual (``scaling.Z8_SCALING``). The sample moves
under a fixed focus, so the spot on the film moves the opposite way (docs/drivers/xy_stage.md).
``move_to`` starts both axes, then waits for both; ``stop`` stops both; safe state = stop.
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

from drivers.clock import Clock
from drivers.errors import InstrumentError
from drivers.interfaces import StageLimits, XYStage
from drivers.thorlabs_apt.protocol import KDC101_STAGE_IDS, MotMoveCompleted
from drivers.thorlabs_apt.scaling import Z8_COUNTS_PER_MM, Z8_SCALING, StageScaling, kdc101_scaling
from drivers.thorlabs_apt.stage import AptAxis
from drivers.validation import check_choice, check_range

log = logging.getLogger(__name__)

#: Z8-series travel, m (both actuators)
Z8_TRAVEL_M = (0.0, 25e-3)
ACTUATORS = ("Z825B", "MTS25-Z8")
#: stage ids a KDC101 may report for these actuators (HW_GET_INFO; 0 = not reported)
_Z8_STAGE_NAMES = ("Z825", "MTS25-Z8", "MTS50-Z8", "Z812", "Z806")
DEFAULT_MIN_STEP_UM = 0.2


class Z8Axis(AptAxis):
    """One KDC101 + Z8 actuator, positions in m."""

    REPORTED_MODEL: ClassVar[str] = "KDC101"
    SCALING: ClassVar[StageScaling] = Z8_SCALING
    SENDS_KEEPALIVE: ClassVar[bool] = True
    HOME_DISTANCE: ClassVar[float] = Z8_TRAVEL_M[1]


def split_address(name: str, address: str) -> tuple[str, str]:
    """``"<x>,<y>"`` -> (x, y); one line naming the field otherwise."""
    parts = [part.strip() for part in address.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{name}.address={address!r} is not allowed; allowed: "
                         "'<x controller port>,<y controller port>'")
    return parts[0], parts[1]


def stage_limits(name: str, x_range_mm: Any, y_range_mm: Any, min_step_um: float,
                 travel_m: tuple[float, float], encoder_m: float) -> StageLimits:
    """Validated limits from rig-file options (mm, um), inside ``travel_m``."""
    ranges = []
    for axis, raw in (("x", x_range_mm), ("y", y_range_mm)):
        low_mm, high_mm = travel_m[0] * 1e3, travel_m[1] * 1e3
        if raw is None:
            raw = [low_mm, high_mm]
        if not isinstance(raw, (list, tuple)) or len(raw) != 2:
            raise ValueError(f"{name}.{axis}_range_mm={raw!r} is not allowed; allowed: [low, high] mm")
        low = check_range(f"{name}.{axis}_range_mm[0]", raw[0], low_mm, high_mm, "mm")
        high = check_range(f"{name}.{axis}_range_mm[1]", raw[1], low_mm, high_mm, "mm")
        if low >= high:
            raise ValueError(f"{name}.{axis}_range_mm=[{low:g}, {high:g}] mm is not allowed; "
                             "low must be below high")
        ranges.append((low * 1e-3, high * 1e-3))
    step = check_range(f"{name}.min_step_um", min_step_um, encoder_m * 1e6, 1000.0, "um")
    return StageLimits(ranges[0], ranges[1], step * 1e-6)


class KDC101XYStage(XYStage):
    """Two KDC101 + Z8 axes as one XY stage (see the module docstring)."""

    model = "Thorlabs 2 x KDC101 + Z8 actuators"

    def __init__(self, name: str, address: str, clock: Clock, *, actuator: str = "Z825B",
                 counts_per_mm: float = Z8_COUNTS_PER_MM, x_range_mm: Any = None,
                 y_range_mm: Any = None, min_step_um: float = DEFAULT_MIN_STEP_UM,
                 check_stage: bool = True, **axis_options: Any) -> None:
        super().__init__(name, address)
        self.actuator = check_choice(f"{name}.actuator", actuator, ACTUATORS)
        counts = check_range(f"{name}.counts_per_mm", counts_per_mm, 1000.0, 1e7, "counts/mm")
        self.scaling = kdc101_scaling(counts * 1e3, "m")
        self._limits = stage_limits(name, x_range_mm, y_range_mm, min_step_um, Z8_TRAVEL_M,
                                    self.scaling.resolution)
        self.check_stage = check_stage
        x_address, y_address = split_address(name, address)
        self.axes = {axis: Z8Axis(f"{name}.{axis}", axis_address, clock, scaling=self.scaling,
                                  **axis_options)
                     for axis, axis_address in (("x", x_address), ("y", y_address))}

    @property
    def limits(self) -> StageLimits:
        return self._limits

    # ----------------------------------------------------------------- life cycle
    @property
    def is_connected(self) -> bool:
        return all(axis.is_connected for axis in self.axes.values())

    def connect(self) -> None:
        try:
            for axis in self.axes.values():
                axis.connect()
                self._check_stage_id(axis)
        except BaseException:
            self.close()
            raise

    def _check_stage_id(self, axis: Z8Axis) -> None:
        info = axis.info
        if not self.check_stage or info is None or info.stage_id == 0:
            return
        stage = KDC101_STAGE_IDS.get(info.stage_id, f"stage id {info.stage_id}")
        if stage not in _Z8_STAGE_NAMES:
            raise InstrumentError(axis.name, axis.address, "HW_REQ_INFO",
                                  f"controller drives a {stage}, not a Z8 linear actuator "
                                  "(pass check_stage = false to accept it)")

    def close(self) -> None:
        for axis in self.axes.values():
            axis.close()

    def identify(self) -> str:
        return "; ".join(f"{axis}: {stage.identify()}" for axis, stage in self.axes.items())

    def safe_state(self) -> None:
        """Stop both axes (each is tried); an axis that cannot be stopped raises, and the rig
        reports it."""
        self.stop()

    # ----------------------------------------------------------------- motion
    def move_to(self, x_m: float, y_m: float, wait: bool = True) -> None:
        target = dict(zip(("x", "y"), self._limits.check(self.name, x_m, y_m)))
        distances = {}
        marks = {}
        for name, axis in self.axes.items():
            if wait:
                distances[name] = abs(target[name] - axis.get_position())
            marks[name] = axis.move_absolute(target[name], wait=False,
                                             label=f"{target[name] * 1e3:g} mm")
        if wait:
            for name, axis in self.axes.items():
                axis.wait_motion(marks[name], MotMoveCompleted, axis._move_timeout(distances[name]),
                                 "MOT_MOVE_ABSOLUTE",
                                 f"MOT_MOVE_COMPLETED at {target[name] * 1e3:g} mm")

    def home(self, wait: bool = True) -> None:
        """MOT_MOVE_HOME on both axes (each runs to its reverse limit switch, 0 mm); refused
        when 0 mm is outside the configured limits."""
        reason = self._limits.home_problem(self.name, (Z8_TRAVEL_M[0], Z8_TRAVEL_M[0]))
        if reason is not None:
            raise ValueError(reason)
        marks = {name: axis.start_home() for name, axis in self.axes.items()}
        if wait:
            for name, axis in self.axes.items():
                axis.wait_homed(marks[name])

    def get_position(self) -> tuple[float, float]:
        return self.axes["x"].get_position(), self.axes["y"].get_position()

    def is_moving(self) -> bool:
        return any(axis.is_moving() for axis in self.axes.values())

    def stop(self) -> None:
        errors = []
        for axis in self.axes.values():
            try:
                axis.stop()
            except InstrumentError as exc:  # stop the other axis even if one link is gone
                errors.append(exc)
        if errors:
            raise errors[0]
