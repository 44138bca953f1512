"""The LN2 cryostat: cool-down from room temperature, PID regulation, ramps, the sample lag."""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from acquisition.rig import Rig, RigConfig
from tests.bench.conftest import build_rig


@pytest.fixture
def warm_rig() -> Iterator[Rig]:
    config = RigConfig()
    config.sim.cryostat.start_temperature_k = 295.0
    rig = build_rig(config)
    yield rig
    rig.close_all()


def _record(rig: Rig, duration_s: float, step_s: float, channel: str = "A") -> np.ndarray:
    values = []
    for _ in range(int(round(duration_s / step_s))):
        rig.clock.sleep(step_s)
        values.append(rig.cryostat.get_temperature(channel))
    return np.array(values)


def test_cools_from_room_temperature_with_the_configured_time_constant(warm_rig: Rig) -> None:
    params = warm_rig.config.sim.cryostat
    tau = params.time_constant_s
    assert warm_rig.cryostat.get_temperature() == pytest.approx(295.0, abs=0.05)
    after_one_tau = _record(warm_rig, tau, tau)[-1]
    expected = params.bath_temperature_k + (295.0 - params.bath_temperature_k) / math.e
    assert after_one_tau == pytest.approx(expected, abs=0.5)
    _record(warm_rig, 9 * tau, 60.0)
    assert warm_rig.cryostat.get_temperature("A") == pytest.approx(77.0, abs=0.05)
    assert warm_rig.cryostat.get_temperature("B") == pytest.approx(77.0, abs=0.05)


def test_sample_lags_behind_the_sensor_while_cooling(warm_rig: Rig) -> None:
    warm_rig.clock.sleep(120.0)
    stage, sample = warm_rig.cryostat.get_temperature("A"), warm_rig.cryostat.get_temperature("B")
    assert sample > stage + 1.0  # the sample holder is still warmer


def test_pid_reaches_setpoint_and_holds_it(sim_rig: Rig) -> None:
    cryostat = sim_rig.cryostat
    cryostat.set_setpoint(100.0)
    cryostat.set_heater_range(2)
    trace = _record(sim_rig, 900.0, 5.0)
    assert trace.max() < 100.0 + 2.0                       # modest overshoot
    within = np.nonzero(np.abs(trace - 100.0) < 0.5)[0]
    assert within.size and within[0] * 5.0 < 300.0         # there within five minutes
    assert np.all(np.abs(trace[-60:] - 100.0) < 0.05)       # and held (sensor noise 5 mK)
    expected_heater = 100.0 * (100.0 - 77.0) * (
        sim_rig.config.sim.cryostat.heat_capacity_j_k / sim_rig.config.sim.cryostat.time_constant_s
    ) / sim_rig.config.sim.cryostat.heater_full_scale_w[1]
    assert cryostat.get_heater_output() == pytest.approx(expected_heater, rel=0.02)


def test_heater_off_relaxes_to_bath_with_time_constant(sim_rig: Rig) -> None:
    cryostat = sim_rig.cryostat
    cryostat.set_setpoint(100.0)
    cryostat.set_heater_range(2)
    _record(sim_rig, 900.0, 30.0)
    cryostat.set_heater_range(0)
    tau = sim_rig.config.sim.cryostat.time_constant_s
    assert _record(sim_rig, tau, tau)[-1] == pytest.approx(77.0 + 23.0 / math.e, abs=0.3)


def test_ramp_moves_the_setpoint_at_the_given_rate(sim_rig: Rig) -> None:
    cryostat = sim_rig.cryostat
    cryostat.set_setpoint(100.0)
    cryostat.set_heater_range(2)
    _record(sim_rig, 900.0, 30.0)
    cryostat.set_ramp(True, 1.0 / 60.0)
    cryostat.set_setpoint(120.0)
    trace = _record(sim_rig, 600.0, 60.0)
    assert trace[-1] == pytest.approx(110.0, abs=1.0)  # 10 min at 1 K/min, minus the loop lag
    assert cryostat.get_setpoint() == 120.0


def test_safe_state_switches_the_heater_off(sim_rig: Rig) -> None:
    sim_rig.cryostat.set_heater_range(3)
    sim_rig.cryostat.safe_state()
    assert sim_rig.cryostat.get_heater_range() == 0
