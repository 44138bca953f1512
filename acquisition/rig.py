"""The rig: which instrument plays which role, the beam calibration, the safety limits, the sim sample.

A rig file is TOML (see docs/rig_config.md and ``default_rig_toml()``). Each role names a driver
and its address, or ``driver = "sim"`` for a simulated device on the virtual bench; a rig may mix
both. ``load_rig("sim")`` is the built-in fully simulated rig.

Every loader error is one line naming the file, the field, the value and what is allowed.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tomlkit

from drivers import interfaces as itf
from drivers.clock import Clock, RealClock
from drivers.registry import DRIVERS_FOR_ROLE, ROLES, create_driver
from acquisition.safe_state import SafeStateReport, is_connected, make_safe
from drivers.validation import check_range
from sim_backends.bench import Bench
from sim_backends.bench.config import BeamConfig, BenchConfig, SampleConfig, param
from sim_backends.clock import VirtualClock

log = logging.getLogger(__name__)

_I = TypeVar("_I", bound=itf.Instrument)

SIM_DRIVER = "sim"
#: a role with a real driver and this address talks, over a real socket, to the protocol emulator
#: of that role's simulated device on this rig's own bench (drivers + wire + emulator + physics)
EMULATOR_ADDRESS = "emulator"
CLOCKS = ("virtual", "real")
BUILTIN_SIM = "sim"
#: the order in which safe_state_all makes the rig safe: beams off first, detector protected next
SAFE_STATE_ORDER = ("pump", "pump_shutter", "control_shutter", "control_laser", "emission_shutter",
                    "chopper", "hwp", "nd_wheel", "control_attenuator", "xy_stage", "cryostat",
                    "counter", "tagger", "power_meter")


class RigConfigError(ValueError):
    """A rig file (or rig dict) that cannot be used; the message is one line."""


class RoleConnectionError(RigConfigError):
    """A role's instrument could not be connected (unreachable, wrong instrument at the address,
    refused handshake); the message is one line naming the role and its address."""

    def __init__(self, role: str, config: "RoleConfig | None", cause: BaseException) -> None:
        self.role = role
        address = config.address if config is not None else ""
        driver = config.driver if config is not None else "?"
        detail = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        super().__init__(f"roles.{role}.address={address!r} ({driver}): cannot connect: {detail}; "
                         "allowed: the address of a reachable, powered instrument of that model")


@dataclass
class RoleConfig:
    driver: str = SIM_DRIVER
    address: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class LimitsConfig:
    """Safety limits the acquisition engine enforces before it moves anything."""

    max_power_density_w_m2: float = param(1.5e8, 0.0, 1e10, "kW/cm2",
                                          "largest pump power density an experiment may set",
                                          toml_key="max_power_density_kw_cm2", toml_scale=1e7)
    max_count_rate_cps: float = param(5e6, 1.0, 1e9, "cps",
                                      "APD rate above which experiments close the emission shutter")
    temperature_band_k: float = param(0.5, 0.0, 100.0, "K",
                                      "half-width of the band around the setpoint counted as stable")
    temperature_stable_s: float = param(60.0, 0.0, 1e5, "s",
                                        "time the temperature must stay in the band before measuring")
    min_temperature_k: float = param(77.0, 0.0, 1000.0, "K",
                                     "lowest cryostat setpoint an experiment may ask for (the coolant "
                                     "bath: 77 K for LN2)")
    max_temperature_k: float = param(300.0, 0.0, 1000.0, "K",
                                     "highest cryostat setpoint an experiment may ask for")
    max_map_points: int = param(2500, 1, 1_000_000, "",
                                "most points one map or survey may visit (the stage's position "
                                "limits are options of the xy_stage role)")


def _default_roles() -> dict[str, RoleConfig]:
    return {role: RoleConfig() for role in ROLES}


@dataclass
class RigConfig:
    name: str = param("simulated ANP microscope", doc="name shown in the GUI and stored in runs")
    clock: str = param("virtual", choices=CLOCKS,
                       doc="virtual: waits advance simulated time; real: wall clock (lab, GUI)")
    roles: dict[str, RoleConfig] = field(default_factory=_default_roles)
    beam: BeamConfig = field(default_factory=BeamConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    sim: BenchConfig = field(default_factory=BenchConfig)

    @property
    def uses_sim(self) -> bool:
        return any(r.driver == SIM_DRIVER or r.address == EMULATOR_ADDRESS for r in self.roles.values())

    @property
    def temperature_range_k(self) -> tuple[float, float]:
        """Setpoints experiments may ask for: ``[limits]`` min/max temperature, and with a
        simulated (or emulated) cryostat never below its bath, which it cannot cool below."""
        low, high = self.limits.min_temperature_k, self.limits.max_temperature_k
        role = self.roles.get("cryostat")
        if role is not None and (role.driver == SIM_DRIVER or role.address == EMULATOR_ADDRESS):
            low = max(low, self.sim.cryostat.bath_temperature_k)
        return low, high

    @property
    def emulated_roles(self) -> list[str]:
        return [role for role, r in self.roles.items()
                if r.driver != SIM_DRIVER and r.address == EMULATOR_ADDRESS]

    def simulation_only_problem(self) -> str | None:
        """Why this rig cannot be re-created anywhere as a pure simulation (None: it can): a real
        or emulated role, or the wall clock."""
        hardware = [f"{role} ({r.driver}{' via emulator' if r.address == EMULATOR_ADDRESS else ''})"
                    for role, r in self.roles.items() if r.driver != SIM_DRIVER]
        if hardware:
            return f"roles {', '.join(hardware)} are not simulated"
        if self.clock != "virtual":
            return f"clock={self.clock!r}; a simulated rig on the virtual clock is needed"
        return None


# ---------------------------------------------------------------------------------------------
# dict <-> dataclass with validation
# ---------------------------------------------------------------------------------------------
def _fail(source: str, message: str) -> RigConfigError:
    return RigConfigError(f"{source}: {message}")


def _convert(source: str, path: str, f: dataclasses.Field, raw: Any) -> Any:
    meta = f.metadata
    kind = str(f.type)
    scale = meta.get("toml_scale", 1.0) or 1.0
    low, high, unit = meta.get("low"), meta.get("high"), meta.get("unit", "")
    choices = meta.get("choices")
    if kind.startswith("list"):
        if not isinstance(raw, list):
            raise _fail(source, f"{path}={raw!r} is not a list")
        if "str" in kind:
            if not all(isinstance(x, str) for x in raw):
                raise _fail(source, f"{path}={raw!r} must be a list of strings")
            return list(raw)
        values = []
        for i, x in enumerate(raw):
            values.append(_number(source, f"{path}[{i}]", x, low, high, unit, scale))
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else []
        if default and len(values) != len(default):
            raise _fail(source, f"{path}={raw!r} must have {len(default)} elements")
        return values
    if kind == "str":
        if not isinstance(raw, str):
            raise _fail(source, f"{path}={raw!r} is not a string")
        if choices is not None and raw not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise _fail(source, f"{path}={raw!r} is not allowed; allowed values: {allowed}")
        return raw
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _fail(source, f"{path}={raw!r} is not an integer; allowed range [{low}, {high}]")
        return int(_number(source, path, raw, low, high, unit, 1.0))
    if kind == "bool":
        if not isinstance(raw, bool):
            raise _fail(source, f"{path}={raw!r} is not true or false")
        return raw
    if kind.startswith("dict"):  # name -> number (what the names mean is checked by their user)
        if not isinstance(raw, dict):
            raise _fail(source, f"{path}={raw!r} must be a table of name = number")
        return {str(k): _number(source, f"{path}.{k}", v, None, None, "", 1.0) for k, v in raw.items()}
    return _number(source, path, raw, low, high, unit, scale)


def _number(source: str, path: str, raw: Any, low: float | None, high: float | None, unit: str,
            scale: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise _fail(source, f"{path}={raw!r} is not a number")
    lo = -math.inf if low is None else low / scale
    hi = math.inf if high is None else high / scale
    try:
        check_range(path, raw, lo, hi, unit)
    except ValueError as exc:
        raise _fail(source, str(exc)) from None
    return float(raw) * scale


def _dataclass_from_dict(cls: type, data: Any, source: str, path: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(source, f"{path} must be a table, got {data!r}")
    fields = {(f.metadata.get("toml_key") or f.name): f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        allowed = ", ".join(fields)
        raise _fail(source, f"{path}.{unknown[0]} is not a known field; allowed fields: {allowed}")
    values: dict[str, Any] = {}
    for key, raw in data.items():
        f = fields[key]
        sub_path = f"{path}.{key}" if path else key
        if dataclasses.is_dataclass(f.default_factory() if f.default_factory is not dataclasses.MISSING
                                    else None):
            values[f.name] = _dataclass_from_dict(f.default_factory().__class__, raw, source, sub_path)
        else:
            values[f.name] = _convert(source, sub_path, f, raw)
    return cls(**values)


def _roles_from_dict(data: Any, source: str) -> dict[str, RoleConfig]:
    if not isinstance(data, dict):
        raise _fail(source, f"roles must be a table of [roles.<role>] tables, got {data!r}")
    roles: dict[str, RoleConfig] = {}
    for role, entry in data.items():
        if role not in ROLES:
            allowed = ", ".join(ROLES)
            raise _fail(source, f"roles.{role} is not a known role; allowed roles: {allowed}")
        if not isinstance(entry, dict):
            raise _fail(source, f"roles.{role} must be a table with driver and address")
        unknown = [k for k in entry if k not in ("driver", "address", "options")]
        if unknown:
            raise _fail(source, f"roles.{role}.{unknown[0]} is not a known field; "
                                f"allowed fields: driver, address, options")
        driver = entry.get("driver", SIM_DRIVER)
        allowed_drivers = (SIM_DRIVER, *DRIVERS_FOR_ROLE[role])
        if driver not in allowed_drivers:
            listed = ", ".join(repr(d) for d in allowed_drivers)
            raise _fail(source, f"roles.{role}.driver={driver!r} is not allowed; allowed values: {listed}")
        address = entry.get("address", "")
        if not isinstance(address, str):
            raise _fail(source, f"roles.{role}.address={address!r} is not a string")
        if driver != SIM_DRIVER and not address:
            raise _fail(source, f"roles.{role}.address is missing; driver {driver!r} needs an address")
        options = entry.get("options", {})
        if not isinstance(options, dict):
            raise _fail(source, f"roles.{role}.options={options!r} must be a table")
        roles[role] = RoleConfig(driver, address, dict(options))
    return roles


def rig_config_from_dict(data: dict[str, Any], source: str = "<rig>") -> RigConfig:
    """Validate a parsed rig file. Missing sections and fields take their defaults; a file that
    has a [roles] table configures exactly the roles it lists."""
    known = ("rig", "roles", "beam", "limits", "sample", "sim")
    for key in data:
        if key not in known:
            raise _fail(source, f"[{key}] is not a known section; allowed sections: {', '.join(known)}")
    header = _dataclass_from_dict(_RigHeader, data.get("rig", {}), source, "rig")
    config = RigConfig(name=header.name, clock=header.clock)
    if "roles" in data:
        config.roles = _roles_from_dict(data["roles"], source)
    config.beam = _dataclass_from_dict(BeamConfig, data.get("beam", {}), source, "beam")
    config.limits = _dataclass_from_dict(LimitsConfig, data.get("limits", {}), source, "limits")
    config.sample = _dataclass_from_dict(SampleConfig, data.get("sample", {}), source, "sample")
    config.sim = _dataclass_from_dict(BenchConfig, data.get("sim", {}), source, "sim")
    _check_consistency(config, source)
    return config


@dataclass
class _RigHeader:
    name: str = dataclasses.field(default="simulated ANP microscope",
                                  metadata=RigConfig.__dataclass_fields__["name"].metadata)
    clock: str = dataclasses.field(default="virtual",
                                   metadata=RigConfig.__dataclass_fields__["clock"].metadata)


def _check_consistency(config: RigConfig, source: str) -> None:
    if not config.name.strip():
        raise _fail(source, f"rig.name={config.name!r} is empty; allowed: a non-empty name (it is "
                            "shown in the GUI, stored in runs and keys the rig's stored calibrations)")
    c = config.sim.control_laser
    if c.min_wavelength_m >= c.max_wavelength_m:
        raise _fail(source, f"sim.control_laser.min_wavelength_m={c.min_wavelength_m:g} must be below "
                            f"max_wavelength_m={c.max_wavelength_m:g}")
    if not c.min_wavelength_m <= c.start_wavelength_m <= c.max_wavelength_m:
        raise _fail(source, f"sim.control_laser.start_wavelength_m={c.start_wavelength_m:g} is outside "
                            f"[{c.min_wavelength_m:g}, {c.max_wavelength_m:g}] m")
    m = config.sim.power_meter
    if m.min_wavelength_m >= m.max_wavelength_m:
        raise _fail(source, f"sim.power_meter.min_wavelength_m={m.min_wavelength_m:g} must be below "
                            f"max_wavelength_m={m.max_wavelength_m:g}")
    lim = config.limits
    if lim.min_temperature_k >= lim.max_temperature_k:
        raise _fail(source, f"limits.min_temperature_k={lim.min_temperature_k:g} K must be below "
                            f"max_temperature_k={lim.max_temperature_k:g} K")
    if config.uses_sim:
        _check_sample(config.sample, source)


def _check_sample(sample: SampleConfig, source: str) -> None:
    """Material, dopant fraction and knock-outs are checked by the physics that will use them."""
    from sim_backends.physics import get_material
    from sim_backends.physics.parameters import with_parameters

    try:
        with_parameters(get_material(sample.material, dopant_fraction=sample.dopant_fraction,
                                     knockouts=tuple(sample.knockouts)), dict(sample.parameters))
    except (KeyError, ValueError) as exc:
        raise _fail(source, f"sample: {str(exc).splitlines()[0].strip(chr(34) + chr(39))}") from None


def sample_with_overrides(base: SampleConfig, overrides: dict[str, Any],
                          source: str = "sample") -> SampleConfig:
    """``base`` with the ``[sample]`` fields in ``overrides`` (rig-file keys and units) replaced,
    checked like a rig file's ``[sample]`` table; RigConfigError (one line) otherwise."""
    parsed = _dataclass_from_dict(SampleConfig, dict(overrides), source, "sample")
    by_key = {(f.metadata.get("toml_key") or f.name): f.name for f in dataclasses.fields(SampleConfig)}
    sample = dataclasses.replace(copy.deepcopy(base),
                                 **{by_key[k]: getattr(parsed, by_key[k]) for k in overrides})
    _check_sample(sample, source)
    return sample


def config_to_dict(config: RigConfig) -> dict[str, Any]:
    """Full configuration in SI units (for storing in run files)."""
    data = dataclasses.asdict(config)
    return {"rig": {"name": data.pop("name"), "clock": data.pop("clock")}, **data}


# ---------------------------------------------------------------------------------------------
# TOML rendering (with comments, copy-and-edit-able)
# ---------------------------------------------------------------------------------------------
def _toml_value(value: Any) -> Any:
    """``value`` as a TOML item (tomlkit escapes strings; non-finite numbers are refused)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"value={value!r} cannot be written to TOML; allowed: finite numbers")
    if isinstance(value, (list, tuple)):
        return [_toml_value(v) for v in value]
    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        inline.update({str(k): _toml_value(v) for k, v in value.items()})
        return inline
    if value is None or not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"value={value!r} cannot be written to TOML")
    return value


def _toml_text(value: Any) -> str:
    """The TOML spelling of ``value`` (for a commented-out example line)."""
    return tomlkit.item(_toml_value(value)).as_string()


def _field_comment(f: dataclasses.Field) -> str:
    meta = f.metadata
    parts = [meta.get("doc", "")]
    if meta.get("choices"):
        parts.append("one of " + ", ".join(repr(c) for c in meta["choices"]))
    elif meta.get("low") is not None:
        scale = meta.get("toml_scale", 1.0) or 1.0
        low, high = meta["low"] / scale, meta["high"] / scale
        bounds = f"[{int(low)}, {int(high)}]" if str(f.type) == "int" else f"[{low:g}, {high:g}]"
        parts.append(bounds + (f" {meta['unit']}" if meta["unit"] else ""))
    return " ; ".join(p for p in parts if p)


def _render_table(document: Any, title: str, obj: Any, comments: bool) -> None:
    """One dataclass as a TOML table (its nested dataclasses as sub-tables after it), each field
    with its documented range as a comment; a field that is not set is a commented example."""
    table = tomlkit.table()
    nested = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            nested.append((f.name, value))
            continue
        key = f.metadata.get("toml_key") or f.name
        if comments and f.metadata.get("doc"):
            table.add(tomlkit.comment(_field_comment(f)))
        if value is None:
            example = f.metadata.get("example")
            table.add(tomlkit.comment(f"{key} = {_toml_text(example) if example is not None else '...'}"))
            continue
        scale = f.metadata.get("toml_scale", 1.0) or 1.0
        table.add(key, _toml_value(value / scale if scale != 1.0 else value))
    _add_table(document, title, table)
    for name, sub in nested:
        _render_table(document, f"{title}.{name}", sub, comments)


def _add_table(document: Any, dotted: str, table: Any) -> None:
    """``table`` at ``dotted`` (``sim.optics``) as its own ``[sim.optics]`` section."""
    parent = document
    *outer, last = dotted.split(".")
    for name in outer:
        if name not in parent:
            parent.add(name, tomlkit.table(is_super_table=True))
        parent = parent[name]
    table.add(tomlkit.nl())
    parent.add(last, table)


def render_rig_toml(config: RigConfig, comments: bool = True) -> str:
    """The rig file of ``config`` (tomlkit: escaped values, comments kept where they belong)."""
    document = tomlkit.document()
    if comments:
        for line in ("avalab rig file. SI units (W, m, s, K); angles in degrees; power density limit in kW/cm2.",
                     "Each [roles.<role>] names a driver and its address, or driver = \"sim\" for a device",
                     "on the virtual bench. Leave a role out if the rig does not have it.",
                     "[sample] and [sim.*] only matter for simulated roles. See docs/rig_config.md."):
            document.add(tomlkit.comment(line))
        document.add(tomlkit.nl())
    rig = tomlkit.table()
    for name in ("name", "clock"):
        if comments:
            rig.add(tomlkit.comment(_field_comment(RigConfig.__dataclass_fields__[name])))
        rig.add(name, getattr(config, name))
    rig.add(tomlkit.nl())
    document.add("rig", rig)
    roles = tomlkit.table(is_super_table=True)
    for role, rc in config.roles.items():
        table = tomlkit.table()
        if comments:
            table.add(tomlkit.comment(f"{ROLES[role].__name__}; drivers: "
                                      + ", ".join(repr(d) for d in (SIM_DRIVER, *DRIVERS_FOR_ROLE[role]))))
        table.add("driver", rc.driver)
        table.add("address", rc.address)
        if rc.options:
            table.add("options", _toml_value(rc.options))
        table.add(tomlkit.nl())
        roles.add(role, table)
    document.add("roles", roles)
    for title, section in (("beam", config.beam), ("limits", config.limits), ("sample", config.sample),
                           ("sim", config.sim)):
        _render_table(document, title, section, comments)
    return tomlkit.dumps(document).rstrip() + "\n"


def default_rig_toml() -> str:
    """The built-in simulated rig as a commented TOML file (what ``avalab rig show`` prints)."""
    return render_rig_toml(RigConfig(), comments=True)


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
def load_rig_config(source: str | Path) -> RigConfig:
    if isinstance(source, str) and source == BUILTIN_SIM:
        return RigConfig()
    path = Path(source)
    if not path.is_file():
        raise RigConfigError(f"{path}: rig file not found; give an existing TOML file or "
                             f"{BUILTIN_SIM!r} for the built-in simulated rig")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RigConfigError(f"{path}: malformed TOML: {str(exc).splitlines()[0]}") from None
    return rig_config_from_dict(data, str(path))


def make_clock(kind: str) -> Clock:
    if kind not in CLOCKS:
        raise ValueError(f"clock={kind!r} is not allowed; allowed values: {', '.join(map(repr, CLOCKS))}")
    return VirtualClock() if kind == "virtual" else RealClock()


def load_rig(source: str | Path, clock: str | Clock | None = None) -> "Rig":
    """Build (not connect) a rig: ``"sim"`` for the built-in simulated rig, or a TOML file path.

    ``clock`` overrides the file's choice: "virtual", "real", or a Clock object to share.
    """
    config = load_rig_config(source)
    if isinstance(clock, str):
        if clock not in CLOCKS:
            raise ValueError(f"clock={clock!r} is not allowed; allowed values: "
                             f"{', '.join(map(repr, CLOCKS))}")
        config.clock = clock
    source_name = str(source)
    return Rig(config, clock=clock if isinstance(clock, Clock) else None, source=source_name)


@dataclass(frozen=True)
class SimulationStart:
    """Where a fully simulated rig starts afresh (``Rig.restart_simulation``): the virtual time,
    the cryostat temperature, film position and sample-stage position left by what came before,
    and the stream of instrument noise to draw from."""

    noise_stream: int
    time_s: float = 0.0
    temperature_k: float | None = None
    film_position_m: tuple[float, float] | None = None
    #: (x, y) of the sample stage (m, stage coordinates); None: the stage's reference position
    stage_m: tuple[float, float] | None = None
    #: ``[sample]`` fields replaced for this start (rig-file keys and units), e.g. a study's
    #: dopant fraction or knock-outs
    sample: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# the rig object
# ---------------------------------------------------------------------------------------------
class Rig:
    """Configured instruments plus, for simulated roles, the bench they live on."""

    @property
    def pump(self) -> itf.PumpLaser | None:
        return self._role("pump", itf.PumpLaser)

    @property
    def hwp(self) -> itf.RotationStage | None:
        return self._role("hwp", itf.RotationStage)

    @property
    def nd_wheel(self) -> itf.RotationStage | None:
        return self._role("nd_wheel", itf.RotationStage)

    @property
    def power_meter(self) -> itf.PowerMeter | None:
        return self._role("power_meter", itf.PowerMeter)

    @property
    def counter(self) -> itf.PhotonCounter | None:
        return self._role("counter", itf.PhotonCounter)

    @property
    def tagger(self) -> itf.TimeTagger | None:
        return self._role("tagger", itf.TimeTagger)

    @property
    def chopper(self) -> itf.Chopper | None:
        return self._role("chopper", itf.Chopper)

    @property
    def cryostat(self) -> itf.TemperatureController | None:
        return self._role("cryostat", itf.TemperatureController)

    @property
    def control_laser(self) -> itf.ControlLaser | None:
        return self._role("control_laser", itf.ControlLaser)

    @property
    def control_attenuator(self) -> itf.RotationStage | None:
        return self._role("control_attenuator", itf.RotationStage)

    @property
    def pump_shutter(self) -> itf.Shutter | None:
        return self._role("pump_shutter", itf.Shutter)

    @property
    def control_shutter(self) -> itf.Shutter | None:
        return self._role("control_shutter", itf.Shutter)

    @property
    def emission_shutter(self) -> itf.Shutter | None:
        return self._role("emission_shutter", itf.Shutter)

    @property
    def xy_stage(self) -> itf.XYStage | None:
        return self._role("xy_stage", itf.XYStage)

    def __init__(self, config: RigConfig, clock: Clock | None = None, source: str = "<rig>") -> None:
        from sim_backends.devices import SIM_ADDRESS, build_sim_device

        self.config = config
        #: the configuration as loaded (a run moves the film position in ``config``)
        self._loaded_config = copy.deepcopy(config)
        self.source = source
        self.clock: Clock = clock or make_clock(config.clock)
        self.bench: Bench | None = None
        if config.uses_sim:
            self.bench = Bench(config.beam, config.sample, config.sim, self.clock)
        self.instruments: dict[str, itf.Instrument] = {}
        #: roles connected through this rig at least once (safe_state_all covers these)
        self._ever_connected: set[str] = set()
        self._emulators: Any = None
        for role, rc in config.roles.items():
            if rc.driver == SIM_DRIVER or rc.address == EMULATOR_ADDRESS:
                # an emulated role starts as the simulated device its emulator will wrap
                try:
                    self.instruments[role] = build_sim_device(
                        role, self.bench,
                        SIM_ADDRESS if rc.driver != SIM_DRIVER else rc.address or SIM_ADDRESS,
                        rc.options)
                except (TypeError, ValueError) as exc:
                    raise RigConfigError(f"{source}: roles.{role}: {str(exc).splitlines()[0]}") from None
                continue
            try:
                self.instruments[role] = create_driver(role, rc.driver, rc.address, self.clock,
                                                       **rc.options)
            except (ImportError, AttributeError) as exc:
                raise RigConfigError(f"{source}: roles.{role}.driver={rc.driver!r} cannot be loaded "
                                     f"({exc}); allowed: an installed driver or 'sim'") from None
            except (TypeError, ValueError) as exc:
                raise RigConfigError(f"{source}: roles.{role}: {str(exc).splitlines()[0]}") from None
        if config.emulated_roles:
            self._attach_emulators(config, source)

    def _attach_emulators(self, config: RigConfig, source: str) -> None:
        from sim_backends.emulators.bench_server import (
            attach_emulated_drivers,
            emulated_drivers,
            emulation_for,
        )

        drivers = {role: config.roles[role].driver for role in config.emulated_roles}
        for role, driver in drivers.items():
            if emulation_for(role, driver) is None:
                choices = emulated_drivers(role)
                allowed = (f"driver {' or '.join(map(repr, choices))}" if choices
                           else "no driver (this role has no wire protocol)")
                raise RigConfigError(f"{source}: roles.{role}.address='{EMULATOR_ADDRESS}' needs {allowed}; "
                                     f"got driver {driver!r}")
        self._emulators = attach_emulated_drivers(self, config.emulated_roles, drivers=drivers)

    @property
    def loaded_config(self) -> RigConfig:
        """A copy of the configuration as loaded (before any run moved the film position or
        restarted the simulation): what re-creates this rig elsewhere."""
        return copy.deepcopy(self._loaded_config)

    def restart_simulation(self, start: SimulationStart) -> None:
        """Make this fully simulated rig as if switched on afresh at ``start``: a new virtual
        clock, a new bench (cryostat and focus where ``start`` says, instrument noise from its
        stream) and new simulated devices on it. A campaign unit run this way gives the same
        figures whichever process runs it and whatever ran before it. Only between runs."""
        from sim_backends.devices import SIM_ADDRESS, build_sim_device

        problem = self.config.simulation_only_problem()
        if problem is not None:
            raise RuntimeError(f"rig {self.config.name!r} cannot restart as a simulation: {problem}")
        config = copy.deepcopy(self._loaded_config)
        if start.sample:
            config.sample = sample_with_overrides(config.sample, start.sample, f"{self.source}: sample")
        if start.temperature_k is not None:
            config.sim.cryostat.start_temperature_k = float(start.temperature_k)
        if start.film_position_m is not None:
            config.sample.film_position_m = [float(start.film_position_m[0]),
                                             float(start.film_position_m[1])]
        self.close_all()
        self.config = config
        self.clock = VirtualClock(start.time_s)
        self.bench = Bench(config.beam, config.sample, config.sim, self.clock,
                           noise_stream=start.noise_stream, stage_m=start.stage_m)
        self.instruments = {role: build_sim_device(role, self.bench, rc.address or SIM_ADDRESS)
                            for role, rc in config.roles.items()}

    def stop_emulators(self) -> None:
        """Stop the emulators of roles with ``address = "emulator"`` (after close_all)."""
        if self._emulators is not None:
            self._emulators.close()
            self._emulators = None

    def _role(self, role: str, interface: type[_I]) -> _I | None:
        instrument = self.instruments.get(role)
        return instrument if isinstance(instrument, interface) else None

    # --- life cycle ---------------------------------------------------------------------------
    def connect_all(self) -> None:
        """Connect every instrument; on a failure close the ones already connected and raise
        RoleConnectionError naming the role and its address (the cause chained)."""
        connected: list[itf.Instrument] = []
        for role, instrument in self.instruments.items():
            try:
                instrument.connect()
            except Exception as exc:
                for done in connected:
                    _close_quietly(done)
                raise RoleConnectionError(role, self.config.roles.get(role), exc) from exc
            connected.append(instrument)
            self._ever_connected.add(role)

    def close_all(self) -> None:
        for instrument in self.instruments.values():
            _close_quietly(instrument)

    def safe_state_all(self) -> SafeStateReport:
        """Put every instrument in its safe state, beams first; each one read back where it can
        report its state and, on a failure, retried once after reconnecting. Never raises:
        the report says, per role, None (safe) or why it is not known to be safe.

        A role this rig never connected (and that is not connected) is left alone: nothing
        here has changed its state, and an unreachable instrument must not hold up the exit."""
        report = SafeStateReport()
        ordered = [r for r in SAFE_STATE_ORDER if r in self.instruments]
        ordered += [r for r in self.instruments if r not in ordered]
        for role in ordered:
            instrument = self.instruments[role]
            if role not in self._ever_connected and not is_connected(instrument):
                log.info("%s: never connected; safe state not needed", role)
                report[role] = None
                continue
            report[role] = make_safe(role, instrument)
        if not report.ok:
            # the CLI prints its own "avalab: SAFE STATE FAILED ..." line; the GUI raises an alarm
            log.error("%s", report.message, extra={"reported_by_cli": True})
        return report

    def identities(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for role, instrument in self.instruments.items():
            try:
                out[role] = instrument.identify()
            except Exception as exc:  # an identity table must list every role, failed ones too
                out[role] = f"error: {exc}"
        return out

    # --- configuration ------------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        return config_to_dict(self.config)

    def to_toml(self) -> str:
        return render_rig_toml(self.config, comments=False)

    # --- simulation helpers -------------------------------------------------------------------
    def set_film_position(self, x_m: float, y_m: float) -> None:
        """Simulated rig: move the focus to another spot of the film (new, seeded particles)."""
        x_m = check_range("film_position_x_m", x_m, -0.1, 0.1, "m")
        y_m = check_range("film_position_y_m", y_m, -0.1, 0.1, "m")
        if self.bench is None:
            raise RuntimeError("set_film_position needs a simulated sample; this rig has no sim roles")
        self.bench.set_film_position(x_m, y_m)

    def sim_device(self, role: str) -> itf.Instrument:
        """A (new) simulated device for ``role`` on this rig's bench, e.g. for a protocol emulator
        whose real driver then replaces the in-process device via ``use_instrument``."""
        from sim_backends.devices import build_sim_device

        if self.bench is None:
            raise RuntimeError("sim_device needs a bench; this rig has no sim roles")
        return build_sim_device(role, self.bench)

    def use_instrument(self, role: str, instrument: itf.Instrument) -> None:
        """Put ``instrument`` in ``role`` (it must implement the role's interface)."""
        if role not in ROLES:
            raise ValueError(f"role={role!r} is not allowed; allowed values: {', '.join(ROLES)}")
        if not isinstance(instrument, ROLES[role]):
            raise TypeError(f"{type(instrument).__name__} does not implement {ROLES[role].__name__}")
        self.instruments[role] = instrument


def _close_quietly(instrument: itf.Instrument) -> None:
    try:
        instrument.close()
    except Exception as exc:  # closing must never mask the reason we are closing
        log.warning("%s: close failed: %s", instrument.name, exc)
