"""Coherent Chameleon Ultra II serial protocol, backed by any ``ControlLaser``.

Speaks instruments.md section 8: host lines end in CRLF (CR or LF alone are accepted too),
replies end in CRLF. Echo and prompt are ON at power-up, as on the real unit:
- echo on: the command line is sent back first (``VW=800\\r\\n``);
- then exactly one reply line: the value of a query, or an empty line for a setter;
- prompt on: ``Chameleon> `` follows the reply.
``ECHO=`` and ``PROMPT=`` take effect after their own answer. Errors start with a space:
`` RANGE ERROR`` (value outside limits), `` Command Error`` (unknown setter or bad value),
`` Query Error`` (unknown query; also when the backing laser raises). The exact echo/prompt
layout and the empty setter line are our choices for UNVERIFIED details.

``?TS`` reports 1 while the backing laser says it is tuning (its optional ``is_tuning()``; the
simulated bench's control laser has one), otherwise 0.
"""
from __future__ import annotations

import logging

from drivers.interfaces import ControlLaser
from sim_backends.emulators.server import LineProtocol

log = logging.getLogger(__name__)

PROMPT = "Chameleon> "
SERIAL_NUMBER = "CHUII-SIM-0001"
RANGE_ERROR = " RANGE ERROR"
COMMAND_ERROR = " Command Error"
QUERY_ERROR = " Query Error"


class ChameleonEmulator(LineProtocol):
    """Chameleon Ultra II command interpreter."""

    def __init__(self, laser: ControlLaser) -> None:
        super().__init__()
        self.laser = laser
        self.echo = True
        self.prompt = True
        self.flags = {"ALIGN": 0, "HEARTBEAT": 0, "HEARTBEATRATE": 10, "HM": 1}
        if not laser.is_connected:
            laser.connect()

    def handle_line(self, line: str) -> bytes:
        command = line.strip()
        echo, prompt = self.echo, self.prompt  # ECHO=/PROMPT= apply from the next command on
        is_query = command.startswith("?")
        try:
            reply = self._query(command[1:].upper()) if is_query else self._set(command)
        except Exception as exc:  # the backing laser refused: answer, keep serving
            log.warning("Chameleon emulator: backing laser failed on %r: %s", command, exc)
            reply = QUERY_ERROR if is_query else COMMAND_ERROR
        out = (command + "\r\n" if echo else "") + reply + "\r\n" + (PROMPT if prompt else "")
        return out.encode("ascii")

    # ------------------------------------------------------------------ queries
    def _range_nm(self) -> tuple[float, float]:
        low, high = self.laser.wavelength_range
        return low * 1e9, high * 1e9

    def _query(self, key: str) -> str:
        laser = self.laser
        if key == "VW":
            return f"{laser.get_wavelength() * 1e9:.0f}"
        if key == "TMIN":
            return f"{self._range_nm()[0]:.0f}"
        if key == "TMAX":
            return f"{self._range_nm()[1]:.0f}"
        if key == "L":
            return "1" if laser.get_emission() else "0"
        if key == "S":
            return "1" if laser.get_shutter() else "0"
        if key == "UF":
            return f"{laser.get_power() * 1000.0:.2f}"
        if key == "TS":
            is_tuning = getattr(laser, "is_tuning", None)
            return "1" if callable(is_tuning) and is_tuning() else "0"
        if key == "MDLK":
            return "1" if laser.get_emission() else "0"
        if key == "K":
            return "1"
        if key in ("F", "FH"):
            return "0"
        if key == "ST":
            return "OK" if laser.get_emission() else "Standby"
        if key == "SN":
            return SERIAL_NUMBER
        if key in self.flags:
            return str(self.flags[key])
        return QUERY_ERROR

    # ------------------------------------------------------------------ setters
    def _set(self, command: str) -> str:
        key, sep, text = command.partition("=")
        key = key.strip().upper()
        if not sep:
            return COMMAND_ERROR
        try:
            value = float(text)
        except ValueError:
            return COMMAND_ERROR
        if key == "VW":
            low, high = self._range_nm()
            if not low <= value <= high:
                return RANGE_ERROR
            self.laser.set_wavelength(value * 1e-9)
            return ""
        if key in ("ECHO", "PROMPT", "L", "S", "ALIGN", "HEARTBEAT", "HM"):
            if value not in (0.0, 1.0):
                return RANGE_ERROR
            on = value == 1.0
            if key == "ECHO":
                self.echo = on
            elif key == "PROMPT":
                self.prompt = on
            elif key == "L":
                self.laser.set_emission(on)
            elif key == "S":
                self.laser.set_shutter(on)
            else:
                self.flags[key] = int(on)
            return ""
        if key == "HEARTBEATRATE":
            if not 1 <= value <= 100:
                return RANGE_ERROR
            self.flags[key] = int(value)
            return ""
        return COMMAND_ERROR
