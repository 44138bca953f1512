"""Run a campaign unit by unit through the engine, one HDF5 run file per experiment.

The runner never touches instruments itself except to move the film position between runs
and to read where the sample stage is at the first start (the engine is idle then);
temperatures, stage moves and waits are engine runs of the step-preparation experiment, so
pause/abort/interlocks and safe state work the same as for any run. A unit without its own
``stage_mm`` runs at the campaign's stage home (acquisition.campaigns.stage_home).

Resume: every unit has a stable key; the SQLite index records each attempt. ``resume=True``
skips units with a complete run and redoes the first incomplete one onwards, keeping earlier
attempts' files (marked superseded), so a resumed campaign ends with exactly one complete run
per unit.

Before the first unit, every unit's experiment parameters are checked against the schema, the
rig and the engine's stored calibrations (``CampaignRunner.check``; CampaignError, nothing
moved). A unit that the engine still refuses at start (a calibration changed meanwhile) is
recorded as ``failed`` with the one-line reason and stops the campaign (CampaignStopped), like
a run that fails or is aborted: ``--resume`` continues from it.

On a fully simulated rig every unit runs on the rig restarted afresh at a start that depends on
the plan only (acquisition.campaigns.isolation), so the figures do not depend on the order or
the process units run in; acquisition.campaigns.parallel runs them on dask workers with the same
unit logic (``run_unit``).
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from acquisition.campaigns.index import CampaignIndex
from acquisition.campaigns.isolation import calibrate_before_units, isolation_problem, simulation_starts
from acquisition.campaigns.progress import WorkTracker, unit_progress_listener
from acquisition.experiments import STEP_PREPARATION, providing
from acquisition.campaigns.spec import Campaign, CampaignError, Unit, expand
from acquisition.campaigns.stage_home import StageReturn, simulated_home_m
from acquisition.events import RunFinished, RunStatus
from acquisition.storage.jsonsafe import to_jsonable

log = logging.getLogger(__name__)


class CampaignStopped(RuntimeError):
    """A run in the campaign was aborted or failed, or a stop was requested; ``--resume``
    continues from it. ``finished``: the run that ended it (None: refused, or stopped between
    units), so the CLI can tell a safe-state or storage failure from any other."""

    def __init__(self, message: str, finished: RunFinished | None = None) -> None:
        super().__init__(message)
        self.finished = finished


@dataclass(frozen=True)
class CampaignProgress:
    done: int
    total: int
    unit: Unit | None
    message: str
    elapsed_s: float
    eta_s: float | None
    step_index: int | None = None
    step_done: int = 0
    step_total: int = 0
    #: share of the campaign's planned work done, running units' progress included
    fraction: float | None = None
    #: (unit key, fraction done) of the units in progress
    running: tuple[tuple[str, float], ...] = ()
    #: the campaign's last report
    ended: bool = False


@dataclass
class CampaignResult:
    folder: Path
    completed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: units the index had as "running" whose run file was complete (recorded, not measured again)
    reconciled: list[str] = field(default_factory=list)
    status: str = "complete"
    reason: str = ""


def unit_duration_s(unit: Unit, estimate: Callable[[str, dict[str, Any]], float]) -> float:
    """Rig-clock estimate of one unit (experiment estimate + wait; temperature moves unknown)."""
    seconds = unit.wait_s
    if unit.experiment is not None:
        seconds += estimate(unit.experiment, dict(unit.params))
    return seconds


def run_file_name(ordinal: int, unit: Unit, attempt: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", unit.key.replace("/", "__"))
    suffix = f"_attempt{attempt}" if attempt > 1 else ""
    return f"{ordinal:04d}_{safe}_{unit.experiment}{suffix}.h5"


class CampaignRunner:
    """Executes a validated campaign on ``engine`` (an acquisition.engine.Engine)."""

    def __init__(self, campaign: Campaign, engine: Any, folder: Path,
                 on_progress: Callable[[CampaignProgress], None] | None = None) -> None:
        self.campaign = campaign
        self.engine = engine
        self.rig = engine.rig
        self.folder = Path(folder)
        self.units = expand(campaign)
        self.on_progress = on_progress or (lambda progress: None)
        self._stop_reason: str | None = None
        self._estimates = [unit_duration_s(u, self._estimate) for u in self.units]
        #: units as independent simulations (a fully simulated rig), each from its planned start
        self.isolated = isolation_problem(self.rig) is None
        self._starts = (simulation_starts(self.units, self._estimates,
                                          self.rig.config.sim.cryostat.start_temperature_k,
                                          simulated_home_m(campaign))
                        if self.isolated else [])

    @staticmethod
    def _estimate(experiment: str, params: dict[str, Any]) -> float:
        from acquisition.experiments import get_experiment
        return get_experiment(experiment).estimate_duration_s(params)

    def request_stop(self, reason: str) -> None:
        """Stop the campaign: the running unit is aborted, no further unit starts (thread- and
        signal-handler-safe)."""
        self._stop_reason = reason
        self.engine.abort(reason)

    def emergency_stop(self) -> None:
        """The operator's second signal: every instrument safe now (the engine's STOP), the
        campaign stopping as for ``request_stop``."""
        self._stop_reason = self._stop_reason or "emergency stop"
        self.engine.emergency_stop()

    def check(self) -> None:
        """Every unit's experiment params against the schema, the rig and the engine's stored
        calibrations (the engine's start-time preflight); CampaignError with one line per
        (step, problem), before anything moves or is written."""
        from acquisition.campaigns.checks import experiment_checker
        check = experiment_checker(self.rig, getattr(self.engine, "calibration_store", None))
        errors: list[str] = []
        seen: set[tuple[int, str]] = set()
        for unit in self.units:
            if unit.sample and not self.isolated and (unit.step_index, "sample") not in seen:
                seen.add((unit.step_index, "sample"))
                errors.append(f"unit {unit.key}: sample={dict(unit.sample)} needs a fully simulated rig "
                              f"on the virtual clock ({isolation_problem(self.rig)})")
            if unit.experiment is None:
                continue
            params = dict(unit.params)
            if unit.temperature_k is not None:
                params["temperature_k"] = unit.temperature_k
            for message in check(unit.experiment, params):
                field_name = message.split("=", 1)[0].strip()
                if (unit.step_index, field_name) not in seen:  # once per step and field
                    seen.add((unit.step_index, field_name))
                    errors.append(f"unit {unit.key}: {message}")
        if errors:
            raise CampaignError(errors)

    def run(self, resume: bool = False) -> CampaignResult:
        self.check()
        index = CampaignIndex(self.folder)
        try:
            return self._run(index, resume)
        finally:
            index.close()

    def _open_index(self, index: CampaignIndex, resume: bool) -> set[str]:
        """The keys of the units already complete; CampaignStopped if there are some and this
        is not a resume."""
        done_keys = index.completed_keys()
        if done_keys and not resume:
            raise CampaignStopped(f"folder={str(self.folder)!r} already holds {len(done_keys)} "
                                  "completed run(s) of a campaign; use --resume or a new --out folder")
        index.set_meta("name", self.campaign.name)
        index.set_meta("source", str(self.campaign.source) if self.campaign.source else None)
        index.set_meta("units", [u.key for u in self.units])
        return done_keys

    def _run(self, index: CampaignIndex, resume: bool) -> CampaignResult:
        reconciled = reconcile(index, self.folder, self.units)
        done_keys = self._open_index(index, resume)
        result = CampaignResult(folder=self.folder, reconciled=reconciled)
        started = time.monotonic()
        if self.isolated and len(done_keys) < len(self.units):
            try:
                calibrate_before_units(self.engine, self.units, self.folder)
            except (ValueError, RuntimeError) as exc:
                raise CampaignStopped(f"{_one_line(exc)}; fix the cause and continue with --resume") from None
        # units restarted as simulations start at the stage home; on a shared stage, go back to it
        stage_return = (StageReturn(None, away=False) if self.isolated
                        else StageReturn.for_campaign(self.campaign, self.units, self.rig, index))
        work = WorkTracker({u.key: e for u, e in zip(self.units, self._estimates) if u.key not in done_keys})
        (self.folder / "runs").mkdir(parents=True, exist_ok=True)
        for ordinal, unit in enumerate(self.units):
            step_units = [u for u in self.units if u.step_index == unit.step_index]
            step_done = step_units.index(unit)
            if unit.key in done_keys:
                result.skipped.append(unit.key)
                continue

            def show(fraction: float, unit: Unit = unit, step_done: int = step_done,
                     step_total: int = len(step_units)) -> None:
                work.update(unit.key, fraction)
                self.on_progress(CampaignProgress(
                    done=len(result.completed) + len(result.skipped), total=len(self.units), unit=unit,
                    message=f"{unit.key}: {unit.label} {fraction:.0%}", elapsed_s=time.monotonic() - started,
                    eta_s=work.eta_s(), step_index=unit.step_index, step_done=step_done,
                    step_total=step_total, fraction=self._fraction_done(work, done_keys),
                    running=work.running()))
            show(0.0)
            if self._stop_reason is not None:  # asked between two units (engine idle: no abort)
                raise CampaignStopped(f"stopped before unit {unit.key}: {self._stop_reason}")
            if self.isolated:
                self.rig.restart_simulation(self._starts[ordinal])
            unsubscribe = self.engine.subscribe(unit_progress_listener(show))
            try:
                self._run_unit(index, ordinal, unit, stage_return.before(unit))
            finally:
                unsubscribe()
            work.complete(unit.key)
            result.completed.append(unit.key)
        self.on_progress(CampaignProgress(
            done=len(self.units), total=len(self.units), unit=None, message="campaign complete",
            elapsed_s=time.monotonic() - started, eta_s=0.0, fraction=1.0, ended=True))
        return result

    def _fraction_done(self, work: WorkTracker, done_keys: set[str]) -> float:
        """Share of the whole campaign's planned work done: units complete before this pass
        (a resume) and this pass's work."""
        total = sum(self._estimates)
        if total <= 0.0:
            return 1.0
        before = sum(e for u, e in zip(self.units, self._estimates) if u.key in done_keys)
        return min((before + work.work_done_s()) / total, 1.0)

    def _run_unit(self, index: CampaignIndex, ordinal: int, unit: Unit,
                  stage_home_mm: tuple[float, float] | None = None) -> None:
        attempt = 1 + sum(1 for r in index.runs() if r.unit_key == unit.key)
        run_unit(self.engine, self.folder, ordinal, unit, index, attempt,
                 stop_reason=lambda: self._stop_reason, stage_home_mm=stage_home_mm)


class UnitRecorder(Protocol):
    """Where ``run_unit`` records a unit's run: the campaign index itself (serial), or a worker's
    messages to the coordinator that writes it (acquisition.campaigns.parallel)."""

    def begin(self, unit_key: str, ordinal: int, step: int, label: str, variables: dict[str, Any],
              experiment: str | None, path: str | None) -> int: ...

    def finish(self, run_id: int, status: str, reason: str = "",
               metrics: dict[str, Any] | None = None) -> None: ...


def free_attempt(folder: Path, ordinal: int, unit: Unit, attempt: int) -> int:
    """``attempt``, or the next one whose run file (and journal) does not exist yet: a unit whose
    worker died mid-run is measured again beside the file it left."""
    while any((folder / "runs" / f"{run_file_name(ordinal, unit, attempt)}{suffix}").exists()
              for suffix in ("", ".journal")):
        attempt += 1
    return attempt


def run_unit(engine: Any, folder: Path, ordinal: int, unit: Unit, index: UnitRecorder,
             attempt: int = 1, stop_reason: Callable[[], str | None] = lambda: None,
             stage_home_mm: tuple[float, float] | None = None) -> None:
    """One unit on ``engine``: film position, stage/temperature/wait, then its experiment into its
    own run file, recorded in ``index``. CampaignStopped if a run is refused, fails or is aborted.

    ``stop_reason``: the campaign's stop request, if any; a run started while it arrived (the
    engine was idle, so the request's abort found nothing to abort) is aborted at once.
    ``stage_home_mm``: move the stage back there first (a unit without its own ``stage_mm``;
    acquisition.campaigns.stage_home)."""
    if unit.position_um is not None:
        x_um, y_um = unit.position_um
        log.info("campaign: film position -> (%.2f, %.2f) um", x_um, y_um)
        engine.rig.set_film_position(x_um * 1e-6, y_um * 1e-6)
    # a ramped temperature change, a bare temperature step or a wait go through ``prepare``;
    # a plain setpoint with an experiment is the experiment's own temperature_k parameter
    move_temperature = unit.temperature_k is not None and (
        unit.experiment is None or unit.ramp_k_per_min is not None)
    stage_mm = unit.stage_mm if unit.stage_mm is not None else stage_home_mm
    if move_temperature or unit.wait_s > 0 or stage_mm is not None:
        _prepare(engine, unit, move_temperature, stage_mm, stop_reason)
    if unit.experiment is None:
        run_id = index.begin(unit.key, ordinal, unit.step_index, unit.label, dict(unit.variables),
                             None, None)
        index.finish(run_id, "complete")
        return
    params = dict(unit.params)
    if unit.temperature_k is not None:
        params["temperature_k"] = unit.temperature_k
    attempt = free_attempt(folder, ordinal, unit, attempt)
    path = folder / "runs" / run_file_name(ordinal, unit, attempt)
    run_id = index.begin(unit.key, ordinal, unit.step_index, unit.label, dict(unit.variables),
                         unit.experiment, str(path.relative_to(folder)))
    try:
        handle = engine.start(unit.experiment, params, out_path=path)
    except (ValueError, RuntimeError) as exc:  # refused at start: nothing moved, no file
        reason = _one_line(exc)
        index.finish(run_id, "failed", reason)
        raise CampaignStopped(f"unit {unit.key} refused at start: {reason}; fix the cause and "
                              "continue with --resume") from None
    finished = _wait_honouring_stop(engine, handle, stop_reason)
    metrics = _headline_metrics(finished.summary, params, unit)
    index.finish(run_id, finished.status.value, finished.reason, metrics)
    if finished.status != RunStatus.COMPLETE:
        raise CampaignStopped(f"unit {unit.key} ended {finished.status.value}: {finished.reason}; "
                              "fix the cause and continue with --resume", finished)


def _wait_honouring_stop(engine: Any, handle: Any, stop_reason: Callable[[], str | None]) -> RunFinished:
    reason = stop_reason()
    if reason is not None:  # the request came while this run was being started
        engine.abort(reason)
    return handle.wait()


def _prepare(engine: Any, unit: Unit, move_temperature: bool, stage_mm: tuple[float, float] | None,
             stop_reason: Callable[[], str | None] = lambda: None) -> None:
    params: dict[str, Any] = {"wait_s": unit.wait_s}
    if stage_mm is not None:
        params["stage_x_mm"], params["stage_y_mm"] = stage_mm
    if move_temperature:
        params["target_k"] = unit.temperature_k
        params["ramp_k_per_min"] = unit.ramp_k_per_min
    try:
        handle = engine.start(providing(STEP_PREPARATION).name, params)
    except (ValueError, RuntimeError) as exc:  # refused at start: nothing moved
        raise CampaignStopped(f"unit {unit.key}: preparing refused at start: {_one_line(exc)}; "
                              "fix the cause and continue with --resume") from None
    finished = _wait_honouring_stop(engine, handle, stop_reason)
    if finished.status != RunStatus.COMPLETE:
        raise CampaignStopped(f"unit {unit.key}: preparing ended {finished.status.value}: "
                              f"{finished.reason}", finished)


def reconcile(index: CampaignIndex, folder: Path, units: list[Unit]) -> list[str]:
    """Index entries left ``running`` by a campaign that died: a unit whose run file is complete
    is recorded complete (with the file's figures), not measured again; any other stays as it
    is (the unit is redone, the attempt kept as superseded). Returns the units recorded."""
    from acquisition.storage import open_run

    by_key = {unit.key: unit for unit in units}
    reconciled: list[str] = []
    for entry in index.runs("running"):
        unit = by_key.get(entry.unit_key)
        if entry.path is None or unit is None:
            continue
        try:
            run = open_run(folder / entry.path)
        except ValueError:
            continue  # no readable file: the unit is measured again
        if run.status != RunStatus.COMPLETE.value:
            continue
        params = dict(unit.params)
        if unit.temperature_k is not None:
            params["temperature_k"] = unit.temperature_k
        index.finish(entry.id, "complete", "", _headline_metrics(run.summary, params, unit))
        log.info("campaign: unit %s was complete in %s; recorded, not measured again",
                 entry.unit_key, entry.path)
        reconciled.append(entry.unit_key)
    return reconciled


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _headline_metrics(summary: dict[str, Any], params: dict[str, Any], unit: Unit) -> dict[str, Any]:
    """The run summary, JSON-safe, plus where and at what temperature it ran (the report groups
    runs by these)."""
    metrics = dict(to_jsonable(summary or {}))
    if params.get("temperature_k") is not None:
        metrics.setdefault("temperature_k", float(params["temperature_k"]))
    if unit.position_um is not None:
        metrics.setdefault("position_um", list(unit.position_um))
    if unit.stage_mm is not None:
        metrics.setdefault("stage_mm", list(unit.stage_mm))
    return metrics
