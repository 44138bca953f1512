"""The lifetime experiment through the real HydraHarp driver on the hhlib_sim stand-in (ctypes, C
record encoding, PTU record decoding) gives the rise and decay of the in-process simulated tagger
on the same bench."""
from __future__ import annotations

import pytest

from acquisition.engine import Engine
from acquisition.rig import Rig, RoleConfig, load_rig, load_rig_config
from sim_backends.emulators.bench_server import attach_emulated_drivers

pytestmark = pytest.mark.timeout(300)

LIFETIME = {"acquisition_s": 2.0}


def run_lifetime(emulated_tagger: bool) -> tuple[dict, str]:
    config = load_rig_config("sim")
    if emulated_tagger:
        config.roles["tagger"] = RoleConfig(driver="hydraharp", address="emulator")
    rig = Rig(config)
    engine = Engine(rig)
    try:
        finished = engine.start("lifetime", LIFETIME).wait(240)
        identity = rig.identities()["tagger"]
    finally:
        engine.close()
        rig.close_all()
        rig.stop_emulators()
    assert finished.status.value == "complete", finished.reason
    return finished.summary, identity


def test_lifetime_through_the_hydraharp_driver_matches_the_simulated_tagger() -> None:
    direct, direct_identity = run_lifetime(False)
    emulated, emulated_identity = run_lifetime(True)
    assert direct_identity.startswith("simulated")
    assert emulated_identity.startswith("HydraHarp 400") and "serial 1000000" in emulated_identity
    # the same physics, drawn independently: counts within Poisson noise, times within 10 %
    counts = direct["total_counts"]
    assert abs(emulated["total_counts"] - counts) < 5 * counts ** 0.5
    for key in ("rise_time_s", "decay_time_s"):
        assert emulated[key] == pytest.approx(direct[key], rel=0.1), key


def test_two_rigs_in_one_process_have_their_own_hydraharp() -> None:
    rigs = [load_rig("sim") for _ in range(2)]
    benches = [attach_emulated_drivers(rig, ["tagger"]) for rig in rigs]
    try:
        for rig in rigs:
            rig.connect_all()
        assert [rig.identities()["tagger"] for rig in rigs] == [
            "HydraHarp 400 (part 930004, hw 2.0), serial 1000000"] * 2
        tags = [rig.tagger.time_tags(0.05) for rig in rigs]
        assert all(t.meta["serial"] == "1000000" for t in tags)
    finally:
        for rig, bench in zip(rigs, benches):
            rig.close_all()
            bench.close()
