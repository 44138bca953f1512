"""STOP: abort the run and put every instrument in its safe state, without freezing the GUI.

The engine's emergency stop talks to every instrument; over serial links that can take a second,
so it runs on a short-lived thread and reports back through a signal. The button is never
disabled by the GUI: a second press simply starts another stop.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

log = logging.getLogger(__name__)


class EmergencyStop(QObject):
    """``trigger()`` from the GUI thread; ``finished`` carries role -> error text (None if safe)."""

    started = pyqtSignal()
    finished = pyqtSignal(object)

    def __init__(self, engine: Any, rig: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.rig = rig
        self.last_result: dict[str, str | None] | None = None

    def trigger(self) -> threading.Thread:
        log.warning("STOP pressed: aborting the run and putting every instrument in its safe state")
        self.started.emit()
        thread = threading.Thread(target=self._run, name="emergency-stop", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        result: dict[str, str | None] = {}
        try:
            result.update(self.engine.emergency_stop() or {})
        except Exception as exc:  # the engine may be the broken part: go to the rig directly
            log.exception("engine emergency stop failed; putting the rig in its safe state directly")
            result["engine"] = str(exc)
            try:
                result.update(self.rig.safe_state_all())
            except Exception as rig_exc:
                log.exception("safe_state_all failed")
                result["rig"] = str(rig_exc)
        self.last_result = result
        failures = {role: err for role, err in result.items() if err}
        if failures:
            log.error("STOP: not safe: %s", failures)
        else:
            log.warning("STOP: every instrument is in its safe state")
        try:
            self.finished.emit(result)
        except RuntimeError:  # the window closed while the stop ran
            pass
