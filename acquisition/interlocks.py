"""Safety limits of a run: power density, APD count rate, cryostat temperature band.

Pure decisions only (is this value allowed, is this reading in band); what to *do* about a trip
(close the pump shutter, pause, wait) is the engine's job in ``acquisition.plan_context``.
Limits come from the rig file (``[limits]``) so that the same experiment is safe on every rig.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from acquisition.units import W_M2_PER_KW_CM2
from drivers.errors import InterlockError

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class InterlockLimits:
    max_power_density_w_m2: float
    max_count_rate_cps: float
    temperature_band_k: float  # allowed |T - target|
    temperature_stable_s: float  # time back in band before a run resumes
    min_temperature_k: float = 0.0  # setpoints allowed (rig limits)
    max_temperature_k: float = math.inf

    @classmethod
    def from_rig(cls, rig: object) -> "InterlockLimits":
        limits = rig.config.limits  # type: ignore[attr-defined]
        band = limits.temperature_band_k
        if isinstance(band, tuple | list):  # (low, high) offsets tolerated: keep the narrower
            band = min(abs(float(b)) for b in band)
        low, high = temperature_range_k(rig)
        return cls(float(limits.max_power_density_w_m2), float(limits.max_count_rate_cps),
                   float(band), float(limits.temperature_stable_s), low, high)


def check_power_density(density_w_m2: float, limits: InterlockLimits, field: str = "power_density") -> None:
    """Refuse a density above the rig limit (InterlockError, one line, kW/cm2 as operators read)."""
    if math.isnan(density_w_m2) or density_w_m2 > limits.max_power_density_w_m2:
        raise InterlockError(
            f"{field}={density_w_m2 / W_M2_PER_KW_CM2:g} kW/cm2 is above the rig limit; allowed range "
            f"[0, {limits.max_power_density_w_m2 / W_M2_PER_KW_CM2:g}] kW/cm2")


def temperature_limit_error(field: str, kelvin: float, low_k: float, high_k: float) -> str | None:
    """One-line reason why ``kelvin`` is not an allowed setpoint, or None when it is."""
    allowed = f"allowed range [{low_k:g}, {high_k:g}] K"
    if math.isnan(kelvin):
        return f"{field}=nan K is not a temperature; {allowed}"
    if kelvin < low_k:
        return f"{field}={kelvin:g} K is below the rig limit; {allowed}"
    if kelvin > high_k:
        return f"{field}={kelvin:g} K is above the rig limit; {allowed}"
    return None


def temperature_range_k(rig: object) -> tuple[float, float]:
    """The setpoints a rig allows (``RigConfig.temperature_range_k``; unlimited without one)."""
    config = rig.config  # type: ignore[attr-defined]
    low, high = getattr(config, "temperature_range_k", (0.0, math.inf))
    return float(low), float(high)


def check_rig_temperature(field: str, kelvin: float, rig: object) -> None:
    """Parameter-time check of a cryostat setpoint against the rig's ``[limits]`` (ValueError,
    one line, before anything moves)."""
    message = temperature_limit_error(field, float(kelvin), *temperature_range_k(rig))
    if message is not None:
        raise ValueError(message)


#: parameters that are cryostat setpoints (one value, or a series)
TEMPERATURE_FIELDS = ("temperature_k", "temperatures_k")


def allowed_temperature_range(rig: object) -> tuple[float, float]:
    """The setpoints allowed on ``rig``: its ``[limits]`` within the schema's absolute bound."""
    from acquisition.schema import TEMPERATURE_PARAMETER

    low, high = temperature_range_k(rig)
    return max(low, float(TEMPERATURE_PARAMETER.minimum)), min(high, float(TEMPERATURE_PARAMETER.maximum))


def setpoint_error(field: str, value: object, low_k: float, high_k: float, text_ok: bool = False) -> str | None:
    """One line when ``value`` is not an allowed setpoint in [low_k, high_k] (None: it is).
    ``text_ok``: a number written as text counts (CLI and GUI input), else only numbers do."""
    allowed = f"allowed range [{low_k:g}, {high_k:g}] K"
    if isinstance(value, bool) or not (text_ok or isinstance(value, (int, float))):
        return f"{field}={value!r} is not a number; {allowed}"
    try:
        kelvin = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{field}={str(value).strip()!r} is not a number; {allowed}"
    return temperature_limit_error(field, kelvin, low_k, high_k)


def raw_temperature_errors(params: dict, rig: object) -> dict[str, str]:
    """Setpoints as given (numbers, lists, or CLI/GUI text) against the rig's range, before the
    schema sees them, so that every temperature error states one range: the rig's, not the
    schema's wider absolute bound. Field name -> one-line message."""
    low, high = allowed_temperature_range(rig)
    errors: dict[str, str] = {}
    for name in TEMPERATURE_FIELDS:
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            items = list(value)
        elif isinstance(value, str) and name == "temperatures_k":
            items = [v for v in value.replace(";", ",").replace(",", " ").split() if v.strip()]
        else:
            items = [value]
        for item in items:
            problem = setpoint_error(name, item, low, high, text_ok=True)
            if problem is not None:
                errors[name] = problem
                break
    return errors


def count_rate_exceeded(rate_cps: float, limits: InterlockLimits) -> bool:
    return rate_cps > limits.max_count_rate_cps


def temperature_in_band(temperature_k: float, target_k: float | None, limits: InterlockLimits) -> bool:
    if target_k is None:
        return True
    return abs(temperature_k - target_k) <= limits.temperature_band_k
