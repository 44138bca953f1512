"""Physics engine of the simulated lab: rate equations of avalanching / bistable nanoparticles.

Public API (SI units: intensities are local intensities in W/m2, 1 kW/cm2 = 1e7 W/m2; wavelengths
in m; temperature in K; time in s):

- MATERIALS, get_material(name, dopant_fraction=None, knockouts=()) -> Material
- RateModel(material, temperature_k): steady_state, sweep, folds, s_curve, simulate,
  emission_rates, process_rates
- FocalSpot(...).advance(duration_s, Drive(...), trace_resolution_s=None) -> SpotEmission
- ChopperWaveform, Pulse, Step, Constant, Scaled: pump/control waveforms for simulate
"""
from .continuation import SCurve
from .drive import Drive, SpotEmission
from .material import Material
from .materials import MATERIALS, get_material
from .rate_model import RateModel
from .spot import FocalSpot
from .timedomain import Trajectory
from .waveforms import ChopperWaveform, Constant, Pulse, Scaled, Step

__all__ = ["MATERIALS", "ChopperWaveform", "Constant", "Drive", "FocalSpot", "Material", "Pulse", "RateModel",
           "SCurve", "Scaled", "SpotEmission", "Step", "Trajectory", "get_material"]
