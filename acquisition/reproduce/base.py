"""What a reproduction group declares, and the rows of the report.

A group is one published figure group of /work/shared/reference/physics.md (e.g. the 77 K CW
calibration spot, the temperature trend, the chopper trend). It declares the campaign that
measures it on the simulated rig (the same TOML an operator would run with ``avalab campaign``),
the rig it needs (the simulated rig, optionally with settings changed, e.g. the 880 nm APD
filter), and how its rows are read from the campaign's stored run files (each run re-analysed
by its experiment's own analysis, as ``avalab analyze`` does). Nothing here makes a reading.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: row status: the value met the tolerance, did not, or could not be measured
PASS, FAIL, NOT_MEASURED = "pass", "fail", "not measured"
#: where the published values are written down (the lines quoted in every row's source)
REFERENCE = "physics.md"


@dataclass(frozen=True)
class Published:
    """A published value: what the paper says, where (``physics.md:LINE``), and the tolerance."""

    text: str
    source: str
    tolerance: str
    #: value -> True when it meets the published figure within the tolerance
    check: Callable[[Any], bool]


@dataclass
class Row:
    """One line of the report: published | simulated | tolerance | status (+ note)."""

    group: str
    key: str
    figure: str
    published: Published
    value: Any = None
    simulated: str = ""
    status: str = NOT_MEASURED
    note: str = ""
    run_files: list[str] = field(default_factory=list)
    #: the rig has no way to measure this figure (listed so that the table covers physics.md)
    outside_rig: bool = False

    def to_json_dict(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        return {"group": self.group, "key": self.key, "figure": self.figure,
                "published": self.published.text, "source": self.published.source,
                "tolerance": self.published.tolerance, "simulated": self.simulated, "value": value,
                "status": self.status, "note": self.note, "run_files": list(self.run_files),
                "outside_rig": self.outside_rig}


def measured(group: str, key: str, figure: str, published: Published, value: Any, simulated: str,
             run_files: Sequence[str], note: str = "") -> Row:
    """A row with a measured value, judged by the published check. No value: a fail when the
    run exists (the stored data do not show the figure, e.g. no switch-on jump), not measured
    when there is no run to read."""
    row = Row(group, key, figure, published, value, simulated, NOT_MEASURED, note, list(run_files))
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        if run_files:
            row.status = FAIL
            row.simulated = simulated if simulated and simulated != "—" else "none found"
            row.note = "; ".join(x for x in (note, "the analysis of the stored run found no value") if x)
        else:
            row.simulated = "—"
            row.note = "; ".join(x for x in (note, "no run was measured for it") if x)
        return row
    row.status = PASS if published.check(value) else FAIL
    return row


def outside_rig(group: str, key: str, figure: str, published: Published, why: str) -> Row:
    """A published figure the rig cannot measure at all (no such detector or condition)."""
    return Row(group, key, figure, published, None, "—", NOT_MEASURED, why, [], outside_rig=True)


# ---- tolerances ---------------------------------------------------------------------------------
def within(target: float, rel: float, text: str, source: str) -> Published:
    """``target`` +- ``rel`` (relative)."""
    return Published(text, source, f"± {100 * rel:.0f} %",
                     lambda v: abs(float(v) - target) <= rel * abs(target))


def within_abs(target: float, tol: float, unit: str, text: str, source: str) -> Published:
    return Published(text, source, f"± {tol:g} {unit}".rstrip(), lambda v: abs(float(v) - target) <= tol)


def at_least(bound: float, text: str, source: str, tolerance: str | None = None) -> Published:
    return Published(text, source, tolerance or f"≥ {bound:g}", lambda v: float(v) >= bound)


def at_most(bound: float, text: str, source: str, tolerance: str | None = None) -> Published:
    return Published(text, source, tolerance or f"≤ {bound:g}", lambda v: float(v) <= bound)


def between(low: float, high: float, text: str, source: str, tolerance: str | None = None) -> Published:
    return Published(text, source, tolerance or f"[{low:g}, {high:g}]", lambda v: low <= float(v) <= high)


def is_(expected: bool, text: str, source: str) -> Published:
    return Published(text, source, "exact", lambda v: bool(v) is expected)


@dataclass(frozen=True)
class Measured:
    """One stored run of a group's campaign: its index entry, the file, and the figures its
    experiment's analysis computes from the file's streams."""

    label: str
    variables: dict[str, Any]
    experiment: str
    path: Path
    figures: dict[str, Any]
    run: Any  # acquisition.storage RunFile (streams, params)


class GroupRuns:
    """The complete runs of one group's campaign, found by step label and loop variables."""

    def __init__(self, runs: list[Measured]) -> None:
        self.runs = runs

    def select(self, label: str | None = None, **variables: Any) -> list[Measured]:
        out = []
        for run in self.runs:
            if label is not None and run.label != label:
                continue
            if all(_same(run.variables.get(k), v) for k, v in variables.items()):
                out.append(run)
        return out

    def one(self, label: str | None = None, **variables: Any) -> Measured | None:
        found = self.select(label, **variables)
        return found[0] if found else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


Evaluate = Callable[[GroupRuns], list[Row]]
Plot = Callable[[GroupRuns, Path], list[Path]]


@dataclass(frozen=True)
class Group:
    """A published figure group and how it is measured (see the module docstring).

    ``campaign(quick)`` returns the campaign TOML (without ``name``/``rig``, which the runner
    adds); ``rig`` holds dotted rig-file settings that differ from the simulated rig
    (``{"sim.detector.emission_filter": "880nm"}``); ``quick``: part of ``--quick``."""

    name: str
    title: str
    campaign: Callable[[bool], str]
    evaluate: Evaluate
    plot: Plot
    quick: bool = False
    rig: dict[str, Any] = field(default_factory=dict)
    #: rows this group cannot measure on the rig at all (published, reason), listed as such
    unmeasurable: tuple[tuple[str, str, Published, str], ...] = ()


def fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{float(value):.{digits}g}" + (f" {unit}" if unit else "")
    return str(value)


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    clean = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not clean:
        return None, None
    mean = sum(clean) / len(clean)
    if len(clean) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in clean) / (len(clean) - 1))


def files(runs: Sequence[Measured | None]) -> list[str]:
    """The run files of ``runs``; empty when any of them is missing (a figure that compares runs
    is measured only when all of them are)."""
    if any(r is None for r in runs):
        return []
    return [str(r.path) for r in runs if r is not None]
