"""The real HydraHarp driver on the hhlib_sim stand-in (ctypes, C record encoding, PTU record
decoding), as a rig's tagger with ``address = "emulator"``, sees what the in-process simulated
tagger sees on the same bench: the same delay histogram within Poisson noise, and the lifetime
experiment's rise and decay."""
from __future__ import annotations

import numpy as np
import pytest

from acquisition.engine import Engine
from acquisition.rig import Rig, RoleConfig, load_rig, load_rig_config
from sim_backends.emulators.bench_server import attach_emulated_drivers
from tests.bench.operator_steps import calibrate_hwp, prepare_pump, set_density


def _rig(emulated_tagger: bool) -> Rig:
    config = load_rig_config("sim")
    if emulated_tagger:
        config.roles["tagger"] = RoleConfig(driver="hydraharp", address="emulator")
    return Rig(config)


def _chopped_bright_spot(rig: Rig) -> None:
    rig.connect_all()
    prepare_pump(rig)
    set_density(rig, calibrate_hwp(rig, step_deg=9.0), 9e7)
    rig.emission_shutter.open()
    rig.chopper.set_blade("MC1F10A")
    rig.chopper.set_frequency(20.0)
    rig.chopper.set_duty_cycle(0.5)
    rig.chopper.set_enabled(True)
    rig.clock.sleep(10.0)


def test_delay_histograms_agree_within_poisson_noise() -> None:
    """Two-sample chi-square over 1000 bins of 50 us: a timing offset, a lost chopper window or a
    wrong count would be hundreds of sigma; equal physics stays within 8 sigma of the mean."""
    histograms, identities = [], []
    for emulated in (False, True):
        rig = _rig(emulated)
        try:
            _chopped_bright_spot(rig)
            histograms.append(rig.tagger.histogram(2.0, 50e-6, 1000).astype(float))
            identities.append(rig.identities()["tagger"])
        finally:
            rig.close_all()
            rig.stop_emulators()
    direct, emulated = histograms
    assert identities[0].startswith("simulated")
    assert identities[1] == "HydraHarp 400 (part 930004, hw 2.0), serial 1000000"
    assert direct.sum() > 5_000
    assert abs(emulated.sum() - direct.sum()) < 5 * np.sqrt(direct.sum() + emulated.sum())
    used = (direct + emulated) > 0
    chi2 = float(np.sum((direct - emulated)[used] ** 2 / (direct + emulated)[used]))
    dof = int(used.sum())
    assert chi2 < dof + 8 * np.sqrt(2 * dof), (chi2, dof)


def test_lifetime_experiment_through_the_hydraharp_driver(tmp_path, monkeypatch) -> None:
    summaries = []
    for emulated in (False, True):
        # each run calibrates in a home of its own, so both rigs have the same history
        monkeypatch.setenv("AVALAB_HOME", str(tmp_path / str(emulated)))
        rig = _rig(emulated)
        engine = Engine(rig)
        try:
            finished = engine.start("lifetime", {"acquisition_s": 20.0}).wait(600)
        finally:
            engine.close()
            rig.close_all()
            rig.stop_emulators()
        assert finished.status.value == "complete", finished.reason
        summaries.append(finished.summary)
    direct, emulated = summaries
    assert abs(emulated["total_counts"] - direct["total_counts"]) < 5 * np.sqrt(2 * direct["total_counts"])
    for key in ("rise_time_s", "decay_time_s"):  # estimates from independent Poisson draws
        assert emulated[key] == pytest.approx(direct[key], rel=0.2), key


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
