"""The virtual optical bench: beam path, detection chain and cryostat around the simulated sample."""
from sim_backends.bench.bench import Bench
from sim_backends.bench.config import (BeamConfig, BenchConfig, ChopperParams, ControlLaserParams,
                                       CryostatParams, DetectionParams, OpticsParams,
                                       PowerMeterParams, PumpParams, SampleConfig, StageParams,
                                       TaggerParams)

__all__ = ["Bench", "BeamConfig", "BenchConfig", "ChopperParams", "ControlLaserParams",
           "CryostatParams", "DetectionParams", "OpticsParams", "PowerMeterParams", "PumpParams",
           "SampleConfig", "StageParams", "TaggerParams"]
