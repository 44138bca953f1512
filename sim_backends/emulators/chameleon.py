"""Coherent Chameleon Ultra II serial protocol, backed by any ``ControlLaser``.

RS-232, 19200 8N1. Host lines end in CRLF (CR or LF alone are accepted too); every line the unit
sends ends in CRLF. Each command has a long and a short form (the manual's command and query
tables list both; clients use either: micro-manager's adapter and avalab the short ones,
ScopeFoundry's driver ``LASER=``, ``SHUTTER=``, ``WAVELENGTH=``, ``PRINT WAVELENGTH``):
setters ``<KEY>=<value>``, queries ``?<KEY>`` or ``PRINT <LONG KEY>``. Keywords are not
case-sensitive here (a choice: the clients all send upper case).

Framing, with echo and prompt ON at power-up (instruments.md section 8):
- echo on: the command line comes back first, ending in CRLF (``VW=800\\r\\n``);
- then the response: a query's value line, or an error line; a setter without error has no
  response text, so it answers only its line end (``\\r\\n``) when echo is off, and nothing
  beyond its echoed line when echo is on;
- prompt on: ``CHAMELEON> `` (the manual's PROMPT description names the prompt "CHAMELEON>")
  follows the response, without a line end.
``ECHO=`` takes effect with the first command after it (manual, ECHO command: "A change in echo
mode takes effect with the first command sent after the echo command"); ``PROMPT=`` at once,
i.e. its own answer already has (or lacks) the prompt. So from any state, ``ECHO=0`` and then
``PROMPT=0`` each answer exactly one CRLF-terminated line (a prompt left over from the first is
absorbed into the second), and afterwards every command answers exactly one line: clients that
read one line per command (micro-manager, ScopeFoundry, acq4, avalab) stay in step.

Errors start with a space: `` RANGE ERROR`` (value outside its limits), `` Command Error``
(unknown setter or a value that is not a number), `` Query Error`` (unknown query; also when the
backing laser raises). ``WAVELENGTH=`` beyond the tuning range is set to the nearer limit
("If the specified wavelength is beyond the allowed range of wavelengths, the wavelength is set
to either the upper or lower limit", manual, WAVELENGTH command).

Implemented (long form / short form): LASER / L (0 standby, 1 on; query 2 = off by fault),
SHUTTER / S, WAVELENGTH / VW, WAVELENGTH STEP (relative nm), ECHO, PROMPT, HEARTBEAT,
HEARTBEATRATE (1-100 s), ALIGN, ALIGNW (alignment wavelength), SEARCH MODELOCK / SM, AMDLK
(automodelock), LBO HEATER / LBOH, POWER TRACK / PTRK, LOCK FRONT PANEL, BAUDRATE, and the
actions HOME STEPPER / HM, FLASH / FL, LBO OPTIMIZE / LBOOPT, RECOVERY / REQ (value 1; the
bench has no pump laser, LBO or tuning motor, so they only reset the homing flag or do
nothing). Queries: L, S, VW, UF POWER / UF (mW), TUNING STATUS / TS (1 while the backing laser
says it is tuning, from its optional ``is_tuning()``), MODELOCKED / MDLK, KEYSWITCH / K,
FAULTS / F and FAULT HISTORY / FH (``0``: none), SERIAL NUMBER / SN, STATUS / ST, TUNING LIMIT
MIN / TMIN, TUNING LIMIT MAX / TMAX, SOFTWARE / SV, HOMED / HM, every flag above. Not
implemented (`` Query Error``): the head's internal telemetry (diode currents, temperatures and
servo states, PZT positions, stepper counts, humidity, hours), which the simulated bench does not
model.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.interfaces import ControlLaser
from sim_backends.emulators.server import LineProtocol

log = logging.getLogger(__name__)

PROMPT = "CHAMELEON> "
SERIAL_NUMBER = "CHUII-SIM-0001"
SOFTWARE_VERSION = "avalab emulator 2.0"
RANGE_ERROR = " RANGE ERROR"
COMMAND_ERROR = " Command Error"
QUERY_ERROR = " Query Error"
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

#: long form -> short form (the manual's two columns); keys missing here have one form only
ALIASES: dict[str, str] = {
    "LASER": "L", "SHUTTER": "S", "WAVELENGTH": "VW", "UF POWER": "UF", "TUNING STATUS": "TS",
    "MODELOCKED": "MDLK", "KEYSWITCH": "K", "FAULTS": "F", "FAULT HISTORY": "FH",
    "SERIAL NUMBER": "SN", "STATUS": "ST", "TUNING LIMIT MIN": "TMIN",
    "TUNING LIMIT MAX": "TMAX", "SOFTWARE": "SV", "HOMED": "HM", "HOME STEPPER": "HM",
    "SEARCH MODELOCK": "SM", "LBO HEATER": "LBOH", "LBO OPTIMIZE": "LBOOPT", "FLASH": "FL",
    "POWER TRACK": "PTRK", "RECOVERY": "REQ", "WAVELENGTH STEP": "VWSTEP",
}
#: on/off settings kept by the emulator, with their power-up values
FLAGS: dict[str, int] = {"ECHO": 1, "PROMPT": 1, "HEARTBEAT": 0, "ALIGN": 0, "SM": 1,
                         "AMDLK": 1, "LBOH": 1, "PTRK": 1, "LOCK FRONT PANEL": 0}
#: actions whose only valid value is 1
ACTIONS = frozenset({"HM", "FL", "LBOOPT", "REQ"})


class _Reply(Exception):
    """An error line for the current command."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ChameleonEmulator(LineProtocol):
    """Chameleon Ultra II command interpreter (see the module docstring)."""

    def __init__(self, laser: ControlLaser) -> None:
        super().__init__()
        self.laser = laser
        self.flags = dict(FLAGS)
        self.heartbeat_rate_s = 10
        self.baud_rate = 19200
        self.homed = 1
        self.align_wavelength_nm: float | None = None
        if not laser.is_connected:
            laser.connect()

    # ------------------------------------------------------------------ framing
    def handle_line(self, line: str) -> bytes:
        command = " ".join(line.split())  # one space between words, none around
        echo = self.flags["ECHO"] == 1  # ECHO= applies from the next command on
        text = command.upper()
        is_query = text.startswith("?") or text.startswith("PRINT ")
        try:
            response: str | None = self._query(text) if is_query else self._set(text)
        except _Reply as reply:
            response = reply.text
        except Exception as exc:  # the backing laser refused: answer, keep serving
            log.warning("Chameleon emulator: backing laser failed on %r: %s", command, exc)
            response = QUERY_ERROR if is_query else COMMAND_ERROR
        out = command + "\r\n" if echo else ""
        if response is not None:
            out += response + "\r\n"
        elif not echo:
            out += "\r\n"
        if self.flags["PROMPT"] == 1:  # PROMPT= applies to its own answer already
            out += PROMPT
        return out.encode("ascii")

    # ------------------------------------------------------------------ queries
    def _range_nm(self) -> tuple[float, float]:
        low, high = self.laser.wavelength_range
        return low * 1e9, high * 1e9

    def _query(self, text: str) -> str:
        key = text[1:] if text.startswith("?") else text[len("PRINT "):]
        key = ALIASES.get(key.strip(), key.strip())
        readers: dict[str, Callable[[], str]] = {
            "VW": lambda: f"{self.laser.get_wavelength() * 1e9:.0f}",
            "TMIN": lambda: f"{self._range_nm()[0]:.0f}",
            "TMAX": lambda: f"{self._range_nm()[1]:.0f}",
            "L": lambda: "1" if self.laser.get_emission() else "0",
            "S": lambda: "1" if self.laser.get_shutter() else "0",
            "UF": lambda: f"{self.laser.get_power() * 1000.0:.2f}",
            "TS": self._tuning_status,
            "MDLK": lambda: "1" if self.laser.get_emission() else "0",
            "K": lambda: "1",
            "F": lambda: "0",
            "FH": lambda: "0",
            "ST": lambda: "OK" if self.laser.get_emission() else "Standby",
            "SN": lambda: SERIAL_NUMBER,
            "SV": lambda: SOFTWARE_VERSION,
            "HM": lambda: str(self.homed),
            "HEARTBEATRATE": lambda: str(self.heartbeat_rate_s),
            "BAUDRATE": lambda: str(self.baud_rate),
            "ALIGNW": lambda: f"{self._align_wavelength_nm():.0f}",
        }
        if key in readers:
            return readers[key]()
        if key in self.flags:
            return str(self.flags[key])
        raise _Reply(QUERY_ERROR)

    def _tuning_status(self) -> str:
        is_tuning = getattr(self.laser, "is_tuning", None)
        return "1" if callable(is_tuning) and is_tuning() else "0"

    def _align_wavelength_nm(self) -> float:
        if self.align_wavelength_nm is None:
            return self.laser.get_wavelength() * 1e9
        return self.align_wavelength_nm

    # ------------------------------------------------------------------ setters
    def _set(self, text: str) -> None:
        key, sep, value_text = text.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep:
            raise _Reply(COMMAND_ERROR)
        try:
            value = float(value_text)
        except ValueError:
            raise _Reply(COMMAND_ERROR) from None
        if key == "VW":
            low, high = self._range_nm()
            self.laser.set_wavelength(min(max(value, low), high) * 1e-9)
        elif key == "VWSTEP":
            low, high = self._range_nm()
            target = self.laser.get_wavelength() * 1e9 + value
            self.laser.set_wavelength(min(max(target, low), high) * 1e-9)
        elif key == "ALIGNW":
            low, high = self._range_nm()
            if not low <= value <= high:
                raise _Reply(RANGE_ERROR)
            self.align_wavelength_nm = value
        elif key == "HEARTBEATRATE":
            if not 1 <= value <= 100:
                raise _Reply(RANGE_ERROR)
            self.heartbeat_rate_s = int(value)
        elif key == "BAUDRATE":
            if value not in BAUD_RATES:
                raise _Reply(RANGE_ERROR)
            self.baud_rate = int(value)
        elif key in ACTIONS:
            if value != 1.0:
                raise _Reply(RANGE_ERROR)
            if key == "HM":
                self.homed = 1
        elif key in ("L", "S") or key in self.flags:
            if value not in (0.0, 1.0):
                raise _Reply(RANGE_ERROR)
            if key == "L":
                self.laser.set_emission(value == 1.0)
            elif key == "S":
                self.laser.set_shutter(value == 1.0)
            else:
                self.flags[key] = int(value)
        else:
            raise _Reply(COMMAND_ERROR)
        return None
