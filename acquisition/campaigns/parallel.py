"""Campaign units of a fully simulated rig, run in parallel on dask.distributed.

``avalab campaign FILE --workers N`` starts a local cluster of N worker processes;
``--scheduler ADDRESS`` uses a running one. The units are independent simulations
(acquisition.campaigns.isolation), so each worker re-creates the rig from its configuration,
restarts it at the unit's planned start and runs the unit with the serial runner's own logic
(``run_unit``): the figures are those of a serial run, bit for bit.

Who writes what:
- each unit writes its own run file in ``FOLDER/runs/`` (workers must see the campaign folder
  and ``$AVALAB_HOME``, where the power calibration is stored, at the same paths);
- the coordinator alone writes the SQLite index: a worker announces a run as it begins (a dask
  event on the campaign's topic) and returns its outcome; the coordinator records both.

Failures:
- a worker that dies mid-unit: the scheduler runs the unit again on another worker, once
  (``allowed-failures`` = RERUNS_AFTER_WORKER_DEATH on the local cluster); the new attempt
  writes a new file beside the one the dead worker left (kept, recorded ``superseded``);
- a unit whose run file is already complete is never measured again (a worker that died after
  finishing, or a coordinator killed before recording it): its file is recorded instead;
- a unit that fails or is refused stops the dispatch: units already running finish and are
  recorded, then CampaignStopped (``--resume`` continues);
- ``request_stop`` (Ctrl+C): every worker aborts its running unit safely, units not started
  end at once without measuring (each submitted unit still reports, so none is left 'running'
  in the index), every unit that ended is recorded, then CampaignStopped;
- ``emergency_stop`` (a second Ctrl+C): as above, and every worker's running unit makes its
  instruments safe at once (its engine's STOP), as the coordinator's engine does.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acquisition.campaigns.index import CampaignIndex
from acquisition.campaigns.isolation import calibrate_before_units, isolation_problem
from acquisition.campaigns.progress import PROGRESS_INTERVAL_S, WorkTracker, unit_progress_listener
from acquisition.campaigns.runner import (CampaignProgress, CampaignResult, CampaignRunner, CampaignStopped,
                                          _headline_metrics, _one_line, free_attempt, reconcile, run_file_name,
                                          run_unit)
from acquisition.campaigns.spec import Campaign, Unit
from acquisition.engine import Engine
from acquisition.rig import RigConfig, SimulationStart

log = logging.getLogger(__name__)

#: times the scheduler runs a unit again after the worker running it died (local cluster)
RERUNS_AFTER_WORKER_DEATH = 1
#: units queued on the scheduler per worker thread besides the running ones
QUEUED_PER_THREAD = 1
#: seconds between looks at the futures when nothing wakes the coordinator earlier
POLL_S = 0.5
#: how long the coordinator waits for aborted units to end and report after a stop
STOP_WAIT_S = 300.0
MAX_WORKERS = 256
#: the local scheduler's HTTP endpoint (health, metrics): loopback, a free port (no clash with
#: another cluster's default 8787)
LOCAL_HTTP = "127.0.0.1:0"
#: one thread per local worker process and per numerical library in it: N workers, N cores
SINGLE_THREADED = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}
NOT_STARTED = "not started"
WORKER_PRELOAD = "acquisition.campaigns.dask_worker"


class ParallelRefused(ValueError):
    """The campaign cannot run on dask workers (one line: why, and what is allowed)."""


@dataclass(frozen=True)
class UnitTask:
    """Everything a worker needs to run one unit (sent to the worker with the task)."""

    topic: str
    rig_config: RigConfig
    rig_source: str
    calibration_dir: str
    folder: str
    ordinal: int
    unit: Unit
    attempt: int
    start: SimulationStart


@dataclass(frozen=True)
class UnitOutcome:
    """How one attempt at a unit ended, as the worker saw it."""

    attempt_id: str
    unit_key: str
    ordinal: int
    #: complete, aborted, failed; NOT_STARTED when the campaign was stopped before it began
    status: str
    reason: str = ""
    #: the index record of the run (CampaignIndex.begin's arguments); None: no run began
    begun: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    #: the CampaignStopped message of a unit that did not complete
    stop_message: str = ""
    #: an earlier attempt's complete run file, recorded instead of measuring again
    reused: bool = False


# ------------------------------------------------------------------------------ worker side
_registry_lock = threading.Lock()
_running_engines: dict[str, set[Engine]] = {}
_stopped_topics: dict[str, str] = {}


def stop_units(topic: str, reason: str) -> int:
    """On a worker (``client.run``): no unit of ``topic`` starts any more, the running ones are
    aborted (safely, by their engines). Returns how many were running."""
    with _registry_lock:
        _stopped_topics[topic] = reason
        engines = list(_running_engines.get(topic, ()))
    for engine in engines:
        engine.abort(reason)
    return len(engines)


def emergency_units(topic: str) -> int:
    """On a worker (``client.run``): as ``stop_units``, and every running unit's instruments
    safe at once (its engine's STOP). Returns how many were running."""
    with _registry_lock:
        _stopped_topics.setdefault(topic, "emergency stop")
        engines = list(_running_engines.get(topic, ()))
    for engine in engines:
        engine.emergency_stop()
    return len(engines)


def _stop_reason(topic: str) -> str | None:
    with _registry_lock:
        return _stopped_topics.get(topic)


class _StoppableEngine(Engine):
    """An engine that starts nothing once its campaign has been stopped."""

    def __init__(self, rig: Any, calibration_store: Any, topic: str) -> None:
        super().__init__(rig, calibration_store)
        self.topic = topic
        #: a start refused because the campaign was stopped (not a failure of the unit)
        self.refused_after_stop = False

    def start(self, experiment: str, params: dict[str, Any] | None = None,
              out_path: Path | None = None) -> Any:
        reason = _stop_reason(self.topic)
        if reason is not None:
            self.refused_after_stop = True
            raise RuntimeError(f"campaign stopped: {reason}")
        return super().start(experiment, params, out_path)


class _Coordinator:
    """Messages to the coordinator from a worker (dask events on the campaign's topic), from the
    task's thread or the unit's engine thread. Made in the task's thread, which knows its worker."""

    def __init__(self, topic: str) -> None:
        from distributed import get_worker

        self.topic = topic
        try:
            self.worker: Any = get_worker()
        except ValueError:  # not on a worker: nobody to tell
            self.worker = None

    def post(self, message: dict[str, Any]) -> None:
        if self.worker is not None:  # the worker's event loop sends it (thread-safe hand-over)
            self.worker.loop.add_callback(self.worker.log_event, self.topic, message)


class _WorkerRecorder:
    """``run_unit``'s index on a worker: announces the run to the coordinator as it begins and
    keeps how it finished for the task's outcome."""

    def __init__(self, task: UnitTask, attempt_id: str, coordinator: _Coordinator,
                 engine: _StoppableEngine) -> None:
        self.task = task
        self.attempt_id = attempt_id
        self.coordinator = coordinator
        self.engine = engine
        self.begun: dict[str, Any] | None = None
        self.finished: tuple[str, str, dict[str, Any]] | None = None

    def begin(self, unit_key: str, ordinal: int, step: int, label: str, variables: dict[str, Any],
              experiment: str | None, path: str | None) -> int:
        reason = _stop_reason(self.task.topic)
        if reason is not None:
            raise CampaignStopped(f"stopped before unit {unit_key}: {reason}")
        self.begun = {"unit_key": unit_key, "ordinal": ordinal, "step": step, "label": label,
                      "variables": dict(variables), "experiment": experiment, "path": path}
        self.coordinator.post({"kind": "begin", "attempt_id": self.attempt_id, "pid": os.getpid(),
                                "earlier": self._earlier_attempts(), **self.begun})
        return 0

    def finish(self, run_id: int, status: str, reason: str = "",
               metrics: dict[str, Any] | None = None) -> None:
        if status == "failed" and self.engine.refused_after_stop:
            # the operator's stop came between the announcement and the start: nothing ran, the
            # unit was stopped (as a running one is aborted), it did not fail
            status = "aborted"
        self.finished = (status, reason, dict(metrics or {}))

    def _earlier_attempts(self) -> list[str]:
        """Files of attempts the index may not know (a worker died running them)."""
        task = self.task
        if task.unit.experiment is None:
            return []
        folder = Path(task.folder)
        chosen = free_attempt(folder, task.ordinal, task.unit, task.attempt)
        return [f"runs/{run_file_name(task.ordinal, task.unit, a)}" for a in range(task.attempt, chosen)]


def _complete_attempt(task: UnitTask, attempt_id: str) -> UnitOutcome | None:
    """The outcome of an attempt at this unit whose run file is already complete, if any."""
    from acquisition.storage import open_run

    unit = task.unit
    if unit.experiment is None:
        return None
    folder = Path(task.folder)
    attempt = 1
    while True:
        name = run_file_name(task.ordinal, unit, attempt)
        path = folder / "runs" / name
        if not path.exists() and not path.with_name(name + ".journal").exists():
            return None
        try:
            run = open_run(path)
        except ValueError:
            run = None
        if run is not None and run.status == "complete":
            params = dict(unit.params)
            if unit.temperature_k is not None:
                params["temperature_k"] = unit.temperature_k
            log.info("unit %s: %s is complete already; recorded, not measured again", unit.key, path)
            begun = {"unit_key": unit.key, "ordinal": task.ordinal, "step": unit.step_index,
                     "label": unit.label, "variables": dict(unit.variables),
                     "experiment": unit.experiment, "path": f"runs/{name}"}
            return UnitOutcome(attempt_id, unit.key, task.ordinal, "complete", begun=begun,
                               metrics=_headline_metrics(run.summary, params, unit), reused=True)
        attempt += 1


def run_unit_task(task: UnitTask) -> UnitOutcome:
    """Run one unit on a worker: the rig re-created from its configuration and restarted at the
    unit's start, then the serial runner's ``run_unit``."""
    from acquisition.calibration import CalibrationStore
    from acquisition.rig import Rig

    attempt_id = uuid.uuid4().hex
    unit = task.unit
    reason = _stop_reason(task.topic)
    if reason is not None:
        return UnitOutcome(attempt_id, unit.key, task.ordinal, NOT_STARTED, reason)
    reused = _complete_attempt(task, attempt_id)
    if reused is not None:
        return reused
    rig = Rig(task.rig_config, source=task.rig_source)
    rig.restart_simulation(task.start)
    engine = _StoppableEngine(rig, CalibrationStore(Path(task.calibration_dir)), task.topic)
    coordinator = _Coordinator(task.topic)
    recorder = _WorkerRecorder(task, attempt_id, coordinator, engine)
    with _registry_lock:
        _running_engines.setdefault(task.topic, set()).add(engine)
    stop_message = ""
    engine.subscribe(unit_progress_listener(lambda fraction: coordinator.post(
        {"kind": "progress", "attempt_id": attempt_id, "unit_key": unit.key, "fraction": fraction})))
    try:
        run_unit(engine, Path(task.folder), task.ordinal, unit, recorder, task.attempt,
                 stop_reason=lambda: _stop_reason(task.topic))
    except CampaignStopped as exc:
        stop_message = str(exc)
    finally:
        with _registry_lock:
            _running_engines.get(task.topic, set()).discard(engine)
        engine.close()
    if recorder.finished is not None:
        status, reason, metrics = recorder.finished
        return UnitOutcome(attempt_id, unit.key, task.ordinal, status, reason, recorder.begun, metrics,
                           stop_message)
    # no run was recorded: stopped before it began, or its preparation did not complete (an
    # announced run that ended without an outcome is recorded, as stopped or failed)
    stopped = _stop_reason(task.topic)
    if stopped is not None:
        status = NOT_STARTED if recorder.begun is None else "aborted"
    else:
        status = "failed"
    return UnitOutcome(attempt_id, unit.key, task.ordinal, status, stopped or stop_message,
                       recorder.begun, {}, stop_message)


# ------------------------------------------------------------------------------ cluster
@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A dask.distributed client: on a new local cluster of ``workers`` processes (one thread
    each), or connected to the scheduler at ``scheduler``. ParallelRefused (one line) if the
    request is not allowed or the scheduler cannot be reached."""
    import dask
    from distributed import Client, LocalCluster

    # dask's own lines: errors only (a worker slow to close under load is not the operator's
    # concern; the campaign reports what a worker death did to its units), warnings with -v,
    # everything with -vv
    level = logging.getLogger().getEffectiveLevel()
    if level > logging.DEBUG:
        logging.getLogger("distributed").setLevel(logging.WARNING if level <= logging.INFO else logging.ERROR)
    if scheduler is not None:
        if workers is not None:
            raise ParallelRefused(f"workers={workers} cannot be combined with scheduler={scheduler!r}; "
                                  "allowed: --workers N (a local cluster) or --scheduler ADDRESS")
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParallelRefused(f"scheduler={scheduler!r} cannot be reached ({_one_line(exc)}); "
                                  "allowed: the address of a running dask scheduler, e.g. "
                                  "tcp://host:8786") from None
        with client:
            yield client
        return
    if workers is None or isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
        raise ParallelRefused(f"workers={workers} is outside the allowed range [1, {MAX_WORKERS}]")
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **SINGLE_THREADED}
    with dask.config.set({"distributed.scheduler.allowed-failures": RERUNS_AFTER_WORKER_DEATH,
                          "distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=LOCAL_HTTP, preload=[WORKER_PRELOAD],
                               silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


# ------------------------------------------------------------------------------ coordinator
class ParallelCampaignRunner(CampaignRunner):
    """A campaign on a fully simulated rig, its units on the dask workers of ``client``.

    ``engine`` (on the coordinator) checks the units and measures the power calibration before
    them if none is stored; the units themselves run on the workers. ``on_unit_started`` sees
    each run as a worker begins it (its ``unit_key``, ``path``, the worker's ``pid``)."""

    def __init__(self, campaign: Campaign, engine: Any, folder: Path, client: Any,
                 on_progress: Callable[[CampaignProgress], None] | None = None,
                 on_unit_started: Callable[[dict[str, Any]], None] | None = None) -> None:
        problem = isolation_problem(engine.rig)
        if problem is not None:
            raise ParallelRefused(f"rig {engine.rig.config.name!r}: {problem}; parallel units "
                                  "(--workers, --scheduler) need a fully simulated rig on the "
                                  "virtual clock (a real rig is one serial queue)")
        super().__init__(campaign, engine, folder, on_progress)
        self.client = client
        self._emergency = False
        self._wake = threading.Event()  # the dispatch loop's: a stop wakes it at once
        self.on_unit_started = on_unit_started or (lambda message: None)
        self.topic = f"avalab-campaign-{uuid.uuid4().hex}"

    def _run(self, index: CampaignIndex, resume: bool) -> CampaignResult:
        reconciled = reconcile(index, self.folder, self.units)
        done_keys = self._open_index(index, resume)
        result = CampaignResult(folder=self.folder, reconciled=reconciled)
        result.skipped = [u.key for u in self.units if u.key in done_keys]
        todo = [(o, u) for o, u in enumerate(self.units) if u.key not in done_keys]
        started = time.monotonic()
        if todo:
            try:
                calibrate_before_units(self.engine, self.units, self.folder)
            except (ValueError, RuntimeError) as exc:
                raise CampaignStopped(f"{_one_line(exc)}; fix the cause and continue with --resume") from None
            (self.folder / "runs").mkdir(parents=True, exist_ok=True)
            _Dispatch(self, index, todo, result, started).run()
        self.on_progress(CampaignProgress(
            done=len(self.units), total=len(self.units), unit=None, message="campaign complete",
            elapsed_s=time.monotonic() - started, eta_s=0.0, fraction=1.0, ended=True))
        return result

    def request_stop(self, reason: str) -> None:
        super().request_stop(reason)
        self._wake.set()

    def emergency_stop(self) -> None:
        """The operator's second signal: the coordinator's instruments safe now, and the dispatch
        loop has every worker make its running unit's instruments safe at once (a signal handler
        does not talk to the cluster itself)."""
        self._emergency = True
        super().emergency_stop()
        self._wake.set()

    def task(self, ordinal: int, unit: Unit, attempt: int) -> UnitTask:
        return UnitTask(topic=self.topic, rig_config=self.rig.loaded_config, rig_source=self.rig.source,
                        calibration_dir=str(Path(self.engine.calibration_store.directory).resolve()),
                        folder=str(self.folder.resolve()), ordinal=ordinal, unit=unit, attempt=attempt,
                        start=self._starts[ordinal])


class _Dispatch:
    """One parallel pass over the units still to do: submit, record, stop."""

    def __init__(self, runner: ParallelCampaignRunner, index: CampaignIndex,
                 todo: list[tuple[int, Unit]], result: CampaignResult, started: float) -> None:
        self.runner, self.index, self.result, self.started = runner, index, result, started
        self.client = runner.client
        self.todo = list(reversed(todo))          # popped from the end: plan order
        self.attempts = Counter(r.unit_key for r in index.runs())
        self.known_paths = {r.path for r in index.runs() if r.path}
        self.pending: dict[Any, tuple[int, Unit]] = {}
        self.rows: dict[str, int] = {}            # attempt id -> index row
        self.latest_row: dict[str, int] = {}      # unit key -> its latest index row
        self.finished_attempts: set[str] = set()
        self.running: dict[str, str] = {}         # attempt id -> unit key (begun, not finished)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.wake = runner._wake
        self.stop_message: str | None = None      # why no further unit is dispatched
        self.signalled = False                    # request_stop seen: workers told to abort
        self.emergency_sent = False               # emergency_stop seen: workers told to STOP
        self.work = WorkTracker({u.key: runner._estimates[o] for o, u in todo})
        self.last_progress = -float("inf")
        self.threads = max(1, sum(self.client.nthreads().values()))

    def run(self) -> None:
        self.client.subscribe_topic(self.runner.topic, self._on_event)
        self.runner.on_progress(CampaignProgress(
            done=len(self.result.skipped), total=len(self.runner.units), unit=None,
            message=f"{len(self.todo)} unit(s) on {self.threads} worker(s)", elapsed_s=0.0, eta_s=None))
        try:
            self._loop()
        finally:
            self.client.unsubscribe_topic(self.runner.topic)
        if self.stop_message is not None:
            raise CampaignStopped(self.stop_message)

    def _on_event(self, event: Any) -> None:  # on the client's event loop thread
        _, message = event
        self.events.put(message)
        self.wake.set()

    def _loop(self) -> None:
        deadline: float | None = None
        while self.pending or (self.todo and self.stop_message is None):
            if self.runner._emergency and not self.emergency_sent:  # first: the units still run
                self.emergency_sent = True
                made_safe = self.client.run(emergency_units, self.runner.topic, on_error="return")
                log.warning("campaign: emergency stop: %s running unit(s) made safe",
                            sum(n for n in made_safe.values() if isinstance(n, int)))
            if self.runner._stop_reason is not None and not self.signalled:
                self._stop_everything(self.runner._stop_reason)
                deadline = time.monotonic() + STOP_WAIT_S
            self._submit()
            self._drain_events()
            self.wake.clear()
            done = [f for f in self.pending if f.done()]
            if not done:
                if deadline is not None and time.monotonic() > deadline:
                    log.error("campaign: %d unit(s) did not report within %.0f s of the stop; their "
                              "index rows stay 'running' (--resume measures them again)",
                              len(self.pending), STOP_WAIT_S)
                    return
                self.wake.wait(POLL_S)
                continue
            for future in done:
                ordinal, unit = self.pending.pop(future)
                self._collect(future, ordinal, unit)

    def _submit(self) -> None:
        window = self.threads * (1 + QUEUED_PER_THREAD)
        while self.todo and self.stop_message is None and len(self.pending) < window:
            ordinal, unit = self.todo.pop()
            task = self.runner.task(ordinal, unit, 1 + self.attempts[unit.key])
            future = self.client.submit(run_unit_task, task, key=f"{self.runner.topic}-{ordinal}",
                                        retries=0)
            future.add_done_callback(lambda _: self.wake.set())
            self.pending[future] = (ordinal, unit)

    def _drain_events(self) -> None:
        while True:
            try:
                message = self.events.get_nowait()
            except queue.Empty:
                return
            if message["attempt_id"] in self.finished_attempts:
                continue  # an announcement that arrived after the unit's outcome
            if message.get("kind") == "progress":
                if message["attempt_id"] in self.running:
                    self.work.update(message["unit_key"], float(message["fraction"]))
                    self._progress(None)
                continue
            if message.get("kind") != "begin":
                continue
            for path in message.get("earlier", []):
                if path not in self.known_paths:  # a dead worker's file the index never heard of
                    self._begin_row(uuid.uuid4().hex, {**message, "path": path})
            if message["unit_key"] in self.latest_row and message["attempt_id"] not in self.rows:
                log.warning("campaign: unit %s is measured again on another worker: the worker running it "
                            "died (its run file is kept, superseded)", message["unit_key"])
            self._begin_row(message["attempt_id"], message)
            self.running[message["attempt_id"]] = message["unit_key"]
            self.work.update(message["unit_key"], 0.0)
            self.runner.on_unit_started(dict(message))
            self._progress(None, force=True)

    def _begin_row(self, attempt_id: str, record: dict[str, Any]) -> int:
        if attempt_id in self.rows:
            return self.rows[attempt_id]
        run_id = self.index.begin(record["unit_key"], record["ordinal"], record["step"], record["label"],
                                  dict(record["variables"]), record["experiment"], record["path"])
        self.rows[attempt_id] = run_id
        self.latest_row[record["unit_key"]] = run_id
        if record["path"]:
            self.known_paths.add(record["path"])
        return run_id

    def _collect(self, future: Any, ordinal: int, unit: Unit) -> None:
        from distributed.scheduler import KilledWorker

        self._drain_events()  # the announcement of this run, if it came first
        try:
            outcome: UnitOutcome = future.result()
        except KilledWorker:
            self._record_failure(ordinal, unit, f"the worker running it died {1 + RERUNS_AFTER_WORKER_DEATH} "
                                                "times (the scheduler gives up on it)")
            return
        except Exception as exc:  # noqa: BLE001 - cancelled, or a worker-side bug: recorded, not raised
            if future.cancelled():
                return
            self._record_failure(ordinal, unit, f"{type(exc).__name__}: {_one_line(exc)}")
            return
        finally:
            future.release()
        self._record(outcome, unit)

    def _record(self, outcome: UnitOutcome, unit: Unit) -> None:
        self.running.pop(outcome.attempt_id, None)
        self.finished_attempts.add(outcome.attempt_id)
        if outcome.status != "complete":
            self.work.drop(unit.key)
        if outcome.status == NOT_STARTED:
            return
        if outcome.begun is not None:
            if outcome.status == "complete" and unit.key in self.result.completed:
                log.warning("unit %s reported complete twice; the second run (%s) is not recorded",
                            unit.key, outcome.begun.get("path"))
                return
            run_id = self._begin_row(outcome.attempt_id, outcome.begun)
            self.index.finish(run_id, outcome.status, outcome.reason, outcome.metrics)
        if outcome.status == "complete":
            self.result.completed.append(unit.key)
            self.work.complete(unit.key)
            self._progress(unit, force=True)
            return
        message = outcome.stop_message or f"unit {unit.key} ended {outcome.status}: {outcome.reason}"
        self._stop_dispatch(message)

    def _record_failure(self, ordinal: int, unit: Unit, reason: str) -> None:
        self.work.drop(unit.key)
        run_id = self.latest_row.get(unit.key)
        if run_id is None:
            run_id = self.index.begin(unit.key, ordinal, unit.step_index, unit.label, dict(unit.variables),
                                      unit.experiment, None)
        self.index.finish(run_id, "failed", reason)
        self._stop_dispatch(f"unit {unit.key} failed: {reason}; fix the cause and continue with --resume")

    def _stop_dispatch(self, message: str) -> None:
        if self.stop_message is None:
            self.stop_message = message
            log.error("campaign: %s; units already running finish first", message)

    def _stop_everything(self, reason: str) -> None:
        """The operator's stop: workers abort their running units; the units submitted but not
        begun find the stop when a worker takes them and end 'not started'. They are not
        cancelled: a cancelled unit that had just begun would never report how it ended, its
        announcement arriving after the stop would leave its index row 'running'."""
        self.signalled = True
        self.stop_message = f"stopped: {reason}"
        aborted = self.client.run(stop_units, self.runner.topic, reason, on_error="return")
        log.warning("campaign stop: %s running unit(s) aborted",
                    sum(n for n in aborted.values() if isinstance(n, int)))

    def _progress(self, unit: Unit | None, force: bool = False) -> None:
        """Tell ``on_progress`` how far the campaign is: units done, the running units' share of
        their points (the workers' reports), the ETA (``unit``: the one that just completed)."""
        now = time.monotonic()
        if not force and now - self.last_progress < PROGRESS_INTERVAL_S:
            return
        self.last_progress = now
        running = self.work.running()
        shown = ", ".join(f"{key} {fraction:.0%}" for key, fraction in running)
        message = (f"{unit.key} done; " if unit is not None else "") + f"{len(running)} running: {shown}"
        runner = self.runner
        runner.on_progress(CampaignProgress(
            done=len(self.result.completed) + len(self.result.skipped), total=len(runner.units), unit=unit,
            message=message, elapsed_s=now - self.started, eta_s=self.work.eta_s(now),
            fraction=runner._fraction_done(self.work, set(self.result.skipped)), running=running))
