"""Links broken at several moments of a sweep on the emulated rig (real drivers, fault proxies,
emulators): the run never ends ``complete``, every instrument the emulators report unsafe is
named in a ``safe state failed`` report, the exit code says so, and every point taken is in the
run file."""
from __future__ import annotations

import pytest

SWEEP = {"temperature_k": 77.0, "start_kw_cm2": 2.0, "stop_kw_cm2": 10.0, "points": 6,
         "settle_s": 0.1, "dwell_s": 0.1}
#: up and down: 12 points; "start" is RunStarted (nothing set yet)
MOMENTS = ("start", 5, 11)

SCENARIOS = (
    # the pump: the case (a dropped or stalled link left the laser emitting, run complete);
    # a stall costs several driver timeouts, so it is tried where the beam is on
    [("pump", fault, moment) for fault in ("drop", "kill", "garble") for moment in MOMENTS]
    + [("pump", "stall", 5), ("pump", "stall", 11)]
    # the pump shutter (open during the sweep; its kill is in test_fault_cli), a stage, the power
    # meter and the cryostat
    + [("pump_shutter", "drop", 5), ("hwp", "kill", 5), ("hwp", "garble", 11),
       ("power_meter", "drop", 5), ("cryostat", "stall", 5)]
)


@pytest.mark.parametrize("role,fault,moment", SCENARIOS)
def test_a_broken_link_never_ends_a_sweep_complete(fault_run, role: str, fault: str,
                                                     moment: str | int) -> None:
    outcome = fault_run("sweep", SWEEP, role, fault, moment)
    outcome.assert_honest()
    if role in ("pump", "pump_shutter") and moment != "start":
        # the beam was on when the link broke: the safe state could not be confirmed
        assert role in outcome.reported


def test_a_connection_dropped_once_is_reestablished_and_the_pump_confirmed_off(fault_run) -> None:
    """Not a standing fault: the pump's connection drops once mid-sweep and the instrument is
    reachable again. The driver reconnects when it next talks to the pump (the safe state), the
    emission is switched off and read back off, and the run is complete with every point."""
    outcome = fault_run("sweep", SWEEP, "pump", "drop_once", 5)
    assert outcome.fired
    assert outcome.finished.status.value == "complete", outcome.finished.reason
    assert outcome.unsafe == {} and outcome.reported == set() and outcome.exit_code == 0
    assert outcome.connections["pump"] >= 2  # it really reconnected
