"""The Lake Shore 335/336 commands that only store settings, as one table.

Each entry is a mnemonic, what it is indexed by (an input, an output, a relay...) and its fields
with their ranges, defaults and reply formats, from section 6.6.1 of the Model 335 and Model 336
manuals (see ``lakeshore_models``). ``XXX <index>,<fields>`` stores, ``XXX? <index>`` answers the
fields joined with commas. As the official ``lakeshore`` package relies on (``RELAY 1,1,,``,
``ALARM A,0,,,,,,``), an empty or omitted trailing field keeps its present value.

Commands whose answers come from the bench (readings, setpoints, heater ranges and outputs, ramps)
or that act on other state (curves, status registers) are in ``lakeshore.py``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim_backends.emulators.lakeshore_models import ModelSpec


class CommandError(Exception):
    """ESR bit 5: unknown mnemonic, wrong number of parameters, text where a number belongs."""


class ExecutionError(Exception):
    """ESR bit 4: a value or channel this model cannot take."""


class QueryError(Exception):
    """ESR bit 2: a query whose data is not available."""


Value = int | float | str


@dataclass(frozen=True)
class Field:
    """One parameter: how it is parsed and how the query prints it."""

    name: str
    default: Value
    parse: Callable[[str], Value]
    show: Callable[[Value], str]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a number") from None


def integer(name: str, low: int, high: int, default: int, width: int = 0) -> Field:
    def parse(text: str) -> int:
        value = _number(text)
        if value != int(value):
            raise CommandError(f"{name}={text!r} is not an integer")
        if not low <= value <= high:
            raise ExecutionError(f"{name}={text} outside {low}..{high}")
        return int(value)
    return Field(name, default, parse, lambda v: f"{int(v):0{width}d}" if width else str(int(v)))


def number(name: str, low: float, high: float, default: float, fmt: str = "+.3f") -> Field:
    def parse(text: str) -> float:
        value = _number(text)
        if not low <= value <= high:
            raise ExecutionError(f"{name}={text} outside {low}..{high}")
        return value
    return Field(name, default, parse, lambda v: format(float(v), fmt))


def text(name: str, max_chars: int, default: str) -> Field:
    def parse(raw: str) -> str:
        value = raw.strip().strip('"')
        if len(value) > max_chars:
            raise ExecutionError(f"{name}={value!r} longer than {max_chars} characters")
        return value
    return Field(name, default, parse, str)


def letter(name: str, choices: tuple[str, ...], default: str) -> Field:
    def parse(raw: str) -> str:
        value = raw.strip().upper()
        if value not in choices:
            raise ExecutionError(f"{name}={raw!r} is not one of {', '.join(choices)}")
        return value
    return Field(name, default, parse, str)


#: what a setting is indexed by; each resolver turns the index text into a key for this model
IndexResolver = Callable[[ModelSpec, str], Any]


def _input(spec: ModelSpec, raw: str) -> str:
    channel = raw.strip().upper()
    if channel not in spec.inputs:
        raise ExecutionError(f"input {raw!r} does not exist on a {spec.number}")
    return channel


def _in(name: str, allowed: Callable[[ModelSpec], tuple[int, ...]]) -> IndexResolver:
    def resolve(spec: ModelSpec, raw: str) -> int:
        value = integer(name, -10**6, 10**6, 0).parse(raw)
        if value not in allowed(spec):
            raise ExecutionError(f"{name} {raw!r} is not one of {allowed(spec)} on a {spec.number}")
        return int(value)
    return resolve


INDEX: dict[str, IndexResolver] = {
    "input": _input,
    "output": _in("output", lambda s: s.outputs),
    "heater": _in("heater output", lambda s: s.heater_outputs),
    "voltage": _in("voltage output", lambda s: s.voltage_outputs),
    "relay": _in("relay", lambda s: (1, 2)),
    "field": _in("display field", lambda s: tuple(range(1, s.display_fields + 1))),
    "zone": _in("zone", lambda s: tuple(range(1, 11))),
}


@dataclass(frozen=True)
class Setting:
    mnemonic: str
    index: tuple[str, ...]               # keys of INDEX, in command order ("output", "zone")
    fields: Callable[[ModelSpec], tuple[Field, ...]]
    models: frozenset[int] = frozenset({335, 336})
    #: the query may omit the index (335 ``POLARITY?``); this index is used then
    implied_index: tuple[str, ...] = ()
    #: an extra check over the parsed (index, values), e.g. allowed modes per output
    check: Callable[[ModelSpec, tuple[Any, ...], list[Value]], None] | None = None
    #: the manual's name of the command, for documentation and error messages
    title: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def _inputs_or_none(spec: ModelSpec) -> int:
    return len(spec.inputs)


def _fixed(*fields: Field) -> Callable[[ModelSpec], tuple[Field, ...]]:
    return lambda spec: fields


def _outmode_check(spec: ModelSpec, index: tuple[Any, ...], values: list[Value]) -> None:
    output, mode = index[0], int(values[0])
    # monitor out (4) and warm-up supply (5) need a voltage output (336: 3, 4; 335: output 2)
    if mode >= 4 and output not in spec.voltage_outputs:
        raise ExecutionError(f"output mode {mode} needs a voltage output {spec.voltage_outputs}")


def _alarm_fields(spec: ModelSpec) -> tuple[Field, ...]:
    return (integer("off/on", 0, 1, 0), number("high value", -1e5, 1e5, 0.0),
            number("low value", -1e5, 1e5, 0.0), number("deadband", 0.0, 1e5, 0.0),
            integer("latch enable", 0, 1, 0), integer("audible", 0, 1, 0),
            integer("visible", 0, 1, 0))


def _analog_fields(spec: ModelSpec) -> tuple[Field, ...]:
    return (integer("input", 0, _inputs_or_none(spec), 0), integer("units", 1, 3, 1),
            number("high value", -1e5, 1e5, 100.0), number("low value", -1e5, 1e5, 0.0),
            integer("polarity", 0, 1, 0))


def _display_fields(spec: ModelSpec) -> tuple[Field, ...]:
    if spec.number == 335:  # DISPLAY <mode>, 0..7 (Input A ... Two Loop)
        return (integer("mode", 0, 7, 0),)
    return (integer("mode", 0, 10, 4), integer("number of fields", 0, 2, 1),
            integer("displayed output", 0, 4, 1))


def _brightness_fields(spec: ModelSpec) -> tuple[Field, ...]:
    # 335: display brightness 0 = 25 % .. 3 = 100 %; 336: LCD contrast 1..32
    return (integer("brightness", 0, 3, 3),) if spec.number == 335 else (
        integer("contrast", 1, 32, 28),)


def _zone_fields(spec: ModelSpec) -> tuple[Field, ...]:
    return (number("upper bound", 0.0, 1500.0, 0.0), number("P", 0.1, 1000.0, 50.0, "+.1f"),
            number("I", 0.1, 1000.0, 20.0, "+.1f"), number("D", 0.0, 200.0, 0.0, "+.1f"),
            number("mout", 0.0, 100.0, 0.0, "+.2f"), integer("range", 0, 3, 0),
            integer("input", 0, _inputs_or_none(spec), 0), number("rate", 0.0, 100.0, 0.0, "+.1f"))


def _net_fields(spec: ModelSpec) -> tuple[Field, ...]:
    return (integer("DHCP", 0, 1, 1), integer("auto IP", 0, 1, 0),
            text("IP", 15, "192.168.0.12"), text("subnet mask", 15, "255.255.255.0"),
            text("gateway", 15, "192.168.0.1"), text("primary DNS", 15, "0.0.0.0"),
            text("secondary DNS", 15, "0.0.0.0"), text("preferred host", 15, "LSCI-336"),
            text("preferred domain", 64, ""), text("description", 32, ""))


def _relay_fields(spec: ModelSpec) -> tuple[Field, ...]:
    return (integer("mode", 0, 2, 0), letter("input alarm", spec.inputs, "A"),
            integer("alarm type", 0, 2, 0))


def _outmode_defaults(spec: ModelSpec) -> tuple[Field, ...]:
    return (integer("mode", 0, 5, 1), integer("input", 0, _inputs_or_none(spec), 1),
            integer("powerup enable", 0, 1, 0))


SETTINGS: tuple[Setting, ...] = (
    Setting("ALARM", ("input",), _alarm_fields, title="Input Alarm Parameter"),
    Setting("ANALOG", ("voltage",), _analog_fields, title="Monitor Out Parameter"),
    Setting("BRIGT", (), _brightness_fields, title="Display Brightness / Contrast"),
    Setting("DIOCUR", ("input",), _fixed(integer("excitation", 0, 1, 0)),
            title="Diode Excitation Current (0 = 10 uA, 1 = 1 mA)"),
    Setting("DISPFLD", ("field",), lambda s: (integer("input", 0, len(s.inputs), 1),
                                               integer("units", 1, 6, 1)),
            title="Custom Mode Display Field"),
    Setting("DISPLAY", (), _display_fields, title="Display Setup"),
    Setting("EMUL", (), _fixed(integer("emulation", 0, 1, 0), integer("mode", 0, 9, 0)),
            models=frozenset({335}), title="Emulation Mode",
            notes=("not in the 335 manual rev. 1.3; the official lakeshore package sends "
                   "'EMUL 0,0' on connect to switch emulation off",)),
    Setting("FILTER", ("input",), _fixed(integer("off/on", 0, 1, 0), integer("points", 2, 64, 8),
                                         integer("window", 1, 10, 10)),
            title="Input Filter Parameter"),
    Setting("IEEE", (), _fixed(integer("address", 1, 30, 12)), title="IEEE-488 Interface"),
    Setting("INCRV", ("input",), _fixed(integer("curve", 0, 59, 2, width=2)),
            title="Input Curve Number"),
    Setting("INNAME", ("input",), _fixed(text("name", 15, "")), title="Sensor Input Name"),
    Setting("INTSEL", (), _fixed(integer("interface", 0, 2, 0)), models=frozenset({336}),
            title="Interface Select (0 USB, 1 Ethernet, 2 IEEE-488)"),
    Setting("INTYPE", ("input",), _fixed(integer("sensor type", 0, 4, 1),
                                         integer("autorange", 0, 1, 0), integer("range", 0, 8, 0),
                                         integer("compensation", 0, 1, 0),
                                         integer("units", 1, 3, 1)),
            title="Input Type Parameter"),
    Setting("LEDS", (), _fixed(integer("off/on", 0, 1, 1)), title="Front Panel LEDs"),
    Setting("LOCK", (), _fixed(integer("state", 0, 1, 0), integer("code", 0, 999, 123, width=3)),
            title="Front Panel Keyboard Lock"),
    Setting("MODE", (), _fixed(integer("mode", 0, 2, 0)),
            title="Remote Interface Mode (0 local, 1 remote, 2 remote + local lockout)"),
    Setting("MOUT", ("output",), _fixed(number("value", 0.0, 100.0, 0.0, "+07.2f")),
            title="Manual Output"),
    Setting("NET", (), _net_fields, models=frozenset({336}), title="Network Settings"),
    Setting("OPSTE", (), _fixed(integer("bit weighting", 0, 255, 0)),
            title="Operational Status Enable"),
    Setting("OUTMODE", ("output",), _outmode_defaults, check=_outmode_check,
            title="Output Mode"),
    Setting("PID", ("output",), _fixed(number("P", 0.1, 1000.0, 50.0, "+07.1f"),
                                       number("I", 0.1, 1000.0, 20.0, "+07.1f"),
                                       number("D", 0.0, 200.0, 0.0, "+06.1f")),
            title="Control Loop PID Values"),
    Setting("POLARITY", ("voltage",), _fixed(integer("polarity", 0, 1, 0)),
            models=frozenset({335}), implied_index=("2",), title="Output Voltage Polarity"),
    Setting("RELAY", ("relay",), _relay_fields, title="Relay Control Parameter"),
    Setting("TLIMIT", ("input",), _fixed(number("limit", 0.0, 2000.0, 0.0, "+08.3f")),
            title="Temperature Limit"),
    Setting("WARMUP", ("voltage",), _fixed(integer("control", 0, 1, 0),
                                           number("percentage", 0.0, 100.0, 0.0, "+.2f")),
            title="Warmup Supply Parameter"),
    Setting("WEBLOG", (), _fixed(text("username", 15, "user"), text("password", 15, "user")),
            models=frozenset({336}), title="Website Login Parameter"),
    Setting("ZONE", ("heater", "zone"), _zone_fields, title="Control Loop Zone Table"),
)

SETTINGS_BY_MNEMONIC: dict[str, Setting] = {s.mnemonic: s for s in SETTINGS}


def default_values(setting: Setting, spec: ModelSpec, index: tuple[Any, ...]) -> list[Value]:
    """Factory values; a few depend on the index (output n controls input n, names 'Input X')."""
    values = [f.default for f in setting.fields(spec)]
    if setting.mnemonic == "OUTMODE":
        output = index[0]
        # output 1 regulates input A in closed loop; the others are off, each on its own input
        values = [1, 1, 0] if output == 1 else [0, min(output, len(spec.inputs)), 0]
    elif setting.mnemonic == "INNAME":
        values = [f"Input {index[0]}"]
    return values


@dataclass
class SettingStore:
    """Values of every table setting of one controller, created on first use from defaults."""

    spec: ModelSpec
    values: dict[tuple[str, tuple[Any, ...]], list[Value]] = field(default_factory=dict)

    def get(self, mnemonic: str, index: tuple[Any, ...]) -> list[Value]:
        key = (mnemonic, index)
        if key not in self.values:
            self.values[key] = default_values(SETTINGS_BY_MNEMONIC[mnemonic], self.spec, index)
        return self.values[key]

    def value(self, mnemonic: str, index: tuple[Any, ...], name: str) -> Value:
        fields = SETTINGS_BY_MNEMONIC[mnemonic].fields(self.spec)
        position = [f.name for f in fields].index(name)
        return self.get(mnemonic, index)[position]

    def set(self, setting: Setting, index: tuple[Any, ...], params: list[str]) -> None:
        fields = setting.fields(self.spec)
        if len(params) > len(fields):
            raise CommandError(f"{setting.mnemonic} takes {len(fields)} values, got {len(params)}")
        # parse everything before storing anything: a bad field leaves the setting unchanged
        values = list(self.get(setting.mnemonic, index))
        for position, (spec_field, raw) in enumerate(zip(fields, params)):
            if raw.strip() != "":
                values[position] = spec_field.parse(raw)
        if setting.check is not None:
            setting.check(self.spec, index, values)
        self.values[(setting.mnemonic, index)] = values

    def show(self, setting: Setting, index: tuple[Any, ...]) -> str:
        fields = setting.fields(self.spec)
        return ",".join(f.show(v) for f, v in zip(fields, self.get(setting.mnemonic, index)))

    def reset(self) -> None:
        self.values.clear()


def resolve_index(setting: Setting, spec: ModelSpec, params: list[str], query: bool
                  ) -> tuple[tuple[Any, ...], list[str]]:
    """Split ``params`` into the setting's index key and its value fields."""
    count = len(setting.index)
    if query and not params and setting.implied_index:
        params = list(setting.implied_index)
    if len(params) < count:
        raise CommandError(f"{setting.mnemonic} needs {count} index parameter(s)")
    index = tuple(INDEX[kind](spec, raw) for kind, raw in zip(setting.index, params[:count]))
    rest = params[count:]
    if query and rest:
        raise CommandError(f"{setting.mnemonic}? takes only its index")
    if not query and not rest:
        raise CommandError(f"{setting.mnemonic} needs values")
    return index, rest
