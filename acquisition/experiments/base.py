"""What an experiment is: a parameter schema, a plan, a duration estimate, rig-specific checks."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acquisition.schema import ParameterSchema

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

Plan = Callable[["PlanContext", dict[str, Any]], dict[str, Any]]
RigCheck = Callable[[dict[str, Any], Any], None]

W_M2_PER_KW_CM2 = 1e7  # 1 kW/cm2 = 1e7 W/m2: operator units only at the edges
W_M2_PER_W_CM2 = 1e4


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    schema: ParameterSchema
    plan: Plan
    duration: Callable[[dict[str, Any]], float]
    rig_check: RigCheck | None = None

    def validate(self, params: dict[str, Any] | None, rig: Any = None) -> dict[str, Any]:
        """Schema validation, then the checks that need the rig (limits, laser range)."""
        values = self.schema.validate(params or {})
        if rig is not None and self.rig_check is not None:
            self.rig_check(values, rig)
        return values

    def validate_all(self, params: dict[str, Any] | None, rig: Any = None) -> list[str]:
        errors = self.schema.validate_all(params or {})
        if not errors and rig is not None and self.rig_check is not None:
            try:
                self.rig_check(self.schema.validate(params or {}), rig)
            except ValueError as exc:
                errors.append(str(exc))
        return errors

    def estimate_duration_s(self, params: dict[str, Any] | None) -> float:
        """Rig-clock seconds the run should take (settle + dwell + overheads), without moves."""
        return float(self.duration(self.schema.validate(params or {})))


def max_density_w_m2(rig: Any) -> float:
    return float(rig.config.limits.max_power_density_w_m2)


def check_density_limit(field: str, value_kw_cm2: float, rig: Any) -> None:
    """Parameter-time check of a density against the rig limit (ValueError, nothing moved)."""
    limit = max_density_w_m2(rig) / W_M2_PER_KW_CM2
    if value_kw_cm2 > limit:
        raise ValueError(f"{field}={value_kw_cm2:g} kW/cm2 is above the rig limit; "
                         f"allowed range (0, {limit:g}] kW/cm2")
