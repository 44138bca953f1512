"""Campaign files: a TOML list of steps with loops and variables, and the same as a Python API.

```toml
name = "film-71-spots"
description = "71 spots across the film, one up/down sweep each"

[vars]
pitch_um = 5.0

[[step]]
label = "spot sweep"
loop = { spot = "${range(71)}" }                       # Cartesian product if several
position_um = ["${pitch_um * (spot % 9)}", "${pitch_um * (spot // 9)}"]
experiment = "sweep"
params = { start_kw_cm2 = 2.0, stop_kw_cm2 = 9.0, points = 36, dwell_s = 0.1 }
```

A step may set ``temperature_k`` (cryostat setpoint, then wait until stable; ``ramp_k_per_min``
optional), ``position_um`` (film position), ``stage_mm`` (sample-stage position), ``wait_s``, and
run one ``experiment`` with ``params``; they happen in that order for every combination of the
``loop`` variables (``repeat = n`` adds a ``repeat`` variable 0..n-1). ``"${...}"`` strings are
expressions over ``[vars]`` and loop variables. A top-level ``stage_mm = [x, y]`` is the stage
home: a unit without its own ``stage_mm`` (and whose experiment does not move the stage) runs
there, not where the unit before it left the stage (acquisition.campaigns.stage_home).

``load_campaign`` reports every problem of a file at once (CampaignError.errors), each with its
line and field, before any instrument is touched. A campaign has at most ``MAX_UNITS`` units; the
loop lengths are multiplied out before anything is expanded.
"""
from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acquisition.campaigns.expressions import MAX_LIST_LENGTH, ExpressionError, resolve
from acquisition.interlocks import setpoint_error

TOP_LEVEL_KEYS = ("name", "description", "rig", "stage_mm", "vars", "step")
STEP_KEYS = ("label", "loop", "repeat", "temperature_k", "ramp_k_per_min", "position_um",
             "stage_mm", "wait_s", "experiment", "params", "sample")
TEMPERATURE_RANGE_K = (1.0, 400.0)
RAMP_RANGE_K_PER_MIN = (0.01, 50.0)
POSITION_LIMIT_UM = 10_000.0
#: sample-stage coordinates a campaign may name (the rig's xy_stage limits are checked too)
STAGE_LIMIT_MM = 100.0
WAIT_RANGE_S = (0.0, 86_400.0)
#: units in one campaign (all steps together); 100000 sweeps are months of rig time
MAX_UNITS = MAX_LIST_LENGTH
#: string parameters that hold JSON text (temperature_series' params_json): a TOML table given
#: for one is passed on as its JSON text, ``params_json = { points = 30 }``
JSON_TEXT_PARAMETERS = ("params_json",)


class CampaignError(ValueError):
    """A campaign file has errors; ``errors`` lists every one (``line N: field: problem``)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass
class Step:
    """One campaign step (see the module docstring). Values may be ``"${...}"`` templates."""

    experiment: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    loop: dict[str, Any] = field(default_factory=dict)
    repeat: int = 1
    temperature_k: Any = None
    ramp_k_per_min: Any = None
    position_um: Any = None
    #: sample-stage position [x, y] in mm (stage coordinates; moved through the engine)
    stage_mm: Any = None
    wait_s: Any = None
    label: str = ""
    #: simulated rig only: ``[sample]`` fields for this step's units (material, dopant_fraction,
    #: knockouts, heterogeneity, ...), e.g. the axes of a parameter study
    sample: dict[str, Any] = field(default_factory=dict)


@dataclass
class Campaign:
    name: str
    steps: list[Step]
    description: str = ""
    rig: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    #: the stage home [x, y] in mm: where units without their own ``stage_mm`` run (None: where
    #: the stage was when the campaign started; acquisition.campaigns.stage_home)
    stage_mm: Any = None


@dataclass(frozen=True)
class Unit:
    """One concrete thing to do: a step with every variable bound. ``key`` is stable across runs."""

    key: str
    step_index: int
    label: str
    variables: Mapping[str, Any]
    temperature_k: float | None
    ramp_k_per_min: float | None
    position_um: tuple[float, float] | None
    wait_s: float
    experiment: str | None
    params: Mapping[str, Any]
    sample: Mapping[str, Any] = field(default_factory=dict)
    stage_mm: tuple[float, float] | None = None


# ------------------------------------------------------------------------------------ line finder
class _LineFinder:
    """Best-effort line numbers for (step index, field path) in the TOML text."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-]+)\s*\]?\]\s*(#.*)?$")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.owner: list[tuple[str, int | None]] = []  # per line: (table, step index)
        table, step = "", None
        steps = -1
        for line in self.lines:
            header = self._HEADER.match(line)
            if header:
                table = header.group(1)
                if line.strip().startswith("[[") and table == "step":
                    steps += 1
                step = steps if table.split(".")[0] == "step" else None
            self.owner.append((table, step))

    def find(self, step: int | None, path: Iterable[str]) -> int:
        parts = list(path)
        candidates = [i for i, (_, s) in enumerate(self.owner) if s == step]
        if step is None:
            candidates = [i for i, (t, s) in enumerate(self.owner) if s is None]
        for key in reversed(parts):
            pattern = re.compile(rf"(^|[\s{{,]){re.escape(key)}\s*=")
            for i in candidates:
                if pattern.search(self.lines[i]):
                    return i + 1
        if step is not None:
            headers = [i for i in candidates if self.lines[i].strip().startswith("[[")]
            if headers:
                return headers[0] + 1
        return 1


# ------------------------------------------------------------------------------------ loading
def load_campaign(path: str | Path, experiment_names: Iterable[str] | None = None,
                  schema_check: "SchemaCheck | None" = None,
                  overrides: Mapping[str, Any] | None = None,
                  temperature_range_k: tuple[float, float] | None = None) -> Campaign:
    """Read and validate a campaign file; CampaignError with every problem found.

    ``overrides`` replace ``[vars]`` entries (``avalab campaign --set n_spots=5``);
    ``temperature_range_k`` is the rig's allowed cryostat setpoints (its ``[limits]``)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignError([f"file={str(source)!r}: cannot be read ({exc.strerror})"]) from None  # no line
    except UnicodeDecodeError as exc:
        raise CampaignError([f"file={str(source)!r}: is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                             f"at offset {exc.start}); allowed: a UTF-8 encoded TOML file"]) from None
    return parse_campaign(text, source, experiment_names, schema_check, overrides, temperature_range_k)


SchemaCheck = Any  # Callable[[str, dict], list[str]]: experiment name, params -> errors
#: Callable[[dict], str | None]: a unit's resolved ``sample`` table -> its problem (one line)
SampleCheck = Any


def parse_campaign(text: str, source: Path | None = None,
                   experiment_names: Iterable[str] | None = None,
                   schema_check: SchemaCheck | None = None,
                   overrides: Mapping[str, Any] | None = None,
                   temperature_range_k: tuple[float, float] | None = None) -> Campaign:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError([f"{exc} (TOML syntax)"]) from None
    finder = _LineFinder(text)
    errors: list[str] = []

    def error(step: int | None, path: list[str], message: str) -> None:
        name = ".".join(([f"step[{step + 1}]"] if step is not None else []) + path)
        errors.append(f"line {finder.find(step, path)}: {name}: {message}")

    for key in data:
        if key not in TOP_LEVEL_KEYS:
            error(None, [key], f"unknown key; allowed: {', '.join(TOP_LEVEL_KEYS)}")
    name = data.get("name")
    name_problem = campaign_name_problem(name)
    if name_problem is not None:
        error(None, ["name"], name_problem)
    rig = data.get("rig")
    if rig is not None and (not isinstance(rig, str) or not rig.strip()):
        error(None, ["rig"], f"rig={_override_text(rig)} must be the text 'sim' or a rig file path; "
                             "allowed: rig = \"sim\" or rig = \"my_rig.toml\"")
        rig = None
    variables = data.get("vars", {})
    if not isinstance(variables, dict):
        error(None, ["vars"], "must be a table of name = value")
        variables = {}
    for var, value in (overrides or {}).items():
        if var not in variables:
            errors.append(f"--set {var}={_override_text(value)}: no such variable; allowed: "
                          f"{', '.join(variables) or 'none (the file has no [vars])'}")
        else:
            variables[var] = value
    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list) or not raw_steps:
        error(None, ["step"], "at least one [[step]] is required")
        raw_steps = []
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        if not isinstance(raw, dict):
            error(None, ["step"], f"step entry {index + 1} is {_override_text(raw)}; allowed: a [[step]] table")
            continue
        unknown = [k for k in raw if k not in STEP_KEYS]
        for key in unknown:
            error(index, [key], f"unknown key; allowed: {', '.join(STEP_KEYS)}")
        steps.append(Step(**{k: v for k, v in raw.items() if k in STEP_KEYS}))
    campaign = Campaign(name=name if isinstance(name, str) else "", steps=steps,
                        description=str(data.get("description", "")), rig=rig,
                        variables=variables, source=source, stage_mm=data.get("stage_mm"))
    for index, path, message in validate_campaign(campaign, experiment_names, schema_check, temperature_range_k):
        error(index, path, message)
    if errors:
        raise CampaignError(errors)
    return campaign


#: what a campaign name may be: it names the campaign's folder (campaigns/<name>)
NAME_ALLOWED = ("allowed: a file name (letters, digits, spaces, - _ . +), not a path: no / or \\, "
                "not . or .., at most 100 characters")
_NAME_CHARACTERS = re.compile(r"^[A-Za-z0-9 _.+-]+$")


def campaign_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a campaign folder (None: it can). A name is a file name, never
    a path: ``../../x`` or ``/tmp/x`` would put the campaign outside ``campaigns/``."""
    if not isinstance(name, str) or not name.strip():
        return f"name={_override_text(name)} must be a non-empty string; {NAME_ALLOWED}"
    if name in (".", "..") or name != name.strip() or len(name) > 100 or not _NAME_CHARACTERS.match(name):
        return f"name={name!r} is not a plain file name; {NAME_ALLOWED}"
    return None


# ------------------------------------------------------------------------------------ validation
def validate_campaign(campaign: Campaign, experiment_names: Iterable[str] | None = None,
                      schema_check: SchemaCheck | None = None,
                      temperature_range_k: tuple[float, float] | None = None
                      ) -> list[tuple[int | None, list[str], str]]:
    """Every problem as (step index or None, field path, message); empty when the campaign is valid."""
    problems: list[tuple[int | None, list[str], str]] = []
    known_experiments = set(experiment_names) if experiment_names is not None else None
    bound: dict[str, Any] = {}
    for var, value in campaign.variables.items():
        try:
            bound[var] = resolve(value, bound)
        except ExpressionError as exc:
            problems.append((None, ["vars", var], str(exc)))
    problems += [(None, path, message) for path, message in _stage_problems(campaign.stage_mm, schema_check)]
    total = 0
    for index, step in enumerate(campaign.steps):
        count, size_problems = _unit_count(step, bound)
        # a step without units (its loops are wrong: reported below, as they are) brings nothing
        if not size_problems and count and total + count > MAX_UNITS:
            size_problems = [(["loop"] if step.loop else ["repeat"] if step.repeat != 1 else [],
                              f"this step brings the campaign to {total + count} units; "
                              f"allowed at most {MAX_UNITS} units per campaign")]
        total += count
        if size_problems:  # never expanded: its units would not fit in memory or in a lifetime
            problems += [(index, path, msg) for path, msg in size_problems]
            continue
        problems += [(index, path, msg) for path, msg in _step_problems(
            step, bound, known_experiments, schema_check, temperature_range_k)]
    return problems


def _unit_count(step: Step, variables: dict[str, Any]) -> tuple[int, list[tuple[list[str], str]]]:
    """How many units a step gives (loop lengths multiplied, nothing expanded); a problem when
    that is above ``MAX_UNITS``. Loop problems themselves are reported by ``_step_problems``."""
    loop_values, problems = _loop_values(step, variables)
    if problems:
        return 0, []
    count = 1
    for values in loop_values.values():
        count *= len(values)
    if count <= MAX_UNITS:
        return count, []
    sizes = " x ".join(f"{name} {len(values)}" for name, values in loop_values.items())
    path = ["loop"] if step.loop else ["repeat"]
    return count, [(path, f"the loops give {count} units ({sizes}); allowed at most {MAX_UNITS} units "
                          "per campaign")]

def _step_problems(step: Step, variables: dict[str, Any], known_experiments: set[str] | None,
                   schema_check: SchemaCheck | None,
                   temperature_range_k: tuple[float, float] | None = None) -> list[tuple[list[str], str]]:
    problems: list[tuple[list[str], str]] = []
    if not isinstance(step.repeat, int) or isinstance(step.repeat, bool) or not 1 <= step.repeat <= 100_000:
        problems.append((["repeat"], f"repeat={step.repeat!r} is outside the allowed range [1, 100000]"))
    if step.experiment is None and all(v is None for v in (step.temperature_k, step.position_um, step.stage_mm,
                                                           step.wait_s)):
        problems.append((["experiment"], "the step does nothing; give experiment, temperature_k, "
                                          "position_um, stage_mm or wait_s"))
    if step.experiment is not None and not isinstance(step.experiment, str):
        problems.append((["experiment"], f"experiment={step.experiment!r} must be the name of an experiment"))
        return problems
    if step.experiment is not None and known_experiments is not None \
            and step.experiment not in known_experiments:
        problems.append((["experiment"], f"experiment={step.experiment!r} is not known; allowed: "
                                         f"{', '.join(sorted(known_experiments))}"))
    if not isinstance(step.params, dict):
        problems.append((["params"], "params must be a table"))
        return problems
    loop_values, loop_problems = _loop_values(step, variables)
    problems += loop_problems
    if loop_problems:
        return problems
    seen: set[tuple[str, ...]] = set()
    for binding in _bindings(loop_values):
        scope = {**variables, **binding}
        for path, message in _unit_problems(step, scope, schema_check, known_experiments, temperature_range_k):
            if tuple(path) not in seen:  # a field wrong in every iteration is reported once
                seen.add(tuple(path))
                problems.append((path, message))
    return problems


def _loop_values(step: Step, variables: dict[str, Any]) -> tuple[dict[str, list[Any]], list[tuple[list[str], str]]]:
    values: dict[str, list[Any]] = {}
    problems: list[tuple[list[str], str]] = []
    loop = step.loop if isinstance(step.loop, dict) else {}
    if not isinstance(step.loop, dict):
        problems.append((["loop"], "loop must be a table of variable = values"))
    for var, spec in loop.items():
        if var in variables:
            problems.append((["loop", var], f"loop variable {var!r} shadows a [vars] entry"))
            continue
        try:
            resolved = resolve(spec, variables)
        except ExpressionError as exc:
            problems.append((["loop", var], str(exc)))
            continue
        if not isinstance(resolved, list) or not resolved:
            problems.append((["loop", var], f"loop {var}={spec!r} must give a non-empty list"))
            continue
        keys = [_fmt_key(value) for value in resolved]
        if len(set(keys)) != len(keys):
            repeated = next(key for key in keys if keys.count(key) > 1)
            problems.append((["loop", var], f"loop {var}={_override_text(resolved)} gives the value "
                                            f"{repeated} more than once (told apart to 6 significant "
                                            "digits); allowed: distinct values (repeat = n measures "
                                            "each unit again)"))
            continue
        values[var] = resolved
    if isinstance(step.repeat, int) and not isinstance(step.repeat, bool) and 1 < step.repeat <= MAX_UNITS:
        values["repeat"] = list(range(step.repeat))  # a repeat out of range is reported on its own
    return values, problems


def _bindings(loop_values: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    names = list(loop_values)
    for combo in itertools.product(*(loop_values[n] for n in names)):
        yield dict(zip(names, combo))


def _number(path: list[str], value: Any, low: float, high: float, unit: str) -> tuple[float | None, list[tuple[list[str], str]]]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, [(path, f"{path[-1]}={value!r} is not a number; allowed range [{low:g}, {high:g}] {unit}")]
    if not low <= float(value) <= high:
        return None, [(path, f"{path[-1]}={value:g} {unit} is outside the allowed range [{low:g}, {high:g}] {unit}")]
    return float(value), []


def _setpoint_problems(value: Any, rig_range_k: tuple[float, float] | None) -> list[tuple[list[str], str]]:
    """A step's cryostat setpoint against the rig's range when it is known (every message then
    states that range), else against the spec's absolute bound."""
    if rig_range_k is None:
        return _number(["temperature_k"], value, *TEMPERATURE_RANGE_K, "K")[1]
    low, high = max(TEMPERATURE_RANGE_K[0], rig_range_k[0]), min(TEMPERATURE_RANGE_K[1], rig_range_k[1])
    message = setpoint_error("temperature_k", value, low, high)
    return [] if message is None else [(["temperature_k"], message)]


def _sample_problems(step: Step, scope: dict[str, Any]) -> list[tuple[list[str], str]]:
    """The step's ``sample`` table resolved for one unit and checked like a rig file's
    ``[sample]`` (material, dopant fraction, knock-outs, ...)."""
    if not step.sample:
        return []
    if not isinstance(step.sample, dict):
        return [(["sample"], f"sample={_override_text(step.sample)} must be a table of [sample] fields")]
    try:
        values = resolve(step.sample, scope)
    except ExpressionError as exc:
        return [(["sample"], str(exc))]
    from acquisition.rig import RigConfigError, SampleConfig, sample_with_overrides
    try:
        sample_with_overrides(SampleConfig(), values, "sample")
    except RigConfigError as exc:
        message = str(exc).split(": ", 1)[-1]
        field_name = message.split("=", 1)[0].split(".")[-1].strip() if "=" in message else ""
        return [(["sample", field_name] if field_name else ["sample"], message)]
    return []


def _unit_problems(step: Step, scope: dict[str, Any], schema_check: SchemaCheck | None,
                   known_experiments: set[str] | None,
                   temperature_range_k: tuple[float, float] | None = None) -> list[tuple[list[str], str]]:
    problems: list[tuple[list[str], str]] = []
    # each field (and each parameter) on its own, so one bad expression hides no other problem
    resolved: dict[str, Any] = {}
    for name in ("temperature_k", "ramp_k_per_min", "position_um", "stage_mm", "wait_s"):
        try:
            resolved[name] = resolve(getattr(step, name), scope)
        except ExpressionError as exc:
            resolved[name] = None
            problems.append(([name], str(exc)))
    params: dict[str, Any] = {}
    failed_params: set[str] = set()
    for name, value in step.params.items():
        try:
            params[name] = _json_text_params({name: resolve(value, scope)})[name]
        except ExpressionError as exc:
            failed_params.add(name)
            problems.append((["params", name], str(exc)))
    resolved["params"] = params
    problems += _sample_problems(step, scope)
    if resolved["temperature_k"] is not None:
        problems += _setpoint_problems(resolved["temperature_k"], temperature_range_k)
    if resolved["ramp_k_per_min"] is not None:
        problems += _number(["ramp_k_per_min"], resolved["ramp_k_per_min"], *RAMP_RANGE_K_PER_MIN, "K/min")[1]
    if resolved["wait_s"] is not None:
        problems += _number(["wait_s"], resolved["wait_s"], *WAIT_RANGE_S, "s")[1]
    position = resolved["position_um"]
    if position is not None:
        if not isinstance(position, list) or len(position) != 2:
            problems.append((["position_um"], f"position_um={position!r} must be [x, y] in um"))
        else:
            for axis, value in zip("xy", position):
                problems += _number(["position_um"], value, -POSITION_LIMIT_UM, POSITION_LIMIT_UM,
                                    f"um ({axis})")[1]
    problems += _stage_problems(resolved["stage_mm"], schema_check)
    if step.experiment is not None and schema_check is not None and (
            known_experiments is None or step.experiment in known_experiments):
        try:
            messages = schema_check(step.experiment, resolved["params"])
        except (ArithmeticError, TypeError, ValueError) as exc:  # a value no check expected
            messages = [f"params={_override_text(resolved['params'])}: cannot be checked "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"]
        for message in messages:
            field_name = message.split("=", 1)[0].strip().split()[-1] if "=" in message else ""
            if field_name in failed_params:
                continue  # checked with its default in place of the bad expression: not news
            problems.append((["params", field_name] if field_name else ["params"], message))
    return problems


def _stage_problems(stage: Any, schema_check: SchemaCheck | None) -> list[tuple[list[str], str]]:
    """A stage position: [x, y] numbers in mm, inside the rig's stage limits (the ``prepare``
    step-preparation experiment's own check, which also says when the rig has no sample stage)."""
    if stage is None:
        return []
    if not isinstance(stage, list) or len(stage) != 2:
        return [(["stage_mm"], f"stage_mm={stage!r} must be [x, y] in mm")]
    problems: list[tuple[list[str], str]] = []
    for axis, value in zip("xy", stage):
        problems += _number(["stage_mm"], value, 0.0, STAGE_LIMIT_MM, f"mm ({axis})")[1]
    if problems or schema_check is None:
        return problems
    from acquisition.experiments import STEP_PREPARATION, providing

    messages = schema_check(providing(STEP_PREPARATION).name, {"stage_x_mm": float(stage[0]), "stage_y_mm": float(stage[1])})
    return [(["stage_mm"], message) for message in messages]


# ------------------------------------------------------------------------------------ expansion
def expand(campaign: Campaign) -> list[Unit]:
    """Every unit of the campaign in execution order (call on a validated campaign)."""
    variables: dict[str, Any] = {}
    for var, value in campaign.variables.items():
        variables[var] = resolve(value, variables)
    units: list[Unit] = []
    for index, step in enumerate(campaign.steps):
        loop_values, problems = _loop_values(step, variables)
        if problems:
            raise CampaignError([f"step[{index + 1}].{'.'.join(p)}: {m}" for p, m in problems])
        count = 1
        for values in loop_values.values():
            count *= len(values)
        if len(units) + count > MAX_UNITS:
            raise CampaignError([f"step[{index + 1}]: the campaign would have {len(units) + count} units; "
                                 f"allowed at most {MAX_UNITS}"])
        for binding in _bindings(loop_values):
            scope = {**variables, **binding}
            values = resolve({"temperature_k": step.temperature_k, "ramp_k_per_min": step.ramp_k_per_min,
                              "position_um": step.position_um, "stage_mm": step.stage_mm,
                              "wait_s": step.wait_s,
                              "params": step.params, "sample": step.sample or {}}, scope)
            key = f"s{index + 1}" + "".join(f"/{k}={_fmt_key(v)}" for k, v in binding.items())
            position = values["position_um"]
            units.append(Unit(
                key=key, step_index=index, label=step.label or step.experiment or "step",
                variables=binding,
                temperature_k=_opt_float(values["temperature_k"]),
                ramp_k_per_min=_opt_float(values["ramp_k_per_min"]),
                position_um=(float(position[0]), float(position[1])) if position is not None else None,
                wait_s=float(values["wait_s"] or 0.0), experiment=step.experiment,
                params=_json_text_params(values["params"]), sample=dict(values["sample"]),
                stage_mm=(float(values["stage_mm"][0]), float(values["stage_mm"][1]))
                if values["stage_mm"] is not None else None))
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        raise CampaignError(["two units share a key: give repeated steps distinct loop variables"])
    return units


def _json_text_params(params: Any) -> Any:
    """``params`` with a table given for a JSON-text parameter (JSON_TEXT_PARAMETERS) as its
    JSON text; anything else unchanged (and checked as given)."""
    if not isinstance(params, dict):
        return params
    return {name: json.dumps(value) if name in JSON_TEXT_PARAMETERS and isinstance(value, dict) else value
            for name, value in params.items()}


def _override_text(value: Any, limit: int = 60) -> str:
    """A value as the operator typed it (TOML-like), shortened for one line."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, str):
        text = value
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _fmt_key(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
