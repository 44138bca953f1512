"""Rig files: the default rig round-trips, every bad file fails with one line naming what to fix."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from acquisition.rig import (RigConfigError, default_rig_toml, load_rig, load_rig_config,
                             rig_config_from_dict)
from drivers.clock import RealClock
from drivers.registry import ROLES
from sim_backends.clock import VirtualClock


def test_builtin_sim_rig_has_every_role_on_a_virtual_clock() -> None:
    rig = load_rig("sim")
    assert set(rig.instruments) == set(ROLES)
    assert isinstance(rig.clock, VirtualClock)
    assert rig.bench is not None
    assert rig.pump is rig.instruments["pump"]
    assert rig.emission_shutter is rig.instruments["emission_shutter"]
    for role, instrument in rig.instruments.items():
        assert isinstance(instrument, ROLES[role])
        assert instrument.model.startswith("simulated")


def test_real_clock_override() -> None:
    rig = load_rig("sim", clock="real")
    assert isinstance(rig.clock, RealClock)
    assert rig.config.clock == "real"


def test_default_toml_round_trips(tmp_path: Path) -> None:
    text = default_rig_toml()
    assert text.count("\n#") > 20  # commented for copy-and-edit
    path = tmp_path / "rig.toml"
    path.write_text(text)
    loaded = load_rig(path)
    assert loaded.config == load_rig("sim").config
    again = tmp_path / "again.toml"
    again.write_text(loaded.to_toml())
    assert load_rig_config(again) == loaded.config


def test_edited_values_survive_and_convert_units(tmp_path: Path) -> None:
    text = default_rig_toml().replace("max_power_density_kw_cm2 = 15.0", "max_power_density_kw_cm2 = 9.5")
    text = text.replace('clock = "virtual"', 'clock = "real"')
    text = re.sub(r"(?m)^film_position_m = .*$", "film_position_m = [1e-05, -2e-05]", text)
    path = tmp_path / "rig.toml"
    path.write_text(text)
    config = load_rig_config(path)
    assert config.limits.max_power_density_w_m2 == pytest.approx(9.5e7)
    assert config.clock == "real"
    assert config.sample.film_position_m == [1e-05, -2e-05]
    assert tomllib.loads(load_rig(path).to_toml())["limits"]["max_power_density_kw_cm2"] == 9.5


def test_a_file_lists_only_the_roles_it_has(tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    path.write_text('[roles.pump]\ndriver = "sim"\n[roles.counter]\ndriver = "sim"\n')
    rig = load_rig(path)
    assert set(rig.instruments) == {"pump", "counter"}
    assert rig.hwp is None and rig.cryostat is None


def test_config_dict_is_complete_and_si() -> None:
    data = load_rig("sim").config_dict()
    assert data["rig"]["clock"] == "virtual"
    assert data["beam"]["beam_radius_m"] == pytest.approx(0.63e-6)
    assert data["limits"]["max_power_density_w_m2"] == pytest.approx(1.5e8)
    assert data["roles"]["pump"]["driver"] == "sim"
    assert data["sim"]["detection"]["dark_count_rate_cps"] == 80.0


BAD_FILES = {
    "malformed": ('[beam\nbeam_radius_m = 1', "malformed TOML"),
    "unknown_role": ('[roles.laser2]\ndriver = "sim"\n', "roles.laser2"),
    "bad_driver": ('[roles.pump]\ndriver = "toptica"\naddress = "COM3"\n', "roles.pump.driver='toptica'"),
    "no_address": ('[roles.pump]\ndriver = "opus"\n', "roles.pump.address"),
    "out_of_range": ("[beam]\nbeam_radius_m = 2.0\n", "beam.beam_radius_m=2"),
    "wrong_type": ('[limits]\nmax_count_rate_cps = "lots"\n', "limits.max_count_rate_cps='lots'"),
    "unknown_field": ("[beam]\nbeam_waist = 1e-6\n", "beam.beam_waist"),
    "unknown_section": ("[lasers]\nx = 1\n", "[lasers]"),
    "bad_choice": ('[sim.detection]\nemission_filter = "700nm"\n', "sim.detection.emission_filter='700nm'"),
    "bad_clock": ('[rig]\nclock = "fast"\n', "rig.clock='fast'"),
    "negative_limit": ("[limits]\nmax_power_density_kw_cm2 = -1.0\n", "max_power_density_kw_cm2=-1"),
    "wrong_length": ("[sample]\nfilm_position_m = [0.0]\n", "sample.film_position_m"),
    "bad_material": ('[sample]\nmaterial = "Er:YAG"\n', "material='Er:YAG'"),
    "bad_knockout": ('[sample]\nknockouts = ["CR9"]\n', "knockout='CR9'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_rig_file_gives_one_line_naming_file_and_field(tmp_path: Path, case: str) -> None:
    text, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(RigConfigError) as info:
        load_rig(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message


def test_missing_file_names_the_path_and_the_alternative(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(RigConfigError) as info:
        load_rig(path)
    assert str(path) in str(info.value) and "'sim'" in str(info.value)
    assert "\n" not in str(info.value)


def test_range_errors_name_the_allowed_range() -> None:
    with pytest.raises(RigConfigError, match=r"sim\.cryostat\.time_constant_s=0 s is outside the allowed range"):
        rig_config_from_dict({"sim": {"cryostat": {"time_constant_s": 0}}}, "x.toml")


def test_real_driver_that_cannot_load_is_reported_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "real.toml"
    path.write_text('[roles.counter]\ndriver = "nidaq_counter"\naddress = "Dev1/ctr0"\n'
                    '[roles.counter.options]\nno_such_option = 3\n')
    with pytest.raises(RigConfigError) as info:
        load_rig(path)
    assert "\n" not in str(info.value) and "roles.counter" in str(info.value)
