"""Published figures (reference paper, /work/shared/reference/physics.md) with the conditions
they were measured at: drawn over a study's maps where the map spans those conditions. They are
never used to make a simulated reading, only to compare with one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ND_KPC = "Nd:KPb2Cl5"


@dataclass(frozen=True)
class PublishedPoint:
    figure: str                 # a study figure (acquisition.studies.table.FIGURES)
    value: float | bool
    #: axis name -> value measured at; frequency_hz None = CW
    conditions: dict[str, Any] = field(default_factory=dict)
    label: str = ""


_CW_77 = {"material": ND_KPC, "temperature_k": 77.0, "dopant_fraction": 0.18, "frequency_hz": None}

PUBLISHED: tuple[PublishedPoint, ...] = (
    PublishedPoint("switch_on_kw_cm2", 5.2, _CW_77, "film mean 5.2"),
    PublishedPoint("hysteresis_width_kw_cm2", 1.0, _CW_77, "film mean 1.0"),
    PublishedPoint("contrast_db", 14.0, _CW_77, "film 14 ± 4 dB"),
    PublishedPoint("nonlinearity_s", 200.0, _CW_77, "s ≥ 200"),
    PublishedPoint("bistable", True, _CW_77, "bistable"),
    PublishedPoint("bistable", True, {**_CW_77, "temperature_k": 150.0}, "IOB at 150 K"),
    PublishedPoint("bistable", False, {**_CW_77, "temperature_k": 160.0}, "no hysteresis at 160 K"),
    PublishedPoint("nonlinearity_s", 70.0, {**_CW_77, "temperature_k": 160.0}, "s = 70 at 160 K"),
    PublishedPoint("nonlinearity_s", 40.0, {**_CW_77, "frequency_hz": 140.0, "duty_cycle": 0.4}, "s = 40"),
    PublishedPoint("bistable", False, {**_CW_77, "frequency_hz": 140.0, "duty_cycle": 0.4}, "no hysteresis"),
    PublishedPoint("bistable", True, {**_CW_77, "frequency_hz": 180.0, "duty_cycle": 0.4}, "hysteresis from 180 Hz"),
    PublishedPoint("hysteresis_width_kw_cm2", 4.5, {**_CW_77, "frequency_hz": 1000.0, "duty_cycle": 0.4},
                   "4.5 (average)"),
)


def points_on_map(figure: str, x: str, y: str | None, fixed: dict[str, Any]) -> list[tuple[PublishedPoint, float, float | None]]:
    """Published points of ``figure`` that lie on a map spanned by axes ``x`` (and ``y``) whose
    other conditions are ``fixed`` (what the study holds constant; absent: unknown, not checked)."""
    out = []
    for point in PUBLISHED:
        if point.figure != figure or x not in point.conditions or (y is not None and y not in point.conditions):
            continue
        others = {k: v for k, v in point.conditions.items() if k not in (x, y)}
        if all(k not in fixed or _same(fixed[k], v) for k, v in others.items()):
            out.append((point, point.conditions[x], point.conditions[y] if y is not None else None))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= 1e-6 * max(abs(float(a)), abs(float(b)), 1.0)
    return a == b
