"""What an experiment is: a parameter schema, a plan, a duration estimate, rig-specific checks."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acquisition.schema import ParameterSchema

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

Plan = Callable[["PlanContext", dict[str, Any]], dict[str, Any]]
RigCheck = Callable[[dict[str, Any], Any], None]
#: start-time check against what the rig has stored (power calibration, control-path reach):
#: ``preflight(validated_params, rig, calibration_store)`` raises ValueError (one line)
Preflight = Callable[[dict[str, Any], Any, Any], None]

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
    preflight: Preflight | None = None

    def validate(self, params: dict[str, Any] | None, rig: Any = None) -> dict[str, Any]:
        """Schema validation, then the checks that need the rig (limits, laser range)."""
        if rig is not None:
            from acquisition.interlocks import raw_temperature_errors

            for message in raw_temperature_errors(params or {}, rig).values():
                raise ValueError(message)
        values = self.schema.validate(params or {})
        if rig is not None:
            check_temperature_limit(values, rig)
            if self.rig_check is not None:
                self.rig_check(values, rig)
        return values

    def schema_errors(self, params: dict[str, Any] | None, rig: Any = None) -> list[str]:
        """Every schema problem; with a rig, a temperature's message states the rig's range
        instead of the schema's wider absolute bound."""
        errors = self.schema.validate_all(params or {})
        if rig is None:
            return errors
        from acquisition.interlocks import raw_temperature_errors

        temperature_errors = raw_temperature_errors(params or {}, rig)
        errors = [e for e in errors if e.split("=", 1)[0].strip() not in temperature_errors]
        return errors + list(temperature_errors.values())

    def validate_all(self, params: dict[str, Any] | None, rig: Any = None) -> list[str]:
        errors = self.schema_errors(params, rig)
        if not errors and rig is not None:
            values = self.schema.validate(params or {})
            checks = [check_temperature_limit] + ([self.rig_check] if self.rig_check is not None else [])
            for check in checks:
                try:
                    check(values, rig)
                except ValueError as exc:
                    errors.append(str(exc))
        return errors

    def preflight_check(self, params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
        """Checks of validated ``params`` against the rig's stored calibrations (the engine runs
        them at start, before anything moves; ValueError, one line)."""
        if self.preflight is not None:
            self.preflight(params, rig, calibration_store)

    def estimate_duration_s(self, params: dict[str, Any] | None) -> float:
        """Rig-clock seconds the run should take (settle + dwell + overheads), without moves."""
        return float(self.duration(self.schema.validate(params or {})))


def max_density_w_m2(rig: Any) -> float:
    return float(rig.config.limits.max_power_density_w_m2)


def check_temperature_limit(params: dict[str, Any], rig: Any) -> None:
    """A ``temperature_k`` setpoint outside the rig's [min_temperature_k, max_temperature_k]
    (ValueError, one line, nothing moved)."""
    from acquisition.interlocks import check_rig_temperature

    if params.get("temperature_k") is not None:
        check_rig_temperature("temperature_k", params["temperature_k"], rig)


def check_density_limit(field: str, value_kw_cm2: float, rig: Any) -> None:
    """Parameter-time check of a density against the rig limit (ValueError, nothing moved)."""
    limit = max_density_w_m2(rig) / W_M2_PER_KW_CM2
    if value_kw_cm2 > limit:
        raise ValueError(f"{field}={value_kw_cm2:g} kW/cm2 is above the rig limit; "
                         f"allowed range (0, {limit:g}] kW/cm2")


def format_bound(value: float, round_up: bool) -> str:
    """``value`` to 4 significant figures, rounded towards the inside of a range (a bound shown
    is always one that holds)."""
    if value <= 0 or not math.isfinite(value):
        return f"{value:g}"
    scale = 10.0 ** (math.floor(math.log10(value)) - 3)
    steps = value / scale
    steps = math.ceil(steps - 1e-9) if round_up else math.floor(steps + 1e-9)
    return f"{steps * scale:.4g}"


def check_calibrated_reach(field: str, low_kw_cm2: float, high_kw_cm2: float, rig: Any,
                           calibration_store: Any, low_field: str | None = None) -> None:
    """Start-time check of a scan's densities against the stored power calibration, when one is
    valid for this rig (with none, or a stale one, the run calibrates first and checks then).

    The calibrated maximum at the sample is the plate at its highest transmission, the ND wheel
    at its clearest calibrated level and the pump at the calibration's laser power; the minimum
    the opposite (``PowerCalibration.power_range_w``)."""
    calibration, _ = calibration_store.load_for_rig(rig)
    if calibration is None:
        return
    area = math.pi * float(rig.config.beam.beam_radius_m) ** 2
    low_w, high_w = calibration.power_range_w(has_wheel=getattr(rig, "nd_wheel", None) is not None)
    low, high = low_w / area / W_M2_PER_KW_CM2, high_w / area / W_M2_PER_KW_CM2
    allowed = f"allowed range [{format_bound(low, True)}, {format_bound(high, False)}] kW/cm2"
    if high_kw_cm2 > high:
        raise ValueError(f"{field}={high_kw_cm2:g} kW/cm2 is above what the power calibration reaches; "
                         f"{allowed} (recalibrate with more laser power or a lower ND)")
    if low_kw_cm2 < low:
        raise ValueError(f"{low_field or field}={low_kw_cm2:g} kW/cm2 is below what the power calibration "
                         f"reaches; {allowed} (recalibrate with less laser power)")
