"""What differs between the Lake Shore 335 and 336, as the emulator needs it.

Sources: Model 335 User's Manual (P/N 119-055, rev. 1.3) and Model 336 User's Manual
(P/N 119-048, rev. 1.5), chapter 6 "Computer Interface Operation"; section 6.6.1 lists the
commands. Page numbers cited in the code are the manuals' printed page numbers.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """One controller model's inputs, outputs and model-only commands."""

    number: int
    inputs: tuple[str, ...]
    outputs: tuple[int, ...]
    #: highest RANGE per output: current heaters 0..3 (off/low/med/high); the 336's voltage
    #: outputs 3 and 4 are 0 off | 1 on (336 manual, RANGE)
    max_range: dict[int, int]
    #: outputs that are current-source heaters (HTRSET, HTRST?, HTR? apply)
    heater_outputs: tuple[int, ...]
    #: outputs that can be analog voltage outputs (ANALOG, AOUT?, WARMUP; on the 335 only when
    #: HTRSET sets output 2 to voltage)
    voltage_outputs: tuple[int, ...]
    #: HTRSET <output>,<fields>: the 335 starts with the output type (0 current | 1 voltage)
    #: and so has one more field than the 336 (335 manual: output type applies to output 2)
    htrset_has_output_type: bool
    #: preset max currents (A) for HTRSET <max current> 1..4 (0 = user specified)
    preset_currents_a: tuple[float, ...]
    #: readings queries accept input 0 = all inputs (336 manual p. 130, CRDG?; KRDG?, SRDG?)
    all_inputs_query: bool
    #: display fields of DISPFLD
    display_fields: int
    #: commands only this model has (mnemonics without '?')
    only: frozenset[str]
    serial: str
    usb_pid: int


MODELS: dict[int, ModelSpec] = {
    335: ModelSpec(
        335, ("A", "B"), (1, 2), {1: 3, 2: 3}, heater_outputs=(1, 2), voltage_outputs=(2,),
        htrset_has_output_type=True, preset_currents_a=(0.707, 1.0, 1.141, 1.732),
        all_inputs_query=False, display_fields=4,
        only=frozenset({"EMUL", "POLARITY"}), serial="LSA1A2B", usb_pid=0x0300),
    336: ModelSpec(
        336, ("A", "B", "C", "D"), (1, 2, 3, 4), {1: 3, 2: 3, 3: 1, 4: 1},
        heater_outputs=(1, 2), voltage_outputs=(3, 4),
        htrset_has_output_type=False, preset_currents_a=(0.707, 1.0, 1.141, 2.0),
        all_inputs_query=True, display_fields=8,
        only=frozenset({"NET", "NETID", "WEBLOG", "INTSEL"}), serial="LSA3C4D", usb_pid=0x0301),
}


def model_spec(model: int) -> ModelSpec:
    if model not in MODELS:
        raise ValueError(f"model={model!r} is not allowed; allowed values: 335, 336")
    return MODELS[model]
