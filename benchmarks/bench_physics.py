"""Physics engine benchmarks, measured side by side in one run; prints ratios, asserts nothing.

1. 2 x 100-point CW hysteresis sweep of one Nd:KPb2Cl5 particle (77 K, 1-15 kW/cm2):
   continuation (RateModel.sweep) vs the published practice, solve_ivp(method="BDF") for 2 s of
   simulated time per point starting from the previous point.
2. 2 s of 1 kHz chopped excitation (50 % duty) of one particle: wall time vs simulated time.
3. CW hysteresis sweep through a focal spot of 10 and of 50 particles: cost per point.
4. Pulsed hysteresis sweep, 2 x 91 points (1 kHz, 40 % duty, 77 K, 0.5 s settle + 1 s count per
   point), one particle computed both ways side by side (goal: under 10 s wall): periodic steady
   state by shooting with continuation (what a spot does for each particle) vs integrating the
   periods of every dwell (with the geometric extrapolation of the slow mode, the previous
   method); then a focal spot of particles on the same sweep.

Run: .venv/bin/python benchmarks/bench_physics.py
"""
from __future__ import annotations

import time

import numpy as np
from scipy.integrate import solve_ivp

from sim_backends.physics import ChopperWaveform, Drive, FocalSpot, RateModel, Scaled, get_material
from sim_backends.physics.chopped import run_chopped
from sim_backends.physics.particle import Particle

KW_CM2 = 1e7


def reference_sweep(model: RateModel, pump: np.ndarray) -> np.ndarray:
    """The published practice: integrate 2 s with BDF at every point, from the previous point."""
    equations = model.equations
    y = model.dark_state()
    out = []
    for p in pump:
        matrix = model.matrix(float(p))
        solution = solve_ivp(lambda _t, state: equations.rhs(state, matrix), (0.0, 2.0), y, method="BDF",
                             jac=lambda _t, state: equations.jacobian(state, matrix), rtol=1e-6, atol=1e-12)
        y = solution.y[:, -1]
        out.append(y)
    return np.array(out)


def timed(function, *args):  # noqa: ANN001, ANN002, ANN202 (benchmark helper)
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def bench_sweep() -> None:
    pump = np.linspace(1.0, 15.0, 100) * KW_CM2
    both = np.concatenate([pump, pump[::-1]])

    def ours() -> np.ndarray:
        model = RateModel("Nd:KPb2Cl5", 77.0)
        return model.sweep(both)

    ours_states, ours_s = timed(ours)
    ref_states, ref_s = timed(reference_sweep, RateModel("Nd:KPb2Cl5", 77.0), both)
    weights = RateModel("Nd:KPb2Cl5").emission_weights()["810nm"]
    disagreement = np.max(np.abs(np.log((ours_states @ weights) / (ref_states @ weights))))
    print(f"[sweep] 2x100 CW points, one particle: continuation {ours_s * 1e3:.1f} ms, "
          f"solve_ivp BDF 2 s/point {ref_s * 1e3:.0f} ms -> {ref_s / ours_s:.0f}x faster "
          f"(max |log ratio| of 810 nm emission between the two: {disagreement:.2e})")


def bench_chopper() -> None:
    model = RateModel("Nd:KPb2Cl5", 77.0)
    start = model.steady_state(10 * KW_CM2)
    t = np.linspace(0.0, 2.0, 2 * 1000 * 16 + 1)
    trajectory, wall = timed(model.simulate, t, Scaled(10 * KW_CM2, ChopperWaveform(1000.0, 0.5)), 0.0,
                             808e-9, start)
    reached = "reached" if trajectory.orbit is not None else "not reached"
    print(f"[chopper] 2 s of 1 kHz chopped excitation: {wall:.3f} s wall -> {2.0 / wall:.1f}x faster than "
          f"real time (periodic orbit {reached})")


def bench_spot(n_particles: int) -> None:
    pump = np.linspace(1.0, 15.0, 100) * KW_CM2
    spot = FocalSpot(n_particles=n_particles, seed=11)

    def sweep() -> None:
        for p in np.concatenate([pump, pump[::-1]]):
            spot.advance(1.0, Drive(float(p)))

    _, wall = timed(sweep)
    print(f"[spot] {n_particles}-particle focal spot, 2x100-point CW sweep (1 s dwells): {wall:.2f} s, "
          f"{wall / 200 * 1e3:.1f} ms per point, {wall / 200 / n_particles * 1e3:.2f} ms per particle-point")


PULSED_AVERAGE_KW_CM2 = np.round(np.arange(1.0, 10.0 + 1e-9, 0.1), 3)   # 91 points
PULSED_CHOPPER = ChopperWaveform(1000.0, 0.4)
SETTLE_S, COUNT_S = 0.5, 1.0


def _pulsed_points() -> np.ndarray:
    peaks = PULSED_AVERAGE_KW_CM2 / PULSED_CHOPPER.duty * KW_CM2
    return np.concatenate([peaks, peaks[::-1]])


def pulsed_particle_shooting() -> np.ndarray:
    particle = Particle(get_material("Nd:KPb2Cl5"), 77.0)
    t, out = 0.0, []
    for peak in _pulsed_points():
        drive = Drive(float(peak), chopper=PULSED_CHOPPER)
        particle.advance(t, SETTLE_S, drive, 1.0, None)
        out.append(particle.advance(t + SETTLE_S, COUNT_S, drive, 1.0, None).mean_rate["810nm"])
        t += SETTLE_S + COUNT_S
    return np.array(out)


def pulsed_particle_integrating() -> np.ndarray:
    model = RateModel("Nd:KPb2Cl5", 77.0)
    weights = model.emission_weights()["810nm"][None, :]
    off = model.matrix(0.0)
    state, t, out = model.dark_state(), 0.0, []
    for peak in _pulsed_points():
        on = model.matrix(float(peak))
        state = run_chopped(model.integrator, state, t, SETTLE_S, PULSED_CHOPPER, on, off, weights).end_state
        dwell = run_chopped(model.integrator, state, t + SETTLE_S, COUNT_S, PULSED_CHOPPER, on, off, weights)
        state = dwell.end_state
        out.append(float(dwell.integrals[0]) / COUNT_S)
        t += SETTLE_S + COUNT_S
    return np.array(out)


def bench_pulsed() -> None:
    shooting, shooting_s = timed(pulsed_particle_shooting)
    integrating, integrating_s = timed(pulsed_particle_integrating)
    disagreement = np.max(np.abs(np.log(shooting / integrating)))
    print(f"[pulsed] one particle, 2x91-point sweep at 1 kHz / 40 % duty (0.5 s settle + 1 s count): "
          f"periodic steady state by shooting + continuation {shooting_s:.2f} s wall (goal < 10 s), "
          f"integrating the periods {integrating_s:.2f} s -> {integrating_s / shooting_s:.1f}x faster "
          f"(max |log ratio| of the 810 nm means between the two: {disagreement:.2e})")
    spot = FocalSpot(seed=11)

    def spot_sweep() -> None:
        for peak in _pulsed_points():
            drive = Drive(float(peak), chopper=PULSED_CHOPPER)
            spot.advance(SETTLE_S, drive)
            spot.advance(COUNT_S, drive)

    _, spot_wall = timed(spot_sweep)
    print(f"[pulsed] {spot.n_particles}-particle focal spot, same sweep: {spot_wall:.2f} s wall "
          f"({spot_wall / max(spot.n_particles, 1):.2f} s per particle)")


def main() -> None:
    bench_sweep()
    bench_chopper()
    bench_spot(10)
    bench_spot(50)
    bench_pulsed()


if __name__ == "__main__":
    main()
