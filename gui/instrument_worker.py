"""Instrument polling and manual commands, on a thread of their own.

Reading thirteen instruments over serial links takes tens of milliseconds; doing it on the GUI
thread would stutter every plot. The worker lives in a QThread, polls at ``POLL_HZ`` through the
same thread-safe instrument objects the engine uses, and executes the operator's manual commands
(which may wait for a rotation stage) in order, reporting each result back through a signal.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PyQt6.QtCore import QMetaObject, QObject, Qt, QThread, QTimer, pyqtSignal, pyqtSlot

from drivers import interfaces as itf

log = logging.getLogger(__name__)

POLL_HZ = 3.0
COUNTER_POLL_DWELL_S = 0.1

Readings = dict[str, Any]


def read_instrument(instrument: itf.Instrument, *, allow_counting: bool) -> Readings:
    """One snapshot of the live values of ``instrument`` (SI units, angles in degrees)."""
    values: Readings = {"connected": bool(instrument.is_connected)}
    if not values["connected"]:
        return values
    if isinstance(instrument, itf.PumpLaser):
        values["power_w"] = instrument.get_power()
        values["emission"] = instrument.get_emission()
    elif isinstance(instrument, itf.RotationStage):
        values["angle_deg"] = instrument.get_position()
        values["moving"] = instrument.is_moving()
    elif isinstance(instrument, itf.PowerMeter):
        values["power_w"] = instrument.read_power()
        values["wavelength_m"] = instrument.get_wavelength()
    elif isinstance(instrument, itf.PhotonCounter):
        if allow_counting:
            values["rate_cps"] = instrument.count(COUNTER_POLL_DWELL_S) / COUNTER_POLL_DWELL_S
    elif isinstance(instrument, itf.Chopper):
        values["blade"] = instrument.get_blade()
        values["frequency_hz"] = instrument.get_frequency()
        values["actual_frequency_hz"] = instrument.get_actual_frequency()
        values["duty"] = instrument.get_duty_cycle()
        values["enabled"] = instrument.get_enabled()
    elif isinstance(instrument, itf.TemperatureController):
        values["temperature_k"] = instrument.get_temperature()
        values["setpoint_k"] = instrument.get_setpoint()
        values["heater_range"] = instrument.get_heater_range()
        values["heater_percent"] = instrument.get_heater_output()
    elif isinstance(instrument, itf.ControlLaser):
        values["wavelength_m"] = instrument.get_wavelength()
        values["emission"] = instrument.get_emission()
        values["shutter_open"] = instrument.get_shutter()
        values["power_w"] = instrument.get_power()
    elif isinstance(instrument, itf.Shutter):
        values["open"] = instrument.is_open()
    elif isinstance(instrument, itf.XYStage):
        values["xy_m"] = instrument.get_position()
        values["moving"] = instrument.is_moving()
    return values


class InstrumentWorker(QObject):
    """Lives in its own QThread: periodic readings plus a serial queue of manual commands."""

    readings = pyqtSignal(object)               # dict[role, Readings]
    command_finished = pyqtSignal(str, str, str)  # role, description, error text ("" if it worked)

    def __init__(self, instruments: dict[str, itf.Instrument], poll_hz: float = POLL_HZ) -> None:
        super().__init__()
        self.instruments = {role: ins for role, ins in instruments.items() if ins is not None}
        self.poll_interval_ms = int(1000 / poll_hz)
        #: counting occupies the APD counter for a dwell: only allowed while no run needs it
        self.counting_allowed = threading.Event()
        self.counting_allowed.set()
        self.poll_count = 0
        self._timer: QTimer | None = None

    @pyqtSlot()
    def start(self) -> None:
        self._timer = QTimer(self)
        self._timer.setInterval(self.poll_interval_ms)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self.poll()

    @pyqtSlot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    @pyqtSlot()
    def poll(self) -> None:
        snapshot: dict[str, Readings] = {}
        allow_counting = self.counting_allowed.is_set()
        for role, instrument in self.instruments.items():
            try:
                snapshot[role] = read_instrument(instrument, allow_counting=allow_counting)
            except Exception as exc:  # one failing instrument must not hide the others' readings
                log.debug("polling %s failed: %s", role, exc)
                snapshot[role] = {"connected": bool(getattr(instrument, "is_connected", False)),
                                  "error": str(exc)}
        self.poll_count += 1
        self.readings.emit(snapshot)

    @pyqtSlot(str, str, object)
    def execute(self, role: str, description: str, action: Callable[[], Any]) -> None:
        try:
            action()
        except Exception as exc:  # shown to the operator next to the control; logged for the record
            log.warning("%s: %s failed: %s", role, description, exc)
            self.command_finished.emit(role, description, str(exc) or type(exc).__name__)
        else:
            log.info("%s: %s", role, description)
            self.command_finished.emit(role, description, "")
        self.poll()


class InstrumentThread(QObject):
    """Owns the QThread the worker lives on and shuts both down cleanly."""

    execute_requested = pyqtSignal(str, str, object)

    def __init__(self, instruments: dict[str, itf.Instrument], poll_hz: float = POLL_HZ,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.qthread = QThread()
        self.qthread.setObjectName("instrument-poller")
        self.worker = InstrumentWorker(instruments, poll_hz)
        self.worker.moveToThread(self.qthread)
        self.qthread.started.connect(self.worker.start)
        self.execute_requested.connect(self.worker.execute)
        self.qthread.finished.connect(self.worker.deleteLater)

    def start(self) -> None:
        self.qthread.start()

    def submit(self, role: str, description: str, action: Callable[[], Any]) -> None:
        """Run ``action`` on the worker thread; the result arrives as ``worker.command_finished``."""
        self.execute_requested.emit(role, description, action)

    def shutdown(self, timeout_ms: int = 3000) -> None:
        if not self.qthread.isRunning():
            return
        # a timer must be stopped from its own thread: block until the worker has done it
        QMetaObject.invokeMethod(self.worker, "stop", Qt.ConnectionType.BlockingQueuedConnection)
        self.qthread.quit()
        if not self.qthread.wait(timeout_ms):
            log.error("instrument poller did not stop within %d ms", timeout_ms)
