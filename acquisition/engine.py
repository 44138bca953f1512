"""The acquisition engine: runs one experiment at a time in a worker thread.

Experiments only describe steps (a plan receiving a ``PlanContext``); the engine owns the thread,
the interlocks, pause/resume/abort and the event stream. Every point goes to every subscriber the
moment it is taken (storage writes it at once, the GUI plots it, the CLI advances its bar).

Whatever way a run ends (complete, aborted, failed, process exit), every instrument is put in its
safe state. Public API (GUI and campaign runner code against it):

    engine = Engine(rig)
    unsubscribe = engine.subscribe(callback)        # callback(event), on the worker thread
    handle = engine.start("sweep", {...}, out_path)  # validates first: ValueError, nothing moves
    engine.pause(); engine.resume(); engine.abort(); engine.state; engine.is_busy
    handle.wait(timeout) -> RunFinished
    engine.emergency_stop(); engine.close()
"""
from __future__ import annotations

import atexit
import dataclasses
import inspect
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acquisition.calibration import CalibrationStore
from acquisition.events import Event, RunFinished, RunStarted, RunState, RunStatus, StateChanged
from acquisition.experiments import EXPERIMENTS, POWER_CALIBRATION, Experiment, get_experiment, providing
from acquisition.interlocks import InterlockLimits
from acquisition.plan_context import PlanContext, RunSession
from acquisition.run_control import AbortRequested, RunControl, RunFailure
from acquisition.safe_state import SafeStateReport
from acquisition.version import software_version

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]



def required_roles(experiment: str, params: dict[str, Any]) -> list[str]:
    """The rig roles a run of ``experiment`` with validated ``params`` needs (the experiment
    declares them: ``Experiment.required_roles``)."""
    return get_experiment(experiment).required_roles(params)


def check_required_roles(rig: Any, experiment: str, params: dict[str, Any]) -> None:
    """ValueError (one line) naming the experiment and the roles the rig lacks."""
    missing = [role for role in required_roles(experiment, params) if getattr(rig, role, None) is None]
    if missing:
        present = [role for role in getattr(rig, "instruments", {}) if getattr(rig, role, None) is not None]
        raise ValueError(f"rig: {experiment} needs roles {', '.join(missing)}; this rig has: "
                         f"{', '.join(present) or 'no roles'} (add [roles.{missing[0]}] to the rig file)")


def preflight_run(rig: Any, calibration_store: CalibrationStore, experiment: str,
                  params: dict[str, Any], out_path: Path | None = None) -> None:
    """``Engine.preflight`` without an engine (the CLI runs it before anything is created):
    the rig has the roles the experiment needs, the run file can be written, and the validated
    ``params`` are within what the rig's stored calibrations reach. Touches no instrument;
    ValueError (one line)."""
    check_required_roles(rig, experiment, params)
    if out_path is not None:
        from acquisition.storage.naming import check_out_path_writable  # storage pulls in h5py

        check_out_path_writable(Path(out_path))
    # a stale stored calibration is not an error: the run calibrates first (and says so)
    get_experiment(experiment).preflight_check(params, rig, calibration_store)


def drive_plan(result: Any, ctx: PlanContext) -> dict[str, Any]:
    """A plan is a function returning its summary, or a generator: each ``yield`` is then one
    more checkpoint (pause/abort/interlocks) and the generator's return value is the summary."""
    if inspect.isgenerator(result):
        try:
            while True:
                next(result)
                ctx.checkpoint()
        except StopIteration as stop:
            result = stop.value
    return dict(result or {})


class RunHandle:
    """A started run: its id, its file, and a way to wait for the end."""

    def __init__(self, run_id: str, experiment: str, path: Path | None) -> None:
        self.run_id = run_id
        self.experiment = experiment
        self.path = path
        self._done = threading.Event()
        self._finished: RunFinished | None = None

    def _finish(self, event: RunFinished) -> None:
        self._finished = event
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def result(self) -> RunFinished | None:
        return self._finished

    def wait(self, timeout: float | None = None) -> RunFinished:
        """Block until the run has finished (instruments already safe); TimeoutError otherwise."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"run {self.run_id} still running after {timeout} s")
        assert self._finished is not None
        return self._finished


class Engine:
    """Runs experiments on one rig, one at a time."""

    def __init__(self, rig: Any, calibration_store: CalibrationStore | None = None) -> None:
        self.rig = rig
        self.calibration_store = calibration_store or CalibrationStore()
        self._subscribers: list[Subscriber] = []
        self._lock = threading.RLock()
        self._control: RunControl | None = None
        self._thread: threading.Thread | None = None
        # True from start() until the run is over and safe; the worker thread may live a moment
        # longer (telling subscribers), but a new run may already start then
        self._active = False
        self._handle: RunHandle | None = None
        self._closed = False
        self._closing_safe_state = SafeStateReport()
        # a weak reference, so an atexit hook never keeps a discarded engine (and rig) alive
        self_ref = weakref.ref(self)
        self._atexit = lambda: (lambda e: e._at_exit() if e is not None else None)(self_ref())
        atexit.register(self._atexit)

    # ---- subscribers -----------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return unsubscribe

    def _publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken plot must not stop a measurement
                log.exception("subscriber %r failed on %s", callback, type(event).__name__)

    # ---- state -----------------------------------------------------------------------------
    @property
    def state(self) -> RunState:
        with self._lock:
            if self._control is None or not self._active:
                return RunState.IDLE
            return self._control.state

    @property
    def is_busy(self) -> bool:
        with self._lock:
            return self._active

    @property
    def current_run(self) -> RunHandle | None:
        with self._lock:
            return self._handle if self.is_busy else None

    # ---- starting --------------------------------------------------------------------------
    def validate(self, experiment: str, params: dict[str, Any]) -> dict[str, Any]:
        """Full parameter validation against the schema and this rig (ValueError, one line)."""
        return get_experiment(experiment).validate(params, self.rig)

    def start(self, experiment: str, params: dict[str, Any] | None = None,
              out_path: Path | None = None) -> RunHandle:
        """Validate, then run ``experiment`` in a worker thread. Nothing moves on a ValueError."""
        if self._closed:
            raise RuntimeError("engine is closed")
        exp = get_experiment(experiment)
        validated = exp.validate(params or {}, self.rig)
        self.preflight(exp.name, validated, out_path)
        with self._lock:
            if self.is_busy:
                raise RuntimeError("a run is already in progress; abort it or wait for it to finish")
            run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{exp.name}-{uuid.uuid4().hex[:6]}"
            path = Path(out_path) if out_path is not None else None
            handle = RunHandle(run_id, exp.name, path)
            control = RunControl(run_id, self._publish)
            self._control, self._handle = control, handle
            self._active = True
            self._thread = threading.Thread(target=self._run, name=f"avalab-run-{run_id}",
                                            args=(exp, validated, control, handle), daemon=True)
            self._thread.start()
        log.info("run %s started: %s %s -> %s", run_id, exp.name, validated, path)
        return handle

    def preflight(self, experiment: str, params: dict[str, Any], out_path: Path | None = None) -> None:
        """Start-time checks of validated ``params`` beyond the schema and the rig limits: the run
        file can be written, and the settings are within what the stored calibrations reach.
        ValueError (one line) before anything moves; ``start`` runs it."""
        preflight_run(self.rig, self.calibration_store, experiment, params, out_path)

    # ---- operator requests -----------------------------------------------------------------
    def pause(self) -> None:
        with self._lock:
            if self._control is not None and self.is_busy:
                log.info("pause requested")
                self._control.request_pause()

    def resume(self) -> None:
        with self._lock:
            if self._control is not None and self.is_busy:
                log.info("resume requested")
                self._control.request_resume()

    def abort(self, reason: str = "aborted by operator") -> None:
        with self._lock:
            if self._control is not None and self.is_busy:
                log.warning("abort requested: %s", reason, extra={"reported_by_cli": True})
                self._control.request_abort(reason)

    def emergency_stop(self) -> SafeStateReport:
        """STOP button: abort any run and put every instrument in its safe state now."""
        log.warning("EMERGENCY STOP")
        self.abort("emergency stop")
        return self.rig.safe_state_all()

    def close(self, timeout: float = 30.0) -> SafeStateReport:
        """Abort a run in progress, wait for it to end, make everything safe. Returns each role's
        safe-state error (None: safe), as ``rig.safe_state_all()`` reported it on closing."""
        if self._closed:
            return self._closing_safe_state
        self.abort("engine closed")
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._closing_safe_state = self.rig.safe_state_all()
        self._closed = True
        atexit.unregister(self._atexit)
        return self._closing_safe_state

    def _at_exit(self) -> None:
        try:
            self.close(timeout=10.0)
        except Exception:  # at exit, log and keep going: the interpreter is going away
            log.exception("engine close at exit failed")

    # ---- the worker ------------------------------------------------------------------------
    def run_plan(self, ctx: PlanContext, experiment: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run ``experiment``'s plan with ``ctx`` (also used for plans nested in a run)."""
        exp = get_experiment(experiment)
        validated = exp.validate(params, self.rig)
        ctx.params = validated
        return drive_plan(exp.plan(ctx, validated), ctx)

    def _run(self, exp: Experiment, params: dict[str, Any], control: RunControl, handle: RunHandle) -> None:
        writer = None
        session = RunSession(rig=self.rig, control=control, publish=self._publish,
                             limits=InterlockLimits.from_rig(self.rig),
                             calibration_store=self.calibration_store, run_plan=self.run_plan)
        status, reason, summary = RunStatus.FAILED, "", {}
        storage = StorageGuard(control)
        unsubscribe_writer: Callable[[], None] | None = None
        try:
            self.rig.connect_all()
            if handle.path is not None:
                try:
                    writer = self._open_writer(handle.path)
                except OSError as exc:
                    storage.fail(exc)
                    raise RunFailure(storage.error or "storage") from None
                unsubscribe_writer = self._subscribe_writer(writer, storage)
            session.started_at = self.rig.clock.now()
            self._publish(RunStarted(control.run_id, exp.name, dict(params),
                                     str(handle.path) if handle.path else None, time.time()))
            # RunControl starts out RUNNING; subscribers still get the transition, after RunStarted
            self._publish(StateChanged(control.run_id, RunState.RUNNING, "started"))
            control.raise_if_failed()  # the header could not be written: nothing moves
            ctx = PlanContext(session, params)
            if params.get("temperature_k") is not None:
                ctx.cryostat.set(float(params["temperature_k"]))
            else:
                ctx.cryostat.hold_current()
            summary = drive_plan(exp.plan(ctx, params), ctx)
            if session.calibration is not None:
                summary.setdefault("calibration", session.calibration.to_dict())
            summary.setdefault("calibrated_first", session.calibrated_in_run)
            if session.stale_calibration:
                summary.setdefault("stale_calibration", session.stale_calibration)
            self._summarize_readback(session, summary)
            control.raise_if_failed()  # the last point's write may have failed
            status = RunStatus.COMPLETE
        except RunFailure as exc:
            status, reason = RunStatus.FAILED, str(exc)
            # StorageGuard logged the cause; the CLI prints the outcome in one line
            log.error("run %s failed: %s", control.run_id, reason, extra={"reported_by_cli": True})
        except AbortRequested as exc:
            status, reason = RunStatus.ABORTED, str(exc) or "aborted"
            # the CLI reports the abort itself (summary / "avalab: ..." line): not twice on stderr
            log.warning("run %s aborted: %s", control.run_id, reason, extra={"reported_by_cli": True})
        except Exception as exc:
            status, reason = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
            log.error("run %s failed: %s", control.run_id, reason)
            log.debug("run %s traceback", control.run_id, exc_info=True)
        finally:
            if status != RunStatus.COMPLETE:
                control.set_state(RunState.ABORTING, reason)
            report = self.rig.safe_state_all()
            if storage.error is not None and status != RunStatus.FAILED:
                # a write error after the plan's last checkpoint (a state change while ending)
                status, reason = RunStatus.FAILED, storage.error
            if not report.ok:
                # the most urgent news first: an instrument may not be safe
                status = RunStatus.FAILED
                reason = report.message + (f" (run: {reason})" if reason else "")
                summary = {**summary, "safe_state_failed": report.failures}
            finished = RunFinished(control.run_id, status, reason, summary,
                                   str(handle.path) if handle.path else None,
                                   safe_state_failures=report.failures, storage_error=storage.error)
            control.set_state(RunState.IDLE, status.value)
            if writer is not None:
                # the file is finalised first and the writer leaves the subscribers, so a run
                # started from a RunFinished callback cannot reach this run's file
                if unsubscribe_writer is not None:
                    unsubscribe_writer()
                finished = self._finalise(writer, finished, storage)
            with self._lock:
                self._active = False
            self._publish(finished)
            log.info("run %s finished: %s %s", control.run_id, finished.status.value, finished.reason)
            handle._finish(finished)

    def _finalise(self, writer: Any, finished: RunFinished, storage: "StorageGuard") -> RunFinished:
        """Write the final run file; a failure turns the run into ``failed: storage: ...``
        (the journal, holding every point, stays for ``recover``)."""
        try:
            writer.handle(finished)
        except Exception as exc:
            storage.fail(exc)
        self._close_writer(writer)
        if storage.error is None or finished.storage_error is not None:
            return finished  # written, or the run already ended failed for this storage error
        if finished.safe_state_failures:  # the safety message stays first
            reason = f"{finished.reason}; {storage.error}"
        else:
            was = finished.status.value + (f": {finished.reason}" if finished.reason else "")
            reason = f"{storage.error} (the run itself ended {was})"
        return dataclasses.replace(finished, status=RunStatus.FAILED, reason=reason,
                                   storage_error=storage.error)

    @staticmethod
    def _summarize_readback(session: RunSession, summary: dict[str, Any]) -> None:
        """Pick-off readbacks against the calibrated prediction: counts in the summary, and a
        warning there (and in the log) when any setting was off by more than the tolerance."""
        from acquisition.plan_context import READBACK_TOLERANCE

        if not session.readback_checked:
            return
        deviations = session.readback_deviations
        worst = session.readback_max_deviation
        summary.setdefault("density_readback", {
            "settings_checked": session.readback_checked, "settings_off": len(deviations),
            "tolerance_pct": 100 * READBACK_TOLERANCE, "max_deviation_pct": 100 * worst,
            "first_off": deviations[:5]})
        if deviations:
            message = (f"measured density differed from the calibrated prediction by more than "
                       f"{100 * READBACK_TOLERANCE:.0f} % at {len(deviations)} of {session.readback_checked} "
                       f"settings (worst {100 * worst:.0f} %); recalibrate (avalab {providing(POWER_CALIBRATION).name})")
            log.warning("run %s: %s", session.control.run_id, message)
            summary.setdefault("warnings", []).append(message)

    # ---- storage ---------------------------------------------------------------------------
    def _open_writer(self, path: Path) -> Any:
        from acquisition.storage import RunWriter  # storage pulls in h5py; only runs that save need it
        path.parent.mkdir(parents=True, exist_ok=True)
        # the calibration the run starts with (None when there is none valid for this rig: the
        # run calibrates first); one measured during the run is in its summary
        stored, _ = self.calibration_store.load_for_rig(self.rig)
        return RunWriter(path, rig_config=self.rig.config_dict(), identities=self.rig.identities(),
                         software_version=software_version(),
                         calibration=stored.to_dict() if stored is not None else None)

    def _subscribe_writer(self, writer: Any, storage: "StorageGuard") -> Callable[[], None]:
        def store(event: Event) -> None:
            if not storage.journal_intact:
                return  # the run is stopping; the finish is attempted once more at the end
            try:
                writer.handle(event)
            except Exception as exc:
                storage.fail(exc)

        def snapshot_failed(exc: BaseException) -> None:
            storage.fail(exc, journal_intact=True)

        # a live snapshot's write error arrives from the writer's own thread: the run stops at
        # its next checkpoint, as for any other write error; the journal still takes every event
        # until then (a point measured meanwhile is kept)
        if hasattr(writer, "on_storage_error"):
            writer.on_storage_error = snapshot_failed
        # first in line, so a point is on disk before anyone else sees it
        with self._lock:
            self._subscribers.insert(0, store)

        def unsubscribe() -> None:
            with self._lock:
                if store in self._subscribers:
                    self._subscribers.remove(store)
        return unsubscribe

    @staticmethod
    def _close_writer(writer: Any) -> None:
        close = getattr(writer, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.exception("closing the run file failed")


class StorageGuard:
    """The first write error of a run's file: recorded once, and the run told to stop."""

    def __init__(self, control: RunControl) -> None:
        self._control = control
        self._lock = threading.Lock()  # the run's thread and the run file's snapshot thread
        self.error: str | None = None
        #: False once a write to the journal itself failed (only a live snapshot failing keeps it)
        self.journal_intact = True

    def fail(self, exc: BaseException, journal_intact: bool = False) -> None:
        """Record a write error; ``journal_intact``: it was a live snapshot's, the journal still
        takes records."""
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        with self._lock:
            if not journal_intact:
                self.journal_intact = False
            if self.error is not None:
                log.debug("further storage error: %s", exc)
                return
            self.error = f"storage: {detail}"
        log.error("run %s: %s; stopping the run", self._control.run_id, self.error,
                  extra={"reported_by_cli": True})
        self._control.request_failure(self.error)


__all__ = ["Engine", "RunHandle", "EXPERIMENTS"]
