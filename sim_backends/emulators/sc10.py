"""Thorlabs SC10 shutter controller serial protocol, backed by any ``Shutter``.

Framing: :mod:`sim_backends.emulators.thorlabs_prompt` (echo, answer lines, ``"> "`` prompt; the
same shape for queries and set commands; lower-case commands only).

Command table (SC10 manual 8654-D02, "Keywords (Commands and Queries)", p. 15), all implemented:
``?`` (command list), ``id?``, ``ens`` (toggle enable) / ``ens?``, ``rep=n`` (1-99) / ``rep?``,
``mode=n`` (1 manual, 2 auto, 3 single, 4 repeat, 5 external gate) / ``mode?``, ``trig=n``
(0 internal, 1 external) / ``trig?``, ``xto=n`` (0 trigger out follows the shutter, 1 the
controller) / ``xto?``, ``open=n`` / ``shut=n`` (ms, "6 digits or less": 0-999999) / ``open?`` /
``shut?``, ``closed?`` (1 closed), ``interlock?`` (1 tripped), ``baud=n`` (0 9600, 1 115200) /
``baud?``, ``save`` (store baud rate and output trigger mode), ``savp`` (store mode, open and
shut times, repeat count, trigger mode), ``resp`` (load what ``savp`` stored). ``default``
(factory settings) is not in that table; InstrumentKit's SC10 driver sends it, and it is
answered here as a set command that restores the factory values below.

Modelled: manual mode (``mode=1``), where ``ens`` toggles the enable state and so opens or closes
the backing shutter; ``ens?`` then mirrors the shutter. In the other modes the settings are
stored and ``ens`` only toggles the flag (the timed open/shut cycles are not simulated). With the
interlock tripped (``interlock_open``, set by tests) ``ens`` cannot open the shutter. The
simulated controller has non-volatile memory: ``savp``/``save`` store, ``resp`` loads, and a
new connection starts from what was stored (as a power cycle would).

Choices where the manual is silent (documented in docs/drivers/serial_ascii_conformance.md): the
error strings (``Command error CMD_NOT_DEFINED`` / ``CMD_ARG_INVALID``, one line between echo
and prompt, as on the MC2000B); the factory values (manual mode, 10 ms open and shut, repeat 1,
internal trigger, trigger out follows the shutter, 9600 baud); set commands answer no line.
"""
from __future__ import annotations

import logging
from drivers.interfaces import Shutter
from sim_backends.emulators.thorlabs_prompt import (ARG_INVALID, NOT_DEFINED, CommandError,
                                                    ThorlabsPromptProtocol, parse_integer)

log = logging.getLogger(__name__)

IDENTITY = "THORLABS SC10 VERSION 1.07 (avalab emulator)"
MANUAL = 1
FACTORY: dict[str, int] = {"mode": MANUAL, "open": 10, "shut": 10, "rep": 1, "trig": 0, "xto": 0,
                           "baud": 0}
RANGES: dict[str, tuple[int, int]] = {"mode": (1, 5), "open": (0, 999999), "shut": (0, 999999),
                                      "rep": (1, 99), "trig": (0, 1), "xto": (0, 1),
                                      "baud": (0, 1)}
#: what ``savp`` stores (mode, open/closed time, repeat, trigger) and what ``save`` stores
#: (baud rate and output trigger mode), per the manual's descriptions of the two commands
SAVP_KEYS = ("mode", "open", "shut", "rep", "trig")
SAVE_KEYS = ("baud", "xto")
#: the manual's command table, answered line by line to ``?``
COMMAND_LIST = (
    "?          Get commands",
    "id?        Get ID",
    "ens        Toggle enable",
    "ens?       Get enable",
    "rep=n      Set repeat count",
    "rep?       Get repeat count",
    "mode=n     Set operating mode",
    "mode?      Get operating mode",
    "trig=n     Set trigger mode",
    "trig?      Get trigger mode",
    "xto=n      Set ex-trigger mode",
    "xto?       Get ex-trigger mode",
    "open=n     Set open duration",
    "open?      Get open duration",
    "shut=n     Set close duration",
    "shut?      Get close duration",
    "closed?    Get closed state",
    "interlock? Get interlock tripped",
    "baud=n     Set baud rate",
    "baud?      Get baud rate",
    "save       Save mode information",
    "savp       Store configuration",
    "resp       Load configuration",
)


class SC10Emulator(ThorlabsPromptProtocol):
    """SC10 command interpreter (see the module docstring)."""

    def __init__(self, shutter: Shutter, *, stored: dict[str, int] | None = None) -> None:
        super().__init__()
        self.shutter = shutter
        #: non-volatile memory; pass the same dict to a later emulator to model a power cycle
        self.stored = stored if stored is not None else {}
        for key, value in FACTORY.items():  # a blank memory holds the factory values
            self.stored.setdefault(key, value)
        self.settings = dict(self.stored)
        self.enabled = False
        self.interlock_open = False
        if not shutter.is_connected:
            shutter.connect()

    def execute(self, command: str) -> list[str]:
        try:
            return self._execute(command)
        except CommandError:
            raise
        except Exception as exc:  # the backing shutter failed: answer, keep serving
            log.warning("SC10 emulator: backing shutter failed on %r: %s", command, exc)
            raise CommandError(ARG_INVALID) from exc

    def _execute(self, command: str) -> list[str]:
        if command == "?":
            return list(COMMAND_LIST)
        if command.endswith("?"):
            return [self._query(command[:-1])]
        if command == "ens":
            self._toggle()
        elif command == "savp":
            self.stored.update({key: self.settings[key] for key in SAVP_KEYS})
        elif command == "save":
            self.stored.update({key: self.settings[key] for key in SAVE_KEYS})
        elif command == "resp":
            self.settings.update({key: self.stored[key] for key in SAVP_KEYS})
        elif command == "default":
            self.settings = dict(FACTORY)
        else:
            key, sep, text = command.partition("=")
            if not sep or key not in RANGES:
                raise CommandError(NOT_DEFINED)
            self.settings[key] = parse_integer(text, *RANGES[key])
        return []

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
        raise CommandError(NOT_DEFINED)

    def _toggle(self) -> None:
        target = not self._is_enabled()
        if self.settings["mode"] == MANUAL:
            if target and self.interlock_open:
                log.info("SC10 emulator: interlock tripped, shutter stays closed")
                return
            if target:
                self.shutter.open()
            else:
                self.shutter.close_shutter()
        self.enabled = target
