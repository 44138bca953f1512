"""Parameters of the virtual optical bench: beam-path calibration, the sample, and every simulated part.

Each field carries its allowed range, unit and a one-line explanation in its metadata, so the rig
loader can validate a file generically and ``default_rig_toml`` can print a commented template.
All values are SI (W, m, s, K); angles are degrees.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sim_backends.physics.film import DEFAULT_SPOT_M


def param(default: Any, low: float | None = None, high: float | None = None, unit: str = "",
          doc: str = "", choices: tuple[Any, ...] | None = None,
          toml_key: str | None = None, toml_scale: float = 1.0, example: Any = None) -> Any:
    """A dataclass field with validation metadata (range or choices, unit, comment for the TOML).

    ``toml_key``/``toml_scale`` let a field be written at the edge in operator units
    (value_in_file = value_si / toml_scale), e.g. kW/cm2 for power density limits. ``example``
    is what a commented-out line shows for an optional field whose default is None.
    """
    metadata = {"low": low, "high": high, "unit": unit, "doc": doc, "choices": choices,
                "toml_key": toml_key, "toml_scale": toml_scale, "example": example}
    if isinstance(default, (list, tuple, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class BeamConfig:
    """Beam-path calibration constants, used by experiments (density) and by the bench (truth)."""

    pump_wavelength_m: float = param(1064e-9, 400e-9, 2e-6, "m", "pump laser wavelength")
    beam_radius_m: float = param(0.63e-6, 1e-7, 1e-4, "m",
                                 "1/e2 radius of the focused pump beam (64 uW <-> 5.2 kW/cm2)")
    pickoff_ratio: float = param(0.10, 1e-4, 1.0, "",
                                 "power meter reading / power entering the objective")
    objective_transmission: float = param(0.5, 0.01, 1.0, "",
                                          "objective + cryostat window transmission at the pump "
                                          "wavelength (0.5 makes peak intensity = reported density)")
    control_beam_radius_m: float = param(0.58e-6, 1e-7, 1e-4, "m",
                                         "1/e2 radius of the focused control beam (75 nW <-> 7 W/cm2)")
    control_objective_transmission: float = param(0.5, 0.01, 1.0, "",
                                                  "objective + window transmission at the control "
                                                  "wavelength")

    @property
    def beam_area_m2(self) -> float:
        return math.pi * self.beam_radius_m ** 2

    @property
    def control_beam_area_m2(self) -> float:
        return math.pi * self.control_beam_radius_m ** 2

    def density_from_meter(self, meter_reading_w: float) -> float:
        """Reported power density (W/m2) from a pick-off power meter reading (physics.md convention)."""
        return meter_reading_w / self.pickoff_ratio / self.beam_area_m2

    def meter_reading_for_density(self, density_w_m2: float) -> float:
        """Pick-off reading (W) that corresponds to a reported power density (W/m2)."""
        return density_w_m2 * self.beam_area_m2 * self.pickoff_ratio


@dataclass
class SampleConfig:
    """The simulated film under the focus (handed to ``sim_backends.physics.FocalSpot``)."""

    material: str = param("Nd:KPb2Cl5", doc="material name known to sim_backends.physics")
    dopant_fraction: float | None = param(None, 0.0, 1.0, "",
                                          "dopant fraction; leave out for the material default",
                                          example=0.18)
    knockouts: list[str] = param([], doc="energy-transfer pathways switched off, e.g. [\"CR1\"]")
    heterogeneity: float = param(1.0, 0.0, 5.0, "",
                                 "particle-to-particle spread (1 = the physics engine's nominal spread)")
    n_particles: int = param(10, 0, 1000, "",
                             "particles in the focal spot (0 = bare substrate: no emission)")
    seed: int = param(0, 0, 2**63 - 1, "", "seed of the film: same seed + position = same particles")
    parameters: dict[str, float] = param({}, doc="numbers of the material description replaced by name, "
                                                 "e.g. {\"transfers.CR1.microparameter_cm6_s\" = 4e-38} "
                                                 "(names: avalab fit --list)")
    film_position_m: list[float] = param(list(DEFAULT_SPOT_M), -0.1, 0.1, "m",
                                         "(x, y) of the spot on the film; other spots differ reproducibly "
                                         "(default: a spot like the published single spot)")


@dataclass
class PumpParams:
    max_power_w: float = param(3.0, 1e-3, 100.0, "W", "largest pump setpoint (Opus 1064, 3 W)")
    noise_rel: float = param(0.002, 0.0, 0.1, "", "relative rms noise of a power reading")
    drift_rel: float = param(0.003, 0.0, 0.1, "", "relative amplitude of the slow power drift")
    drift_period_s: float = param(1800.0, 1.0, 1e6, "s", "period of the slow drift")
    warmup_time_constant_s: float = param(0.3, 0.0, 60.0, "s", "output rise time after emission on")


@dataclass
class OpticsParams:
    nd_max_od: float = param(4.0, 0.1, 10.0, "", "optical density at the dense end of the ND wheel")
    nd_span_deg: float = param(270.0, 10.0, 360.0, "deg", "wheel angle over which OD goes 0 -> max")
    hwp_offset_deg: float = param(12.3, -90.0, 90.0, "deg",
                                  "true half-wave plate angle of maximum transmission (theta0)")
    hwp_max_transmission: float = param(0.9, 0.01, 1.0, "", "T_max of HWP + Glan-Taylor")
    hwp_extinction_ratio: float = param(500.0, 2.0, 1e7, "",
                                        "(T_max + T_min) / T_min of HWP + Glan-Taylor")
    path_transmission: float = param(0.9, 0.01, 1.0, "",
                                     "pump path transmission from the polariser to the objective")
    focus_drift_rel: float = param(0.03, 0.0, 0.5, "",
                                   "rms relative drift of the intensity at the focus that the pick-off "
                                   "does not see (cold-finger focus and pointing drift); sets the "
                                   "cycle-to-cycle spread of measured thresholds")
    focus_drift_period_s: float = param(3600.0, 1.0, 1e6, "s",
                                        "typical period of the focus drift (three incommensurate components)")


@dataclass
class StageParams:
    velocity_deg_s: float = param(10.0, 0.1, 1000.0, "deg/s", "rotation stage speed")


@dataclass
class XYStageParams:
    velocity_m_s: float = param(2.3e-3, 1e-6, 0.1, "m/s",
                                "sample stage speed per axis (Z8 actuators: up to 2.6 mm/s)")
    reference_m: list[float] = param([12.5e-3, 12.5e-3], 0.0, 25e-3, "m",
                                     "stage (x, y) at which the focus is on [sample] film_position_m; "
                                     "the stage starts there")


@dataclass
class ChopperParams:
    spinup_time_constant_s: float = param(0.8, 0.0, 30.0, "s",
                                          "time constant of the blade frequency after a change")


@dataclass
class PowerMeterParams:
    noise_rel: float = param(0.002, 0.0, 0.1, "", "relative rms noise per sample")
    noise_floor_w: float = param(5e-10, 0.0, 1e-3, "W", "absolute rms noise per sample")
    max_range_w: float = param(0.05, 1e-6, 10.0, "W", "largest range of the sensor")
    sample_time_s: float = param(1e-3, 1e-5, 1.0, "s", "time per averaged sample")
    min_wavelength_m: float = param(400e-9, 100e-9, 2e-6, "m", "sensor's shortest wavelength")
    max_wavelength_m: float = param(1100e-9, 200e-9, 5e-6, "m", "sensor's longest wavelength")


@dataclass
class DetectionParams:
    emission_filter: str = param("810nm", choices=("810nm", "880nm"),
                                 doc="APD band-pass: 809/81 nm (810nm line) or 935/170 nm (880nm line)")
    collection_efficiency: float = param(0.05, 1e-6, 1.0, "",
                                         "fraction of emitted photons reaching the APD filter "
                                         "(objective NA, relay optics, pinhole); calibrated")
    filter_transmission: float = param(0.93, 0.01, 1.0, "", "band-pass transmission in band")
    filter_blocking_od: float = param(6.0, 0.0, 12.0, "", "band-pass blocking out of band")
    pump_blocking_od: float = param(4.0, 0.0, 12.0, "", "extra blocking of the 950 nm short-pass")
    stray_fraction: float = param(1e-4, 0.0, 1.0, "",
                                  "fraction of laser power at the sample scattered toward the APD")
    dark_count_rate_cps: float = param(80.0, 0.0, 1e5, "cps", "APD dark counts")
    dead_time_s: float = param(22e-9, 0.0, 1e-5, "s", "APD dead time (non-paralysable)")
    damage_rate_cps: float = param(2e7, 1e3, 1e9, "cps", "APD rate above which a warning is logged")


@dataclass
class CryostatParams:
    bath_temperature_k: float = param(77.0, 1.0, 300.0, "K", "LN2 stage temperature")
    start_temperature_k: float = param(77.0, 1.0, 400.0, "K",
                                       "stage temperature when the bench starts (295 = warm)")
    heat_capacity_j_k: float = param(50.0, 0.01, 1e5, "J/K", "heat capacity of the cold finger")
    time_constant_s: float = param(600.0, 1.0, 1e5, "s", "cold finger to LN2 time constant")
    sample_time_constant_s: float = param(30.0, 0.01, 1e4, "s", "sample lag behind the sensor")
    sensor_noise_k: float = param(0.005, 0.0, 1.0, "K", "rms sensor noise")
    heater_full_scale_w: list[float] = param([0.5, 5.0, 50.0], 0.0, 1000.0, "W",
                                             "heater power at 100 % for ranges low, medium, high")
    pid_p: float = param(50.0, 0.1, 1000.0, "%/K", "proportional gain")
    pid_i: float = param(0.02, 0.0, 10.0, "1/s", "integral gain (repeats per second)")
    pid_d: float = param(0.0, 0.0, 200.0, "s", "derivative time")
    max_setpoint_k: float = param(400.0, 1.0, 500.0, "K", "largest setpoint the controller takes")


@dataclass
class ControlLaserParams:
    min_wavelength_m: float = param(680e-9, 300e-9, 2e-6, "m", "shortest tunable wavelength")
    max_wavelength_m: float = param(1080e-9, 300e-9, 2e-6, "m", "longest tunable wavelength")
    start_wavelength_m: float = param(808e-9, 300e-9, 2e-6, "m", "wavelength at power-up")
    peak_power_w: float = param(3.5, 1e-3, 100.0, "W", "output at the gain peak")
    peak_wavelength_m: float = param(800e-9, 300e-9, 2e-6, "m", "gain peak")
    gain_width_m: float = param(200e-9, 10e-9, 1e-6, "m", "1/e half-width of the tuning curve")
    tuning_rate_m_s: float = param(20e-9, 1e-10, 1e-5, "m/s", "tuning speed")
    tuning_overhead_s: float = param(2.0, 0.0, 60.0, "s", "extra time to re-lock after tuning")
    noise_rel: float = param(0.005, 0.0, 0.1, "", "relative rms noise of a power reading")
    fixed_od: float = param(6.0, 0.0, 12.0, "", "fixed neutral density in the control path")
    attenuator_offset_deg: float = param(5.0, -90.0, 90.0, "deg",
                                         "polariser angle of maximum transmission")
    attenuator_extinction_ratio: float = param(1000.0, 2.0, 1e7, "", "(T_max + T_min) / T_min")
    path_transmission: float = param(0.8, 0.01, 1.0, "", "control path transmission to the objective")


@dataclass
class TaggerParams:
    resolution_s: float = param(1e-9, 1e-12, 1e-3, "s", "time-tag resolution reported")
    trace_resolution_s: float = param(1e-4, 1e-7, 1.0, "s",
                                      "time step of the emission trace the tags are drawn from "
                                      "(finer when the chopper runs: period / 100)")
    max_trace_points: int = param(2_000_000, 1000, 100_000_000, "",
                                  "cap on trace points per acquisition (coarser step beyond it)")


@dataclass
class BenchConfig:
    """Everything the simulated bench needs apart from the beam calibration and the sample."""

    seed: int = param(1, 0, 2**31 - 1, "", "seed of instrument noise (not the film)")
    pump: PumpParams = field(default_factory=PumpParams)
    optics: OpticsParams = field(default_factory=OpticsParams)
    stage: StageParams = field(default_factory=StageParams)
    xy_stage: XYStageParams = field(default_factory=XYStageParams)
    chopper: ChopperParams = field(default_factory=ChopperParams)
    power_meter: PowerMeterParams = field(default_factory=PowerMeterParams)
    detection: DetectionParams = field(default_factory=DetectionParams)
    cryostat: CryostatParams = field(default_factory=CryostatParams)
    control_laser: ControlLaserParams = field(default_factory=ControlLaserParams)
    tagger: TaggerParams = field(default_factory=TaggerParams)
