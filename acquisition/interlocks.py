"""Safety limits of a run: power density, APD count rate, cryostat temperature band.

Pure decisions only (is this value allowed, is this reading in band); what to *do* about a trip
(close the pump shutter, pause, wait) is the engine's job in ``acquisition.plan_context``.
Limits come from the rig file (``[limits]``) so that the same experiment is safe on every rig.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

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
    #: the power meter's stated relative uncertainty (``PowerMeter.relative_uncertainty``):
    #: density setpoints are allowed up to the limit / (1 + it), a reading trips above the limit
    meter_relative_uncertainty: float = 0.0

    @property
    def max_density_setpoint_w_m2(self) -> float:
        """The highest density a plan may set: the limit less the power meter's uncertainty."""
        return max_density_setpoint_w_m2(self.max_power_density_w_m2, self.meter_relative_uncertainty)

    @classmethod
    def from_rig(cls, rig: object) -> "InterlockLimits":
        limits = rig.config.limits  # type: ignore[attr-defined]
        band = limits.temperature_band_k
        if isinstance(band, tuple | list):  # (low, high) offsets tolerated: keep the narrower
            band = min(abs(float(b)) for b in band)
        low, high = temperature_range_k(rig)
        return cls(float(limits.max_power_density_w_m2), float(limits.max_count_rate_cps),
                   float(band), float(limits.temperature_stable_s), low, high,
                   meter_relative_uncertainty(rig))


def meter_relative_uncertainty(rig: object) -> float:
    """The rig's power meter's stated relative uncertainty (0 on a rig without a meter: it sets
    no densities)."""
    meter = getattr(rig, "power_meter", None)
    return 0.0 if meter is None else float(meter.relative_uncertainty)


def max_density_setpoint_w_m2(limit_w_m2: float, relative_uncertainty: float) -> float:
    """The highest density setpoint whose reading may be off by the meter's uncertainty and
    still keep the sample at or below ``limit_w_m2``."""
    return limit_w_m2 / (1.0 + relative_uncertainty)


def _kw_cm2_floor(density_w_m2: float) -> str:
    """A density in kW/cm2 to 4 significant figures, rounded down (a bound shown is one that holds)."""
    value = density_w_m2 / W_M2_PER_KW_CM2
    if value <= 0 or not math.isfinite(value):
        return f"{value:g}"
    scale = 10.0 ** (math.floor(math.log10(value)) - 3)
    return f"{math.floor(value / scale + 1e-9) * scale:.4g}"


def density_setpoint_error(field: str, density_w_m2: float, limit_w_m2: float, relative_uncertainty: float,
                           low_bracket: str = "[") -> str | None:
    """One line when ``density_w_m2`` is not an allowed setpoint (None: it is): above the rig
    limit less the power meter's stated uncertainty, so that a correct reading cannot put the
    sample above the limit unnoticed."""
    highest = max_density_setpoint_w_m2(limit_w_m2, relative_uncertainty)
    if not math.isnan(density_w_m2) and density_w_m2 <= highest * (1 + 1e-12):
        return None
    allowed = f"allowed range {low_bracket}0, {_kw_cm2_floor(highest)}] kW/cm2"
    if relative_uncertainty > 0:
        allowed += (f" (the limit {limit_w_m2 / W_M2_PER_KW_CM2:g} kW/cm2 less the power meter's "
                    f"{100 * relative_uncertainty:.3g} % uncertainty)")
    return f"{field}={density_w_m2 / W_M2_PER_KW_CM2:g} kW/cm2 is above the rig limit; {allowed}"


def check_power_density(density_w_m2: float, limits: InterlockLimits, field: str = "power_density") -> None:
    """Refuse a density setpoint above the limit less the meter's uncertainty (InterlockError,
    one line, kW/cm2 as operators read)."""
    message = density_setpoint_error(field, density_w_m2, limits.max_power_density_w_m2,
                                     limits.meter_relative_uncertainty)
    if message is not None:
        raise InterlockError(message)


def measured_density_error(field: str, density_w_m2: float, limits: InterlockLimits) -> str | None:
    """One line when a *measured* density is above the rig limit (None: it is not). The limit is
    hard: the reading itself is compared, and the message states the meter's uncertainty."""
    limit = limits.max_power_density_w_m2
    if not math.isnan(density_w_m2) and density_w_m2 <= limit:
        return None
    u = limits.meter_relative_uncertainty
    return (f"{field}={density_w_m2 / W_M2_PER_KW_CM2:.4g} kW/cm2 (power meter +/-{100 * u:.3g} %) is above "
            f"the rig limit {limit / W_M2_PER_KW_CM2:g} kW/cm2 by {100 * (density_w_m2 / limit - 1):.3g} %")


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
    return math.isnan(rate_cps) or rate_cps > limits.max_count_rate_cps


def open_phase_rate_cps(counts: float, dwell_s: float, duty: float | None, frequency_hz: float | None) -> float:
    """The APD rate the count-rate limit is judged by: counts over the longest time the chopper
    blade can have been open during the count (all of ``dwell_s`` without a chopper).

    Under chopped excitation the detector sees bursts: the counted mean understates the rate
    while the blade is open by up to 1/duty. The open time of a window is at most
    (whole periods in it + 1) x the open fraction of a period, so this never exceeds the
    open-phase rate of an emission that follows the pump, and tends to mean / duty for long
    counts (a short probe that happens to fall in the dark phase reads low: long counts and the
    TCSPC histogram see the bursts)."""
    if duty is None or frequency_hz is None or duty >= 1.0:
        return counts / dwell_s
    open_s = min(dwell_s, (math.floor(dwell_s * frequency_hz) + 1) * duty / frequency_hz)
    return counts / open_s


def histogram_peak_rate_cps(counts: "np.ndarray", acquisition_s: float, bin_width_s: float,
                            marker_hz: float | None) -> float:
    """The highest APD rate a TCSPC histogram shows: the fullest delay bin over the time it was
    exposed (bin width x marker periods in the acquisition) when the markers come from a running
    chopper, and never less than the mean rate over the acquisition."""
    total = float(np.sum(counts))
    mean = total / acquisition_s
    if not marker_hz or len(counts) == 0:
        return mean
    periods = max(acquisition_s * marker_hz, 1.0)
    return max(mean, float(np.max(counts)) / (bin_width_s * periods))


def temperature_in_band(temperature_k: float, target_k: float | None, limits: InterlockLimits) -> bool:
    if target_k is None:
        return True
    return abs(temperature_k - target_k) <= limits.temperature_band_k
