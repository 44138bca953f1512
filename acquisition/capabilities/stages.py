"""Stage moves that stay checkpoints (rotation stages, the sample's XY stage): started without
waiting and polled (abort, pause, interlocks honoured at every poll; the stage is stopped before
any error goes on)."""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from acquisition.capabilities.waiting import INTERLOCK_POLL_S
from drivers.errors import InstrumentError

if TYPE_CHECKING:
    from acquisition.plan_context import PlanContext

#: stage moves: first look after this long (short plate steps are over by then), then at the
#: estimated end of the move but at least every INTERLOCK_POLL_S (abort/pause honoured each time)
STAGE_FIRST_POLL_S = 0.01
STAGE_MIN_POLL_S = 0.002
#: a move still going after this long (rig clock) has failed
STAGE_MOVE_TIMEOUT_S = 180.0
#: a stage that stops farther than this from its target is sent there again with a blocking move
#: (the controller had not started yet when polled, or stopped short: the driver reports why)
STAGE_TOLERANCE_DEG = 0.05


class PolledStage:
    """A rotation stage whose waiting moves go through ``Stages.move_polled`` (the attenuator
    drives the plate and wheel through it, so its moves are checkpoints too)."""

    def __init__(self, ctx: "PlanContext", role: str, stage: Any) -> None:
        self._ctx, self._role, self._stage = ctx, role, stage

    def move_to(self, angle_deg: float, wait: bool = True) -> None:
        if wait:
            self._ctx.stages.move_polled(self._role, self._stage, angle_deg)
        else:
            self._stage.move_to(angle_deg, wait=False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stage, name)


class Stages:
    """Rotation stages by role (``hwp``, ``nd_wheel``, ``control_attenuator``) and the sample's
    XY stage (``xy_stage``)."""

    def __init__(self, ctx: "PlanContext") -> None:
        self._ctx = ctx

    def move(self, role: str, angle_deg: float) -> None:
        """Move a rotation stage directly (calibration only: it maps the stages it moves)."""
        self._ctx.checkpoint()
        self.move_polled(role, self._ctx.instrument(role), angle_deg)

    def move_polled(self, role: str, stage: Any, angle_deg: float) -> None:
        """Start a move without waiting and poll it through checkpoints until it has ended.

        Abort and operator pause are honoured at every poll, the temperature interlock every
        INTERLOCK_POLL_S, and while the pump beam is on the count-rate interlock too (a
        RATE_PROBE_S count, as in ``sleep``); on abort (or any error) the stage is stopped before
        the exception goes on to the engine, which then puts the whole rig in its safe state. The
        poll follows the move: first after STAGE_FIRST_POLL_S, then at the end estimated from the
        speed seen so far, at least every INTERLOCK_POLL_S.
        """
        self._follow_move(role, f"move_to {angle_deg:g}", stage.stop,
                          lambda: stage.move_to(angle_deg, wait=False), stage.is_moving,
                          lambda: abs(angle_deg - float(stage.get_position())),
                          lambda: f"{float(stage.get_position()):.3f} deg")
        if abs(float(stage.get_position()) - angle_deg) > STAGE_TOLERANCE_DEG:
            stage.move_to(angle_deg, wait=True)

    def move_xy(self, x_m: float, y_m: float) -> None:
        """Move the sample stage (role ``xy_stage``) to (x, y) (m, stage coordinates) as an
        abortable checkpoint. The target is checked against the stage's limits before anything
        moves; the move is followed like ``move_polled`` (abort stops the stage where it is)."""
        stage = self._ctx.instrument("xy_stage")
        x_m, y_m = stage.limits.check("xy_stage", x_m, y_m)
        self._ctx.checkpoint()

        def remaining() -> float:
            x, y = stage.get_position()
            return math.hypot(x_m - x, y_m - y)

        self._follow_move("xy_stage", f"move_to ({x_m * 1e3:g}, {y_m * 1e3:g}) mm", stage.stop,
                          lambda: stage.move_to(x_m, y_m, wait=False), stage.is_moving, remaining,
                          lambda: "({:.4f}, {:.4f}) mm".format(*(1e3 * v for v in stage.get_position())))

    def _follow_move(self, role: str, command: str, stop: Callable[[], None], start: Callable[[], None],
                     is_moving: Callable[[], bool], remaining: Callable[[], float],
                     where: Callable[[], str]) -> None:
        """Start a move and poll it through checkpoints until it has ended (see ``move_polled``);
        ``remaining`` is the distance still to go, in any unit."""
        ctx = self._ctx
        clock, control = ctx.clock, ctx.session.control
        started = last_check = clock.now()
        try:
            distance = remaining()
            start()
            wait_s = STAGE_FIRST_POLL_S
            while True:
                if not clock.sleep(wait_s, control.stop_event):
                    control.raise_if_aborted()
                now = clock.now()
                if now - last_check >= INTERLOCK_POLL_S:
                    # the move can raise the APD rate (brighter setting, the sample switching
                    # on, a brighter spot under the XY stage): the same probe as ctx.sleep, so
                    # the count-rate interlock trips mid-move (shutters closed, paused; the move
                    # goes on behind the closed shutters and the point is measured after resume)
                    ctx.detection.probe_rate()
                    ctx.checkpoint()
                    last_check = now = clock.now()
                else:
                    ctx.waiting.honour_operator()
                if not is_moving():
                    break
                if now - started > STAGE_MOVE_TIMEOUT_S:
                    raise InstrumentError(role, "-", command, f"still moving after {STAGE_MOVE_TIMEOUT_S:g} s")
                left = remaining()
                travelled = distance - left
                if travelled > 0.0:
                    remaining_s = left * (now - started) / travelled
                    wait_s = min(max(remaining_s + 1e-6, STAGE_MIN_POLL_S), INTERLOCK_POLL_S)
                else:
                    wait_s = min(2.0 * wait_s, INTERLOCK_POLL_S)
        except BaseException:
            with contextlib.suppress(Exception):
                stop()
                ctx.log.warning("%s stopped at %s (%s interrupted)", role, where(), command)
            raise
