"""Laser Quantum Opus 1064 / MPC-D serial protocol, backed by any ``PumpLaser``.

Speaks instruments.md section 1: host lines end in CR or CRLF (both accepted); replies end in
CRLF (newer firmware, default) or CR (``line_ending="\\r"``, older firmware). Commands are
upper case; lower case is accepted too (pyLabLib's Laser Quantum driver upper-cases, others send
upper case already).

Command set: the MPC power supplies' RS-232 commands as other people's MPC clients send them
(qudi-iqo-modules ``laserquantum_laser.py``, ``QL_MPC_command``; Laser Quantum's manual was not
available to us), plus avalab's subset:
- ``ON`` / ``OFF`` (emission), ``STATUS?`` -> ``ENABLED`` / ``DISABLED``;
- ``POWER=<mW>``, ``POWER?`` (actual, ``0123.4mW``), ``SETPOWER?`` (setpoint, same format);
- ``CURRENT=<%>``, ``CURRENT?`` (actual, ``050.0%``), ``SETCURRENT1?`` (setpoint, same format);
- ``CONTROL=POWER|CURRENT``, ``CONTROL?``;
- ``LASTEMP?`` / ``PSUTEMP?`` (``025.000C``), ``INTERLOCK?`` (``ENABLED`` while the interlock
  loop is closed);
- ``VERSION?`` (contains ``MPC-D``), ``SOFTVER?`` (firmware version), ``SERIAL?``,
  ``STATUSLCD?`` (the front-panel text);
- ``TIMERS?`` and ``TIMERS``: three lines ``<name> = <hours> Hours`` and an empty line.
Choices for the UNVERIFIED points, so that drivers can be tested against both:
- ``ack_setters=True`` (default): every setter (``POWER=``, ``ON``, ``OFF``, ``CURRENT=``,
  ``CONTROL=``) answers an empty line (qudi and pyLabLib read one line after each); ``False``:
  setters are silent;
- errors: ``Error: Unknown command`` / ``Error: Value out of range`` / ``Error: Bad value``, and
  ``Error: Device fault`` when the backing laser raises (the emulator keeps serving);
- ``CURRENT?`` in power regulation reports a diode current derived from the output power
  (linear 20 % threshold .. 100 % at 3 W), which is a stand-in, not laser physics.
Not implemented (``Error: Unknown command``): commands of other Laser Quantum supplies that the
MPC-D does not have in its clients' command set: the FPU60 / Finesse head commands ``HTEMP?``,
``SHUTTER``, ``LASER=``, ``CALDATE?``.
"""
from __future__ import annotations

import logging

from drivers.interfaces import PumpLaser
from sim_backends.emulators.server import LineProtocol

log = logging.getLogger(__name__)

FULL_SCALE_MW = 3000.0
THRESHOLD_CURRENT_PCT = 20.0
VERSION = "MPC-D Version 1.0.33 (avalab emulator)"
SOFTWARE_VERSION = "1.0.33"
SERIAL_NUMBER = "OPUS-SIM-1064"


class OpusEmulator(LineProtocol):
    """Opus MPC-D command interpreter; state beyond the ``PumpLaser`` is kept here."""

    def __init__(self, laser: PumpLaser, *, line_ending: str = "\r\n",
                 ack_setters: bool = True) -> None:
        super().__init__()
        if line_ending not in ("\r\n", "\r"):
            raise ValueError(f"line_ending={line_ending!r} is not allowed; "
                             "allowed values: '\\r\\n', '\\r'")
        self.laser = laser
        self.line_ending = line_ending
        self.ack_setters = ack_setters
        self.control = "POWER"
        self.current_setpoint_pct = 0.0
        self.power_setpoint_mw = 0.0
        #: the external interlock loop (tests open it); the bench has none, so it is closed
        self.interlock_closed = True
        self.hours = {"PSU Time": 1234.5, "Laser Enabled Time": 456.7,
                      "Laser Threshold Time": 345.6}
        if not laser.is_connected:
            laser.connect()

    # ------------------------------------------------------------------ framing
    def _line(self, text: str) -> bytes:
        return (text + self.line_ending).encode("ascii")

    def _ack(self) -> bytes:
        return self._line("") if self.ack_setters else b""

    def _error(self, text: str) -> bytes:
        return self._line(f"Error: {text}")

    # ------------------------------------------------------------------ commands
    def handle_line(self, line: str) -> bytes:
        try:
            return self._handle(line.strip().upper())
        except Exception as exc:  # the backing device failed: answer like a unit that refuses
            log.warning("Opus emulator: backing laser failed on %r: %s", line, exc)
            return self._error("Device fault")

    def _handle(self, command: str) -> bytes:
        if command.endswith("?") or command == "TIMERS":
            return self._query(command)
        if command in ("ON", "OFF"):
            self.laser.set_emission(command == "ON")
            return self._ack()
        key, sep, value = command.partition("=")
        if not sep:
            return self._error("Unknown command")
        return self._set(key, value.strip())

    def _query(self, command: str) -> bytes:
        if command == "POWER?":
            return self._line(f"{self.laser.get_power() * 1000.0:06.1f}mW")
        if command == "STATUS?":
            return self._line("ENABLED" if self.laser.get_emission() else "DISABLED")
        if command == "CURRENT?":
            return self._line(f"{self._current_pct():05.1f}%")
        if command == "LASTEMP?":
            return self._line(f"{25.0 + 2.0 * self._load():06.3f}C")
        if command == "PSUTEMP?":
            return self._line(f"{30.0 + 5.0 * self._load():06.3f}C")
        if command == "VERSION?":
            return self._line(VERSION)
        if command == "SETPOWER?":
            return self._line(f"{self.power_setpoint_mw:06.1f}mW")
        if command == "SETCURRENT1?":
            return self._line(f"{self.current_setpoint_pct:05.1f}%")
        if command == "CONTROL?":
            return self._line(self.control)
        if command == "INTERLOCK?":
            return self._line("ENABLED" if self.interlock_closed else "DISABLED")
        if command == "SOFTVER?":
            return self._line(SOFTWARE_VERSION)
        if command == "SERIAL?":
            return self._line(SERIAL_NUMBER)
        if command == "STATUSLCD?":
            state = "ENABLED" if self.laser.get_emission() else "DISABLED"
            return self._line(f"{state} {self.laser.get_power() * 1000.0:06.1f}mW")
        if command in ("TIMERS?", "TIMERS"):
            lines = [self._line(f"{name} = {hours:07.1f} Hours")
                     for name, hours in self.hours.items()]
            return b"".join(lines) + self._line("")
        return self._error("Unknown command")

    def _set(self, key: str, value: str) -> bytes:
        if key == "CONTROL":
            if value not in ("POWER", "CURRENT"):
                return self._error("Bad value")
            self.control = value
            return self._ack()
        if key not in ("POWER", "CURRENT"):
            return self._error("Unknown command")
        try:
            number = float(value)
        except ValueError:
            return self._error("Bad value")
        if key == "POWER":
            if not 0.0 <= number <= FULL_SCALE_MW:
                return self._error("Value out of range")
            reply = self._apply_power_mw(number)
            if not reply.startswith(b"Error"):
                self.power_setpoint_mw = number
            return reply
        if not 0.0 <= number <= 100.0:
            return self._error("Value out of range")
        self.current_setpoint_pct = number
        if self.control == "CURRENT":
            span = 100.0 - THRESHOLD_CURRENT_PCT
            above_threshold = max(number - THRESHOLD_CURRENT_PCT, 0.0)
            return self._apply_power_mw(above_threshold / span * FULL_SCALE_MW)
        return self._ack()

    def _apply_power_mw(self, milliwatts: float) -> bytes:
        try:
            self.laser.set_power(milliwatts / 1000.0)
        except ValueError as exc:  # the backing laser may have a lower limit than the head
            log.info("Opus emulator: %s", exc)
            return self._error("Value out of range")
        return self._ack()

    # ------------------------------------------------------------------ derived readings
    def _load(self) -> float:
        return min(max(self.laser.get_power() * 1000.0 / FULL_SCALE_MW, 0.0), 1.0)

    def _current_pct(self) -> float:
        if not self.laser.get_emission():
            return 0.0
        if self.control == "CURRENT":
            return self.current_setpoint_pct
        return THRESHOLD_CURRENT_PCT + (100.0 - THRESHOLD_CURRENT_PCT) * self._load()
