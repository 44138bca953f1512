"""Thorlabs SC10 shutter controller (pump, control-laser and emission-path shutters).

Wire protocol (SC10 manual 8654-D02, "Keywords (Commands and Queries)", p. 15): CR terminator,
lower-case commands. The unit echoes each command and ends every reply with a ``"> "`` prompt,
queries and set commands alike: ``id?\\r`` -> ``id?\\r<value>\\r> ``; ``mode=1\\r`` ->
``mode=1\\r> `` (framing in :class:`~drivers.pymeasure_base.EchoPromptInstrument`). 9600 baud
(``baud=0``) or 115200 (``baud=1``): pass ``baud_rate=115200`` if the unit was switched.

Commands: ``id?``, ``ens?``, ``ens`` (TOGGLES enable, so the adapter always reads ``ens?`` first
and re-reads it afterwards; a toggle is never repeated blindly after a reconnect),
``mode=1..5`` / ``mode?`` (manual, auto, single, repeat, external gate), ``open=<ms>`` /
``open?``, ``shut=<ms>`` / ``shut?`` (0-999999, "6 digits or less"), ``rep=1..99`` / ``rep?``,
``trig=0|1`` / ``trig?``, ``xto=0|1`` / ``xto?``, ``baud?``, ``closed?``, ``interlock?``,
``save`` (baud rate and output trigger mode to memory), ``savp`` (mode, times, repeat count and
trigger to memory), ``resp`` (load them back), ``?`` (command list). Opening and closing use
manual mode (set at connect, and again after an automatic reconnect) and the ``ens`` toggle.
Safe state: closed.

Not in the manual, kept visible: the error strings (``Command error CMD_NOT_DEFINED`` /
``CMD_ARG_INVALID`` assumed, as on the MC2000B; any line containing ``CMD_`` or ``Command
error`` is an error); ``baud=`` is not offered here because changing it drops the link.
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set

from drivers.clock import Clock
from drivers.errors import InstrumentConnectionError, InstrumentError
from drivers.interfaces import Shutter
from drivers.pymeasure_base import (ON_OFF, AsciiInstrument, ConnectedDevice, EchoPromptInstrument,
                                   SerialSettings, strict_integer_range)
from drivers.validation import check_choice

log = logging.getLogger(__name__)

MODES = {"manual": 1, "auto": 2, "single": 3, "repeat": 4, "external": 5}
BAUD_RATES = (9600, 115200)



class SC10(EchoPromptInstrument):
    """pymeasure driver of the SC10 (see module docstring for the protocol)."""

    serial_settings: ClassVar[SerialSettings] = SerialSettings(baud_rate=9600)

    def __init__(self, adapter: Any, name: str = "Thorlabs SC10", *, baud_rate: int = 9600,
                 **kwargs: Any) -> None:
        check_choice("baud_rate", baud_rate, BAUD_RATES)
        super().__init__(adapter, name, serial=SerialSettings(baud_rate=baud_rate), **kwargs)

    id = Instrument.measurement("id?", "Model and firmware identification.", cast=str)

    enabled = Instrument.measurement(
        "ens?", "Enable state: in manual mode True means open.", cast=int,
        values=ON_OFF, map_values=True)

    closed = Instrument.measurement(
        "closed?", "True if the shutter reports closed.", cast=int, values=ON_OFF, map_values=True)

    interlock_tripped = Instrument.measurement(
        "interlock?", "True if the interlock is open (the shutter cannot open).", cast=int,
        values=ON_OFF, map_values=True)

    mode = Instrument.control(
        "mode?", "mode=%d",
        "Operating mode: manual, auto, single, repeat, external.",
        validator=strict_discrete_set, values=MODES, map_values=True, cast=int)

    open_time_ms = Instrument.control(
        "open?", "open=%d", "Open time for auto/repeat/single, ms.",
        validator=strict_integer_range, values=(0, 999999))

    shut_time_ms = Instrument.control(
        "shut?", "shut=%d", "Shut time for auto/repeat, ms.",
        validator=strict_integer_range, values=(0, 999999))

    repeat_count = Instrument.control(
        "rep?", "rep=%d", "Repeat count for repeat mode, 1-99.",
        validator=strict_integer_range, values=(1, 99))

    trigger = Instrument.control(
        "trig?", "trig=%d", "0 internal, 1 external trigger.",
        validator=strict_discrete_set, values=(0, 1), cast=int)

    output_trigger = Instrument.control(
        "xto?", "xto=%d",
        "Trigger output: 0 follows the shutter, 1 the controller.",
        validator=strict_discrete_set, values=(0, 1), cast=int)

    baud_rate_setting = Instrument.measurement(
        "baud?", "Serial baud rate setting: 9600 or 115200.", cast=int,
        values={9600: 0, 115200: 1}, map_values=True)

    #: mode re-sent after an automatic reconnect (the adapter relies on manual mode)
    mode_to_restore: str | None = None

    def after_reopen(self) -> None:
        # a controller that restarted behind the dropped link comes up in its saved mode
        if self.mode_to_restore is not None:
            command = f"mode={MODES[self.mode_to_restore]}"
            self.send_raw(command)
            self.read_frame(command)

    def toggle_enable(self) -> None:
        """``ens``: TOGGLE the enable state. Not repeated after a reconnect (effect unknown)."""
        self.transact("ens", expect_reply=True, retry=False)

    def save(self) -> None:
        """``save``: store the baud rate and output trigger mode in the controller's memory."""
        self.write("save")

    def store_configuration(self) -> None:
        """``savp``: store mode, open/shut times, repeat count and trigger mode in memory."""
        self.write("savp")

    def load_configuration(self) -> None:
        """``resp``: load the settings stored by ``savp``."""
        self.write("resp")

    def command_list(self) -> list[str]:
        """``?``: the controller's list of commands, one per line."""
        return self.ask("?").split("\r")


class SC10Shutter(ConnectedDevice, Shutter):
    """A shutter role (``drivers.interfaces.Shutter``) on an SC10. Options: ``baud_rate``."""

    model = "Thorlabs SC10"
    instrument_class = SC10
    #: toggle attempts before giving up (a lost link during a toggle leaves its effect unknown)
    toggle_attempts = 2

    def __init__(self, name: str, address: str, clock: Clock | None = None, *,
                 baud_rate: int = 9600, **options: Any) -> None:
        check_choice("baud_rate", baud_rate, BAUD_RATES)  # at rig load, not only at connect
        super().__init__(name, address, clock, baud_rate=baud_rate, **options)

    @property
    def sc10(self) -> SC10:
        instrument = self.instrument
        assert isinstance(instrument, SC10)
        return instrument

    def _on_connect(self, instrument: AsciiInstrument) -> None:
        assert isinstance(instrument, SC10)
        instrument.mode = "manual"
        instrument.mode_to_restore = "manual"

    def _read_identity(self, instrument: AsciiInstrument) -> str:
        assert isinstance(instrument, SC10)
        return instrument.id

    def open(self) -> None:
        sc10 = self.sc10
        with sc10.lock:
            if sc10.interlock_tripped:
                raise InstrumentError(self.name, self.address, "ens",
                                      "interlock is open; the shutter cannot open")
            self._set_enabled(sc10, True)

    def close_shutter(self) -> None:
        sc10 = self.sc10
        with sc10.lock:
            self._set_enabled(sc10, False)

    def is_open(self) -> bool:
        return not self.sc10.closed

    def _set_enabled(self, sc10: SC10, target: bool) -> None:
        """Read ``ens?``, toggle only if needed, and confirm; re-read after a lost link."""
        for _ in range(self.toggle_attempts):
            if sc10.enabled == target:
                return
            try:
                sc10.toggle_enable()
            except InstrumentConnectionError as exc:
                log.warning("%s: link lost during ens, re-reading state: %s", self.name, exc)
                continue
            if sc10.enabled == target:
                return
        raise InstrumentError(self.name, self.address, "ens",
                              f"enable did not become {int(target)} after "
                              f"{self.toggle_attempts} attempts")
