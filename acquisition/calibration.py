"""Power calibration of the pump path: plate and wheel angles -> power at the sample.

The pump beam passes a continuously variable ND wheel (coarse) and a half-wave plate in front of
a Glan-Taylor polariser (fine); a glass pick-off sends a fixed fraction to the power meter. The
calibration experiment measures, through the pick-off, the power that reaches the sample:

- the plate: P(theta) = P_laser * (T_max cos^2(2 (theta - theta0)) + T_min)  (Malus, fitted with
  scipy.optimize.curve_fit; T_max/T_min are per watt of laser setpoint, objective included);
- the wheel: transmission relative to its reference angle, tabulated at the measured angles and
  interpolated in log10 (a wheel's optical density is close to linear in angle but is not
  guaranteed to be, and a table makes no such assumption).

Calibrations persist as one JSON file, keyed by rig name, under ``$AVALAB_HOME`` (default
``~/.local/share/avalab``); each run file also carries the calibration it used.

A calibration is only valid for the optics it was measured on: it records the rig-file settings
of the pump path (``pump_path_config``: pick-off, pump wavelength, the pump-path roles' drivers
and addresses, the simulated bench's optics) and their hash. ``CalibrationStore.load_for_rig``
hands out a stored calibration only when that record matches the rig as it is now (and the pump
can still be set to the calibration's laser power); otherwise it says what changed, and a run
calibrates first instead of reusing it.

The control (808 nm) path is re-measured by every switching run; what it could deliver at each
wavelength is kept too (``control_paths.json``), so that the next run can refuse a control
density the path cannot reach before anything moves.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import curve_fit

log = logging.getLogger(__name__)

CALIBRATION_FILENAME = "calibrations.json"
CONTROL_PATH_FILENAME = "control_paths.json"
#: rig roles whose instruments take part in the pump calibration (a swapped stage, meter or laser
#: makes the stored angles -> power map meaningless)
PUMP_PATH_ROLES = ("pump", "hwp", "nd_wheel", "power_meter")
#: beam constants that change what the calibration measures (beam radii do not: the calibration
#: maps angles to power entering the objective; densities are divided by the area at run time)
PUMP_PATH_BEAM_FIELDS = ("pump_wavelength_m", "pickoff_ratio")
#: simulated-bench optics fields that move intensity at the focus but not at the pick-off
NOT_PUMP_PATH_OPTICS = ("focus_drift_rel", "focus_drift_period_s")
CONTROL_PATH_ROLES = ("control_laser", "control_attenuator", "control_shutter", "power_meter")
CONTROL_PATH_BEAM_FIELDS = ("control_beam_radius_m", "pickoff_ratio")


def avalab_home() -> Path:
    """Directory for avalab's persistent state ($AVALAB_HOME or ~/.local/share/avalab)."""
    env = os.environ.get("AVALAB_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "avalab"


def malus(theta_deg: np.ndarray | float, t_max: float, t_min: float, theta0_deg: float,
          harmonic: int = 2) -> np.ndarray | float:
    """Transmission at stage angle ``theta_deg``: harmonic 2 for a half-wave plate before a fixed
    polariser, 1 for a polariser rotated in a polarised beam."""
    return t_max * np.cos(np.deg2rad(harmonic * (np.asarray(theta_deg) - theta0_deg))) ** 2 + t_min


def _plain(value: Any) -> Any:
    """JSON-stable form of a config value (tuples -> lists, floats as floats)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)


def _roles_config(config: Any, roles: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role in roles:
        entry = config.roles.get(role)
        if entry is None:
            out[f"roles.{role}"] = None
            continue
        out[f"roles.{role}.driver"] = entry.driver
        out[f"roles.{role}.address"] = entry.address
        out[f"roles.{role}.options"] = _plain(dict(entry.options))
    return out


def pump_path_config(config: Any) -> dict[str, Any]:
    """The rig-file settings a pump power calibration depends on, flat ``section.field -> value``
    (``config`` is an ``acquisition.rig.RigConfig``)."""
    out = _roles_config(config, PUMP_PATH_ROLES)
    for name in PUMP_PATH_BEAM_FIELDS:
        out[f"beam.{name}"] = _plain(getattr(config.beam, name))
    optics = config.sim.optics
    for name in sorted(vars(optics)):
        if name not in NOT_PUMP_PATH_OPTICS:
            out[f"sim.optics.{name}"] = _plain(getattr(optics, name))
    return out


def control_path_config(config: Any) -> dict[str, Any]:
    """The rig-file settings the control (808 nm) path's reach depends on."""
    out = _roles_config(config, CONTROL_PATH_ROLES)
    for name in CONTROL_PATH_BEAM_FIELDS:
        out[f"beam.{name}"] = _plain(getattr(config.beam, name))
    control = config.sim.control_laser
    for name in sorted(vars(control)):
        out[f"sim.control_laser.{name}"] = _plain(getattr(control, name))
    return out


def config_hash(settings: dict[str, Any]) -> str:
    """Stable short hash of a flat settings dict (sorted JSON, sha256)."""
    text = json.dumps(_plain(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_differences(stored: dict[str, Any], current: dict[str, Any], limit: int = 3) -> str:
    """``beam.pickoff_ratio 0.1 -> 0.2, ...`` for the first ``limit`` differing settings."""
    keys = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
    parts = [f"{k} {stored.get(k, '(unset)')!s} -> {current.get(k, '(unset)')!s}" for k in keys[:limit]]
    if len(keys) > limit:
        parts.append(f"and {len(keys) - limit} more")
    return ", ".join(parts)


@dataclass(frozen=True)
class MalusFit:
    """Fitted plate law; transmissions are fractions of the laser setpoint reaching the sample."""

    t_max: float
    t_min: float
    theta0_deg: float
    rms_residual: float = 0.0
    harmonic: int = 2

    def transmission(self, theta_deg: float) -> float:
        return float(malus(theta_deg, self.t_max, self.t_min, self.theta0_deg, self.harmonic))

    @property
    def highest(self) -> float:
        return self.t_max + self.t_min

    @property
    def lowest(self) -> float:
        return self.t_min

    def angle_for(self, transmission: float) -> float:
        """Stage angle giving ``transmission``, on the branch theta0 .. theta0 + 90/harmonic deg.

        Staying on one monotonic branch means every move between two settings passes only
        through transmissions between them: no overshoot, no dip on the way.
        """
        if not self.lowest <= transmission <= self.highest:
            raise ValueError(f"transmission={transmission:g} is outside the plate's range "
                             f"[{self.lowest:g}, {self.highest:g}]")
        cos2 = min(max((transmission - self.t_min) / self.t_max, 0.0), 1.0)
        return self.theta0_deg + math.degrees(math.acos(math.sqrt(cos2))) / self.harmonic


def fit_malus(angles_deg: np.ndarray, transmissions: np.ndarray, harmonic: int = 2) -> MalusFit:
    """Fit the Malus law to measured transmissions; theta0 is reported in [0, 180/harmonic) deg."""
    angles = np.asarray(angles_deg, dtype=float)
    values = np.asarray(transmissions, dtype=float)
    if angles.size < 4 or angles.size != values.size:
        raise ValueError(f"calibration points={angles.size} is too few; allowed at least 4 "
                         "angle/power pairs of equal length")
    span = float(values.max() - values.min())
    guess = (max(span, 1e-30), max(float(values.min()), 0.0), float(angles[np.argmax(values)]))
    scale = max(float(np.abs(values).max()), 1e-300)  # fit O(1) numbers: transmissions can be 1e-5

    def model(theta: np.ndarray, t_max: float, t_min: float, theta0: float) -> np.ndarray:
        return np.asarray(malus(theta, t_max, t_min, theta0, harmonic))

    popt, _ = curve_fit(model, angles, values / scale, p0=(guess[0] / scale, guess[1] / scale, guess[2]),
                        bounds=([0.0, 0.0, -360.0], [np.inf, np.inf, 360.0]), maxfev=20000)
    t_max, t_min, theta0 = float(popt[0]) * scale, float(popt[1]) * scale, float(popt[2])
    residual = float(np.sqrt(np.mean((model(angles, *popt) * scale - values) ** 2)))
    return MalusFit(t_max=t_max, t_min=t_min, theta0_deg=theta0 % (180.0 / harmonic),
                    rms_residual=residual, harmonic=harmonic)


@dataclass(frozen=True)
class WheelTable:
    """ND wheel transmission relative to ``reference_deg`` (1.0 there), sampled at ``angles_deg``."""

    angles_deg: tuple[float, ...]
    relative_transmission: tuple[float, ...]
    reference_deg: float = 0.0

    def transmission(self, angle_deg: float) -> float:
        logs = np.log10(np.maximum(np.asarray(self.relative_transmission), 1e-30))
        return float(10.0 ** np.interp(angle_deg, self.angles_deg, logs))

    def levels(self) -> list[tuple[float, float]]:
        """(angle, relative transmission) pairs, least attenuating first."""
        pairs = zip(self.angles_deg, self.relative_transmission)
        return sorted(pairs, key=lambda pair: -pair[1])


@dataclass(frozen=True)
class PowerCalibration:
    """What the attenuator needs to turn a target power at the sample into angles."""

    rig_name: str
    laser_power_w: float
    plate: MalusFit
    wheel: WheelTable
    created_at: float = field(default_factory=time.time)
    run_id: str = ""
    #: ``pump_path_config`` of the rig when it was measured, and its hash ({} / "": unknown,
    #: a calibration written before avalab recorded it; never reused)
    optics: dict[str, Any] = field(default_factory=dict, compare=False)
    optics_hash: str = ""

    def power_range_w(self, has_wheel: bool = True) -> tuple[float, float]:
        """Lowest and highest power at the sample the calibrated optics deliver, W: the plate at
        its extremes, the wheel at its most / least attenuating calibrated level (at its reference
        level when the rig has no wheel), the pump at the calibration's laser power. Same figures
        as ``drivers.attenuator.PowerAttenuator.min_power_w`` / ``max_power_w``."""
        levels = [t for _, t in self.wheel.levels()] if has_wheel else [1.0]
        return (self.laser_power_w * self.plate.lowest * min(levels),
                self.laser_power_w * self.plate.highest * max(levels))

    def stale_reason(self, config: Any, pump_max_power_w: float | None = None) -> str | None:
        """Why this calibration must not be used on a rig with ``config`` (None: it may)."""
        if self.rig_name != config.name:
            return f"it belongs to rig {self.rig_name!r}"
        if not self.optics_hash:
            return "it does not record the optics it was measured with (made by an older avalab)"
        current = pump_path_config(config)
        if self.optics_hash != config_hash(current):
            changed = config_differences(self.optics, current) if self.optics else "settings changed"
            return f"the pump-path optics changed since it was measured ({changed})"
        if pump_max_power_w is not None and self.laser_power_w > pump_max_power_w * (1 + 1e-9):
            return (f"it was measured at laser_power_w={self.laser_power_w:g} W, above the pump's "
                    f"maximum {pump_max_power_w:g} W")
        return None

    @classmethod
    def for_rig(cls, config: Any, laser_power_w: float, plate: MalusFit, wheel: WheelTable,
                run_id: str = "") -> "PowerCalibration":
        """A new calibration stamped with the pump-path settings of ``config``."""
        optics = pump_path_config(config)
        return cls(rig_name=str(config.name), laser_power_w=laser_power_w, plate=plate, wheel=wheel,
                   run_id=run_id, optics=optics, optics_hash=config_hash(optics))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["wheel"]["angles_deg"] = list(self.wheel.angles_deg)
        data["wheel"]["relative_transmission"] = list(self.wheel.relative_transmission)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PowerCalibration":
        try:
            wheel = data["wheel"]
            return cls(rig_name=str(data["rig_name"]), laser_power_w=float(data["laser_power_w"]),
                       plate=MalusFit(**{k: (int(v) if k == "harmonic" else float(v))
                                         for k, v in data["plate"].items()}),
                       wheel=WheelTable(tuple(float(a) for a in wheel["angles_deg"]),
                                        tuple(float(t) for t in wheel["relative_transmission"]),
                                        float(wheel.get("reference_deg", 0.0))),
                       created_at=float(data.get("created_at", 0.0)),
                       run_id=str(data.get("run_id", "")),
                       optics=dict(data.get("optics") or {}),
                       optics_hash=str(data.get("optics_hash", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calibration={str(data)[:60]!r} is malformed ({exc}); allowed: the "
                             "JSON written by 'avalab calibrate'") from None


def _read_json_table(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; empty when missing or unreadable (a damaged file means
    'recalibrate', never a crash at the start of a run)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("%s file %s unreadable (%s); treating as empty", what, path, exc)
        return {}
    return data if isinstance(data, dict) else {}


class CalibrationStore:
    """The rig's current calibrations: one JSON file mapping rig name -> calibration."""

    _lock = threading.Lock()  # one process may run a GUI and a campaign that both save

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else avalab_home()

    @property
    def path(self) -> Path:
        return self.directory / CALIBRATION_FILENAME

    def _read_all(self) -> dict[str, Any]:
        return _read_json_table(self.path, "calibration")

    def load(self, rig_name: str) -> PowerCalibration | None:
        entry = self._read_all().get(rig_name)
        if entry is None:
            return None
        try:
            return PowerCalibration.from_dict(entry)
        except ValueError as exc:
            log.warning("stored calibration for rig %r ignored: %s", rig_name, exc)
            return None

    def load_for_rig(self, rig: Any) -> tuple[PowerCalibration | None, str | None]:
        """The stored calibration if it is valid for ``rig`` as configured now, else None and why
        not (None, None: there is none). ``rig`` is an ``acquisition.rig.Rig`` (or anything with
        ``config`` and an optional ``pump`` that has ``max_power``)."""
        config = rig.config
        stored = self.load(str(config.name))
        if stored is None:
            return None, None
        pump = getattr(rig, "pump", None)
        max_power = getattr(pump, "max_power", None) if pump is not None else None
        reason = stored.stale_reason(config, float(max_power) if max_power is not None else None)
        if reason is not None:
            return None, f"stored power calibration for rig {config.name!r} not reused: {reason}"
        return stored, None

    def save(self, calibration: PowerCalibration) -> Path:
        with self._lock:
            data = self._read_all()
            data[calibration.rig_name] = calibration.to_dict()
            self.directory.mkdir(parents=True, exist_ok=True)
            # write-then-rename so a crash never leaves a half-written calibration behind
            tmp = self.path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
            tmp.replace(self.path)
        log.info("calibration for rig %r saved to %s", calibration.rig_name, self.path)
        return self.path

    def clear(self, rig_name: str) -> None:
        with self._lock:
            data = self._read_all()
            if data.pop(rig_name, None) is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(data, indent=2, sort_keys=True))

    # ---- the control (808 nm) path ---------------------------------------------------------
    @property
    def control_path(self) -> Path:
        return self.directory / CONTROL_PATH_FILENAME

    @staticmethod
    def _wavelength_key(wavelength_m: float) -> str:
        return f"{wavelength_m * 1e9:.1f}"

    def _read_control(self) -> dict[str, Any]:
        return _read_json_table(self.control_path, "control-path")

    def save_control_range(self, config: Any, wavelength_m: float, lowest_w_m2: float,
                           highest_w_m2: float) -> None:
        """Record what the control path delivered at ``wavelength_m`` (density at the sample)."""
        settings = control_path_config(config)
        with self._lock:
            data = self._read_control()
            entry = data.setdefault(str(config.name), {})
            entry[self._wavelength_key(wavelength_m)] = {
                "lowest_w_m2": float(lowest_w_m2), "highest_w_m2": float(highest_w_m2),
                "config_hash": config_hash(settings), "measured_at": time.time()}
            try:  # advisory (start-time checks only): a read-only home must not fail the run
                self.directory.mkdir(parents=True, exist_ok=True)
                tmp = self.control_path.with_suffix(".json.tmp")
                tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
                tmp.replace(self.control_path)
            except OSError as exc:
                log.warning("control-path range not saved to %s: %s", self.control_path, exc)

    def load_control_range(self, config: Any, wavelength_m: float) -> tuple[float, float] | None:
        """(lowest, highest) control density in W/m2 last measured at ``wavelength_m`` on this
        rig with the same control-path settings, else None."""
        entry = self._read_control().get(str(config.name), {}).get(self._wavelength_key(wavelength_m))
        if not isinstance(entry, dict) or entry.get("config_hash") != config_hash(control_path_config(config)):
            return None
        try:
            return float(entry["lowest_w_m2"]), float(entry["highest_w_m2"])
        except (KeyError, TypeError, ValueError):
            return None
