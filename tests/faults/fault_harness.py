"""The fault-injection harness: run an experiment on the simulated rig whose wire-protocol
roles go through real drivers, fault proxies and the emulators, break one link at a chosen
moment, and collect what the run reported next to what the emulators say."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fault_rig import ProxiedBench, proxied_emulators

from acquisition import exit_codes
from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine
from acquisition.events import PointTaken, RunFinished, RunStarted
from acquisition.rig import load_rig
from acquisition.safe_state import SafeStateReport
from acquisition.storage import open_run


class FaultAt:
    """Engine subscriber that breaks ``role``'s link with ``fault`` (a FaultProxy fault, or
    ``"drop_once"``) at a moment of the run: ``"start"`` (RunStarted, before anything is set),
    or the n-th point of the run. It runs on the engine's thread, in step with the run."""

    def __init__(self, bench: ProxiedBench, role: str, fault: str, moment: str | int) -> None:
        self.bench, self.role, self.fault, self.moment = bench, role, fault, moment
        self.points = 0
        self.fired = False
        self.finished: RunFinished | None = None

    def __call__(self, event: Any) -> None:
        if isinstance(event, RunStarted) and self.moment == "start":
            self._fire()
        elif isinstance(event, PointTaken):
            if self.moment == self.points:
                self._fire()
            self.points += 1
        elif isinstance(event, RunFinished):
            self.finished = event

    def _fire(self) -> None:
        if self.fired:
            return
        self.fired = True
        proxy = self.bench.proxies[self.role]
        if self.fault == "drop_once":  # a transient loss: these connections close, new ones pass
            proxy.drop_connections()
        else:
            proxy.set_fault(self.fault)


@dataclass
class FaultOutcome:
    finished: RunFinished
    closing: SafeStateReport
    unsafe: dict[str, dict[str, Any]]
    points_emitted: int
    run_file: Path
    fired: bool
    #: connections each role's proxy accepted (a reconnect shows as more than one)
    connections: dict[str, int] = field(default_factory=dict)
    exit_code: int = field(init=False)

    def __post_init__(self) -> None:
        self.exit_code = exit_codes.for_run(self.finished, None, self.closing.failures)

    @property
    def reported(self) -> set[str]:
        return set(self.finished.safe_state_failures) | set(self.closing.failures)

    def assert_honest(self) -> None:
        """The three promises: not complete, nothing unsafe unreported, every point kept."""
        assert self.fired, "the fault was never injected (the run ended before that moment)"
        assert self.finished.status.value != "complete", "a run with a broken link reported complete"
        assert self.exit_code != exit_codes.OK
        unreported = set(self.unsafe) - self.reported
        assert not unreported, f"unsafe per the emulators but not reported: {self.unsafe}"
        if self.reported:
            assert self.exit_code == exit_codes.SAFE_STATE_FAILED
            assert self.finished.status.value == "failed"
            assert "safe state failed for" in self.finished.reason
        run = open_run(self.run_file)
        assert run.status == self.finished.status.value, (run.status, run.reason)
        assert run.n_points_total() == self.points_emitted
        if self.finished.safe_state_failures:
            assert "safe state failed for" in run.reason


def run_with_fault(calibration_dir: Path, tmp_path: Path, experiment: str, params: dict[str, Any],
                   role: str, fault: str, moment: str | int) -> FaultOutcome:
    rig = load_rig("sim")
    bench = proxied_emulators(rig, faulted=role)
    try:
        engine = Engine(rig, CalibrationStore(calibration_dir))
        trigger = FaultAt(bench, role, fault, moment)
        engine.subscribe(trigger)
        out = tmp_path / f"{experiment}.h5"
        finished = engine.start(experiment, params, out_path=out).wait(600)
        closing = engine.close()
        # the truth, from the emulators over direct links (the proxies stay broken)
        unsafe = bench.unsafe_roles()
        rig.close_all()
    finally:
        bench.close()
    connections = {role: proxy.connections for role, proxy in bench.proxies.items()}
    return FaultOutcome(finished, closing, unsafe, trigger.points, out, trigger.fired, connections)


