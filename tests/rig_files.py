"""Rig files for tests: the built-in simulated rig with edited lines, or chosen roles simulated."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

#: the roles a sweep needs, all simulated, for rigs that put one other role under test
SWEEP_ROLES = ("pump", "hwp", "nd_wheel", "pump_shutter", "emission_shutter", "power_meter", "counter")


def edited_default_rig(folder: Path, replace: dict[str, str], name: str = "rig.toml") -> Path:
    """The built-in simulated rig file with whole lines replaced (each must occur exactly once)."""
    from acquisition.rig import default_rig_toml

    text = default_rig_toml()
    for old, new in replace.items():
        assert len(re.findall(rf"(?m)^{re.escape(old)}$", text)) == 1, old
        text = re.sub(rf"(?m)^{re.escape(old)}$", new, text)
    path = folder / name
    path.write_text(text)
    return path


def simulated_roles_toml(roles: Iterable[str], extra: str = "") -> str:
    """``[roles.X] driver = "sim"`` for each role, then ``extra`` (further role tables) verbatim."""
    tables = "".join(f'[roles.{role}]\ndriver = "sim"\n' for role in roles)
    return tables + extra
