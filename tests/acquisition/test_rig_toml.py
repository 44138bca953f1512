"""Rig files are written by tomlkit: values are escaped and the comments stay with their keys."""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from acquisition.rig import RigConfig, config_to_dict, load_rig_config, render_rig_toml


def test_a_rig_name_with_quotes_backslashes_and_a_newline_round_trips(tmp_path: Path) -> None:
    name = 'lab "B" \\\\ bench\nsecond line'
    config = dataclasses.replace(RigConfig(), name=name)
    text = render_rig_toml(config)
    assert tomllib.loads(text)["rig"]["name"] == name
    path = tmp_path / "rig.toml"
    path.write_text(text)
    assert config_to_dict(load_rig_config(path)) == config_to_dict(config)


def test_comments_are_kept_next_to_their_keys() -> None:
    lines = render_rig_toml(RigConfig()).splitlines()
    limit = lines.index("max_power_density_kw_cm2 = 15.0")
    assert lines[limit - 1].startswith("# largest pump power density") and "kW/cm2" in lines[limit - 1]
    assert "# dopant_fraction = 0.18" in lines  # a field left unset is a commented example
