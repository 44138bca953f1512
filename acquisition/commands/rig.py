"""``avalab rig show [--rig FILE] [--json]`` and ``avalab rig template``."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from acquisition.cli_output import json_safe


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rig", help="show the rig configuration",
                                   description="Show a rig (validated, not connected) or print a template.")
    actions = parser.add_subparsers(dest="rig_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="the rig's configuration, validated (nothing is connected)")
    show.add_argument("--rig", default="sim", help="'sim' or a rig TOML file")
    show.add_argument("--json", action="store_true", help="one JSON object on stdout")
    show.set_defaults(handler=show_command)
    template = actions.add_parser("template", help="a commented rig file to copy and edit")
    template.set_defaults(handler=template_command)


def show_command(args: argparse.Namespace) -> int:
    from acquisition.commands.run import load_rig_checked

    rig = load_rig_checked(args.rig)
    if args.json:
        from acquisition.interlocks import InterlockLimits

        limits = InterlockLimits.from_rig(rig)
        roles = {role: {"driver": rc.driver, "address": rc.address} for role, rc in rig.config.roles.items()}
        sys.stdout.write(json.dumps(json_safe({
            "name": rig.config.name, "source": args.rig, "clock": rig.config.clock, "roles": roles,
            "max_power_density_kw_cm2": limits.max_power_density_w_m2 / 1e7,
            "power_meter_relative_uncertainty": limits.meter_relative_uncertainty,
            "max_density_setpoint_kw_cm2": limits.max_density_setpoint_w_m2 / 1e7,
            "max_count_rate_cps": limits.max_count_rate_cps,
            "beam_radius_m": rig.config.beam.beam_radius_m, "config": rig.config_dict()})) + "\n")
    else:
        sys.stdout.write(rig.to_toml())
    return 0


def template_command(args: argparse.Namespace) -> int:
    from acquisition.rig import default_rig_toml

    sys.stdout.write(default_rig_toml())
    return 0
