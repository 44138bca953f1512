"""The operator's queue of runs: what to start next when the engine becomes idle."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any

_ids = count(1)


@dataclass(frozen=True)
class QueuedRun:
    experiment: str
    params: dict[str, Any]
    estimate_s: float | None = None
    queue_id: int = field(default_factory=lambda: next(_ids))

    def describe(self) -> str:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items() if v is not None)
        estimate = f" (~{format_duration(self.estimate_s)})" if self.estimate_s else ""
        return f"{self.experiment}{estimate}: {shown}"

    def compact(self) -> str:
        """One short line for the queue list: experiment · key parameters · estimate (the full
        parameter list is ``describe()``, shown as the entry's tooltip)."""
        parts = [self.experiment]
        key = _key_params(self.experiment, self.params)
        if key:
            parts.append(key)
        if self.estimate_s:
            parts.append(f"~{format_duration(self.estimate_s)}")
        return " · ".join(parts)


#: the longest key-parameter part of a compact queue entry
KEY_PARAMS_MAX = 40


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _density_range(params: dict[str, Any], prefix: str = "") -> str | None:
    listed = params.get(f"{prefix}densities_kw_cm2") or []
    if params.get("spacing") == "list" or listed:
        return f"{len(listed)} densities" if listed else None
    start, stop = params.get(f"{prefix}start_kw_cm2"), params.get(f"{prefix}stop_kw_cm2")
    if start is None or stop is None:
        return None
    points = params.get(f"{prefix}points")
    return f"{_num(start)}–{_num(stop)} kW/cm²" + (f" ×{_num(points)}" if points is not None else "")


def _key_params(experiment: str, params: dict[str, Any]) -> str:
    shown: list[str | None] = []
    if params.get("temperature_k") is not None:
        shown.append(f"{_num(params['temperature_k'])} K")
    if experiment in ("sweep", "pulsed"):
        shown.append(_density_range(params))
        if experiment == "pulsed" and params.get("frequencies_hz"):
            shown.append(",".join(_num(f) for f in params["frequencies_hz"][:3])
                         + ("…" if len(params["frequencies_hz"]) > 3 else "") + " Hz")
    elif experiment == "switch":
        biases = params.get("biases_kw_cm2") or []
        shown.append(f"{len(biases)} biases" if biases else None)
        if params.get("control_wavelength_nm") is not None:
            shown.append(f"{_num(params['control_wavelength_nm'])} nm")
    elif experiment == "lifetime":
        if params.get("density_kw_cm2") is not None:
            shown.append(f"{_num(params['density_kw_cm2'])} kW/cm²")
        if params.get("frequency_hz") is not None:
            shown.append(f"{_num(params['frequency_hz'])} Hz")
    elif experiment == "temperature_series":
        temperatures = params.get("temperatures_k") or []
        shown.append(str(params.get("experiment") or "") or None)
        if temperatures:
            shown.append(f"{len(temperatures)} T {_num(min(temperatures))}–{_num(max(temperatures))} K")
    elif experiment == "calibrate":
        if params.get("laser_power_w") is not None:
            shown.append(f"{_num(params['laser_power_w'])} W")
    else:  # an experiment this list does not know: its first two set parameters
        shown.extend(f"{k}={_short(v)}" for k, v in list(
            (k, v) for k, v in params.items() if v is not None)[:2])
    text = ", ".join(part for part in shown if part)
    return text if len(text) <= KEY_PARAMS_MAX else text[:KEY_PARAMS_MAX - 1] + "…"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value[:4]) + (",…]" if len(value) > 4 else "]")
    return str(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunQueue:
    """FIFO of queued runs. ``held`` stops automatic starts (after an abort, failure or STOP)."""

    def __init__(self) -> None:
        self.items: list[QueuedRun] = []
        self.held = False

    def add(self, run: QueuedRun) -> None:
        self.items.append(run)

    def remove(self, queue_id: int) -> None:
        self.items = [r for r in self.items if r.queue_id != queue_id]

    def pop_next(self) -> QueuedRun | None:
        if self.held or not self.items:
            return None
        return self.items.pop(0)

    def total_estimate_s(self) -> float:
        return sum(r.estimate_s or 0.0 for r in self.items)

    def __len__(self) -> int:
        return len(self.items)
