"""Least-squares fit of named model parameters to measured I-P curves.

scipy.optimize.least_squares (trust-region reflective, bounded) on the residuals of
acquisition.studies.fit_model, in log parameters (the values span decades and stay positive).
The Jacobian is by forward differences whose columns (one model evaluation per free parameter
and run) are evaluated in parallel on dask workers. The covariance is (J^T J)^-1 at the
solution scaled by the reduced chi-square (as lmfit does by default), so a model that misses
the data by more than the stated errors widens the uncertainties instead of hiding it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from acquisition.studies.fit_model import SpotModel, SweepData, predict, residuals

#: forward-difference step of the Jacobian, in log parameter (0.5 %)
LOG_STEP = 0.005
#: the search stays within this factor of the description's value, each way
BOUND_FACTOR = 100.0
MAX_EVALUATIONS = 30
#: a correlation above this (in size) is pointed out: the errors are right, but large
STRONG_CORRELATION = 0.9


@dataclass
class FitResult:
    names: list[str]
    start: dict[str, float]
    values: dict[str, float]
    errors: dict[str, float]
    correlation: list[list[float]]
    chi_square: float
    degrees_of_freedom: int
    evaluations: int
    success: bool
    message: str
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"parameters": [{"name": n, "value": self.values[n], "error": self.errors[n],
                                "start": self.start[n]} for n in self.names],
                "correlation": self.correlation, "chi_square": self.chi_square,
                "reduced_chi_square": self.chi_square / max(self.degrees_of_freedom, 1),
                "degrees_of_freedom": self.degrees_of_freedom, "evaluations": self.evaluations,
                "success": self.success, "message": self.message, "files": self.files}


def _residuals_task(data: SweepData, model: SpotModel, values: dict[str, float],
                    curve_points: bool) -> np.ndarray:
    return residuals(data, model, values, curve_points)


class _Evaluator:
    """Residuals of every run at many parameter vectors at once, on the dask client."""

    def __init__(self, client: Any, runs: list[tuple[SweepData, SpotModel]], names: list[str],
                 curve_points: bool = True) -> None:
        self.client, self.names, self.curve_points = client, names, curve_points
        self.runs = [(client.scatter(data, broadcast=True), model) for data, model in runs]
        self.cache: dict[bytes, np.ndarray] = {}
        self.evaluations = 0

    def many(self, points: list[np.ndarray]) -> list[np.ndarray]:
        futures = [[self.client.submit(_residuals_task, data, model, self.values(x), self.curve_points, pure=False)
                    for data, model in self.runs] for x in points]
        results = [np.concatenate(self.client.gather(row)) for row in futures]
        self.evaluations += len(points)
        for x, r in zip(points, results):
            self.cache[x.tobytes()] = r
        return results

    def values(self, x: np.ndarray) -> dict[str, float]:
        return {name: float(math.exp(v)) for name, v in zip(self.names, x)}

    def fun(self, x: np.ndarray) -> np.ndarray:
        cached = self.cache.get(np.asarray(x, dtype=float).tobytes())
        return cached if cached is not None else self.many([np.asarray(x, dtype=float)])[0]

    def jac(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        base = self.fun(x)
        shifted = [x + LOG_STEP * np.eye(len(x))[j] for j in range(len(x))]
        columns = self.many(shifted)
        return np.column_stack([(c - base) / LOG_STEP for c in columns])


def fit(runs: list[tuple[SweepData, SpotModel]], start: dict[str, float], client: Any) -> FitResult:
    """Fit the parameters named in ``start`` (their start values) to ``runs``."""
    names = list(start)
    x0 = np.log(np.array([start[n] for n in names], dtype=float))
    span = math.log(BOUND_FACTOR)
    bounds = (x0 - span, x0 + span)
    # first the thresholds alone (smooth in the parameters: folds, not points), which puts the
    # intensity scale right; then curves and thresholds together from there
    thresholds = _Evaluator(client, runs, names, curve_points=False)
    first = least_squares(thresholds.fun, x0, jac=thresholds.jac, bounds=bounds, method="trf",
                          max_nfev=MAX_EVALUATIONS, x_scale=1.0)
    evaluator = _Evaluator(client, runs, names)
    solution = least_squares(evaluator.fun, first.x, jac=evaluator.jac, bounds=bounds,
                             method="trf", max_nfev=MAX_EVALUATIONS, x_scale=1.0)
    evaluator.evaluations += thresholds.evaluations
    r = evaluator.fun(solution.x)
    jac = evaluator.jac(solution.x)
    chi_square = float(np.sum(r ** 2))
    dof = max(len(r) - len(names), 1)
    values = evaluator.values(solution.x)
    try:
        covariance = np.linalg.inv(jac.T @ jac) * (chi_square / dof)
        log_errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
        correlation = covariance / np.outer(log_errors, log_errors)
    except np.linalg.LinAlgError:  # a parameter the data do not constrain
        log_errors = np.full(len(names), math.inf)
        correlation = np.full((len(names), len(names)), math.nan)
    errors = {n: values[n] * float(e) for n, e in zip(names, log_errors)}
    return FitResult(names=names, start=dict(start), values=values, errors=errors,
                     correlation=[[float(c) for c in row] for row in correlation], chi_square=chi_square,
                     degrees_of_freedom=dof, evaluations=evaluator.evaluations, success=bool(solution.success),
                     message=str(solution.message), files=[str(d.path) for d, _ in runs])


def correlation_notes(result: FitResult, limit: float = STRONG_CORRELATION) -> list[str]:
    """One line per pair of fitted parameters the runs hardly tell apart (|r| > ``limit``)."""
    notes = []
    for i, first in enumerate(result.names):
        for j in range(i + 1, len(result.names)):
            r = result.correlation[i][j]
            if math.isfinite(r) and abs(r) > limit:
                notes.append(f"{first} and {result.names[j]} are correlated (r = {r:+.2f}): these runs "
                             "constrain a combination of them; fit them from runs that separate them "
                             "(other temperatures, a lifetime or pulsed run) or keep one fixed")
    return notes


def plot_fit(path: Any, runs: list[tuple[SweepData, SpotModel]], result: FitResult) -> None:
    """Measured counts (points) against the fitted model (lines) and the start (dashed), per run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(6.0 * len(runs), 4.5), squeeze=False, dpi=100)
    for ax, (data, model) in zip(axes[0], runs):
        fitted = predict(data, model, result.values)["counts"]
        started = predict(data, model, result.start)["counts"]
        density = data.density_w_m2 / 1e7
        for up, color, label in ((True, "tab:red", "up"), (False, "tab:blue", "down")):
            pick = data.up == up
            rate = np.maximum(data.counts[pick], 1.0) / data.dwell_s[pick]
            ax.plot(density[pick], rate, "o", color=color, markersize=3, label=f"measured {label}")
            ax.plot(density[pick], fitted[pick] / data.dwell_s[pick], "-", color=color, label=f"fit {label}")
            ax.plot(density[pick], started[pick] / data.dwell_s[pick], "--", color="grey", linewidth=0.8,
                    label="start" if up else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("power density (kW/cm²)")
        ax.set_ylabel("emission (counts/s)")
        ax.set_title(data.path.name, fontsize=9)
        ax.legend(fontsize=7)
    text = ", ".join(f"{n.split('.')[-2] if n.count('.') else n} = {result.values[n]:.4g} ± {result.errors[n]:.2g}"
                     for n in result.names)
    fig.suptitle(text, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
