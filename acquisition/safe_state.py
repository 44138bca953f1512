"""Safe state as a result: each role's outcome, checked by reading it back, retried once.

``make_safe`` puts one instrument in its safe state, reads the state back where the instrument
can report it (``Instrument.safe_state_problem``: pump emission, shutter, chopper, heater range,
stage motion) and, when either step fails, closes the link, reconnects and tries once more.
``SafeStateReport`` is what ``Rig.safe_state_all`` returns: role -> None (safe, verified where
possible) or the one-line reason it is not known to be safe. A failure is never only a log line:
the engine ends the run ``failed`` with ``report.message``, the CLI exits with its own code and
the GUI raises an alarm the operator must acknowledge.
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def _one_line(exc: BaseException) -> str:
    """The first line of the error (drivers' errors name instrument, address and command)."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class SafeStateReport(dict[str, str | None]):
    """role -> None (safe) or why the role is not known to be safe (one line)."""

    @property
    def failures(self) -> dict[str, str]:
        return {role: reason for role, reason in self.items() if reason}

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def message(self) -> str:
        """``safe state failed for pump, pump_shutter: pump: ...; pump_shutter: ...`` ("" if safe)."""
        failures = self.failures
        if not failures:
            return ""
        details = "; ".join(f"{role}: {reason}" for role, reason in failures.items())
        return f"safe state failed for {', '.join(failures)}: {details}"


def _attempt(instrument: Any) -> str | None:
    """One safe-state attempt and its read-back; the reason it failed, None when safe."""
    try:
        instrument.safe_state()
    except BaseException as exc:  # noqa: BLE001 - every failure is a result, never lost
        return _one_line(exc)
    try:
        problem = instrument.safe_state_problem()
    except BaseException as exc:  # noqa: BLE001
        return f"state could not be read back ({_one_line(exc)})"
    return None if problem is None else f"read back: {problem}"


def _reconnect(instrument: Any, close_first: bool) -> str | None:
    """Open the link (closing a broken one first); why that failed, None when it is open."""
    if close_first:
        try:
            instrument.close()
        except Exception as exc:  # noqa: BLE001 - a link that will not close is reopened anyway
            log.debug("%s: close before reconnect failed: %s", getattr(instrument, "name", "?"), exc)
    try:
        instrument.connect()
    except BaseException as exc:  # noqa: BLE001
        return f"cannot reconnect: {_one_line(exc)}"
    return None


def is_connected(instrument: Any) -> bool:
    try:
        return bool(instrument.is_connected)
    except Exception:  # noqa: BLE001 - a link that cannot say is used as it is
        return True


def make_safe(role: str, instrument: Any) -> str | None:
    """Safe state of one role, verified, with one retry after a reconnect; None when safe.

    A link that is closed (the run's rig was closed, or a connect failed) is opened first: the
    safe state is only known once the instrument has said so."""
    first = None if is_connected(instrument) else _reconnect(instrument, close_first=False)
    if first is None:
        first = _attempt(instrument)
        if first is None:
            return None
    log.warning("%s: safe state failed (%s); reconnecting and trying once more", role, first)
    second = _reconnect(instrument, close_first=True) or _attempt(instrument)
    if second is None:
        log.warning("%s: safe after reconnecting", role)
        return None
    reason = f"{first}; retried after reconnecting: {second}"
    log.info("%s: safe state failed: %s", role, reason)  # the report carries it to the operator
    return reason
