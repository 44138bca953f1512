"""CW power sweep, up then down, with optional adaptive refinement of the two jumps.

Each point: set the density, wait the settle delay, read the pick-off power meter, count APD
photons for the dwell time, read the temperature, emit. Every repeat starts from the dark state
(beam blocked for ``reset_s``) because the bistable state remembers the previous scan.

Refinement (``refine``): around each jump the scan is redone in finer steps until the jump is
bracketed to ``resolution_kw_cm2``. Every pass starts from the state the jump starts in and
approaches the bracket from that side: switch-on passes start dark (beam blocked, then the low
end, then up), switch-off passes start bright (top of the scan, then the high end, then down).
A pass's bracket is verified: its dark and bright ends were both measured in that pass, in that
order. An end found on the wrong side (the threshold moved between cycles: focus drift, ~3 % rms)
widens the bracket on that side and the pass is repeated. Refinement points carry ``pass`` >= 1
and ``bracket`` = "on" / "off"; the final brackets (setpoints, with ``verified``) go to the
``refinement`` stream. With verified brackets the summary's headline switch_on / switch_off /
width are the refined ones (B = bracket high end for switch-on, C = bracket high end for
switch-off, width from the bracket midpoints), the main scan's values are ``*_scan_kw_cm2``.
A refined threshold is that cycle's threshold to the resolution, not a better mean.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from acquisition.analysis.jumps import JumpCriteria
from acquisition.experiments.base import (POWER_ROLES, Demo, Experiment, Figure, LivePlot, RunData, SeriesPlot,
                                          check_calibrated_reach, check_density_limit, joined, kw_cm2_range,
                                          noise_of, stream_columns)
from acquisition.experiments.sweep_summary import summarize_sweep
from acquisition.plan_context import PlanContext
from acquisition.schema import TEMPERATURE_PARAMETER, Parameter, ParameterSchema
from acquisition.units import REFERENCE_NOISE_CPS, W_M2_PER_KW_CM2

#: beam-blocked time that returns the sample to dark (4I11/2 memory is ms at 77 K)
RESET_S = 1.0
#: rig-clock seconds per point besides settle and dwell (moves, power meter) for estimates
POINT_OVERHEAD_S = 0.3
#: probes per refinement pass: the bracket shrinks by this factor each pass
REFINE_STEPS = 5
MAX_REFINE_PASSES = 8
#: one record per refined jump: the final bracket
REFINEMENT_STREAM = "refinement"

def _list_if_densities(given: dict[str, Any]) -> str | None:
    """Densities given without a spacing: the operator means that list."""
    return "list" if given.get("densities_kw_cm2") not in (None, "", [], ()) else None


SWEEP_PARAMETERS: list[Parameter] = [
    Parameter("spacing", "Spacing", "", "str", "linear", choices=("linear", "log", "list"),
              help="linear or log steps from start to stop, or the explicit list "
                   "(list when densities are given)", implied=_list_if_densities),
    Parameter("start_kw_cm2", "Start density", "kW/cm2", "float", 1.0, minimum=0.001, maximum=1000.0),
    Parameter("stop_kw_cm2", "Stop density", "kW/cm2", "float", 10.0, minimum=0.001, maximum=1000.0),
    Parameter("points", "Points per direction", "", "int", 91, minimum=2, maximum=2000,
              help="default: 0.1 kW/cm2 steps, fine enough that s at switch-on is not step-limited below 100"),
    Parameter("densities_kw_cm2", "Density list", "kW/cm2", "float_list", [], minimum=0.001,
              maximum=1000.0, help="used with spacing=list (scanned in this order up, reversed down)"),
    Parameter("settle_s", "Settle delay", "s", "float", 0.5, minimum=0.0, maximum=60.0),
    Parameter("dwell_s", "Dwell time", "s", "float", 1.0, minimum=0.1, maximum=10.0,
              help="1 s default: near the folds the state settles slowly (critical slowing down)"),
    Parameter("repeats", "Repeats", "", "int", 1, minimum=1, maximum=1000),
    Parameter("refine", "Adaptive refinement", "", "bool", False,
              help="add points around each jump until it is bracketed to the resolution"),
    Parameter("resolution_kw_cm2", "Refinement resolution", "kW/cm2", "float", 0.05,
              minimum=0.001, maximum=10.0),
    Parameter("noise_cps", "APD noise level", "cps", "float", REFERENCE_NOISE_CPS, minimum=0.001, maximum=1e6,
              help="I_noise of the contrast figure (reference APD: 82 cps)"),
]


def check_sweep_range(params: dict[str, Any]) -> None:
    if params["spacing"] != "list" and params["densities_kw_cm2"]:
        raise ValueError(f"densities_kw_cm2={params['densities_kw_cm2']} cannot be used with "
                         f"spacing={params['spacing']}; allowed: spacing=list (or no spacing) with "
                         "densities, no densities with spacing=linear or log")
    if params["spacing"] == "list":
        if len(params["densities_kw_cm2"]) < 2:
            raise ValueError(f"densities_kw_cm2={params['densities_kw_cm2']} needs at least 2 values "
                             "with spacing=list; allowed: 2 or more densities in kW/cm2")
    elif params["stop_kw_cm2"] <= params["start_kw_cm2"]:
        raise ValueError(f"stop_kw_cm2={params['stop_kw_cm2']:g} must be above start_kw_cm2="
                         f"{params['start_kw_cm2']:g}; allowed range ({params['start_kw_cm2']:g}, 1000] kW/cm2")


def densities_w_m2(params: dict[str, Any]) -> list[float]:
    """The up-scan setpoints, W/m2."""
    if params["spacing"] == "list":
        values = list(params["densities_kw_cm2"])
    elif params["spacing"] == "log":
        values = list(np.geomspace(params["start_kw_cm2"], params["stop_kw_cm2"], params["points"]))
    else:
        values = list(np.linspace(params["start_kw_cm2"], params["stop_kw_cm2"], params["points"]))
    return [float(v) * W_M2_PER_KW_CM2 for v in values]


def sweep_rig_check(params: dict[str, Any], rig: Any) -> None:
    check_density_limit("stop_kw_cm2" if params["spacing"] != "list" else "densities_kw_cm2",
                        max(densities_w_m2(params)) / W_M2_PER_KW_CM2, rig)


def sweep_preflight(params: dict[str, Any], rig: Any, calibration_store: Any) -> None:
    """At start: every setpoint within what the stored power calibration reaches."""
    values = [d / W_M2_PER_KW_CM2 for d in densities_w_m2(params)]
    if params["spacing"] == "list":
        check_calibrated_reach("densities_kw_cm2", min(values), max(values), rig, calibration_store)
    else:
        check_calibrated_reach("stop_kw_cm2", min(values), max(values), rig, calibration_store,
                               low_field="start_kw_cm2")


def sweep_duration_s(params: dict[str, Any]) -> float:
    n = len(densities_w_m2(params))
    per_point = params["settle_s"] + params["dwell_s"] + POINT_OVERHEAD_S
    refine = 2 * 3 * REFINE_STEPS * per_point if params["refine"] else 0.0
    return params["repeats"] * (2 * n * per_point + RESET_S + refine)


class SweepRecorder:
    """Takes sweep points and keeps their values as columns (for the run's own analysis)."""

    def __init__(self, ctx: PlanContext, params: dict[str, Any], stream: str = "sweep",
                 extra: dict[str, Any] | None = None, duty_cycle: float | None = None) -> None:
        self.ctx = ctx
        self.duty_cycle = duty_cycle
        self.params = params
        self.stream = stream
        self.extra = dict(extra or {})
        self.rows: list[dict[str, Any]] = []
        self.brackets: list[dict[str, Any]] = []

    def take(self, setpoint_w_m2: float, direction: str, index: int, repeat: int,
             pass_: int = 0, bracket: str = "", bright_threshold_cps: float = math.nan) -> dict[str, Any]:
        ctx, p = self.ctx, self.params
        ctx.beam.set_density(setpoint_w_m2)
        ctx.sleep(p["settle_s"])
        power = ctx.beam.measure()
        counted = ctx.detection.count(p["dwell_s"])
        row: dict[str, Any] = {
            "setpoint_w_m2": setpoint_w_m2, "power_pickoff_w": power.pickoff_w,
            "power_sample_w": power.sample_w, "density_w_m2": power.density_w_m2,
            "counts": counted.counts, "dwell_s": counted.dwell_s, "rate_cps": counted.rate_cps,
            "temperature_k": ctx.cryostat.read(), "timestamp_s": ctx.clock.now(),
            "unix_time": ctx.wall_time(), "direction": direction, "index": index,
            "repeat": repeat, "pass": pass_, "bracket": bracket,
            "bright": bool(counted.rate_cps > bright_threshold_cps) if bracket else False,
        }
        row.update(self.extra)
        if self.duty_cycle is not None:  # chopped: the meter reads the average, open-blade peak is above it
            row["peak_density_w_m2"] = power.density_w_m2 / self.duty_cycle
        ctx.emit(self.stream, row)
        self.rows.append(row)
        return row

    def record_bracket(self, repeat: int, direction: str, low_w_m2: float, high_w_m2: float,
                       verified: bool = False, dark_density_w_m2: float = math.nan,
                       bright_density_w_m2: float = math.nan) -> dict[str, Any]:
        """``verified``: low end measured dark and high end bright in the last pass, approached
        from the side the jump starts on; the measured densities of those two points go along."""
        bracket = {"repeat": repeat, "direction": direction, "low_w_m2": low_w_m2, "high_w_m2": high_w_m2,
                   "verified": bool(verified), "dark_density_w_m2": dark_density_w_m2,
                   "bright_density_w_m2": bright_density_w_m2}
        self.ctx.emit(REFINEMENT_STREAM, bracket)
        self.brackets.append(bracket)
        return bracket

    def columns(self) -> dict[str, np.ndarray]:
        if not self.rows:
            return {}
        return {key: np.asarray([row[key] for row in self.rows]) for key in self.rows[0]}


def _largest_jump(rates: Sequence[float], rising: bool) -> int:
    """Index i of the largest log-rate step between point i and i + 1 (up or down)."""
    logs = np.log10(np.maximum(np.asarray(rates, dtype=float), 1.0))
    steps = np.diff(logs) if rising else -np.diff(logs)
    return int(np.argmax(steps))


#: a bracket end found on the wrong side (the threshold moved between cycles) widens the bracket
#: by its width at most this many times per jump
MAX_WIDENINGS = 4


def _widened(low: float, high: float, toward_high: bool, bottom: float, top: float) -> tuple[float, float]:
    """The bracket moved by its width to one side, within the scan."""
    width = high - low
    return (high, min(top, high + width)) if toward_high else (max(bottom, low - width), low)


def _refine_jump(recorder: SweepRecorder, low: float, high: float, threshold: float, repeat: int,
                 bottom: float, top: float, rising: bool) -> dict[str, Any]:
    """Bracket one jump to the resolution, each pass from the state the jump starts in.

    Switch-on (``rising``): the pass starts dark (beam blocked for ``RESET_S``), approaches the low
    end from below and steps up until the first bright point. Switch-off: it starts bright (top of
    the scan, above switch-on), approaches the high end from above and steps down until the first
    dark point. The pass's bracket is (last point in the starting state, first switched point),
    both measured in that pass, in that order: verified. A near end already switched, or a far
    end not yet switched, widens the bracket by its width on that side and the pass is repeated."""
    ctx, resolution = recorder.ctx, recorder.params["resolution_kw_cm2"] * W_M2_PER_KW_CM2
    direction, bracket_name = ("up", "on") if rising else ("down", "off")
    verified: tuple[dict[str, Any], dict[str, Any]] | None = None
    widenings = 0
    pass_ = 0
    while pass_ < MAX_REFINE_PASSES + MAX_WIDENINGS:
        pass_ += 1
        if rising:
            ctx.beam.off()  # back to the dark branch, then approach the bracket from below
            ctx.sleep(RESET_S)
        else:
            ctx.beam.set_density(top)  # top of the scan: bright
            ctx.sleep(recorder.params["settle_s"])
        near, far = (low, high) if rising else (high, low)
        setpoints = [near, *np.linspace(near, far, REFINE_STEPS + 1)[1:-1], far]
        previous = None
        crossed = None
        for k, density in enumerate(setpoints):
            row = recorder.take(float(density), direction, k, repeat, pass_, bracket_name, threshold)
            if bool(row["bright"]) == rising:  # this point has switched
                crossed = (previous, row)
                break
            previous = row
        if crossed is not None and crossed[0] is None:  # near end already switched: it moved past it
            verified = None
            widenings += 1
            low, high = _widened(low, high, not rising, bottom, top)
        elif crossed is None:  # far end not switched yet: the threshold moved beyond it
            verified = None
            widenings += 1
            low, high = _widened(low, high, rising, bottom, top)
        else:
            before, after = crossed
            verified = (before, after) if rising else (after, before)  # (dark, bright)
            low, high = sorted((float(before["setpoint_w_m2"]), float(after["setpoint_w_m2"])))
            if high - low <= resolution * (1 + 1e-9):
                break
        if widenings > MAX_WIDENINGS or high <= low:
            break
    return _bracket(recorder, repeat, direction, low, high, verified)


def _bracket(recorder: SweepRecorder, repeat: int, direction: str, low: float, high: float,
             verified: tuple[dict[str, Any], dict[str, Any]] | None) -> dict[str, Any]:
    """Record the final bracket; ``verified``: its (dark, bright) or (dark, bright) rows of the
    last pass, whose measured densities become the refined A, B (up) or D, C (down)."""
    if verified is None:
        recorder.ctx.note(f"refinement of the {'switch-on' if direction == 'up' else 'switch-off'} "
                          "found no verified bracket (the threshold moved out of it between "
                          "passes); the main scan's value stands")
        return recorder.record_bracket(repeat, direction, low, high)
    dark, bright = verified
    return recorder.record_bracket(repeat, direction, low, high, verified=True,
                                   dark_density_w_m2=float(dark["density_w_m2"]),
                                   bright_density_w_m2=float(bright["density_w_m2"]))


def _refine(recorder: SweepRecorder, grid: list[float], up: list[dict[str, Any]],
            down: list[dict[str, Any]], repeat: int) -> None:
    """Bracket both jumps to the resolution, each pass from the state the jump starts in; the
    final brackets (setpoints) go to the ``refinement`` stream. Thresholds jitter from cycle to
    cycle, so only the last pass's bracket is meaningful, not the extremes over all passes."""
    bottom, top = min(grid), max(grid)
    noise = float(recorder.params["noise_cps"])
    i = _largest_jump([r["rate_cps"] for r in up], rising=True)
    if _is_a_jump(up[i]["rate_cps"], up[i + 1]["rate_cps"], noise, "switch-on", recorder):
        threshold = math.sqrt(max(up[i]["rate_cps"], 1.0) * max(up[i + 1]["rate_cps"], 1.0))
        _refine_jump(recorder, grid[i], grid[i + 1], threshold, repeat, bottom, top, rising=True)
    j = _largest_jump([r["rate_cps"] for r in down], rising=False)
    down_grid = grid[::-1]
    if _is_a_jump(down[j + 1]["rate_cps"], down[j]["rate_cps"], noise, "switch-off", recorder):
        threshold = math.sqrt(max(down[j]["rate_cps"], 1.0) * max(down[j + 1]["rate_cps"], 1.0))
        _refine_jump(recorder, down_grid[j + 1], down_grid[j], threshold, repeat, bottom, top, rising=False)


def _is_a_jump(dark_cps: float, bright_cps: float, noise_cps: float, name: str,
               recorder: SweepRecorder) -> bool:
    """The scan's largest step is worth refining only if it is a jump by the analysis' own
    criteria (ratio and height above the noise); refining dark noise would 'verify' noise."""
    criteria = JumpCriteria()
    if (bright_cps - dark_cps >= criteria.min_noise_multiple * noise_cps
            and bright_cps + noise_cps >= criteria.min_ratio * (dark_cps + noise_cps)):
        return True
    recorder.ctx.note(f"no {name} jump in the scan (largest step {dark_cps:.0f} -> {bright_cps:.0f} cps, "
                      f"noise {noise_cps:g} cps): nothing to refine")
    return False


def run_sweep(ctx: PlanContext, params: dict[str, Any], stream: str = "sweep",
              extra: dict[str, Any] | None = None, duty_cycle: float | None = None) -> SweepRecorder:
    """The measurement: repeats x (reset, up, down [, refinement])."""
    grid = densities_w_m2(params)
    if params["spacing"] != "list":
        grid = sorted(grid)
    ctx.power.ensure()
    if duty_cycle is None:
        ctx.chopper.stop()  # a CW sweep: a blade left spinning (GUI, earlier run) would chop it
    ctx.beam.prepare_range(max(grid))
    recorder = SweepRecorder(ctx, params, stream, extra, duty_cycle)
    total = params["repeats"] * 2 * len(grid)
    done = 0
    for repeat in range(params["repeats"]):
        ctx.beam.off()
        ctx.sleep(RESET_S)
        scans: dict[str, list[dict[str, Any]]] = {"up": [], "down": []}
        for direction, densities in (("up", grid), ("down", grid[::-1])):
            for index, density in enumerate(densities):
                scans[direction].append(recorder.take(density, direction, index, repeat))
                done += 1
                ctx.progress(done, total, f"{stream} {direction} {density / W_M2_PER_KW_CM2:.3f} kW/cm2")
        if params["refine"] and len(grid) > 2:
            _refine(recorder, grid, scans["up"], scans["down"], repeat)
    ctx.beam.off()
    return recorder


def sweep_plan(ctx: PlanContext, params: dict[str, Any]) -> dict[str, Any]:
    recorder = run_sweep(ctx, params)
    summary = summarize_sweep(recorder.columns(), params["noise_cps"], refinement=recorder.brackets)
    ctx.log.info("sweep summary: %s", {k: summary.get(k) for k in ("switch_on_kw_cm2", "switch_off_kw_cm2",
                                                                     "hysteresis_width_kw_cm2", "bistable")})
    return summary


def analyze_sweep(run: RunData, noise_cps: float | None = None) -> dict[str, Any]:
    """The sweep's figures from its stored ``sweep`` (and ``refinement``) streams."""
    return summarize_sweep(stream_columns(run, "sweep"), noise_of(run, noise_cps),
                           refinement=run.streams.get(REFINEMENT_STREAM))


#: headline figures of a hysteresis loop (the CLI JSON keys of acquisition.analysis)
LOOP_FIGURES = (
    Figure("switch_on_kw_cm2", "switch-on", "kW/cm2"),
    Figure("switch_off_kw_cm2", "switch-off", "kW/cm2"),
    Figure("hysteresis_width_kw_cm2", "hysteresis width", "kW/cm2"),
    Figure("contrast_db", "switch-on contrast", "dB"),
    Figure("nonlinearity_s", "nonlinearity s"),
    Figure("bistable", "bistable"),
)
#: the live emission-vs-density loop of a ``sweep`` stream, thresholds from the summary
SWEEP_LOOP = LivePlot("loop", "sweep", x="density_w_m2", y="rate_cps", series="direction",
                      thresholds=(("switch_on_kw_cm2", "switch-on"), ("switch_off_kw_cm2", "switch-off")))


def sweep_file_plot(fig: Any, run: RunData, figures: dict[str, Any]) -> str:
    """Log-log emission against density, up red and down blue, thresholds marked."""
    from acquisition.plotting import finish_single_axes, plot_sweep

    ax = fig.subplots()
    plot_sweep(ax, stream_columns(run, "sweep"), figures)
    finish_single_axes(ax)
    return ""


def _series_size(n: int, figures: list[dict[str, Any]]) -> tuple[float, float]:
    from acquisition.plotting import sweep_grid

    nrows, ncols = sweep_grid(n)
    return 1.2 + 3.3 * ncols + 4.0, 1.0 + 3.1 * nrows


def _draw_series(fig: Any, setpoints: list[Any], figures: list[dict[str, Any]]) -> list[Any]:
    from acquisition.plotting import plot_series_sweep

    return plot_series_sweep(fig, setpoints, figures)


def sweep_queue_label(params: dict[str, Any]) -> str:
    return joined([kw_cm2_range(params)])


def _report(runs: list[Any], folder: Any, campaign_folder: Any) -> Any:
    from acquisition.experiments.sweep_report import sweep_report

    return sweep_report(runs, folder, campaign_folder)


SWEEP = Experiment(
    name="sweep", title="CW power sweep (hysteresis)",
    schema=ParameterSchema([TEMPERATURE_PARAMETER, *SWEEP_PARAMETERS], (check_sweep_range,)),
    plan=sweep_plan, duration=sweep_duration_s, rig_check=sweep_rig_check, preflight=sweep_preflight,
    roles=POWER_ROLES, analyze=analyze_sweep, figures=LOOP_FIGURES, file_plot=sweep_file_plot,
    live=(SWEEP_LOOP,), queue_label=sweep_queue_label, report=_report,
    series_plot=SeriesPlot(_draw_series, "sweep", _series_size),
    example={"temperature_k": 77.0, "start_kw_cm2": 2.0, "stop_kw_cm2": 9.0, "points": 15, "dwell_s": 0.2},
    # the README image: 24 points up, then 8 of the way down (mid-sweep, both branches drawn)
    demo=Demo({"points": 24, "settle_s": 0.0, "dwell_s": 0.1}, points=32))
