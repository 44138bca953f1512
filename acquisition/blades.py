"""Which chopper blade serves a frequency and duty cycle (MC1F10A 20-1000 Hz variable duty,
MC1F60 120-6000 Hz fixed 50 %), with one-line errors naming field, value and allowed range."""
from __future__ import annotations

from drivers.interfaces import BLADES, BladeSpec
from drivers.validation import check_range

#: the frequency range the two blades cover together
CHOPPER_MIN_HZ = min(b.min_hz for b in BLADES.values())
CHOPPER_MAX_HZ = max(b.max_hz for b in BLADES.values())

_DUTY_TOLERANCE = 1e-9


def blade_for(frequency_hz: float, duty_cycle: float,
              field_frequency: str = "frequency_hz", field_duty: str = "duty_cycle") -> BladeSpec:
    """The blade to use: the variable-duty blade where it reaches, the fast blade above it."""
    check_range(field_frequency, frequency_hz, CHOPPER_MIN_HZ, CHOPPER_MAX_HZ, "Hz")
    candidates = [b for b in sorted(BLADES.values(), key=lambda b: b.max_hz)
                  if b.min_hz <= frequency_hz <= b.max_hz]
    for blade in candidates:
        if blade.min_duty - _DUTY_TOLERANCE <= duty_cycle <= blade.max_duty + _DUTY_TOLERANCE:
            return blade
    blade = candidates[0]  # the variable-duty blade where it reaches: name its range
    raise ValueError(
        f"{field_duty}={duty_cycle:g} is outside the allowed range [{blade.min_duty:g}, "
        f"{blade.max_duty:g}] of blade {blade.name} at {field_frequency}={frequency_hz:g} Hz")
