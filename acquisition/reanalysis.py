"""Re-analyse a stored run from its points (``avalab analyze``), with the same functions the run
used live, so a file and the run that wrote it report the same numbers."""
from __future__ import annotations

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


def reanalyze(run: Any, noise_cps: float | None = None) -> dict[str, Any]:
    """Figures recomputed from ``run.streams``; experiments without a stored-data analysis
    (series of anything but sweeps) report the summary stored at the end of the run."""
    params = dict(run.params or {})
    noise = _noise(params, noise_cps)
    streams = run.streams
    if run.experiment == "sweep":
        return summarize_sweep(streams["sweep"], noise, refinement=streams.get("refinement"))
    if run.experiment == "pulsed":
        return _pulsed(streams["sweep"], noise)
    if run.experiment == "switch":
        result = _switch(streams["switch"], params, noise)
        if "sweep" in streams:
            window = summarize_sweep(streams["sweep"], noise)
            result["window_kw_cm2"] = [window.get("switch_off_kw_cm2"), window.get("switch_on_kw_cm2")]
        return result
    if run.experiment == "lifetime" and "histogram" in streams:
        from acquisition.experiments.lifetime import kinetics
        columns = streams["histogram"]
        return kinetics(np.asarray(columns["delay_s"])[0], np.asarray(columns["counts"])[0], params)
    if run.experiment == "calibrate" and "calibration" in streams:
        from acquisition.calibration import fit_malus
        columns = streams["calibration"]
        plate = np.array([str(v) == "plate" for v in columns["stage"]])
        fit = fit_malus(np.asarray(columns["angle_deg"])[plate], np.asarray(columns["transmission"])[plate])
        return {"plate_t_max": fit.t_max, "plate_t_min": fit.t_min, "plate_theta0_deg": fit.theta0_deg,
                "plate_fit_rms": fit.rms_residual}
    if run.experiment == "temperature_series" and params.get("experiment") == "sweep":
        by_temperature = []
        for entry in (run.summary or {}).get("by_temperature", []):
            prefix = entry.get("stream_prefix", "")
            if prefix + "sweep" in streams:
                by_temperature.append({"temperature_k": entry.get("temperature_k"), "stream_prefix": prefix,
                                       **summarize_sweep(streams[prefix + "sweep"], noise)})
        return {"inner_experiment": "sweep", "by_temperature": by_temperature}
    return dict(run.summary or {})
