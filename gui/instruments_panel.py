"""Instruments panel: per role its driver, connection, live readings and manual controls, the
interlock state, and the STOP button.

Readings come from the InstrumentWorker thread; manual commands are sent to it too, and the
driver's own validation decides what is allowed (its ValueError text is shown under the role).
Numbers are typed in operator units (mW, nm, Hz, K) and converted to SI here, at the edge.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any, Callable

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QPushButton, QScrollArea, QVBoxLayout, QWidget)

from drivers import interfaces as itf
from gui.instrument_worker import InstrumentThread, Readings

log = logging.getLogger(__name__)

OK_STYLE = "color: #007000;"
ERROR_STYLE = "color: #c00000;"
STOP_STYLE = ("QPushButton { background: #d00000; color: white; font-weight: bold; font-size: 20px;"
              " border-radius: 6px; padding: 10px; } QPushButton:pressed { background: #900000; }")


def parse_number(field: str, text: str) -> float:
    """Operator text -> float, with a one-line error in the drivers' style."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{field}={text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{field}={value} is not a finite number")
    return value


_OUT_OF_RANGE = re.compile(r"^(?P<field>[\w.]+)=(?P<value>\S+) (?P<unit>\S+) is outside the allowed range "
                           r"(?P<open>[\[(])(?P<low>[^,\s]+), (?P<high>[^\])\s]+)(?P<close>[\])]) (?P=unit)$")


def _scaled(text: str, factor: float) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{round(number * factor, 9):g}" if math.isfinite(number) else f"{number:g}"


def in_operator_units(message: str, field: str, si_unit: str, unit: str, factor: float) -> str:
    """A driver's out-of-range message in SI ("pump.power_w=99.999 W is outside the allowed
    range [0, 3] W") restated in the control's unit ("pump.power_mw=99999 mW is outside the
    allowed range [0, 3000] mW"); any other message is returned as it is. Only the wording
    changes: the driver's check is what refused the value."""
    match = _OUT_OF_RANGE.match(message.strip())
    if match is None or match.group("unit") != si_unit:
        return message
    return (f"{field}={_scaled(match.group('value'), factor)} {unit} is outside the allowed range "
            f"{match.group('open')}{_scaled(match.group('low'), factor)}, "
            f"{_scaled(match.group('high'), factor)}{match.group('close')} {unit}")


def _on_off(flag: Any) -> str:
    return "on" if flag else "off"


def format_readings(readings: Readings) -> str:
    """Human-readable one-per-line summary of a role's readings (operator units)."""
    if "error" in readings:
        return f"read error: {readings['error']}"
    if not readings.get("connected", False):
        return "not connected"
    lines: list[str] = []
    if "xy_m" in readings:
        x_m, y_m = readings["xy_m"]
        lines.append(f"x {x_m * 1e3:.4f} mm   y {y_m * 1e3:.4f} mm"
                     f"{' (moving)' if readings.get('moving') else ''}")
    if "angle_deg" in readings:
        lines.append(f"angle {readings['angle_deg']:.3f}°{' (moving)' if readings.get('moving') else ''}")
    if "temperature_k" in readings:
        lines.append(f"T {readings['temperature_k']:.2f} K   setpoint {readings['setpoint_k']:.2f} K")
        lines.append(f"heater range {readings['heater_range']}   output {readings['heater_percent']:.1f} %")
    if "blade" in readings:
        lines.append(f"blade {readings['blade']}   {_on_off(readings['enabled'])}")
        lines.append(f"f {readings['actual_frequency_hz']:.1f} Hz (set {readings['frequency_hz']:.1f} Hz)"
                     f"   duty {readings['duty']:.2f}")
    if "wavelength_m" in readings and "shutter_open" in readings:
        lines.append(f"λ {readings['wavelength_m'] * 1e9:.1f} nm   emission {_on_off(readings['emission'])}"
                     f"   shutter {'open' if readings['shutter_open'] else 'closed'}")
        lines.append(f"power {readings['power_w'] * 1e3:.3f} mW")
    elif "power_w" in readings and "emission" in readings:
        lines.append(f"power {readings['power_w'] * 1e3:.2f} mW   emission {_on_off(readings['emission'])}")
    elif "power_w" in readings:
        wavelength = readings.get("wavelength_m")
        lines.append(f"power {readings['power_w'] * 1e6:.3f} µW"
                     + (f"   at {wavelength * 1e9:.0f} nm" if wavelength else ""))
    if "rate_cps" in readings:
        lines.append(f"count rate {readings['rate_cps']:.4g} cps")
    if "open" in readings:
        lines.append("open" if readings["open"] else "closed")
    return "\n".join(lines) if lines else "(no live readings for this role)"


class RoleBox(QGroupBox):
    """One role: identity line, readings, manual controls, and the last command's outcome."""

    def __init__(self, role: str, instrument: itf.Instrument,
                 submit: Callable[[str, str, Callable[[], Any]], None]) -> None:
        super().__init__(role)
        self.setObjectName(f"role_{role}")
        self.role = role
        self.instrument = instrument
        self._submit = submit
        self.identity = QLabel(f"{instrument.model} @ {instrument.address}")
        self.identity.setWordWrap(True)
        self.connection = QLabel("…")
        self.readings_label = QLabel("waiting for first reading")
        self.readings_label.setFont(QFont("monospace", 9))
        self.readings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # a long read error (one line from the driver) must wrap, not widen the panel until the
        # Set / Emission off / Stop buttons leave the dock behind a horizontal scroll bar
        self.readings_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.controls = QWidget()
        self.controls_layout = QGridLayout(self.controls)
        self.controls_layout.setContentsMargins(0, 0, 0, 0)
        self.inputs: dict[str, QLineEdit | QComboBox] = {}
        self.buttons: dict[str, QPushButton] = {}
        head = QHBoxLayout()
        head.addWidget(self.identity, 1)
        head.addWidget(self.connection)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.readings_label)
        layout.addWidget(self.controls)
        layout.addWidget(self.message)
        self.last_readings: Readings = {}
        self._build_controls()

    # --- controls ------------------------------------------------------------------------------
    def _row(self, label: str, key: str, placeholder: str, unit: str,
             apply: Callable[[float], tuple[str, Callable[[], Any]]],
             si: tuple[str, float] | None = None) -> None:
        """One typed setting; ``si`` = (driver's unit, factor to the control's unit) restates the
        driver's out-of-range message in the unit the operator typed (e.g. ("W", 1e3) for mW)."""
        row = self.controls_layout.rowCount()
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setObjectName(f"{self.role}_{key}")
        button = QPushButton("Set")
        button.setObjectName(f"{self.role}_{key}_set")

        def send() -> None:
            try:
                value = parse_number(f"{self.role}.{key}", edit.text())
            except ValueError as exc:
                self.show_result("", str(exc))
                return
            description, action = apply(value)
            if si is not None:
                action = self._in_control_unit(action, f"{self.role}.{key}", si[0], unit, si[1])
            self._submit(self.role, description, action)

        button.clicked.connect(send)
        edit.returnPressed.connect(send)
        self.controls_layout.addWidget(QLabel(label), row, 0)
        self.controls_layout.addWidget(edit, row, 1)
        self.controls_layout.addWidget(QLabel(unit), row, 2)
        self.controls_layout.addWidget(button, row, 3)
        self.inputs[key] = edit
        self.buttons[f"{key}_set"] = button

    @staticmethod
    def _in_control_unit(action: Callable[[], Any], field: str, si_unit: str, unit: str,
                         factor: float) -> Callable[[], Any]:
        def run() -> Any:
            try:
                return action()
            except ValueError as exc:
                raise ValueError(in_operator_units(str(exc), field, si_unit, unit, factor)) from exc
        return run

    def _buttons(self, *specs: tuple[str, str, Callable[[], Any]]) -> None:
        row = self.controls_layout.rowCount()
        line = QHBoxLayout()
        for key, text, action in specs:
            button = QPushButton(text)
            button.setObjectName(f"{self.role}_{key}")
            button.clicked.connect(lambda _=False, t=text, a=action: self._submit(self.role, t, a))
            line.addWidget(button)
            self.buttons[key] = button
        holder = QWidget()
        holder.setLayout(line)
        line.setContentsMargins(0, 0, 0, 0)
        self.controls_layout.addWidget(holder, row, 0, 1, 4)

    def _build_controls(self) -> None:
        ins = self.instrument
        if isinstance(ins, itf.PumpLaser):
            self._row("power", "power_mw", f"0 .. {ins.max_power * 1e3:g}", "mW",
                      lambda mw: (f"set power {mw:g} mW", lambda: ins.set_power(mw * 1e-3)), si=("W", 1e3))
            self._buttons(("emission_on", "Emission on", lambda: ins.set_emission(True)),
                          ("emission_off", "Emission off", lambda: ins.set_emission(False)))
        elif isinstance(ins, itf.RotationStage):
            self._row("angle", "angle_deg", "degrees", "°",
                      lambda deg: (f"move to {deg:g}°", lambda: ins.move_to(deg, wait=False)))
            self._buttons(("home", "Home", lambda: ins.home(wait=False)), ("stop", "Stop", ins.stop))
        elif isinstance(ins, itf.XYStage):
            self._row("x", "x_mm", "mm", "mm",
                      lambda mm: (f"move x to {mm:g} mm",
                                  lambda: ins.move_to(mm * 1e-3, ins.get_position()[1], wait=False)))
            self._row("y", "y_mm", "mm", "mm",
                      lambda mm: (f"move y to {mm:g} mm",
                                  lambda: ins.move_to(ins.get_position()[0], mm * 1e-3, wait=False)))
            self._buttons(("home", "Home", lambda: ins.home(wait=False)), ("stop", "Stop", ins.stop))
        elif isinstance(ins, itf.PowerMeter):
            self._row("wavelength", "wavelength_nm", "nm", "nm",
                      lambda nm: (f"set wavelength {nm:g} nm", lambda: ins.set_wavelength(nm * 1e-9)))
        elif isinstance(ins, itf.Chopper):
            blade = QComboBox()
            blade.addItems(list(itf.BLADES))
            blade.setObjectName(f"{self.role}_blade")
            set_blade = QPushButton("Set blade")
            def send_blade() -> None:
                name = blade.currentText()
                self._submit(self.role, f"set blade {name}", lambda: ins.set_blade(name))

            set_blade.clicked.connect(send_blade)
            row = self.controls_layout.rowCount()
            self.controls_layout.addWidget(QLabel("blade"), row, 0)
            self.controls_layout.addWidget(blade, row, 1, 1, 2)
            self.controls_layout.addWidget(set_blade, row, 3)
            self.inputs["blade"] = blade
            self.buttons["blade_set"] = set_blade
            self._row("frequency", "frequency_hz", "Hz", "Hz",
                      lambda hz: (f"set frequency {hz:g} Hz", lambda: ins.set_frequency(hz)))
            self._row("duty", "duty", "open fraction (0, 1]", "",
                      lambda d: (f"set duty cycle {d:g}", lambda: ins.set_duty_cycle(d)))
            self._buttons(("start", "Start", lambda: ins.set_enabled(True)),
                          ("stop", "Stop", lambda: ins.set_enabled(False)))
        elif isinstance(ins, itf.TemperatureController):
            self._row("setpoint", "setpoint_k", "K", "K",
                      lambda k: (f"set setpoint {k:g} K", lambda: ins.set_setpoint(k)))
            self._row("heater range", "heater_range", "0 off, 1 low, 2 med, 3 high", "",
                      lambda r: (f"set heater range {r:g}", lambda: ins.set_heater_range(
                          int(r) if float(r).is_integer() else r)))  # type: ignore[arg-type]
        elif isinstance(ins, itf.ControlLaser):
            low, high = ins.wavelength_range
            self._row("wavelength", "wavelength_nm", f"{low * 1e9:.0f} .. {high * 1e9:.0f}", "nm",
                      lambda nm: (f"tune to {nm:g} nm", lambda: ins.set_wavelength(nm * 1e-9)))
            self._buttons(("shutter_open", "Open shutter", lambda: ins.set_shutter(True)),
                          ("shutter_close", "Close shutter", lambda: ins.set_shutter(False)))
        elif isinstance(ins, itf.Shutter):
            self._buttons(("open", "Open", ins.open), ("close", "Close", ins.close_shutter))
        if self.controls_layout.count() == 0:
            self.controls.hide()

    # --- updates -------------------------------------------------------------------------------
    def set_controls_enabled(self, enabled: bool) -> None:
        self.controls.setEnabled(enabled)

    def update_readings(self, readings: Readings) -> None:
        merged = dict(readings)
        if "rate_cps" not in merged and "rate_cps" in self.last_readings and "error" not in merged:
            merged["rate_cps"] = self.last_readings["rate_cps"]  # keep the run-fed rate on screen
        self.last_readings = merged
        connected = bool(merged.get("connected"))
        self.connection.setText("connected" if connected else "disconnected")
        self.connection.setStyleSheet(OK_STYLE if connected else ERROR_STYLE)
        self.readings_label.setText(format_readings(merged))

    def show_result(self, description: str, error: str) -> None:
        self.message.setText(error if error else f"done: {description}")
        self.message.setStyleSheet(ERROR_STYLE if error else OK_STYLE)
        self.message.show()


class InstrumentsPanel(QWidget):
    """All roles of the rig, the interlock state and STOP."""

    stop_requested = pyqtSignal()
    temperature_sample = pyqtSignal(float, object)  # K, setpoint K or None
    stage_position = pyqtSignal(float, float)         # XY stage (x, y), m

    def __init__(self, rig: Any, poll_hz: float = 3.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rig = rig
        self.stop_button = QPushButton("STOP")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.setStyleSheet(STOP_STYLE)
        self.stop_button.setToolTip("Abort the run and put every instrument in its safe state")
        self.stop_button.setMinimumHeight(56)
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_status = QLabel()
        self.stop_status.setWordWrap(True)
        self.interlock_label = QLabel()
        self.interlock_label.setWordWrap(True)
        self.interlock_status = QLabel("interlocks: OK")
        # a trip's detail is a sentence: wrap it, or the dock widens and pushes the window past 1500 px
        self.interlock_status.setWordWrap(True)
        self.interlock_status.setStyleSheet(OK_STYLE)
        self._describe_limits()

        self.poller = InstrumentThread(rig.instruments, poll_hz, self)
        self.boxes: dict[str, RoleBox] = {
            role: RoleBox(role, instrument, self.poller.submit)
            for role, instrument in rig.instruments.items() if instrument is not None}
        self.poller.worker.readings.connect(self._on_readings,
                                            Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.poller.worker.command_finished.connect(self._on_command_finished,
                                                    Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        body = QWidget()
        body_layout = QVBoxLayout(body)
        for box in self.boxes.values():
            body_layout.addWidget(box)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stop_button)
        layout.addWidget(self.stop_status)
        interlocks = QGroupBox("Interlocks")
        interlock_layout = QVBoxLayout(interlocks)
        interlock_layout.addWidget(self.interlock_label)
        interlock_layout.addWidget(self.interlock_status)
        layout.addWidget(interlocks)
        layout.addWidget(scroll, 1)
        self.readings_received = 0

    def start(self) -> None:
        self.poller.start()

    def shutdown(self) -> None:
        self.poller.shutdown()

    def _describe_limits(self) -> None:
        try:
            limits = self.rig.config.limits
            density = limits.max_power_density_w_m2 / 1e7
            rate = limits.max_count_rate_cps
            self.interlock_label.setText(f"max power density {density:.3g} kW/cm²\n"
                                         f"max count rate {rate / 1e6:.3g} Mcps")
        except AttributeError:
            self.interlock_label.setText("no limits configured for this rig")

    # --- slots -----------------------------------------------------------------------------------
    def _on_readings(self, snapshot: dict[str, Readings]) -> None:
        self.readings_received += 1
        for role, readings in snapshot.items():
            box = self.boxes.get(role)
            if box is not None:
                box.update_readings(readings)
        stage = snapshot.get("xy_stage", {})
        if "xy_m" in stage:
            self.stage_position.emit(float(stage["xy_m"][0]), float(stage["xy_m"][1]))
        cryostat = snapshot.get("cryostat", {})
        if "temperature_k" in cryostat:
            self.temperature_sample.emit(float(cryostat["temperature_k"]), cryostat.get("setpoint_k"))

    def _on_command_finished(self, role: str, description: str, error: str) -> None:
        box = self.boxes.get(role)
        if box is not None:
            box.show_result(description, error)

    def move_stage(self, x_m: float, y_m: float) -> bool:
        """Send the XY stage to (x, y) through the instrument worker (a map click); refused with
        a line in the stage's box while a run owns the instruments. True if it was sent."""
        box = self.boxes.get("xy_stage")
        stage = getattr(self.rig, "xy_stage", None)
        if box is None or stage is None:
            log.info("map click ignored: this rig has no xy_stage")
            return False
        if not box.controls.isEnabled():
            box.show_result("", "a run is moving the stage; click again when it has finished")
            return False
        description = f"move to ({x_m * 1e3:.4f}, {y_m * 1e3:.4f}) mm"
        self.poller.submit("xy_stage", description, lambda: stage.move_to(x_m, y_m, wait=False))
        return True

    def show_run_rate(self, rate_cps: float) -> None:
        """While a run owns the counter, show the rate of its latest point instead of polling."""
        box = self.boxes.get("counter")
        if box is not None:
            box.last_readings["rate_cps"] = rate_cps
            box.readings_label.setText(format_readings(box.last_readings))

    def set_run_active(self, active: bool) -> None:
        """Manual controls are locked while a run owns the instruments (STOP never is)."""
        for box in self.boxes.values():
            box.set_controls_enabled(not active)
        if active:
            self.poller.worker.counting_allowed.clear()
        else:
            self.poller.worker.counting_allowed.set()

    def show_interlock(self, interlock: str, detail: str) -> None:
        self.interlock_status.setText(f"TRIPPED: {interlock}: {detail}")
        self.interlock_status.setStyleSheet(ERROR_STYLE + " font-weight: bold;")

    def clear_interlock(self) -> None:
        self.interlock_status.setText("interlocks: OK")
        self.interlock_status.setStyleSheet(OK_STYLE)

    def show_stop_result(self, result: dict[str, str | None]) -> None:
        failures = {role: err for role, err in result.items() if err}
        if failures:
            self.stop_status.setText("NOT SAFE: " + "; ".join(f"{r}: {e}" for r, e in failures.items()))
            self.stop_status.setStyleSheet(ERROR_STYLE + " font-weight: bold;")
        else:
            self.stop_status.setText(f"all {len(result)} instruments in their safe state")
            self.stop_status.setStyleSheet(OK_STYLE)
