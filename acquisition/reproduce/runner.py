"""Measure each reproduction group the way an operator would, then read its stored runs.

For every group: write its rig file (the simulated rig, with the group's settings changed) and
its campaign file into the report folder, validate the campaign like ``avalab campaign`` does
(schema, rig limits, stored calibration), run it through the campaign runner (serial, or on a
local dask cluster with ``workers``), and re-open every complete run file of its index with the
experiment's own analysis (``acquisition.reanalysis``). The rows come from those figures only.

The power calibration is measured once, first, as a ``calibrate`` run in the report folder
(``calibration.h5``), at a pump power that reaches the densities the chopped sweeps need.
"""
from __future__ import annotations

import contextlib
import logging
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acquisition.reproduce.base import NOT_MEASURED, Group, GroupRuns, Measured, Row, outside_rig

log = logging.getLogger(__name__)

#: the reproduction rig: the simulated rig with a density limit (and, below, a calibration
#: power) high enough for the chopped sweeps, whose open-blade (peak) density is 1/duty x the
#: average the paper reports
RIG_NAME = "avalab reproduce (simulated)"
MAX_DENSITY_KW_CM2 = 50.0
CALIBRATION_LASER_POWER_W = 3.0


class GroupFailed(RuntimeError):
    """A group's campaign could not be run to the end (the message says which unit and why)."""


@dataclass
class GroupResult:
    group: Group
    rows: list[Row]
    figures: list[Path] = field(default_factory=list)
    campaign_folder: Path | None = None
    wall_s: float = 0.0
    problem: str | None = None


def rig_document(overrides: dict[str, Any]) -> dict[str, Any]:
    """The reproduction rig as a rig-file dict (rig-file keys and units): the simulated rig,
    renamed, the density limit raised, and ``overrides`` (dotted rig-file paths) applied."""
    from acquisition.rig import default_rig_toml

    document = tomllib.loads(default_rig_toml())
    document["rig"]["name"] = RIG_NAME
    document["limits"]["max_power_density_kw_cm2"] = MAX_DENSITY_KW_CM2
    for dotted, value in overrides.items():
        table = document
        *parents, leaf = dotted.split(".")
        for name in parents:
            table = table.setdefault(name, {})
        table[leaf] = value
    return document


def write_rig(folder: Path, name: str, overrides: dict[str, Any]) -> Path:
    """The rig file of one group (validated by the rig loader, as ``--rig FILE`` would be)."""
    from acquisition.rig import render_rig_toml, rig_config_from_dict

    path = folder / "rigs" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_rig_toml(rig_config_from_dict(rig_document(overrides), str(path))), encoding="utf-8")
    return path


def calibrate(folder: Path, rig_file: Path) -> Path:
    """The power calibration of the reproduction rig, as a run file (``calibration.h5``)."""
    from acquisition.calibration import CalibrationStore
    from acquisition.engine import Engine
    from acquisition.experiments import POWER_CALIBRATION, providing
    from acquisition.rig import load_rig

    path = folder / "calibration.h5"
    rig = load_rig(rig_file)
    engine = Engine(rig, CalibrationStore())
    try:
        finished = engine.start(providing(POWER_CALIBRATION).name, {"laser_power_w": CALIBRATION_LASER_POWER_W}, path).wait()
    finally:
        engine.close()
        rig.close_all()
    if finished.status.value != "complete":
        raise GroupFailed(f"calibration run {path} {finished.status.value}: {finished.reason}")
    return path


def campaign_text(group: Group, quick: bool, rig_file: Path) -> str:
    body = group.campaign(quick)
    header = (f'# avalab reproduce: {group.title}\n# rerun: avalab campaign THIS_FILE --out FOLDER\n'
              f'name = "reproduce-{group.name}"\nrig = "{rig_file}"\n\n')
    tomllib.loads(header + body)  # a malformed group is a bug: fail loudly here, not in the runner
    return header + body


def run_campaign(path: Path, rig_file: Path, folder: Path, workers: int | None,
                 on_line: Callable[[str], None]) -> None:
    """Validate and run one campaign file as ``avalab campaign`` does; GroupFailed otherwise."""
    from acquisition.calibration import CalibrationStore
    from acquisition.campaigns.cli import _validate, load_file_rig, open_runner
    from acquisition.campaigns.runner import CampaignProgress, CampaignStopped
    from acquisition.campaigns.spec import CampaignError

    try:
        _, rig = load_file_rig(path, str(rig_file))
    except ValueError as exc:
        raise GroupFailed(f"rig={rig_file}: {exc}") from None
    store = CalibrationStore()
    try:
        campaign = _validate(path, rig, None, store)
    except CampaignError as exc:
        raise GroupFailed(f"{path}: {exc.errors[0]}" + (f" (+{len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""))

    def progress(p: CampaignProgress) -> None:
        if p.unit is not None:
            on_line(f"  [{min(p.done + 1, p.total)}/{p.total}] {p.message}")

    with contextlib.ExitStack() as stack:
        runner = open_runner(stack, campaign, rig, store, folder, workers, None)
        if isinstance(runner, int):
            rig.close_all()
            raise GroupFailed(f"{path}: no dask cluster for --workers {workers}")
        runner.on_progress = progress
        try:
            runner.run(resume=(folder / "campaign.sqlite").exists())
        except (CampaignError, CampaignStopped) as exc:
            raise GroupFailed(f"{path}: {str(exc).splitlines()[0]}") from None
        finally:
            runner.engine.close()
            rig.close_all()


def stored_runs(folder: Path) -> GroupRuns:
    """Every complete run of the campaign in ``folder``, re-analysed from its file."""
    from acquisition.campaigns.index import CampaignIndex
    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    index = CampaignIndex(folder)
    try:
        entries = [r for r in index.runs("complete") if r.experiment and r.path]
    finally:
        index.close()
    measured = []
    for entry in entries:
        path = folder / entry.path
        run = open_run(path)
        measured.append(Measured(entry.label, dict(entry.variables), str(entry.experiment), path,
                                 reanalyze(run), run))
    return GroupRuns(measured)


def run_group(group: Group, folder: Path, quick: bool, workers: int | None,
              on_line: Callable[[str], None]) -> GroupResult:
    """Measure ``group`` into ``folder/campaigns/<group>/`` and evaluate its rows; a group whose
    campaign cannot run keeps its rows as 'not measured' with the reason."""
    started = time.monotonic()
    rig_file = write_rig(folder, group.name, group.rig)
    campaign_file = folder / "campaigns" / f"{group.name}.toml"
    campaign_file.parent.mkdir(parents=True, exist_ok=True)
    campaign_file.write_text(campaign_text(group, quick, rig_file), encoding="utf-8")
    problem = None
    try:
        run_campaign(campaign_file, rig_file, folder / "campaigns" / group.name, workers, on_line)
    except GroupFailed as exc:
        problem = str(exc)
    result = evaluate_group(group, folder, quick, problem)
    result.wall_s = time.monotonic() - started
    return result


def evaluate_group(group: Group, folder: Path, quick: bool, problem: str | None = None) -> GroupResult:
    """The rows and figures of ``group`` from the run files its campaign left in ``folder``
    (``problem``: why the campaign did not complete; its rows are then 'not measured')."""
    campaign_folder = folder / "campaigns" / group.name
    result = GroupResult(group, [], campaign_folder=campaign_folder, problem=problem)
    if problem is None and (campaign_folder / "campaign.sqlite").exists():
        runs = stored_runs(campaign_folder)
        result.rows = group.evaluate(runs)
        figure_folder = folder / "figures"
        figure_folder.mkdir(parents=True, exist_ok=True)
        try:
            result.figures = group.plot(runs, figure_folder)
        except Exception as exc:  # noqa: BLE001 - a figure that fails is reported, the rows stand
            log.exception("reproduce: figures of %s failed", group.name)
            result.problem = f"figures failed: {type(exc).__name__}: {exc}"
    else:
        why = problem or f"no campaign in {campaign_folder}"
        result.problem = why
        result.rows = group.evaluate(GroupRuns([]))
        for row in result.rows:
            row.status, row.note = NOT_MEASURED, f"campaign did not complete: {why}"
    if quick:  # the quick campaign measures a subset: rows without any run are not part of it
        result.rows = [row for row in result.rows if row.run_files or result.problem]
    result.rows += [outside_rig(group.name, key, figure, published, why)
                    for key, figure, published, why in group.unmeasurable]
    return result
