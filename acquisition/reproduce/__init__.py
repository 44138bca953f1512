"""``avalab reproduce``: the simulated rig measured against the published figures.

Each published figure group of /work/shared/reference/physics.md is one module in ``groups/``
that declares a campaign (what an operator would run), the rig it needs, and how its report rows
are read from the stored runs (:class:`acquisition.reproduce.base.Group`). ``GROUPS`` lists them
in report order; ``runner`` measures them, ``report`` writes the table (Markdown, HTML, JSON).
The engine and the CLI name no group and no experiment: adding a group is one module and one
line here.
"""
from __future__ import annotations

from acquisition.reproduce.base import Group
from acquisition.reproduce.groups import chopper, cw_spot, cycles, decays, dwell, film, switching, temperature, thulium

GROUPS: tuple[Group, ...] = (
    cw_spot.GROUP,
    film.GROUP,
    cycles.GROUP,
    dwell.GROUP,
    switching.GROUP,
    temperature.GROUP,
    chopper.GROUP,
    decays.DECAY_810,
    decays.DECAY_880,
    thulium.GROUP,
)


def group_names() -> list[str]:
    return [g.name for g in GROUPS]


def selected(only: list[str] | None, quick: bool) -> list[Group]:
    """The groups to run: ``only`` (names; ValueError for an unknown one), else all, or the
    ``--quick`` subset."""
    if only:
        unknown = [name for name in only if name not in group_names()]
        if unknown:
            raise ValueError(f"only={unknown[0]!r} is not a reproduction group; allowed values: "
                             + ", ".join(group_names()))
        return [g for g in GROUPS if g.name in only]
    return [g for g in GROUPS if g.quick or not quick]
