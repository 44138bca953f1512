"""Decay of the 810 nm and 880 nm emission after the pump turns off under 1 kHz chopping (issue
15, "Must show": 22.6 us and 50.4 us; the lines are physics.md line 38), measured with the
``lifetime`` experiment (TCSPC histogram on the chopper edge, decay = area under the normalised
decay) through the 809/81 nm and the 935/170 nm APD filter. The 4I11/2 lifetime (physics.md
line 39) has no detector on the rig and is listed as not measured.

The pump is 36 kW/cm2 while the blade is open (18 kW/cm2 average): the run starts dark, and a
1 kHz chopped pump lets the reservoir decay between pulses, so the spot avalanches within each
0.5 ms pulse only well above the CW switch-on (at the lifetime experiment's default 12 kW/cm2
it stays dark: no signal)."""
from __future__ import annotations

from pathlib import Path

from acquisition.reproduce.base import GroupRuns, Group, Published, Row, between, files, fmt, measured
from acquisition.reproduce.groups.common import SPOT_POSITION, figure, plot_run

ISSUE = "issue 15 (Must show)"


def campaign(quick: bool) -> str:
    return f'''
[[step]]
label = "decay"
{SPOT_POSITION}
experiment = "lifetime"
params = {{ temperature_k = 77.0, density_kw_cm2 = 36.0, frequency_hz = 1000.0, duty_cycle = 0.5, bin_width_s = 2e-6, settle_s = 0.3, acquisition_s = 1.0 }}
'''


def _evaluate(name: str, line: str, published_s: float):
    def evaluate(runs: GroupRuns) -> list[Row]:
        run = runs.one("decay")
        decay = figure(run, "decay_time_s")
        rise = figure(run, "rise_time_s")
        return [measured(name, "decay", f"{line} decay after a 1 kHz pump pulse (77 K)",
                         between(published_s / 2, published_s * 2, f"{published_s * 1e6:g} us", ISSUE, "within 2x"),
                         decay, fmt(None if decay is None else decay * 1e6, "us"), files([run]),
                         f"rise (95 %) {fmt(None if rise is None else rise * 1e6, 'us')}")]
    return evaluate


def _plot(name: str):
    def plot(runs: GroupRuns, folder: Path) -> list[Path]:
        return plot_run(runs.one("decay"), folder / f"{name}.png")
    return plot


RESERVOIR = ("reservoir_lifetime", "4I11/2 lifetime (KPb2Cl5, room temperature)",
             Published("2.3 ms", "physics.md:39", "—", lambda v: False),
             "the rig detects 800-1000 nm only; the 4I11/2 -> 4I9/2 emission (~5 um) has no detector. The "
             "chopper group probes the reservoir's memory indirectly")

DECAY_810 = Group("decay_810", "810 nm decay after the pump pulse", campaign,
                  _evaluate("decay_810", "810 nm", 22.6e-6), _plot("decay_810"))
DECAY_880 = Group("decay_880", "880 nm decay after the pump pulse", campaign,
                  _evaluate("decay_880", "880 nm", 50.4e-6), _plot("decay_880"),
                  rig={"sim.detection.emission_filter": "880nm"}, unmeasurable=(RESERVOIR,))
