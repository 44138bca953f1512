"""Exceptions raised by the instrument layer.

Every message names the instrument, its address and the command in flight, because a timeout
at 77 K in the middle of the night is only debuggable if the log says exactly what was asked of
whom.
"""
from __future__ import annotations


class InstrumentError(RuntimeError):
    """An instrument refused a command, answered with an error, or behaved unexpectedly."""

    def __init__(self, instrument: str, address: str, command: str, detail: str) -> None:
        self.instrument = instrument
        self.address = address
        self.command = command
        self.detail = detail
        super().__init__(f"{instrument} at {address}: command {command!r}: {detail}")


class InstrumentTimeout(InstrumentError):
    """No (complete) reply arrived within the configured timeout."""


class InstrumentConnectionError(InstrumentError):
    """The link to the instrument could not be opened or was lost and could not be restored."""


class InterlockError(RuntimeError):
    """A safety limit would be exceeded; nothing was sent to the instrument."""
