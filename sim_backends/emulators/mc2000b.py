"""Thorlabs MC2000B chopper serial protocol, backed by any ``Chopper``.

Speaks instruments.md section 6: CR-terminated commands; every command is echoed followed by CR,
a query's value follows on its own CR-terminated line, and every reply ends with the ``"> "``
prompt (``freq?\\r`` -> ``freq?\\r1000\\r> ``; ``freq=1000\\r`` -> ``freq=1000\\r> ``).

Choices for UNVERIFIED points (documented in drivers/thorlabs_mc2000b.py as well):
- unknown command -> ``Command error CMD_NOT_DEFINED``; bad or out-of-range argument, or a
  blade/reference/output/harmonic change while running, or any failure of the backing chopper
  -> ``Command error CMD_ARG_INVALID``;
- duty cycle of the MC1F10A blade: ``cycle=<percent>`` / ``cycle?``;
- ``refoutfreq?`` and ``input?`` answer with one decimal, other values as integers.
State the ``Chopper`` interface does not hold (phase, reference, output, harmonics, display) is
kept here.
"""
from __future__ import annotations

import logging

from drivers.interfaces import Chopper
from sim_backends.emulators.server import LineProtocol

log = logging.getLogger(__name__)

IDENTITY = "THORLABS MC2000B VERSION 1.1.0 (avalab emulator)"
BLADE_INDICES = ("MC1F2", "MC1F10", "MC1F15", "MC1F30", "MC1F60", "MC1F100", "MC1F10HP",
                 "MC1F2P10", "MC1F6P10", "MC1F10A", "MC2F330", "MC2F47", "MC2F57B", "MC2F860",
                 "MC2F5360")
NOT_DEFINED = "Command error CMD_NOT_DEFINED"
ARG_INVALID = "Command error CMD_ARG_INVALID"
#: settings the controller accepts only while the blade is stopped
STOPPED_ONLY = frozenset({"blade", "ref", "output", "nharmonic", "dharmonic"})
_DEFAULTS = {"phase": 0, "ref": 0, "output": 0, "nharmonic": 1, "dharmonic": 1,
             "verbose": 1, "intensity": 5}
_RANGES = {"phase": (0, 360), "ref": (0, 1), "output": (0, 1), "nharmonic": (1, 15),
           "dharmonic": (1, 15), "verbose": (0, 1), "intensity": (0, 10), "enable": (0, 1),
           "blade": (0, len(BLADE_INDICES) - 1), "freq": (1, 10000), "cycle": (1, 99)}


class MC2000BEmulator(LineProtocol):
    """MC2000B command interpreter with echo and prompt."""

    def __init__(self, chopper: Chopper) -> None:
        super().__init__()
        self.chopper = chopper
        self.settings = dict(_DEFAULTS)
        if not chopper.is_connected:
            chopper.connect()

    def handle_line(self, line: str) -> bytes:
        command = line.strip()
        lines = [command]
        try:
            value = self._execute(command)
        except _Refused as refused:
            value = refused.text
        except Exception as exc:  # the backing device refused: answer, keep serving
            log.warning("MC2000B emulator: backing chopper failed on %r: %s", command, exc)
            value = ARG_INVALID
        if value is not None:
            lines.append(value)
        return ("\r".join(lines) + "\r> ").encode("ascii")

    # ------------------------------------------------------------------ dispatch
    def _execute(self, command: str) -> str | None:
        if command == "restore":
            self.settings = dict(_DEFAULTS)
            return None
        if command.endswith("?"):
            return self._query(command[:-1])
        key, sep, text = command.partition("=")
        if not sep or key not in _RANGES or key in ("input", "refoutfreq", "id"):
            raise _Refused(NOT_DEFINED)
        self._set(key, self._integer(key, text))
        return None

    def _query(self, key: str) -> str:
        chopper = self.chopper
        if key == "id":
            return IDENTITY
        if key == "freq":
            return f"{chopper.get_frequency():.0f}"
        if key == "blade":
            return str(BLADE_INDICES.index(chopper.get_blade()))
        if key == "enable":
            return "1" if chopper.get_enabled() else "0"
        if key == "refoutfreq":
            return f"{chopper.get_actual_frequency():.1f}"
        if key == "input":
            return "0.0"  # nothing connected to the reference input on the bench
        if key == "cycle":
            return f"{chopper.get_duty_cycle() * 100.0:.0f}"
        if key in self.settings:
            return str(self.settings[key])
        raise _Refused(NOT_DEFINED)

    def _set(self, key: str, value: int) -> None:
        chopper = self.chopper
        if key in STOPPED_ONLY and chopper.get_enabled():
            raise _Refused(ARG_INVALID)
        try:
            if key == "freq":
                chopper.set_frequency(float(value))
            elif key == "blade":
                chopper.set_blade(BLADE_INDICES[value])
            elif key == "enable":
                chopper.set_enabled(bool(value))
            elif key == "cycle":
                chopper.set_duty_cycle(value / 100.0)
            else:
                if key == "phase":
                    chopper.set_phase(float(value))
                self.settings[key] = value
        except ValueError as exc:  # out of the blade's range, unknown blade model
            log.info("MC2000B emulator: %s", exc)
            raise _Refused(ARG_INVALID) from exc

    @staticmethod
    def _integer(key: str, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise _Refused(ARG_INVALID) from None
        low, high = _RANGES[key]
        if not low <= value <= high:
            raise _Refused(ARG_INVALID)
        return value


class _Refused(Exception):
    """The controller's error line for the current command."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

