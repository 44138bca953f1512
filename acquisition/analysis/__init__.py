"""Analysis of photon-avalanche data: pure functions, numpy in, dataclasses out.

Conventions (reference setup; details in each module's docstring):

I-P sweeps (``analyze_hysteresis``, ``analyze_sweep``)
    Input densities in W/m2, rates in cps, as measured (no background subtraction). Each branch is
    sorted by density, non-finite samples dropped, repeated setpoints averaged.
    Jump: the largest rise of L = ln(I + I_noise) between adjacent points, accepted only if it is
    at least a factor 2, at least 3 I_noise high, at least 5 robust sigmas (MAD of the other
    steps) and at least twice each neighbouring step (module ``jumps``).
    A, B = last dark / first bright point of the up-branch jump; C, D = last bright / first dark
    point of the down-branch jump.
    switch-on = P_B; switch-off = P_C;
    width = (P_A + P_B)/2 - (P_C + P_D)/2 = -[(P_C - P_B)/2 - (P_A - P_D)/2] (the published
    expression with its sign flipped so that a normal loop has a positive width);
    contrast (dB) = 10 log10((I_B - I_A) / I_noise), I_noise = 82 cps by default (the published
    formula's I_C - I_B is negative with these labels; the switch-on step is what it measures);
    s = slope of ln I vs ln P over A and B (plus ``fit_neighbours`` points each side if asked);
    without a switch-on jump, s is the steepest 3-point slope of the up branch among windows whose
    rate rises by at least 3 I_noise (emission above the noise floor); none: s null, with a note.
    A switch-on or switch-off spread over several points (a spot of several particles, focus
    drift): C, D (or A, B) at the largest log step that is at least 3 I_noise high (the largest
    log step near the floor may be a few counts and is then skipped).
    bistable = the loop is open: at some density of the up branch the up branch is dark (below
    the middle of the darkest and brightest log levels) and the down branch is brighter by a
    factor 2 (in I + I_noise) and by 3 I_noise, the same ratio and height a jump must have. It
    does not depend on locating the jumps: an open loop whose switch-off cannot be located is
    bistable with switch-off null and a note.
Kinetics (``rise_time_95``, ``decay_time_area``)
    rise: time after pump-on to reach baseline + 95 % of (steady state - baseline);
    decay: area under the decay normalised to 1 at pump-off (= tau for one exponential).
Photoswitching (``switching_latched``, ``assess_latch``)
    bright after the pulse (outside the pulse and a settle time) versus the baseline before it.
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
