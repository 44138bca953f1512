"""Instability-crossing switching at 77 K (physics.md lines 24, 36-37): a 1 s, 7 W/cm2 808 nm
pulse latches a bias inside the window (the published 4.7 kW/cm2 and the middle of the measured
window) and nothing below or above it; 745 and 875 nm pulses latch too. The ``switch``
experiment finds the window by a sweep and places its biases itself."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from acquisition.reproduce.base import GroupRuns, Group, Measured, Published, Row, files, measured
from acquisition.reproduce.groups.common import SPOT_POSITION, plot_run

NAME = "switching"
PUBLISHED_BIAS_KW_CM2 = 4.7


def campaign(quick: bool) -> str:
    text = f'''
[[step]]
label = "default biases"
{SPOT_POSITION}
experiment = "switch"
params = {{ temperature_k = 77.0, control_wavelength_nm = 808.0, control_density_w_cm2 = 7.0, pulse_s = 1.0 }}
'''
    if not quick:
        text += f'''
[[step]]
label = "published bias"
{SPOT_POSITION}
experiment = "switch"
params = {{ temperature_k = 77.0, biases_kw_cm2 = [{PUBLISHED_BIAS_KW_CM2}], window_sweep = true, control_wavelength_nm = 808.0, control_density_w_cm2 = 7.0, pulse_s = 1.0 }}

[[step]]
label = "other wavelengths"
{SPOT_POSITION}
loop = {{ wavelength = [745.0, 875.0] }}
experiment = "switch"
params = {{ temperature_k = 77.0, control_wavelength_nm = "${{wavelength}}", control_density_w_cm2 = 7.0, pulse_s = 1.0 }}
'''
    return text


def verdicts(run: Measured | None) -> list[tuple[float, str, float | None]]:
    """(bias kW/cm2, verdict, fraction) of a switch run, by rising bias."""
    if run is None:
        return []
    states = run.figures.get("latch_by_bias_kw_cm2") or {}
    fractions = run.figures.get("latched_fraction_by_bias_kw_cm2") or {}
    return sorted((float(b), str(s), fractions.get(b)) for b, s in states.items())


def _state(found: tuple[float, str, float | None] | None) -> Any:
    return None if found is None else found[1]


def _text(found: tuple[float, str, float | None] | None) -> str:
    if found is None:
        return "—"
    bias, state, fraction = found
    share = f", {100 * fraction:.0f} % of the window's change" if fraction is not None and state != "not latched" else ""
    return f"{state} at {bias:.2f} kW/cm2{share}"


def _latched() -> Published:
    return Published("latches", "physics.md:36", "latched", lambda v: v == "latched")


def _nothing(source: str) -> Published:
    return Published("nothing latches", source, "not latched (no change)", lambda v: v == "not latched")


def evaluate(runs: GroupRuns) -> list[Row]:
    default = runs.one("default biases")
    found = verdicts(default)
    below, inside, above = (found + [None, None, None])[:3] if len(found) == 3 else (None, None, None)
    window = (default.figures.get("spot_bistable_kw_cm2") if default else None) or [None, None]
    region = "" if window[0] is None else f"spot bistable from {window[0]:.2f} to {window[1]:.2f} kW/cm2"
    rows = [
        measured(NAME, "inside", "808 nm pulse at a bias inside the window", _latched(), _state(inside), _text(inside),
                 files([default]), "middle of the main window"),
        measured(NAME, "below", "808 nm pulse below every particle's window", _nothing("physics.md:37"),
                 _state(below), _text(below), files([default]), region),
        measured(NAME, "above", "808 nm pulse above every particle's window", _nothing("physics.md:37"),
                 _state(above), _text(above), files([default]), region),
    ]
    published = runs.one("published bias")
    at_47 = verdicts(published)
    rows.append(measured(NAME, "bias_4_7", "808 nm, 7 W/cm2, 1 s at the published 4.7 kW/cm2 bias", _latched(),
                         _state(at_47[0] if at_47 else None), _text(at_47[0] if at_47 else None),
                         files([published])))
    for wavelength in (745.0, 875.0):
        run = runs.one("other wavelengths", wavelength=wavelength)
        found = verdicts(run)
        middle = found[1] if len(found) == 3 else None
        rows.append(measured(NAME, f"inside_{wavelength:.0f}", f"{wavelength:.0f} nm pulse inside the window",
                             Published("also 745 nm or 875 nm", "physics.md:24", "latched", lambda v: v == "latched"),
                             _state(middle), _text(middle), files([run])))
    return rows


def plot(runs: GroupRuns, folder: Path) -> list[Path]:
    return plot_run(runs.one("default biases"), folder / "switching_traces.png")


GROUP = Group(NAME, "808 nm switching at 77 K", campaign, evaluate, plot, quick=True)
