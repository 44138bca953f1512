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
"""
from __future__ import annotations

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


def avalab_home() -> Path:
    """Directory for avalab's persistent state ($AVALAB_HOME or ~/.local/share/avalab)."""
    env = os.environ.get("AVALAB_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "avalab"


def malus(theta_deg: np.ndarray | float, t_max: float, t_min: float, theta0_deg: float,
          harmonic: int = 2) -> np.ndarray | float:
    """Transmission at stage angle ``theta_deg``: harmonic 2 for a half-wave plate before a fixed
    polariser, 1 for a polariser rotated in a polarised beam."""
    return t_max * np.cos(np.deg2rad(harmonic * (np.asarray(theta_deg) - theta0_deg))) ** 2 + t_min


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

    def sample_power_w(self, plate_deg: float, wheel_deg: float, laser_power_w: float) -> float:
        return laser_power_w * self.plate.transmission(plate_deg) * self.wheel.transmission(wheel_deg)

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
                       run_id=str(data.get("run_id", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calibration={str(data)[:60]!r} is malformed ({exc}); allowed: the "
                             "JSON written by 'avalab calibrate'") from None


class CalibrationStore:
    """The rig's current calibrations: one JSON file mapping rig name -> calibration."""

    _lock = threading.Lock()  # one process may run a GUI and a campaign that both save

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else avalab_home()

    @property
    def path(self) -> Path:
        return self.directory / CALIBRATION_FILENAME

    def _read_all(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("calibration file %s unreadable (%s); treating as empty", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def load(self, rig_name: str) -> PowerCalibration | None:
        entry = self._read_all().get(rig_name)
        if entry is None:
            return None
        try:
            return PowerCalibration.from_dict(entry)
        except ValueError as exc:
            log.warning("stored calibration for rig %r ignored: %s", rig_name, exc)
            return None

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
