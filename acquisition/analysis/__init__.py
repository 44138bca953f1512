"""Analysis of photon-avalanche data: pure functions, numpy in, dataclasses out.

Definitions (thresholds, width sign, contrast, nonlinearity, jump detection, rise and decay
times) are in the module docstrings of hysteresis, jumps and kinetics and in docs/analysis.md.
"""
from acquisition.analysis.branches import Branch, SweepCycle, prepare_branch, split_sweep
from acquisition.analysis.hysteresis import (REFERENCE_NOISE_CPS, HysteresisResult, IPPoint,
                                             analyze_hysteresis, analyze_sweep)
from acquisition.analysis.jumps import Jump, JumpCriteria, find_jump
from acquisition.analysis.kinetics import decay_time_area, rise_time_95
from acquisition.analysis.latch import LatchAssessment, assess_latch, switching_latched
from acquisition.analysis.nonlinearity import nonlinearity_slope, steepest_window
from acquisition.analysis.units import W_M2_PER_KW_CM2, kw_cm2_to_w_m2, w_m2_to_kw_cm2

__all__ = [
    "analyze_hysteresis", "analyze_sweep", "HysteresisResult", "IPPoint", "REFERENCE_NOISE_CPS",
    "rise_time_95", "decay_time_area", "switching_latched", "assess_latch", "LatchAssessment",
    "nonlinearity_slope", "steepest_window", "split_sweep", "SweepCycle", "prepare_branch", "Branch",
    "find_jump", "Jump", "JumpCriteria", "W_M2_PER_KW_CM2", "kw_cm2_to_w_m2", "w_m2_to_kw_cm2",
]
