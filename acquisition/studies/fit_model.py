"""The model an I-P curve is fitted with: the run's focal spot, quasi-static, through the bench's
detection chain.

For a run file it takes the sample (material, dopant fraction, knock-outs, particles: seed and
film position, heterogeneity, replaced parameters), the beam and the detection from the run's own
rig configuration (or a rig file given instead), and the measured sweep: density, direction,
counts, dwell, rig-clock time of each main-scan point. For a parameter set it computes, per
particle, the steady-state S-curve (RateModel.s_curve: both stable branches and the folds, by
continuation), and from it

- the expected counts of every point: each particle on the bright branch with the probability
  its own hysteresis gives along the scan (its folds against its local intensity, uncertain by
  the bench's intensity jitter: smooth in the parameters), else on the dark one, at its local
  intensity (peak density x its field factor x the focus drift at that time), weighted by its
  collection, through the line efficiencies, plus dark counts and laser stray light, after dead
  time;
- the switch-on and switch-off densities: the fold of the particle whose switching makes the
  largest step in log counts of the modelled scan, as the measured brackets are found
  (continuous in the parameters, unlike a jump between points).

Residuals: log counts of every point outside the measured jump brackets (Poisson error, the
intensity jitter of the bench times the local slope, and the spread between the branches where
the state is uncertain), less their weighted mean offset (the
detection efficiency, profiled out), and each measured threshold bracket against the modelled
fold (bracket midpoint, uniform error over the bracket plus the jitter).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: relative intensity jitter at the focus between points (pump noise, stage settling, drift
#: left over): it turns into log-count error through the local slope of the curve
INTENSITY_JITTER_REL = 0.01
#: Poisson counts below this are treated as this (a zero count still has an error)
MIN_COUNTS = 1.0
SWEEP_STREAM = "sweep"
SWEEP_FIELDS = ("density_w_m2", "counts", "direction", "dwell_s")
#: a switching step: at least this ratio of count rates between neighbouring points (a switch
#: near a fold slows down and may end during the next point's dwell), ...
JUMP_MIN_RATIO = 2.0
#: ... between levels that hold: the medians of JUMP_LEVEL_POINTS points on either side differ
#: by JUMP_LEVEL_RATIO, their means by JUMP_MIN_SIGMA standard deviations of the counting noise
JUMP_LEVEL_POINTS = 3
JUMP_LEVEL_RATIO = 3.0
JUMP_MIN_SIGMA = 5.0


class FitInputError(ValueError):
    """A run file the fit cannot use (one line, names the file)."""


@dataclass
class SweepData:
    """The main scan of one run, in measurement order."""

    path: Path
    rig_config: dict[str, Any]
    density_w_m2: np.ndarray
    counts: np.ndarray
    dwell_s: np.ndarray
    up: np.ndarray              # bool: up-scan point
    time_s: np.ndarray          # rig clock of each point
    temperature_k: float
    #: (low, high) density brackets of the largest up and down jumps: (A, B) and (D, C)
    on_bracket: tuple[float, float] | None = None
    off_bracket: tuple[float, float] | None = None
    in_brackets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def read_sweep(path: Path, rig_config: dict[str, Any] | None = None) -> SweepData:
    """The fit's view of a run file; FitInputError if it has no sweep points."""
    from acquisition.storage import open_run

    try:
        run = open_run(path)
    except (ValueError, OSError) as exc:
        raise FitInputError(f"{path}: cannot be read ({str(exc).splitlines()[0]})") from None
    columns = run.streams.get(SWEEP_STREAM, {})
    missing = [f for f in SWEEP_FIELDS if f not in columns]
    if missing or len(columns.get("counts", [])) < 4:
        raise FitInputError(f"{path}: no sweep data (stream {SWEEP_STREAM!r} with density, counts, direction "
                            f"and dwell, 4 points or more); allowed: the run file of a power sweep")
    keep = np.ones(len(columns["counts"]), dtype=bool)
    for name in ("pass", "repeat"):  # the main scan of the first repeat: it starts dark
        if name in columns:
            keep &= np.asarray(columns[name]) == 0
    if "frequency_hz" in columns:
        raise FitInputError(f"{path}: a chopped sweep; allowed: a CW power sweep")
    pick = lambda name: np.asarray(columns[name])[keep]  # noqa: E731
    times = pick("timestamp_s").astype(float) if "timestamp_s" in columns else np.zeros(int(keep.sum()))
    temperature = float(np.nanmedian(pick("temperature_k"))) if "temperature_k" in columns else \
        float(run.params.get("temperature_k") or 77.0)
    data = SweepData(path=Path(path), rig_config=rig_config or run.rig_config,
                     density_w_m2=pick("density_w_m2").astype(float), counts=pick("counts").astype(float),
                     dwell_s=pick("dwell_s").astype(float), up=pick("direction").astype(str) == "up",
                     time_s=times, temperature_k=temperature)
    _find_brackets(data)
    return data


def _find_brackets(data: SweepData) -> None:
    """The largest switching step up on the up scan (A -> B) and down on the down scan (C -> D).

    A step counts as a switch only if it is one: a change of JUMP_MIN_RATIO or more between two
    levels that hold on either side (JUMP_LEVEL_POINTS points, JUMP_LEVEL_RATIO apart, significant
    against the counting noise): a scan that never reaches the switch-on has no threshold,
    whatever its noise does."""
    data.in_brackets = np.zeros(len(data.counts), dtype=bool)
    rates = np.maximum(data.counts, MIN_COUNTS) / data.dwell_s
    for up in (True, False):
        index = np.flatnonzero(data.up == up)
        i = _switching_step(rates[index], data.counts[index], data.dwell_s[index], rising=up)
        if i is None:
            continue
        a, b = index[i], index[i + 1]
        low, high = sorted((float(data.density_w_m2[a]), float(data.density_w_m2[b])))
        if up:
            data.on_bracket = (low, high)
        else:
            data.off_bracket = (low, high)
        data.in_brackets[[a, b]] = True


def _switching_step(rates: np.ndarray, counts: np.ndarray, dwell_s: np.ndarray, rising: bool) -> int | None:
    """Index i of the largest switching step between points i and i + 1 of one scan direction
    (in measurement order), None if there is none. ``rising``: the dark-to-bright step of the up
    scan; otherwise the bright-to-dark step of the down scan."""
    if len(rates) < 2:
        return None
    sign = 1.0 if rising else -1.0
    steps = np.diff(np.log(rates)) * sign
    for i in np.argsort(steps)[::-1]:
        if steps[i] < math.log(JUMP_MIN_RATIO):
            return None
        before = slice(max(0, i - JUMP_LEVEL_POINTS + 1), i + 1)
        after = slice(i + 1, i + 1 + JUMP_LEVEL_POINTS)
        if (float(np.median(rates[after])) / float(np.median(rates[before]))) ** sign < JUMP_LEVEL_RATIO:
            continue
        # the two levels' counts on a common dwell, their difference against the counting noise
        n_before, n_after = counts[before], counts[after] * float(np.mean(dwell_s[before]) / np.mean(dwell_s[after]))
        mean_before, mean_after = float(np.mean(n_before)), float(np.mean(n_after))
        noise = math.sqrt(mean_before / len(n_before) + mean_after / len(n_after) + 1e-9)
        if (mean_after - mean_before) * sign >= JUMP_MIN_SIGMA * noise:
            return int(i)
    return None


@dataclass
class SpotModel:
    """What of a run's rig the model needs (sample, beam, detection), with no parameter yet."""

    sample: Any
    beam: Any
    sim: Any


def spot_model(data: SweepData) -> SpotModel:
    """The run's spot as its rig configuration describes it; FitInputError if it holds no
    particle (nothing there to fit)."""
    from acquisition.rig import rig_config_from_dict

    raw = data.rig_config
    config = rig_config_from_dict(_toml_units(raw), str(data.path))
    model = SpotModel(sample=config.sample, beam=config.beam, sim=config.sim)
    if not _focal_spot(data, model, {}).particles:
        sample = config.sample
        raise FitInputError(f"{data.path}: its focal spot holds no particle (film seed {sample.seed}, "
                            f"position {list(sample.film_position_m)} m, {sample.n_particles} per spot on "
                            "average); allowed: a run of a spot with particles")
    return model


def _focal_spot(data: SweepData, model: SpotModel, values: dict[str, float]) -> Any:
    """The run's focal spot (its film's particles at the run's film position) with the model
    parameters ``values`` on top of the sample's own. The focus is taken at the film position
    the rig configuration records (an XY stage at its reference position)."""
    from sim_backends.physics import FocalSpot

    sample = model.sample
    return FocalSpot(material=sample.material, temperature_k=data.temperature_k,
                     beam_radius_m=model.beam.beam_radius_m, n_particles=sample.n_particles,
                     heterogeneity=sample.heterogeneity, seed=sample.seed,
                     position_m=(float(sample.film_position_m[0]), float(sample.film_position_m[1])),
                     dopant_fraction=sample.dopant_fraction, knockouts=tuple(sample.knockouts),
                     parameters={**dict(sample.parameters), **values})


def _toml_units(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored (SI) rig configuration as the rig loader reads it (its TOML keys and units)."""
    import dataclasses

    from acquisition.rig import LimitsConfig
    out = {k: _without_none(v) for k, v in raw.items() if k in ("beam", "sample", "sim")}
    limits = dict(raw.get("limits", {}))
    for f in dataclasses.fields(LimitsConfig):
        key = f.metadata.get("toml_key")
        if key and f.name in limits:
            limits[key] = limits.pop(f.name) / (f.metadata.get("toml_scale") or 1.0)
    out["limits"] = limits
    return out


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    return value


def predict(data: SweepData, model: SpotModel, values: dict[str, float]) -> dict[str, Any]:
    """Expected counts per point and the modelled switch-on/off densities for parameter ``values``."""
    from sim_backends.bench import optics
    from sim_backends.bench.bench import detection_efficiency, drift_phases

    spot = _focal_spot(data, model, values)
    optics_config = model.sim.optics
    _, focus_phases = drift_phases(np.random.default_rng(model.sim.seed))
    focus = np.array([optics.focus_drift_factor(t, optics_config.focus_drift_rel,
                                                optics_config.focus_drift_period_s, focus_phases)
                      for t in data.time_s])
    peak = 2.0 * model.beam.objective_transmission * data.density_w_m2 * focus
    efficiency = {line: detection_efficiency(model.sim.detection, nm * 1e-9)
                  for line, nm in spot.particles[0].model.material.lines_nm.items()}
    detected = np.zeros(len(peak))
    switch_variance = np.zeros(len(peak))  # (counts/s)^2
    switches: list[_Switch] = []
    for spec, particle in zip(spot.specs, spot.particles):
        local = peak * spec.intensity_factor
        branches = _branches(particle.model, float(local.min()), float(local.max()))
        on, off = branches["folds"]
        bright = bright_probability(local, on, off)
        dark_rate = _branch_rate(branches["dark"], np.minimum(local, on if not math.isnan(on) else np.inf))
        bright_rate = _branch_rate(branches["bright"], np.maximum(local, off)) if not math.isnan(off) else dark_rate
        dark_counted = sum(efficiency[line] * dark_rate[line] for line in efficiency) * spec.collection_weight
        bright_counted = sum(efficiency[line] * bright_rate[line] for line in efficiency) * spec.collection_weight
        own = bright * bright_counted + (1.0 - bright) * dark_counted
        detected += own
        # which branch the particle is on is itself uncertain near a fold
        switch_variance += bright * (1.0 - bright) * (bright_counted - dark_counted) ** 2
        if not math.isnan(on):
            weight = spec.collection_weight
            factor = 2.0 * model.beam.objective_transmission * spec.intensity_factor
            switches.append(_Switch(
                own=own, on_density=_scan_density(on, factor, data, focus, up=True),
                off_density=_scan_density(off, factor, data, focus, up=False),
                on_levels=(weight * _branch_total(branches["dark"], on, efficiency),
                           weight * _branch_total(branches["bright"], on, efficiency)),
                off_levels=(weight * _branch_total(branches["dark"], off, efficiency),
                            weight * _branch_total(branches["bright"], off, efficiency))))
    detection = model.sim.detection
    background = _stray_rate(model, data.density_w_m2) + detection.dark_count_rate_cps
    rate = optics.registered_rate(detected + background, detection.dead_time_s)
    on_density, off_density = _measured_switches(data, switches, detected + background)
    return {"counts": np.asarray(rate) * data.dwell_s, "switch_variance": switch_variance * data.dwell_s**2,
            "switch_on_w_m2": on_density, "switch_off_w_m2": off_density}


def _scan_density(fold: float, factor: float, data: SweepData, focus: np.ndarray, up: bool) -> float:
    """The density the scan in direction ``up`` reads where a particle's local intensity
    (``factor`` x density x focus drift) reaches ``fold``: with the focus drift at the time the
    scan passes there (the up and down scans pass the thresholds minutes apart, and a drift of a
    few % between them moves the measured window), held at the scan's end value beyond it."""
    pick = np.flatnonzero(data.up == up)
    if len(pick) == 0:
        pick = np.arange(len(data.density_w_m2))
    local = factor * data.density_w_m2[pick] * focus[pick]
    order = np.argsort(local)
    return fold / (factor * float(np.interp(fold, local[order], focus[pick][order])))


@dataclass
class _Switch:
    """One bistable particle of the modelled spot: its counted rate along the scan, its folds
    (nominal density) and its dark and bright counted rates at each fold."""

    own: np.ndarray
    on_density: float
    off_density: float
    on_levels: tuple[float, float]
    off_levels: tuple[float, float]


def _measured_switches(data: SweepData, switches: list[_Switch], total: np.ndarray) -> tuple[float, float]:
    """The modelled switch-on and switch-off densities as the measurement defines them: the fold
    of the particle whose switching multiplies the spot's counted rate the most (the largest
    step in log counts, ``_find_brackets``), the other particles and the background as they are
    at that point of the scan. nan: no bistable particle."""
    result = []
    for up in (True, False):
        pick = np.flatnonzero(data.up == up)
        order = pick[np.argsort(data.density_w_m2[pick])]
        density = data.density_w_m2[order]
        best, best_ratio = math.nan, -math.inf
        for switch in switches:
            fold = switch.on_density if up else switch.off_density
            dark, bright = switch.on_levels if up else switch.off_levels
            others = float(np.interp(fold, density, (total - switch.own)[order]))
            ratio = (others + bright) / max(others + dark, 1e-30)
            if ratio > best_ratio:
                best, best_ratio = fold, ratio
        result.append(best)
    return result[0], result[1]


def bright_probability(local: np.ndarray, on: float, off: float,
                       jitter_rel: float = INTENSITY_JITTER_REL) -> np.ndarray:
    """Probability that a particle is bright at each point of a scan (local intensities in
    measurement order) with folds ``on`` and ``off`` (nan: not bistable): its hysteresis, each
    point's intensity uncertain by ``jitter_rel``. Smooth in the folds, so the fit's objective
    is smooth in the parameters where a hard bright/dark rule would jump."""
    from scipy.special import ndtr

    if math.isnan(on) or math.isnan(off):
        return np.zeros(len(local))
    switches_on = ndtr((local - on) / (jitter_rel * on))
    stays_on = ndtr((local - off) / (jitter_rel * off))
    probability = np.empty(len(local))
    bright = 0.0
    for i in range(len(local)):
        bright = bright * stays_on[i] + (1.0 - bright) * switches_on[i]
        probability[i] = bright
    return probability


def residuals(data: SweepData, model: SpotModel, values: dict[str, float], curve_points: bool = True) -> np.ndarray:
    """Weighted residuals (data - model) / error: curve points (unless ``curve_points`` is
    False), then the two thresholds."""
    predicted = predict(data, model, values)
    counts = np.maximum(predicted["counts"], MIN_COUNTS)
    measured = np.maximum(data.counts, MIN_COUNTS)
    slope = np.abs(np.gradient(np.log(counts), np.log(data.density_w_m2))) if len(counts) > 2 else 0.0
    error = np.sqrt(1.0 / counts + (INTENSITY_JITTER_REL * slope) ** 2 + predicted["switch_variance"] / counts**2)
    difference = (np.log(measured) - np.log(counts))[~data.in_brackets]
    error = error[~data.in_brackets]
    # the overall detection efficiency (collection, alignment) is not known to a few %: its log
    # is profiled out (the weighted mean offset), so the curve's shape and levels relative to
    # each other are fitted, and the thresholds fix the intensity scale
    offset = float(np.sum(difference / error**2) / np.sum(1.0 / error**2))
    curve = (difference - offset) / error
    if not curve_points:
        curve = np.zeros(0)
    thresholds = []
    for bracket, key in ((data.on_bracket, "switch_on_w_m2"), (data.off_bracket, "switch_off_w_m2")):
        if bracket is None:
            continue
        low, high = bracket
        middle = 0.5 * (low + high)
        sigma = math.hypot((high - low) / math.sqrt(12.0), INTENSITY_JITTER_REL * middle)
        fold = predicted[key]
        # a model without the fold is as far off as the scan's end
        value = fold if math.isfinite(fold) else float(np.max(data.density_w_m2)) * 2.0
        thresholds.append((middle - value) / sigma)
    return np.concatenate([curve, np.asarray(thresholds)])


def _branches(model: Any, local_min: float, local_max: float) -> dict[str, Any]:
    """Dark and bright stable branches (intensity, emission per line) and the folds (nan: none)."""
    curve = model.s_curve(pump_min_w_m2=max(local_min * 0.5, 1e4), pump_max_w_m2=max(local_max * 2.0, 1e6))
    pumps, stable = np.asarray(curve.pump_w_m2), np.asarray(curve.stable)
    rates = model.emission_rates(np.asarray(curve.y))
    folds = (curve.switch_on_w_m2, curve.switch_off_w_m2)
    if not curve.is_bistable:
        branch = {"pump": pumps[stable], "rates": {k: np.asarray(v)[stable] for k, v in rates.items()}}
        return {"dark": branch, "bright": branch, "folds": (math.nan, math.nan)}
    # the curve runs dark branch -> fold -> unstable middle -> fold -> bright branch
    unstable = np.flatnonzero(~stable)
    dark = np.zeros(len(pumps), dtype=bool)
    bright = np.zeros(len(pumps), dtype=bool)
    dark[: unstable[0]] = True
    bright[unstable[-1] + 1:] = True
    return {"dark": {"pump": pumps[dark], "rates": {k: np.asarray(v)[dark] for k, v in rates.items()}},
            "bright": {"pump": pumps[bright], "rates": {k: np.asarray(v)[bright] for k, v in rates.items()}},
            "folds": folds}


def _branch_rate(branch: dict[str, Any], intensity: np.ndarray) -> dict[str, np.ndarray]:
    """Emission per line on a branch at ``intensity`` (log-log interpolation, clamped to its ends)."""
    pumps = branch["pump"]
    order = np.argsort(pumps)
    x = np.log(pumps[order])
    return {line: np.exp(np.interp(np.log(intensity), x, np.log(np.maximum(values[order], 1e-300))))
            for line, values in branch["rates"].items()}


def _branch_total(branch: dict[str, Any], intensity: float, efficiency: dict[str, float]) -> float:
    rates = _branch_rate(branch, np.array([intensity]))
    return float(sum(efficiency[line] * rates[line][0] for line in efficiency))


def _stray_rate(model: SpotModel, density_w_m2: np.ndarray) -> np.ndarray:
    """Pump light scattered at the sample that leaks to the APD (the bench's stray term)."""
    from sim_backends.bench import optics

    d, beam = model.sim.detection, model.beam
    power = beam.objective_transmission * density_w_m2 * beam.beam_area_m2
    leak = optics.emission_filter_transmission(beam.pump_wavelength_m, d.emission_filter, d.filter_transmission,
                                               d.filter_blocking_od, d.pump_blocking_od)
    return power * d.stray_fraction * leak * optics.apd_detection_efficiency(beam.pump_wavelength_m) \
        / optics.photon_energy_j(beam.pump_wavelength_m)
