"""Thorlabs SC10 shutter controller serial protocol, backed by any ``Shutter``.

Speaks instruments.md section 9, exactly as written there: CR-terminated commands; a query is
answered with echo, value and prompt (``id?\\r`` -> ``id?\\r<value>\\r> ``), a set command with
``> <cmd>\\r> `` (``ens``, ``save`` and ``key=value`` commands alike).

Modelled: manual mode (``mode=1``), where ``ens`` toggles the enable state and so opens or
closes the backing shutter; ``ens?`` then mirrors the shutter. In the other modes the settings
are stored and ``ens`` only toggles the flag (the timed open/shut cycles are not simulated).
Choices for UNVERIFIED details: error lines ``Command error CMD_NOT_DEFINED`` (unknown command)
and ``Command error CMD_ARG_INVALID`` (bad value) between the echo and the prompt; getters for
every setting; interlock always closed unless ``interlock_open`` is set by a test.
"""
from __future__ import annotations

import logging

from drivers.interfaces import Shutter
from sim_backends.emulators.server import LineProtocol

log = logging.getLogger(__name__)

IDENTITY = "THORLABS SC10 VERSION 1.07 (avalab emulator)"
NOT_DEFINED = "Command error CMD_NOT_DEFINED"
ARG_INVALID = "Command error CMD_ARG_INVALID"
MANUAL = 1
_RANGES = {"mode": (1, 5), "open": (0, 999999), "shut": (0, 999999), "rep": (1, 99),
           "trig": (0, 1), "xto": (0, 1), "baud": (0, 1)}


class SC10Emulator(LineProtocol):
    """SC10 command interpreter with echo and prompt."""

    def __init__(self, shutter: Shutter) -> None:
        super().__init__()
        self.shutter = shutter
        self.settings = {"mode": MANUAL, "open": 10, "shut": 10, "rep": 1, "trig": 0, "xto": 0,
                         "baud": 0}
        self.enabled = False
        self.interlock_open = False
        if not shutter.is_connected:
            shutter.connect()

    def handle_line(self, line: str) -> bytes:
        command = line.strip()
        if command.endswith("?"):
            try:
                value = self._query(command[:-1])
            except Exception as exc:  # the backing shutter failed: answer, keep serving
                log.warning("SC10 emulator: backing shutter failed on %r: %s", command, exc)
                value = ARG_INVALID
            return f"{command}\r{value}\r> ".encode("ascii")
        try:
            error = self._set(command)
        except Exception as exc:
            log.warning("SC10 emulator: backing shutter failed on %r: %s", command, exc)
            error = ARG_INVALID
        middle = f"{error}\r" if error else ""
        return f"> {command}\r{middle}> ".encode("ascii")

    def _is_enabled(self) -> bool:
        if self.settings["mode"] == MANUAL:
            return self.shutter.is_open()
        return self.enabled

    def _query(self, key: str) -> str:
        if key == "id":
            return IDENTITY
        if key == "ens":
            return "1" if self._is_enabled() else "0"
        if key == "closed":
            return "0" if self.shutter.is_open() else "1"
        if key == "interlock":
            return "1" if self.interlock_open else "0"
        if key in self.settings:
            return str(self.settings[key])
        return NOT_DEFINED

    def _set(self, command: str) -> str | None:
        if command == "ens":
            self._toggle()
            return None
        if command == "save":
            return None
        key, sep, text = command.partition("=")
        if not sep or key not in _RANGES:
            return NOT_DEFINED
        try:
            value = int(text.strip())
        except ValueError:
            return ARG_INVALID
        low, high = _RANGES[key]
        if not low <= value <= high:
            return ARG_INVALID
        self.settings[key] = value
        return None

    def _toggle(self) -> None:
        target = not self._is_enabled()
        if self.settings["mode"] == MANUAL:
            if target and self.interlock_open:
                log.info("SC10 emulator: interlock open, shutter stays closed")
                return
            if target:
                self.shutter.open()
            else:
                self.shutter.close_shutter()
        self.enabled = target
