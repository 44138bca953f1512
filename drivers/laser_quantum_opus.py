"""Laser Quantum Opus 1064 (3 W CW pump) on an MPC-D controller.

Wire protocol (instruments.md section 1): RS-232 / USB virtual COM, 19200 baud 8N1, no flow
control. Queries end in ``?`` and answer with a unit suffix (``POWER?`` -> ``0123.4mW``); setters
are ``CMD=value``; ``ON`` / ``OFF`` switch emission. A reply starting with ``Error`` is a failure.
Older firmware terminates replies with CR, newer with CRLF: with ``line_ending="auto"`` the
driver reads the first reply up to CR and learns from the byte behind it (LF within 0.1 s or not)
which one the unit uses; ``"crlf"`` / ``"cr"`` pin it. A stray leading LF is ignored either way.

UNVERIFIED (kept visible on purpose):
- whether setters (``POWER=``, ``ON``, ``CONTROL=``...) answer with an empty line. The driver is
  tolerant of both: with ``setter_ack="auto"`` (default) it waits ``setter_ack_timeout_s`` for an
  acknowledgement after the first setter, remembers whether one came, and skips stray empty
  lines in front of query replies. ``"empty_line"`` / ``"none"`` pin either behaviour. (Qudi's
  MPC driver reads one line after every setter, which is why our emulator acknowledges.)
- the number and wording of ``TIMERS?`` lines (several lines containing ``Hours``; qudi reads
  three plus an empty line): the driver reads until an empty line, a short quiet gap, or 8 lines.
- ``CONTROL=CURRENT`` (only ``CONTROL=POWER`` is documented for our use) and the exact error
  texts.
Further MPC commands read back what the controller holds (qudi's MPC client uses them):
``SETPOWER?``, ``SETCURRENT1?``, ``CONTROL?``, ``INTERLOCK?``, ``SOFTVER?``, ``SERIAL?``,
``STATUSLCD?``.
"""
from __future__ import annotations

import logging
import re
from typing import Any, ClassVar, Literal

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers.clock import Clock
from drivers.errors import InstrumentError, InstrumentTimeout
from drivers.interfaces import PumpLaser
from drivers.pymeasure_base import AsciiInstrument, ConnectedDevice, SerialSettings
from drivers.validation import check_choice, check_range

log = logging.getLogger(__name__)

#: the Opus 1064 head is a 3 W laser; no setpoint above this is ever sent
OPUS_MAX_POWER_W = 3.0
WAVELENGTH_M = 1064e-9

SetterAck = Literal["auto", "empty_line", "none"]
LineEnding = Literal["auto", "crlf", "cr"]
#: how long to wait for the LF of a CRLF once, to tell new (CRLF) from old (CR) firmware
LINE_ENDING_PROBE_S = 0.1
_QUANTITY = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?)\s*([A-Za-z%]*)\s*$")


def _quantity(*units: str) -> Any:
    """preprocess_reply: ``"0123.4mW"`` -> ``"123.4"`` (in the first unit); rejects other units."""

    def strip_unit(reply: str) -> str:
        match = _QUANTITY.match(reply)
        if match is None or match.group(2) not in units:
            raise ValueError(f"expected a number followed by {' or '.join(units)}")
        number, unit = float(match.group(1)), match.group(2)
        if unit == "W" and "mW" in units:  # high-power firmware may answer in W
            number *= 1000.0
        return repr(number)

    return strip_unit


def _one_of(*allowed: str) -> Any:
    def check(reply: str) -> str:
        if reply not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return reply

    return check


class OpusMPCD(AsciiInstrument):
    """pymeasure driver of the MPC-D controller (see module docstring for the protocol)."""

    serial_settings: ClassVar[SerialSettings] = SerialSettings(baud_rate=19200)
    write_termination: ClassVar[str] = "\r\n"
    reply_terminator: ClassVar[bytes] = b"\r"
    error_prefixes: ClassVar[tuple[str, ...]] = ("Error",)

    def __init__(self, adapter: Any, name: str = "Opus MPC-D", *,
                 setter_ack: SetterAck = "auto", setter_ack_timeout_s: float = 0.25,
                 line_ending: LineEnding = "auto", **kwargs: Any) -> None:
        check_choice("setter_ack", setter_ack, ("auto", "empty_line", "none"))
        check_choice("line_ending", line_ending, ("auto", "crlf", "cr"))
        self.setter_ack: SetterAck = setter_ack
        self.setter_ack_timeout_s = float(setter_ack_timeout_s)
        self.line_ending: LineEnding = line_ending
        if line_ending == "crlf":
            self.reply_terminator = b"\r\n"
        super().__init__(adapter, name, **kwargs)

    def _read_frame(self, command: str, timeout_s: float | None = None) -> str:
        frame = super()._read_frame(command, timeout_s)
        if self.line_ending == "auto":
            self._learn_line_ending(command)
        return frame

    def _learn_line_ending(self, command: str) -> None:
        """After the first CR: an LF right behind it means CRLF firmware, silence means CR."""
        try:
            with self._temporary_timeout(LINE_ENDING_PROBE_S):
                with self._translate_io(command):
                    follower = bytes(self.adapter.read_bytes(1))
        except InstrumentTimeout:
            follower = b""
            self._dirty = False  # silence is the answer here, not a fault
        self.line_ending = "crlf" if follower == b"\n" else "cr"
        if self.line_ending == "crlf":
            self.reply_terminator = b"\r\n"
        elif follower:
            self._dirty = True  # unexpected unsolicited byte: flush before the next command
        log.info("%s: replies end in %s", self.name, self.line_ending.upper())

    power_mw = Instrument.measurement(
        "POWER?", "Actual output power, mW (reply e.g. ``0123.4mW``).",
        preprocess_reply=_quantity("mW", "W"))

    power_setpoint_mw = Instrument.setting(
        "POWER=%.1f", "Power setpoint, mW (0 .. 3000).",
        validator=strict_range, values=(0.0, OPUS_MAX_POWER_W * 1000.0))

    emission = Instrument.setting(
        "%s", "Emission on (``ON``) or off (``OFF``).",
        validator=strict_discrete_set, values={True: "ON", False: "OFF"}, map_values=True)

    enabled = Instrument.measurement(
        "STATUS?", "True if ``ENABLED`` (emitting), False if ``DISABLED`` (off, key or enable).",
        cast=str, preprocess_reply=_one_of("ENABLED", "DISABLED"),
        values={True: "ENABLED", False: "DISABLED"}, map_values=True)

    current_percent = Instrument.control(
        "CURRENT?", "CURRENT=%.1f", "Diode current, percent of maximum (reply e.g. ``050.0%``).",
        validator=strict_range, values=(0.0, 100.0), preprocess_reply=_quantity("%"))

    control_mode = Instrument.setting(
        "CONTROL=%s", "Regulation: ``POWER`` (used by avalab) or ``CURRENT`` (UNVERIFIED).",
        validator=strict_discrete_set, values=("POWER", "CURRENT"))

    laser_temperature_c = Instrument.measurement(
        "LASTEMP?", "Laser head temperature, degrees C.", preprocess_reply=_quantity("C"))

    psu_temperature_c = Instrument.measurement(
        "PSUTEMP?", "Power supply temperature, degrees C.", preprocess_reply=_quantity("C"))

    version = Instrument.measurement(
        "VERSION?", "Controller firmware identification (contains ``MPC-D``).", cast=str)

    power_setpoint_readback_mw = Instrument.measurement(
        "SETPOWER?", "Power setpoint as the controller holds it, mW (``0500.0mW``).",
        preprocess_reply=_quantity("mW", "W"))

    current_setpoint_percent = Instrument.measurement(
        "SETCURRENT1?", "Diode current setpoint, percent (``050.0%``).",
        preprocess_reply=_quantity("%"))

    control_mode_readback = Instrument.measurement(
        "CONTROL?", "Regulation in force: ``POWER`` or ``CURRENT``.", cast=str,
        preprocess_reply=_one_of("POWER", "CURRENT"))

    interlock_closed = Instrument.measurement(
        "INTERLOCK?", "True while the interlock loop is closed (``ENABLED``).", cast=str,
        preprocess_reply=_one_of("ENABLED", "DISABLED"),
        values={True: "ENABLED", False: "DISABLED"}, map_values=True)

    software_version = Instrument.measurement("SOFTVER?", "Firmware version.", cast=str)

    serial_number = Instrument.measurement("SERIAL?", "Controller serial number.", cast=str)

    lcd_text = Instrument.measurement("STATUSLCD?", "Front-panel display text.", cast=str)

    # ------------------------------------------------------------------ setter acknowledgement
    def write(self, command: str, **kwargs: Any) -> None:
        """Send a setter and consume its (UNVERIFIED) empty-line acknowledgement if there is one."""
        with self.lock:
            if self.setter_ack == "none":
                self.transact(command, expect_reply=False)
                return
            learning = self.setter_ack == "auto"
            reply = self.transact(command, expect_reply=True, reply_optional=learning,
                                  reply_timeout_s=self.setter_ack_timeout_s if learning else None)
            if reply is None:
                log.info("%s: no acknowledgement after %r; assuming firmware whose setters are "
                         "silent", self.name, command)
                self.setter_ack = "none"
                return
            if reply:
                raise self.error(command, f"unexpected reply to a setter: {reply!r}")
            if learning:
                self.setter_ack = "empty_line"

    def ask(self, command: str, query_delay: float | None = None) -> str:
        """Query; skips up to two stray empty lines (late setter acknowledgements)."""
        with self.lock:
            reply = self.transact(command, expect_reply=True) or ""
            for _ in range(2):
                if reply:
                    break
                reply = self.read_frame(command)
            return reply

    def timers(self) -> list[str]:
        """The ``TIMERS?`` lines (each contains ``Hours``; count and wording UNVERIFIED)."""
        with self.lock:
            lines = [self.ask("TIMERS?")]
            while len(lines) < 8:
                try:
                    line = self.read_frame("TIMERS?", timeout_s=self.setter_ack_timeout_s)
                except InstrumentTimeout:
                    break
                if not line:
                    break
                lines.append(line)
            if not all("Hours" in line for line in lines):
                raise self.error("TIMERS?", f"unexpected timer lines {lines!r}")
            return lines


class OpusPumpLaser(ConnectedDevice, PumpLaser):
    """The pump role (``drivers.interfaces.PumpLaser``) on an Opus 1064, in SI units.

    Options (rig file): ``max_power`` (W, at most 3), ``setter_ack`` (see :class:`OpusMPCD`),
    ``timeout_s``. On connect it checks that ``VERSION?`` names an MPC-D and selects
    ``CONTROL=POWER`` because avalab sets power, not current.
    """

    model = "Laser Quantum Opus 1064 (MPC-D)"
    instrument_class = OpusMPCD

    def __init__(self, name: str, address: str, clock: Clock | None = None, *,
                 max_power: float = OPUS_MAX_POWER_W, **options: Any) -> None:
        self._max_power = check_range("max_power", max_power, 0.0, OPUS_MAX_POWER_W, "W",
                                      low_inclusive=False)
        super().__init__(name, address, clock, **options)

    @property
    def opus(self) -> OpusMPCD:
        instrument = self.instrument
        assert isinstance(instrument, OpusMPCD)
        return instrument

    def _on_connect(self, instrument: AsciiInstrument) -> None:
        assert isinstance(instrument, OpusMPCD)
        version = instrument.version
        if "MPC-D" not in version:
            raise InstrumentError(self.name, self.address, "VERSION?",
                                  f"not an MPC-D controller: {version!r}")
        self._identity = f"Laser Quantum Opus 1064, {version}"
        instrument.control_mode = "POWER"

    def _read_identity(self, instrument: AsciiInstrument) -> str:
        assert isinstance(instrument, OpusMPCD)
        return f"Laser Quantum Opus 1064, {instrument.version}"

    @property
    def wavelength(self) -> float:
        return WAVELENGTH_M

    @property
    def max_power(self) -> float:
        return self._max_power

    def set_power(self, power_w: float) -> None:
        power_w = check_range("power", power_w, 0.0, self._max_power, "W")
        self.opus.power_setpoint_mw = round(power_w * 1000.0, 1)

    def get_power(self) -> float:
        return self.opus.power_mw / 1000.0

    def set_emission(self, on: bool) -> None:
        """Emission on/off. Switching off is confirmed with ``STATUS?`` (it is the safe state,
        and with silent setters the query is the only proof the command arrived); switching on
        is not, because the head may report ENABLED only after its start-up delay."""
        opus = self.opus
        with opus.lock:
            opus.emission = bool(on)
            if not on and opus.enabled:
                raise InstrumentError(self.name, self.address, "OFF",
                                      "STATUS? still ENABLED after OFF")

    def get_emission(self) -> bool:
        return self.opus.enabled
