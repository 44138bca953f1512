"""Study files: a parameter map over physics and bench settings, expanded like a campaign.

```toml
name = "temperature-doping"
experiment = "sweep"                       # any experiment; sweep or pulsed give the maps
[axes]                                     # every combination is one unit (a campaign loop)
temperature_k = [77.0, 110.0, 140.0, 170.0]
dopant_fraction = "${linspace(0.14, 0.22, 3)}"
[params]                                   # the experiment's parameters ("${axis}" reads an axis)
start_kw_cm2 = 1.0
stop_kw_cm2 = 14.0
[sample]                                   # [sample] fields of the simulated rig, same rules
heterogeneity = 1.0
[map]                                      # optional: which axes the heat maps span
x = "temperature_k"
y = "dopant_fraction"
```

An axis named like a ``[sample]`` field (material, dopant_fraction, knockouts, heterogeneity,
n_particles, ...) or like a parameter of the experiment is applied as that field or parameter
unless ``[sample]``/``[params]`` set it themselves; any other axis must be read by a ``${...}``.
``repeat = n`` repeats every point; ``[vars]`` and ``rig`` are as in a campaign file. The study
becomes a one-step campaign (acquisition.campaigns.spec), so expressions, limits and every
check are the campaign's.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acquisition.campaigns.expressions import template_names
from acquisition.campaigns.spec import Campaign, CampaignError, Step, validate_campaign

STUDY_KEYS = ("name", "description", "rig", "experiment", "repeat", "vars", "axes", "params", "sample", "map")


@dataclass
class Study:
    campaign: Campaign
    axes: list[str]
    map_x: str
    map_y: str | None


def sample_fields() -> list[str]:
    from acquisition.rig import SampleConfig
    return [f.metadata.get("toml_key") or f.name for f in dataclasses.fields(SampleConfig)]


def load_study(path: Path, experiment_parameters: Any, schema_check: Any = None,
               temperature_range_k: tuple[float, float] | None = None,
               overrides: dict[str, Any] | None = None) -> Study:
    """Read and check a study file; CampaignError with one ``field: problem`` line per problem.
    ``experiment_parameters(name)`` lists an experiment's parameter names (None: unknown)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CampaignError([f"file={str(path)!r}: cannot be read ({exc.strerror})"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CampaignError([f"{str(exc).splitlines()[0]} (TOML syntax)"]) from None
    errors = [f"{key}: unknown key; allowed: {', '.join(STUDY_KEYS)}" for key in data if key not in STUDY_KEYS]
    tables = {}
    for key in ("vars", "axes", "params", "sample", "map"):
        tables[key] = data.get(key, {})
        if not isinstance(tables[key], dict):
            errors.append(f"{key}: must be a table")
            tables[key] = {}
    for var, value in (overrides or {}).items():
        if var not in tables["vars"]:
            errors.append(f"--set {var}: no such variable; allowed: "
                          f"{', '.join(tables['vars']) or 'none (the file has no [vars])'}")
        tables["vars"][var] = value
    name, experiment = data.get("name"), data.get("experiment")
    if not isinstance(name, str) or not name.strip():
        errors.append(f"name: name={name!r} must be a non-empty string")
    parameters = experiment_parameters(experiment) if isinstance(experiment, str) else None
    if parameters is None:
        errors.append(f"experiment: experiment={experiment!r} is not known")
        parameters = []
    axes = tables["axes"]
    if not axes:
        errors.append("axes: at least one axis is required, e.g. temperature_k = [77.0, 150.0]")
    params, sample = dict(tables["params"]), dict(tables["sample"])
    used = template_names([params, sample])
    fields = sample_fields()
    for axis in axes:
        if axis in fields and axis not in sample:
            sample[axis] = f"${{{axis}}}"
        elif axis in parameters and axis not in params:
            params[axis] = f"${{{axis}}}"
        elif axis not in used and axis not in fields and axis not in parameters:
            errors.append(f"axes.{axis}: not a [sample] field nor a parameter of {experiment} and read by no "
                          f"${{...}}; allowed: {', '.join(fields)} or {', '.join(parameters)}")
    axis_names = list(axes)
    map_x = tables["map"].get("x", axis_names[0] if axis_names else "")
    map_y = tables["map"].get("y", axis_names[1] if len(axis_names) > 1 else None)
    for key, value in (("x", map_x), ("y", map_y)):
        if value is not None and value not in axis_names:
            errors.append(f"map.{key}: {value!r} is not an axis; allowed: {', '.join(axis_names)}")
    repeat = data.get("repeat", 1)
    step = Step(experiment=experiment if isinstance(experiment, str) else None, params=params, loop=dict(axes),
                repeat=repeat, sample=sample, label=str(name))
    campaign = Campaign(name=str(name or ""), steps=[step], description=str(data.get("description", "")),
                        rig=data.get("rig"), variables=dict(tables["vars"]), source=Path(path))
    if not errors:
        for _, field_path, message in validate_campaign(campaign, None, schema_check, temperature_range_k):
            errors.append(f"{_study_path(field_path)}: {message}")
    if errors:
        raise CampaignError(errors)
    return Study(campaign=campaign, axes=axis_names, map_x=map_x, map_y=map_y)


def _study_path(path: list[str]) -> str:
    """A campaign field path in the study file's words (the loop is the axes)."""
    if path and path[0] == "loop":
        return ".".join(["axes", *path[1:]])
    return ".".join(path) or "study"
