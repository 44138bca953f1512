"""Thorlabs MC2000B optical chopper controller.

Wire protocol (instruments.md section 6; Thorlabs' MC2000B serial example): 115200 baud 8N1, no
flow control, CR-terminated lower-case commands. The unit echoes each command and ends every
reply with a ``"> "`` prompt: ``freq=1000\\r`` -> ``freq=1000\\r> ``; ``freq?\\r`` ->
``freq?\\r1000\\r> `` (framing in :class:`~drivers.pymeasure_base.EchoPromptInstrument`). Every
value is an integer, ``refoutfreq?`` and ``input?`` included. Blade, reference, output and
harmonics change only while stopped (``enable=0``); the adapter refuses those changes while
running and reads the blade back after setting it.

Blade indices: MC1F2 0, MC1F10 1, MC1F15 2, MC1F30 3, MC1F60 4, MC1F100 5, MC1F10HP 6,
MC1F2P10 7, MC1F6P10 8, MC1F10A 9, MC2F330 10, MC2F47 11, MC2F57B 12, MC2F860 13, MC2F5360 14.
Frequency and duty-cycle ranges come from ``drivers.interfaces.BLADES`` (MC1F10A 20-1000 Hz,
variable duty; MC1F60 120-6000 Hz, 50 %). The MC1F10A's open fraction is ``oncycle=<percent>`` /
``oncycle?`` (the keyword of the unit's command list, used by Thorlabs-based clients and the
``thorlabs_mc2000b`` package). Reference codes depend on the blade (manual chapters 8.3 / 8.4):
``ref`` 0-3 and ``output`` 0-2 on the inner/outer blades (MC1F2, MC1F10HP, MC1F2P10), ``ref``
0-1 and ``output`` 0-4 on the MC2F blades, 0-1 and 0-1 on the others; the unit refuses codes the
installed blade lacks.

Not confirmed from the manual, kept visible: the exact error text (any line containing
``CMD_NOT_DEFINED``, ``CMD_ARG_INVALID`` or ``Command error`` is an error); the frequency
resolution (setpoints are sent as integer Hz); the ``intensity`` range (0-10 assumed).
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set

from drivers.errors import InstrumentError
from drivers.interfaces import BLADES, BladeSpec, Chopper
from drivers.pymeasure_base import (ON_OFF, AsciiInstrument, ConnectedDevice, EchoPromptInstrument,
                                   SerialSettings, strict_integer_range)
from drivers.validation import check_choice, check_range

log = logging.getLogger(__name__)

#: controller blade index -> blade model (instruments.md section 6)
BLADE_INDICES: dict[int, str] = {
    0: "MC1F2", 1: "MC1F10", 2: "MC1F15", 3: "MC1F30", 4: "MC1F60", 5: "MC1F100",
    6: "MC1F10HP", 7: "MC1F2P10", 8: "MC1F6P10", 9: "MC1F10A", 10: "MC2F330", 11: "MC2F47",
    12: "MC2F57B", 13: "MC2F860", 14: "MC2F5360",
}
BLADE_NUMBERS: dict[str, int] = {name: index for index, name in BLADE_INDICES.items()}



class MC2000B(EchoPromptInstrument):
    """pymeasure driver of the MC2000B (see module docstring for the protocol)."""

    serial_settings: ClassVar[SerialSettings] = SerialSettings(baud_rate=115200)

    def __init__(self, adapter: Any, name: str = "Thorlabs MC2000B", **kwargs: Any) -> None:
        super().__init__(adapter, name, **kwargs)

    id = Instrument.measurement("id?", "Model and firmware identification.", cast=str)

    frequency = Instrument.control(
        "freq?", "freq=%d", "Target chopping frequency, Hz (integer; range depends on the blade).",
        validator=strict_integer_range, values=(1, 10000))

    blade = Instrument.control(
        "blade?", "blade=%d", "Blade index (see BLADE_INDICES); only while stopped.",
        validator=strict_discrete_set, values=tuple(BLADE_INDICES), cast=int)

    phase = Instrument.control(
        "phase?", "phase=%d", "Reference phase, degrees (0-360).",
        validator=strict_integer_range, values=(0, 360))

    enabled = Instrument.control(
        "enable?", "enable=%d", "Blade spinning (1) or stopped (0).",
        validator=strict_discrete_set, values=ON_OFF, map_values=True, cast=int)

    reference = Instrument.control(
        "ref?", "ref=%d",
        "Reference in: 0 internal (outer), 1 internal inner or external, 2/3 external outer/inner "
        "(codes per blade, manual chapter 8.3); only while stopped.",
        validator=strict_discrete_set, values=(0, 1, 2, 3), cast=int)

    output = Instrument.control(
        "output?", "output=%d",
        "Reference out: 0 target, 1 actual or outer, 2 inner, 3 sum, 4 difference (codes per "
        "blade, manual chapter 8.4); only while stopped.",
        validator=strict_discrete_set, values=(0, 1, 2, 3, 4), cast=int)

    n_harmonic = Instrument.control(
        "nharmonic?", "nharmonic=%d",
        "Multiplier applied to the external reference (1-15); only while stopped.",
        validator=strict_integer_range, values=(1, 15), cast=int)

    d_harmonic = Instrument.control(
        "dharmonic?", "dharmonic=%d",
        "Divider applied to the external reference (1-15); only while stopped.",
        validator=strict_integer_range, values=(1, 15), cast=int)

    duty_cycle_percent = Instrument.control(
        "oncycle?", "oncycle=%d", "Open fraction (on cycle) of the MC1F10A blade, percent.",
        validator=strict_integer_range, values=(1, 99), cast=int)

    reference_output_frequency = Instrument.measurement(
        "refoutfreq?", "Reference output (actual blade) frequency, integer Hz.", cast=int)

    input_frequency = Instrument.measurement(
        "input?", "Frequency at the external reference input, integer Hz.", cast=int)

    verbose = Instrument.control(
        "verbose?", "verbose=%d", "Verbose replies on (1) / off (0).",
        validator=strict_discrete_set, values=ON_OFF, map_values=True, cast=int)

    intensity = Instrument.control(
        "intensity?", "intensity=%d", "Display brightness 0-10 (range not confirmed).",
        validator=strict_integer_range, values=(0, 10), cast=int)

    def restore(self) -> None:
        """Restore factory default settings."""
        self.write("restore")

    def command_list(self) -> list[str]:
        """``?``: the controller's list of commands, one per line."""
        return self.ask("?").split("\r")


class MC2000BChopper(ConnectedDevice, Chopper):
    """The chopper role (``drivers.interfaces.Chopper``) on an MC2000B, SI units.

    Frequencies are validated against the installed blade (``BLADES``), duty cycles against the
    blade's duty range (only the MC1F10A is variable). Blade changes are refused while the blade
    spins and verified by reading ``blade?`` back.
    """

    model = "Thorlabs MC2000B"
    instrument_class = MC2000B

    @property
    def mc(self) -> MC2000B:
        instrument = self.instrument
        assert isinstance(instrument, MC2000B)
        return instrument

    def _read_identity(self, instrument: AsciiInstrument) -> str:
        assert isinstance(instrument, MC2000B)
        return instrument.id

    # ------------------------------------------------------------------ blade
    def set_blade(self, blade: str) -> None:
        check_choice("blade", blade, tuple(BLADES))
        mc = self.mc
        with mc.lock:
            self._require_stopped(mc, f"blade={BLADE_NUMBERS[blade]}")
            mc.blade = BLADE_NUMBERS[blade]
            if mc.blade != BLADE_NUMBERS[blade]:
                raise InstrumentError(self.name, self.address, f"blade={BLADE_NUMBERS[blade]}",
                                      f"blade? does not read back {BLADE_NUMBERS[blade]} ({blade})")

    def get_blade(self) -> str:
        index = self.mc.blade
        if index not in BLADE_INDICES:
            raise InstrumentError(self.name, self.address, "blade?", f"unknown blade index {index}")
        return BLADE_INDICES[index]

    def _blade_spec(self) -> BladeSpec:
        name = self.get_blade()
        if name not in BLADES:
            raise InstrumentError(self.name, self.address, "blade?",
                                  f"blade {name} is not one of the setup's blades {tuple(BLADES)}; "
                                  "its frequency range is unknown")
        return BLADES[name]

    # ------------------------------------------------------------------ frequency / duty / phase
    def set_frequency(self, hz: float) -> None:
        mc = self.mc
        with mc.lock:
            spec = self._blade_spec()
            hz = check_range(f"frequency ({spec.name})", hz, spec.min_hz, spec.max_hz, "Hz")
            mc.frequency = int(round(hz))

    def get_frequency(self) -> float:
        return float(self.mc.frequency)

    def get_actual_frequency(self) -> float:
        return float(self.mc.reference_output_frequency)

    def set_duty_cycle(self, fraction: float) -> None:
        mc = self.mc
        with mc.lock:
            spec = self._blade_spec()
            fraction = check_range(f"duty_cycle ({spec.name})", fraction,
                                   spec.min_duty, spec.max_duty)
            if spec.variable_duty:
                mc.duty_cycle_percent = int(round(fraction * 100.0))

    def get_duty_cycle(self) -> float:
        mc = self.mc
        with mc.lock:
            spec = self._blade_spec()
            if not spec.variable_duty:
                return spec.min_duty
            return mc.duty_cycle_percent / 100.0

    def set_phase(self, degrees: float) -> None:
        degrees = check_range("phase", degrees, 0.0, 360.0, "deg")
        self.mc.phase = int(round(degrees))

    # ------------------------------------------------------------------ run / stop
    def set_enabled(self, on: bool) -> None:
        self.mc.enabled = bool(on)

    def get_enabled(self) -> bool:
        return bool(self.mc.enabled)

    def _require_stopped(self, mc: MC2000B, command: str) -> None:
        if mc.enabled:
            raise InstrumentError(self.name, self.address, command,
                                  "only allowed while the blade is stopped (enable=0)")
