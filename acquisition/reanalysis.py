"""Re-analyse a stored run from its points (``avalab analyze``), with the same functions the run
used live, so a file and the run that wrote it report the same numbers."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from acquisition.experiments.pulsed import summarize_group
from acquisition.experiments.sweep_summary import summarize_sweep


def _noise(params: dict[str, Any], noise_cps: float | None) -> float:
    return float(noise_cps if noise_cps is not None else params.get("noise_cps", 82.0))


def _pulsed(columns: dict[str, np.ndarray], noise: float) -> dict[str, Any]:
    pairs = sorted({(float(f), float(d)) for f, d in zip(columns["frequency_hz"], columns["duty_cycle"])})
    blades = {(float(f), float(d)): str(b) for f, d, b in
              zip(columns["frequency_hz"], columns["duty_cycle"], columns["blade"])}
    results = [summarize_group(columns, f, d, blades[(f, d)], noise) for f, d in pairs]
    return {"conditions": results, "bistable_any": any(r.get("bistable") for r in results)}


def _switch(columns: dict[str, np.ndarray], params: dict[str, Any], noise: float) -> dict[str, Any]:
    from acquisition.experiments.switch import assess, latched

    options = dict(params, noise_cps=noise)
    results: dict[str, bool] = {}
    for bias, baseline, hold in zip(columns["bias_w_m2"], columns["baseline_counts"], columns["hold_counts"]):
        verdict = assess(np.asarray(baseline), np.asarray(hold), options)
        results[f"{float(bias) / 1e7:.3f}"] = latched(verdict, options)
    return {"latched": results, "latched_any": any(results.values()), "latched_by_bias_kw_cm2": results}


#: a temperature series' stream name: ``T<kelvin>K_<inner stream>`` (``T77K_sweep``)
SERIES_STREAM = re.compile(r"^T(?P<kelvin>[0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?)K_(?P<stream>.+)$")


@dataclass
class InnerRun:
    """One setpoint of a temperature series seen as a run of the inner experiment: its streams
    without the ``T<kelvin>K_`` prefix, the inner parameters (with defaults) and the summary the
    run stored for that setpoint."""

    experiment: str
    temperature_k: float
    stream_prefix: str
    params: dict[str, Any]
    streams: dict[str, dict[str, np.ndarray]]
    summary: dict[str, Any] = field(default_factory=dict)


def _series_inner_params(params: dict[str, Any]) -> dict[str, Any]:
    """The inner experiment's parameters with its defaults (as the run used them); a file whose
    stored parameters no longer validate gives them as stored."""
    from acquisition.experiments.temperature_series import validated_inner_params

    try:
        return validated_inner_params(params)
    except (KeyError, ValueError):
        try:
            given = json.loads(params.get("params_json") or "{}")
        except (TypeError, ValueError):
            given = {}
        return given if isinstance(given, dict) else {}


def series_runs(run: Any) -> list[InnerRun]:
    """The setpoints of a temperature series run (in the order they were measured), each as a
    run of its inner experiment; found from the stream names, so an aborted series gives the
    setpoints it reached."""
    params = dict(run.params or {})
    inner = str(params.get("experiment") or (run.summary or {}).get("inner_experiment") or "")
    inner_params = _series_inner_params(params) if inner else {}
    stored = {entry.get("stream_prefix"): entry for entry in (run.summary or {}).get("by_temperature", [])
              if isinstance(entry, dict)}
    by_prefix: dict[str, InnerRun] = {}
    for name, columns in run.streams.items():
        match = SERIES_STREAM.match(name)
        if match is None:
            continue
        prefix = name[:match.start("stream")]
        if prefix not in by_prefix:
            summary = dict(stored.get(prefix, {}))
            by_prefix[prefix] = InnerRun(inner, float(match.group("kelvin")), prefix, inner_params, {}, summary)
        by_prefix[prefix].streams[match.group("stream")] = columns
    return list(by_prefix.values())


def _series(run: Any, noise_cps: float | None) -> dict[str, Any]:
    """Each setpoint re-analysed as a run of the inner experiment; what the inner experiment has
    no stored-data analysis for (e.g. a lifetime's blade, counts) comes from the stored summary."""
    by_temperature = []
    for inner in series_runs(run):
        stored = {k: v for k, v in inner.summary.items() if k not in ("temperature_k", "stream_prefix")}
        try:
            figures = reanalyze(inner, noise_cps)
        except (KeyError, ValueError, IndexError) as exc:  # too few points at this setpoint
            figures = {"analysis_problem": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        figures = {**stored, **figures}
        by_temperature.append({"temperature_k": inner.temperature_k, "stream_prefix": inner.stream_prefix,
                               **figures})
    inner_name = str((run.params or {}).get("experiment") or (run.summary or {}).get("inner_experiment") or "")
    return {"inner_experiment": inner_name, "by_temperature": by_temperature}


def _stored(run: Any) -> dict[str, Any]:
    """The run's own summary figures, under those recomputed from the points: what has no
    stored-data analysis (a calibration's wheel table and laser power, a lifetime's counts, a
    switch's control density) is reported as measured, not dropped."""
    return {k: v for k, v in (run.summary or {}).items() if k not in ("calibration", "stream_prefix")}


def reanalyze(run: Any, noise_cps: float | None = None) -> dict[str, Any]:
    """Figures recomputed from ``run.streams``; a temperature series is re-analysed setpoint by
    setpoint as runs of its inner experiment; anything without a stored-data analysis reports the
    summary stored at the end of the run."""
    params = dict(run.params or {})
    noise = _noise(params, noise_cps)
    streams = run.streams
    if run.experiment == "sweep":
        return summarize_sweep(streams["sweep"], noise, refinement=streams.get("refinement"))
    if run.experiment == "pulsed":
        return _pulsed(streams["sweep"], noise)
    if run.experiment == "switch":
        result = {**_stored(run), **_switch(streams["switch"], params, noise)}
        if "sweep" in streams:
            window = summarize_sweep(streams["sweep"], noise)
            result["window_kw_cm2"] = [window.get("switch_off_kw_cm2"), window.get("switch_on_kw_cm2")]
        return result
    if run.experiment == "lifetime" and "histogram" in streams:
        from acquisition.experiments.lifetime import kinetics
        columns = streams["histogram"]
        return {**_stored(run), **kinetics(np.asarray(columns["delay_s"])[0], np.asarray(columns["counts"])[0],
                                           params)}
    if run.experiment == "calibrate" and "calibration" in streams:
        from acquisition.calibration import fit_malus
        columns = streams["calibration"]
        plate = np.array([str(v) == "plate" for v in columns["stage"]])
        fit = fit_malus(np.asarray(columns["angle_deg"])[plate], np.asarray(columns["transmission"])[plate])
        return {**_stored(run), "plate_t_max": fit.t_max, "plate_t_min": fit.t_min,
                "plate_theta0_deg": fit.theta0_deg, "plate_fit_rms": fit.rms_residual}
    if run.experiment == "temperature_series":
        return _series(run, noise_cps)
    return dict(run.summary or {})
