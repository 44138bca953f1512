"""Thorlabs MC2000B chopper serial protocol, backed by any ``Chopper``.

Framing: :mod:`sim_backends.emulators.thorlabs_prompt` (115200 8N1, CR; echo, answer lines,
``"> "`` prompt for queries and set commands alike; an empty line gets a prompt; lower-case
commands only).

Command table (every keyword of the MC2000B command list; sources: instruments.md section 6,
Thorlabs' MC2000B serial example, the ``thorlabs_mc2000b`` package's property list, all in
agreement): ``?`` (command list), ``id?``, ``freq=n`` / ``freq?`` (internal reference, Hz),
``refoutfreq?`` (reference output frequency), ``blade=n`` / ``blade?``, ``nharmonic=n`` /
``nharmonic?`` and ``dharmonic=n`` / ``dharmonic?`` (1-15), ``phase=n`` / ``phase?`` (0-360),
``enable=n`` / ``enable?``, ``ref=n`` / ``ref?`` (reference in), ``output=n`` / ``output?``
(reference out), ``oncycle=n`` / ``oncycle?`` (open fraction of the MC1F10A blade, %),
``intensity=n`` / ``intensity?`` (display), ``input?`` (external reference frequency),
``verbose=n`` / ``verbose?``, ``restore`` (factory settings). Every value is an integer on the
wire (``refoutfreq?`` and ``input?`` included: the clients parse them with ``int()``).

The valid ``ref``/``output`` codes depend on the blade (manual chapters 8.3 and 8.4, as cited by
Thorlabs' serial example): MC1F2, MC1F10HP, MC1F2P10 take ref 0-3 (internal outer/inner, external
outer/inner) and output 0-2 (target, outer, inner); the MC2F dual-frequency blades take ref 0-1
and output 0-4 (target, outer, inner, sum, difference); the other blades ref 0-1 (internal,
external) and output 0-1 (target, actual). Blade, reference, output and harmonics change only
while stopped (instruments.md section 6); such a change while running is CMD_ARG_INVALID.

State the ``Chopper`` interface does not hold (phase readback, reference, output, harmonics,
display, verbose) is kept here. Nothing is connected to the reference input on the bench, so
``input?`` answers 0.
"""
from __future__ import annotations

import logging

from drivers.interfaces import Chopper
from sim_backends.emulators.thorlabs_prompt import (ARG_INVALID, NOT_DEFINED, CommandError,
                                                    ThorlabsPromptProtocol, parse_integer)

log = logging.getLogger(__name__)

IDENTITY = "THORLABS MC2000B VERSION 1.1.0 (avalab emulator)"
BLADE_INDICES = ("MC1F2", "MC1F10", "MC1F15", "MC1F30", "MC1F60", "MC1F100", "MC1F10HP",
                 "MC1F2P10", "MC1F6P10", "MC1F10A", "MC2F330", "MC2F47", "MC2F57B", "MC2F860",
                 "MC2F5360")
_INNER_OUTER = ("MC1F2", "MC1F10HP", "MC1F2P10")


def reference_codes(blade: str) -> tuple[int, int]:
    """Highest valid ``ref`` and ``output`` code for ``blade`` (manual chapters 8.3 / 8.4)."""
    if blade in _INNER_OUTER:
        return 3, 2
    if blade.startswith("MC2F"):
        return 1, 4
    return 1, 1


#: settings the controller accepts only while the blade is stopped
STOPPED_ONLY = frozenset({"blade", "ref", "output", "nharmonic", "dharmonic"})
FACTORY: dict[str, int] = {"phase": 0, "ref": 0, "output": 0, "nharmonic": 1, "dharmonic": 1,
                           "verbose": 1, "intensity": 5}
RANGES: dict[str, tuple[int, int]] = {
    "freq": (1, 10000), "blade": (0, len(BLADE_INDICES) - 1), "nharmonic": (1, 15),
    "dharmonic": (1, 15), "phase": (0, 360), "enable": (0, 1), "ref": (0, 3), "output": (0, 4),
    "oncycle": (1, 99), "intensity": (0, 10), "verbose": (0, 1)}
COMMAND_LIST = (
    "?            list commands",
    "id?          get model number and firmware version",
    "freq=n       set the internal reference frequency",
    "freq?        get the internal reference frequency",
    "refoutfreq?  get the reference output frequency",
    "blade=n      set the blade type",
    "blade?       get the blade type",
    "nharmonic=n  set the harmonic multiplier",
    "nharmonic?   get the harmonic multiplier",
    "dharmonic=n  set the harmonic divider",
    "dharmonic?   get the harmonic divider",
    "phase=n      set the phase adjust",
    "phase?       get the phase adjust",
    "enable=n     enable (1) or disable (0)",
    "enable?      get enable",
    "ref=n        set the reference mode",
    "ref?         get the reference mode",
    "output=n     set the output reference mode",
    "output?      get the output reference mode",
    "oncycle=n    set the on cycle",
    "oncycle?     get the on cycle",
    "intensity=n  set the display intensity",
    "intensity?   get the display intensity",
    "input?       get the external reference frequency",
    "verbose=n    set verbose mode",
    "verbose?     get verbose mode",
    "restore      restore factory settings",
)


class MC2000BEmulator(ThorlabsPromptProtocol):
    """MC2000B command interpreter (see the module docstring)."""

    def __init__(self, chopper: Chopper) -> None:
        super().__init__()
        self.chopper = chopper
        self.settings = dict(FACTORY)
        if not chopper.is_connected:
            chopper.connect()

    def execute(self, command: str) -> list[str]:
        try:
            return self._execute(command)
        except CommandError:
            raise
        except Exception as exc:  # the backing device refused: answer, keep serving
            log.warning("MC2000B emulator: backing chopper failed on %r: %s", command, exc)
            raise CommandError(ARG_INVALID) from exc

    def _execute(self, command: str) -> list[str]:
        if command == "?":
            return list(COMMAND_LIST)
        if command == "restore":
            self._restore()
            return []
        if command.endswith("?"):
            return [self._query(command[:-1])]
        key, sep, text = command.partition("=")
        if not sep or key not in RANGES:
            raise CommandError(NOT_DEFINED)
        self._set(key, parse_integer(text, *RANGES[key]))
        return []

    # ------------------------------------------------------------------ queries
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
            return f"{chopper.get_actual_frequency():.0f}"
        if key == "input":
            return "0"
        if key == "oncycle":
            return f"{chopper.get_duty_cycle() * 100.0:.0f}"
        if key in self.settings:
            return str(self.settings[key])
        raise CommandError(NOT_DEFINED)

    # ------------------------------------------------------------------ settings
    def _set(self, key: str, value: int) -> None:
        chopper = self.chopper
        if key in STOPPED_ONLY and chopper.get_enabled():
            raise CommandError(ARG_INVALID)
        if key in ("ref", "output"):
            highest = reference_codes(chopper.get_blade())[0 if key == "ref" else 1]
            if value > highest:
                raise CommandError(ARG_INVALID)
        try:
            if key == "freq":
                chopper.set_frequency(float(value))
            elif key == "blade":
                chopper.set_blade(BLADE_INDICES[value])
                self._clamp_reference_codes(BLADE_INDICES[value])
            elif key == "enable":
                chopper.set_enabled(bool(value))
            elif key == "oncycle":
                chopper.set_duty_cycle(value / 100.0)
            else:
                if key == "phase":
                    chopper.set_phase(float(value))
                self.settings[key] = value
        except ValueError as exc:  # out of the blade's range, or a blade the bench lacks
            log.info("MC2000B emulator: %s", exc)
            raise CommandError(ARG_INVALID) from exc

    def _clamp_reference_codes(self, blade: str) -> None:
        """A new blade may not offer the old reference codes: fall back to internal / target."""
        highest_ref, highest_output = reference_codes(blade)
        if self.settings["ref"] > highest_ref:
            self.settings["ref"] = 0
        if self.settings["output"] > highest_output:
            self.settings["output"] = 0

    def _restore(self) -> None:
        if self.chopper.get_enabled():
            self.chopper.set_enabled(False)
        self.settings = dict(FACTORY)
