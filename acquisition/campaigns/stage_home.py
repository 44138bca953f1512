"""Where a campaign unit without its own ``stage_mm`` runs: the campaign's stage home.

A map, a survey or a step's ``stage_mm`` leaves the sample stage somewhere on the film; the unit
after it must not measure there by accident (a real rig would, a simulated unit restarted afresh
would not, and the two would disagree). The home is the campaign's top-level ``stage_mm`` or,
without one, where the stage was when the campaign first started (kept in the campaign index,
so a resume returns to the same place). On a fully simulated rig the units start at the home
(``simulation_starts``); on any other rig the serial runner moves the stage back to the home,
through the engine's step preparation, before a unit that would otherwise run where the unit
before it left the stage.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from acquisition.campaigns.spec import Campaign, Unit

log = logging.getLogger(__name__)

#: the campaign index's record of the home read from the stage at the first start (mm)
HOME_META_KEY = "stage_home_mm"
STAGE_ROLE = "xy_stage"
MM = 1e-3


def moves_stage(unit: Unit) -> bool:
    """True when ``unit`` puts the stage somewhere of its own: a ``stage_mm``, or an experiment
    that needs the stage (a map, a survey)."""
    if unit.stage_mm is not None:
        return True
    if unit.experiment is None:
        return False
    from acquisition.experiments import get_experiment

    return STAGE_ROLE in get_experiment(unit.experiment).roles


def campaign_home_mm(campaign: Campaign) -> tuple[float, float] | None:
    """The campaign's own stage home (its top-level ``stage_mm``, validated), else None."""
    if campaign.stage_mm is None:
        return None
    return float(campaign.stage_mm[0]), float(campaign.stage_mm[1])


def simulated_home_m(campaign: Campaign) -> tuple[float, float] | None:
    """Where the stage starts in each unit restarted as a simulation (m); None: the simulated
    stage's own reference position, where it is at switch-on."""
    home = campaign_home_mm(campaign)
    return None if home is None else (home[0] * MM, home[1] * MM)


class StageReturn:
    """The serial runner's stage home on a rig whose units share one stage: says before each
    unit whether the stage must go back home first."""

    def __init__(self, home_mm: tuple[float, float] | None, away: bool) -> None:
        self.home_mm = home_mm
        #: the stage may be away from home (a unit moved it, or where it is is not known)
        self.away = away

    @classmethod
    def for_campaign(cls, campaign: Campaign, units: Sequence[Unit], rig: Any, index: Any) -> "StageReturn":
        """The home (campaign ``stage_mm``, the one recorded at the first start, or the stage's
        position now, recorded) when some unit moves the stage of a rig that has one."""
        own = campaign_home_mm(campaign)
        if getattr(rig, STAGE_ROLE, None) is None or not (own is not None or any(map(moves_stage, units))):
            return cls(None, away=False)
        if own is not None:
            return cls(own, away=True)
        recorded = index.meta(HOME_META_KEY)
        if recorded is not None:
            # an earlier start: its units may have left the stage anywhere
            return cls((float(recorded[0]), float(recorded[1])), away=True)
        rig.connect_all()
        x_m, y_m = rig.xy_stage.get_position()
        home = (x_m / MM, y_m / MM)
        index.set_meta(HOME_META_KEY, list(home))
        log.info("campaign: stage home (%.4f, %.4f) mm, where the stage is now", *home)
        return cls(home, away=False)

    def before(self, unit: Unit) -> tuple[float, float] | None:
        """The home to move to before ``unit`` (mm), or None: it moves the stage itself, or the
        stage is home already."""
        if self.home_mm is None:
            return None
        if moves_stage(unit):
            self.away = True
            return None
        if not self.away:
            return None
        self.away = False
        return self.home_mm
