"""Coherent Chameleon Ultra II (tunable Ti:Sapphire control laser, about 680-1080 nm).

Wire protocol (instruments.md section 8; Chameleon manual command and query tables): RS-232,
19200 baud 8N1, CRLF. The unit starts with echo and a ``CHAMELEON> `` prompt on; on connect the
driver sends ``ECHO=0`` and ``PROMPT=0`` and reads exactly one line after each: ``ECHO=`` takes
effect with the next command, ``PROMPT=`` at once, so whatever state the unit was left in, each
answers one CRLF line (the echoed command, an empty line, or a left-over prompt followed by an
empty line). After that every command answers exactly one line. Queries are ``?<KEY>`` (the
manual's short forms; ``PRINT <LONG KEY>`` is the long form), setters ``<KEY>=<value>``. Errors
start with a space: `` RANGE ERROR``, `` Command Error``, `` Query Error`` -> InstrumentError.

Tuning: ``VW=<nm>`` starts a move; :meth:`ChameleonControlLaser.wait_tuned` polls ``?TS`` (0 ready,
1 tuning, 2 searching for mode-lock, 3 recovery) through the rig clock until 0 or a timeout.
Wavelengths are validated against ``?TMIN`` / ``?TMAX`` read at connect (680-1080 nm nominal).

Not confirmed from the manual, kept visible:
- the wavelength resolution: ``VW=`` is sent in integer nm;
- ``?UF`` in mW as a plain number; ``?F`` / ``?FH`` fault lists ``&``-separated with ``0`` for none;
- ``HEARTBEATRATE`` range 1-100 s.
"""
from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from drivers.clock import Clock
from drivers.errors import InstrumentError, InstrumentTimeout
from drivers.interfaces import ControlLaser
from drivers.pymeasure_base import ON_OFF, AsciiInstrument, ConnectedDevice, SerialSettings
from drivers.validation import check_positive, check_range

log = logging.getLogger(__name__)

NOMINAL_RANGE_NM = (680.0, 1080.0)
TUNING_STATES = {0: "ready", 1: "tuning", 2: "searching for mode-lock", 3: "recovery"}
#: what a unit with its prompt on puts in front of a line (the manual's PROMPT command)
PROMPT = "CHAMELEON> "
#: ?TS poll period while waiting for a wavelength change
TUNING_POLL_S = 0.2



_FAULT_LIST = re.compile(r"^\d+(&\d+)*$")


def _fault_list_format(reply: str) -> str:
    if not _FAULT_LIST.match(reply):
        raise ValueError("expected fault codes separated by '&'")
    return reply


def _faults(reply: str) -> list[int]:
    return [code for code in (int(text) for text in reply.split("&")) if code != 0]


class ChameleonUltraII(AsciiInstrument):
    """pymeasure driver of the Chameleon Ultra II (see module docstring for the protocol)."""

    serial_settings: ClassVar[SerialSettings] = SerialSettings(baud_rate=19200)
    write_termination: ClassVar[str] = "\r\n"
    reply_terminator: ClassVar[bytes] = b"\r\n"
    setter_replies: ClassVar[bool] = True
    error_prefixes: ClassVar[tuple[str, ...]] = (" ",)

    def __init__(self, adapter: Any, name: str = "Coherent Chameleon Ultra II",
                 **kwargs: Any) -> None:
        super().__init__(adapter, name, **kwargs)

    def parse_reply(self, command: str, frame: str) -> str:
        # keep the value only; leading spaces were already screened by check_reply; a prompt
        # can only lead a line during the handshake (see quiet_mode)
        value = frame.strip()
        return value[len(PROMPT):].strip() if value.startswith(PROMPT) else value

    def quiet_mode(self) -> None:
        """``ECHO=0`` then ``PROMPT=0``, one answer line each (see the module docstring).

        Uses :meth:`send_raw` / :meth:`read_frame` rather than transactions, so that it can run
        inside :meth:`after_reopen` without triggering a second reconnect.
        """
        with self.lock:
            self._flush_input()  # whatever a unit left in the line before we took over
            for command in ("ECHO=0", "PROMPT=0"):
                self.send_raw(command)
                answer = self.read_frame(command)
                if answer.upper() not in ("", command, PROMPT.strip()):
                    raise self.error(command, f"unexpected answer {answer!r} to the handshake")
                log.debug("%s: %s answered %r", self.name, command, answer)

    def after_reopen(self) -> None:
        # a unit that restarted behind the dropped link has echo and prompt on again
        self.quiet_mode()

    wavelength_nm = Instrument.control(
        "?VW", "VW=%d", "Wavelength, nm (integer; validated against ?TMIN/?TMAX by the adapter).",
        validator=strict_range, values=(600, 1100), set_process=lambda nm: int(round(nm)))

    min_wavelength_nm = Instrument.measurement("?TMIN", "Shortest tunable wavelength, nm.")
    max_wavelength_nm = Instrument.measurement("?TMAX", "Longest tunable wavelength, nm.")

    laser_state = Instrument.measurement(
        "?L", "0 off (standby), 1 on, 2 off because of a fault.", cast=int)

    laser_on = Instrument.setting(
        "L=%d", "Laser on (1) / standby (0).",
        validator=strict_discrete_set, values=ON_OFF, map_values=True)

    shutter_open = Instrument.control(
        "?S", "S=%d", "Output shutter open (1) / closed (0).",
        validator=strict_discrete_set, values=ON_OFF, map_values=True, cast=int)

    power_mw = Instrument.measurement("?UF", "Output power, mW.")

    tuning_status = Instrument.measurement(
        "?TS", "0 ready, 1 tuning, 2 searching for mode-lock, 3 recovery.", cast=int)

    modelock_status = Instrument.measurement("?MDLK", "0 off, 1 mode-locked, 2 CW.", cast=int)

    key_switch = Instrument.measurement("?K", "Key switch on (1) / off (0).", cast=int)

    faults = Instrument.measurement(
        "?F", "Active fault codes (empty list: none).", cast=str,
        preprocess_reply=_fault_list_format, get_process=_faults)

    fault_history = Instrument.measurement(
        "?FH", "Fault codes since the last clear.", cast=str,
        preprocess_reply=_fault_list_format, get_process=_faults)

    status_text = Instrument.measurement("?ST", "Operating status text.", cast=str)

    serial_number = Instrument.measurement("?SN", "Head serial number.", cast=str)

    alignment_mode = Instrument.setting(
        "ALIGN=%d", "Alignment (CW, low power) mode on (1) / off (0).",
        validator=strict_discrete_set, values=ON_OFF, map_values=True)

    heartbeat = Instrument.setting(
        "HEARTBEAT=%d", "Shut the laser down when RS-232 is silent for HEARTBEATRATE s.",
        validator=strict_discrete_set, values=ON_OFF, map_values=True)

    heartbeat_rate_s = Instrument.setting(
        "HEARTBEATRATE=%d", "Heartbeat timeout, s (1-100, UNVERIFIED range).",
        validator=strict_range, values=(1, 100), set_process=lambda s: int(round(s)))

    def home_tuning_motor(self) -> None:
        """``HM=1``: home the tuning motor (takes 3-30 s; poll ``tuning_status``)."""
        self.write("HM=1")


class ChameleonControlLaser(ConnectedDevice, ControlLaser):
    """The control-laser role (``drivers.interfaces.ControlLaser``) on a Chameleon, SI units."""

    model = "Coherent Chameleon Ultra II"
    instrument_class = ChameleonUltraII

    def __init__(self, name: str, address: str, clock: Clock | None = None, *,
                 tuning_poll_s: float = TUNING_POLL_S, **options: Any) -> None:
        self.tuning_poll_s = check_positive("tuning_poll_s", tuning_poll_s, "s")
        self._range_nm: tuple[float, float] | None = None
        super().__init__(name, address, clock, **options)

    @property
    def cham(self) -> ChameleonUltraII:
        instrument = self.instrument
        assert isinstance(instrument, ChameleonUltraII)
        return instrument

    def _on_connect(self, instrument: AsciiInstrument) -> None:
        assert isinstance(instrument, ChameleonUltraII)
        instrument.quiet_mode()
        low, high = instrument.min_wavelength_nm, instrument.max_wavelength_nm
        if not 0 < low < high:
            raise InstrumentError(self.name, self.address, "?TMIN/?TMAX",
                                  f"{low:g}/{high:g} nm is not a valid tuning range")
        self._range_nm = (low, high)

    def _read_identity(self, instrument: AsciiInstrument) -> str:
        assert isinstance(instrument, ChameleonUltraII)
        return f"Coherent Chameleon Ultra II, S/N {instrument.serial_number}"

    # ------------------------------------------------------------------ wavelength
    @property
    def wavelength_range(self) -> tuple[float, float]:
        low, high = self._range_nm or NOMINAL_RANGE_NM
        return low * 1e-9, high * 1e-9

    def set_wavelength(self, wavelength_m: float) -> None:
        low, high = self.wavelength_range
        wavelength_m = check_range("wavelength", wavelength_m, low, high, "m")
        self.cham.wavelength_nm = round(wavelength_m * 1e9)

    def get_wavelength(self) -> float:
        return self.cham.wavelength_nm * 1e-9

    def wait_tuned(self, timeout_s: float = 30.0) -> None:
        timeout_s = check_positive("timeout_s", timeout_s, "s")
        deadline = self.clock.now() + timeout_s
        while True:
            status = self.cham.tuning_status
            if status == 0:
                return
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                raise InstrumentTimeout(self.name, self.address, "?TS",
                                        f"still {TUNING_STATES.get(status, f'in state {status}')} "
                                        f"after {timeout_s:g} s")
            self.clock.sleep(min(self.tuning_poll_s, remaining))

    # ------------------------------------------------------------------ emission / shutter
    def set_emission(self, on: bool) -> None:
        self.cham.laser_on = bool(on)

    def get_emission(self) -> bool:
        state = self.cham.laser_state
        if state == 2:
            log.warning("%s: laser off because of a fault (?L=2)", self.name)
        return state == 1

    def set_shutter(self, open_: bool) -> None:
        self.cham.shutter_open = bool(open_)

    def get_shutter(self) -> bool:
        return bool(self.cham.shutter_open)

    def get_power(self) -> float:
        return self.cham.power_mw / 1000.0
