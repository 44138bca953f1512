"""``--dry-run``: the plan, its estimated duration, and the range of every setting it visits.

Ranges are read from the experiments' schemas by unit (kW/cm2 densities, Hz chopper
frequencies, nm wavelengths, K temperatures, W/cm2 control densities, s times), so a new
experiment's parameters show up without changes here.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from acquisition.campaigns.runner import unit_duration_s
from acquisition.campaigns.spec import Campaign, Unit, expand

#: units whose parameters are instrument settings worth a range in the dry run
SETTING_UNITS = ("kW/cm2", "W/cm2", "Hz", "nm", "K", "%")
#: parameters in those units that tune the analysis or the plan rather than set an instrument
NOT_SETTINGS = ("resolution", "noise", "tolerance", "band")


@dataclass
class SettingRange:
    label: str
    unit: str
    low: float = float("inf")
    high: float = float("-inf")
    values: set[float] = field(default_factory=set)

    def add(self, values: Iterable[float]) -> None:
        for value in values:
            self.low = min(self.low, float(value))
            self.high = max(self.high, float(value))
            if len(self.values) < 50:
                self.values.add(float(value))

    def describe(self) -> str:
        if self.low == self.high:
            return f"{self.label}: {self.low:g} {self.unit}"
        if len(self.values) <= 6:
            listed = ", ".join(f"{v:g}" for v in sorted(self.values))
            return f"{self.label}: {self.low:g} .. {self.high:g} {self.unit} ({listed})"
        return f"{self.label}: {self.low:g} .. {self.high:g} {self.unit}"


@dataclass
class DryRun:
    units: list[Unit]
    durations_s: list[float]
    ranges: dict[tuple[str, str], SettingRange]

    @property
    def total_s(self) -> float:
        return sum(self.durations_s)


def plan_dry_run(campaign: Campaign) -> DryRun:
    from acquisition.experiments import get_experiment
    units = expand(campaign)
    durations = [unit_duration_s(u, lambda e, p: get_experiment(e).estimate_duration_s(p)) for u in units]
    ranges: dict[tuple[str, str], SettingRange] = {}

    def note(label: str, unit: str, values: Iterable[float]) -> None:
        ranges.setdefault((label, unit), SettingRange(label, unit)).add(values)

    if campaign.stage_mm is not None:  # the stage home: units without stage_mm go back there
        note("Stage x", "mm", [campaign.stage_mm[0]])
        note("Stage y", "mm", [campaign.stage_mm[1]])
    for u in units:
        if u.temperature_k is not None:
            note("Cryostat setpoint", "K", [u.temperature_k])
        if u.position_um is not None:
            note("Film position x", "um", [u.position_um[0]])
            note("Film position y", "um", [u.position_um[1]])
        if u.stage_mm is not None:
            note("Stage x", "mm", [u.stage_mm[0]])
            note("Stage y", "mm", [u.stage_mm[1]])
        if u.experiment is None:
            continue
        schema = get_experiment(u.experiment).schema
        values = schema.validate(dict(u.params))
        for parameter in schema.parameters:
            value = values.get(parameter.name)
            is_duty = "duty" in parameter.name  # a fraction: no unit, still a chopper setting
            if (parameter.unit not in SETTING_UNITS and not is_duty) or value is None or value == [] \
                    or any(word in parameter.name for word in NOT_SETTINGS):
                continue
            numbers = value if isinstance(value, list) else [value]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
                note(f"{parameter.label} ({u.experiment})", parameter.unit or "fraction", numbers)
    return DryRun(units=units, durations_s=durations, ranges=ranges)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def format_dry_run(campaign: Campaign, dry: DryRun) -> str:
    lines = [f"campaign {campaign.name!r}: {len(dry.units)} unit(s), estimated "
             f"{format_duration(dry.total_s)} of rig-clock time (temperature moves not included)",
             "", f"{'#':>5}  {'unit':<34} {'experiment':<12} {'estimate':>10}  setup"]
    if campaign.stage_mm is not None:
        lines.insert(1, f"stage home ({campaign.stage_mm[0]:g}, {campaign.stage_mm[1]:g}) mm: "
                        "units without stage_mm run there")
    for i, (unit, seconds) in enumerate(zip(dry.units, dry.durations_s)):
        setup = []
        if unit.temperature_k is not None:
            setup.append(f"T={unit.temperature_k:g} K")
        if unit.position_um is not None:
            setup.append(f"xy=({unit.position_um[0]:g}, {unit.position_um[1]:g}) um")
        if unit.stage_mm is not None:
            setup.append(f"stage=({unit.stage_mm[0]:g}, {unit.stage_mm[1]:g}) mm")
        if unit.wait_s:
            setup.append(f"wait {unit.wait_s:g} s")
        lines.append(f"{i + 1:>5}  {unit.key:<34} {unit.experiment or '-':<12} "
                     f"{format_duration(seconds):>10}  {', '.join(setup)}")
    lines += ["", "instrument settings visited:"]
    lines += [f"  {r.describe()}" for r in sorted(dry.ranges.values(), key=lambda r: r.label)]
    return "\n".join(lines)


def dry_run_dict(campaign: Campaign, dry: DryRun) -> dict[str, Any]:
    return {
        "campaign": campaign.name, "units": len(dry.units), "estimated_s": dry.total_s,
        "stage_home_mm": campaign.stage_mm,
        "plan": [{"key": u.key, "experiment": u.experiment, "estimated_s": s,
                  "temperature_k": u.temperature_k, "position_um": u.position_um,
                  "stage_mm": u.stage_mm, "wait_s": u.wait_s,
                  "params": dict(u.params)} for u, s in zip(dry.units, dry.durations_s)],
        "ranges": {r.label: {"unit": r.unit, "min": r.low, "max": r.high} for r in dry.ranges.values()},
    }
