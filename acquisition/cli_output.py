"""What the CLI shows: a progress bar on stderr, JSON-safe results, short human summaries."""
from __future__ import annotations

import json
import math
import sys
import threading
import time
from typing import Any, TextIO

import numpy as np

from acquisition.events import Event, InterlockTripped, Progress, RunFinished, RunState, StateChanged

BAR_WIDTH = 30


class ProgressBar:
    """Engine subscriber drawing ``[#####-----] 12/92 message`` on stderr.

    On a terminal the bar redraws in place; otherwise (logs, pipes) a line is written every 10 %.
    """

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self._lock = threading.Lock()
        self._open_line = False
        self._origin: tuple[float, int] | None = None  # (wall time, done) of the current count

    def _line(self, text: str) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def handle(self, event: Event) -> None:
        if not self.enabled:
            return
        with self._lock:
            if isinstance(event, Progress):
                if event.total:
                    self._bar(event)
                elif event.message:
                    self._line(f"avalab: {event.message}")
            elif isinstance(event, InterlockTripped):
                self._line(f"avalab: INTERLOCK {event.interlock}: {event.detail}")
            elif isinstance(event, StateChanged) and event.state == RunState.PAUSED:
                self._line(f"avalab: paused ({event.reason})")
            elif isinstance(event, RunFinished) and self._open_line:
                self.stream.write("\n")
                self._open_line = False

    def _bar(self, event: Progress) -> None:
        total = max(int(event.total or 1), 1)
        fraction = min(max(event.done / total, 0.0), 1.0)
        filled = int(round(BAR_WIDTH * fraction))
        # wall-clock ETA: on a virtual clock the engine's (rig-clock) ETA is not what the user waits
        now = time.monotonic()
        if self._origin is None or event.done <= self._origin[1]:
            self._origin = (now, event.done)
        start, done0 = self._origin
        eta = (f" ETA {(now - start) / (event.done - done0) * (total - event.done):.0f} s"
               if event.done > done0 else "")
        text = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {event.done}/{total} {event.message[:40]}{eta}"
        if self.interactive:
            self.stream.write("\r" + text.ljust(100))
            self._open_line = True
            self.stream.flush()
            return
        decile = int(fraction * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            self._line(text)


def json_safe(value: Any) -> Any:
    """Plain JSON types: numpy -> Python, non-finite floats -> None, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if value is None or isinstance(value, str):
        return value
    return str(value)


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(json_safe(result), sort_keys=False, allow_nan=False)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "not found"
    if isinstance(value, float):
        return f"{value:.4g}{(' ' + unit) if unit else ''}"
    return f"{value}{(' ' + unit) if unit else ''}"


HUMAN_KEYS: tuple[tuple[str, str, str], ...] = (
    ("switch_on_kw_cm2", "switch-on", "kW/cm2"),
    ("switch_off_kw_cm2", "switch-off", "kW/cm2"),
    ("hysteresis_width_kw_cm2", "hysteresis width", "kW/cm2"),
    ("contrast_db", "switch-on contrast", "dB"),
    ("nonlinearity_s", "nonlinearity s", ""),
    ("bistable", "bistable", ""),
    ("latched_any", "latched at any bias", ""),
    ("rise_time_s", "rise time (95 %)", "s"),
    ("decay_time_s", "decay time (area)", "s"),
    ("plate_theta0_deg", "plate theta0", "deg"),
    ("max_density_kw_cm2", "max density", "kW/cm2"),
)


def human_summary(result: dict[str, Any]) -> str:
    """A few lines an operator reads at a glance."""
    lines = [f"{result.get('experiment', 'run')} {result.get('status', '')}"
             + (f": {result['reason']}" if result.get("reason") else "")]
    for key, label, unit in HUMAN_KEYS:
        if key in result:
            lines.append(f"  {label:<20} {_fmt(result[key], unit)}")
    for bias, state in (result.get("latched_by_bias_kw_cm2") or {}).items():
        lines.append(f"  bias {bias} kW/cm2      {'latched' if state else 'not latched'}")
    for condition in result.get("conditions", []) or []:
        lines.append(f"  {condition.get('frequency_hz'):g} Hz duty {condition.get('duty_cycle'):g}: switch-on "
                     f"{_fmt(condition.get('average_switch_on_kw_cm2'), 'kW/cm2')} (average), bistable "
                     f"{condition.get('bistable')}")
    for entry in result.get("by_temperature", []) or []:
        figures = [f"{label} {_fmt(entry[key], unit)}" for key, label, unit in HUMAN_KEYS
                   if key in entry and key != "bistable"][:4]
        lines.append(f"  {entry.get('temperature_k'):g} K: " + ", ".join(figures))
    if result.get("calibrated_first"):
        lines.append("  (no stored calibration: the power calibration ran first)")
    if result.get("run_file"):
        lines.append(f"  run file             {result['run_file']}")
    return "\n".join(lines)
