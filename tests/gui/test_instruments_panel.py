"""Instruments panel on the simulated rig: live readings from the poller thread, manual controls
with the drivers' own validation messages, and readings never taken on the GUI thread."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PyQt6.QtCore import Qt

from acquisition.rig import load_rig
from gui.instruments_panel import InstrumentsPanel


@pytest.fixture
def rig() -> Iterator[object]:
    rig = load_rig("sim")
    rig.connect_all()
    yield rig
    rig.safe_state_all()
    rig.close_all()


@pytest.fixture
def panel(qtbot, rig) -> Iterator[InstrumentsPanel]:
    widget = InstrumentsPanel(rig, poll_hz=10.0)
    qtbot.addWidget(widget)
    widget.start()
    qtbot.waitUntil(lambda: widget.readings_received >= 1, timeout=30000)
    yield widget
    widget.shutdown()


def test_every_role_shows_model_connection_and_readings(panel: InstrumentsPanel, rig) -> None:
    assert set(panel.boxes) == set(rig.instruments)
    for role, box in panel.boxes.items():
        assert rig.instruments[role].model in box.identity.text()
        assert box.connection.text() == "connected"
    assert "power" in panel.boxes["pump"].readings_label.text()
    assert "angle" in panel.boxes["hwp"].readings_label.text()
    assert "T " in panel.boxes["cryostat"].readings_label.text()
    assert "setpoint" in panel.boxes["cryostat"].readings_label.text()
    assert "Hz" in panel.boxes["chopper"].readings_label.text()
    assert "duty" in panel.boxes["chopper"].readings_label.text()
    assert "nm" in panel.boxes["control_laser"].readings_label.text()
    assert "shutter" in panel.boxes["control_laser"].readings_label.text()
    assert "count rate" in panel.boxes["counter"].readings_label.text()
    assert "max power density" in panel.interlock_label.text()


def test_polling_happens_off_the_gui_thread(qtbot, panel: InstrumentsPanel) -> None:
    seen: list[threading.Thread] = []
    cryostat = panel.poller.worker.instruments["cryostat"]
    original = cryostat.get_temperature

    def spy(*args, **kwargs):
        seen.append(threading.current_thread())
        return original(*args, **kwargs)

    cryostat.get_temperature = spy  # type: ignore[method-assign]
    try:
        qtbot.waitUntil(lambda: len(seen) >= 2, timeout=30000)
    finally:
        del cryostat.get_temperature
    assert all(thread is not threading.main_thread() for thread in seen)


def test_driver_validation_error_is_shown_under_the_role(qtbot, panel: InstrumentsPanel) -> None:
    box = panel.boxes["pump"]
    box.inputs["power_mw"].setText("1e9")
    qtbot.mouseClick(box.buttons["power_mw_set"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.message.isVisibleTo(box) and "power" in box.message.text(), timeout=30000)
    assert "allowed" in box.message.text() or "range" in box.message.text()
    assert box.message.styleSheet().startswith("color: #c00000")


def test_text_that_is_not_a_number_is_refused_before_sending(qtbot, panel: InstrumentsPanel) -> None:
    box = panel.boxes["cryostat"]
    box.inputs["setpoint_k"].setText("cold")
    qtbot.mouseClick(box.buttons["setpoint_k_set"], Qt.MouseButton.LeftButton)
    assert box.message.text() == "cryostat.setpoint_k='cold' is not a number"


def test_valid_commands_reach_the_instrument(qtbot, panel: InstrumentsPanel, rig) -> None:
    box = panel.boxes["cryostat"]
    box.inputs["setpoint_k"].setText("80")
    qtbot.mouseClick(box.buttons["setpoint_k_set"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.message.text() == "done: set setpoint 80 K", timeout=30000)
    assert rig.cryostat.get_setpoint() == pytest.approx(80.0)
    qtbot.waitUntil(lambda: "setpoint 80.00 K" in box.readings_label.text(), timeout=30000)
    shutter = panel.boxes["pump_shutter"]
    qtbot.mouseClick(shutter.buttons["open"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rig.pump_shutter.is_open(), timeout=30000)
    qtbot.waitUntil(lambda: shutter.readings_label.text() == "open", timeout=30000)


def test_controls_lock_during_a_run_and_interlock_trips_show(panel: InstrumentsPanel) -> None:
    panel.set_run_active(True)
    assert not panel.boxes["pump"].controls.isEnabled()
    assert panel.stop_button.isEnabled()
    assert not panel.poller.worker.counting_allowed.is_set()
    panel.show_interlock("count_rate", "12 Mcps above 10 Mcps")
    assert "TRIPPED: count_rate" in panel.interlock_status.text()
    panel.set_run_active(False)
    assert panel.boxes["pump"].controls.isEnabled()


LONG = ("InstrumentError: cryostat at sim://bench: command 'SETP 100.065': temperature_k=100.065 K cannot "
        "be reached: it levels off at ~90.6 K (reading 90.64 K) with the heater off")


def test_long_read_errors_and_interlock_trips_wrap_instead_of_widening_the_panel(qtbot, panel: InstrumentsPanel) -> None:
    # stop the poller first: a fresh reading arriving during the wait would replace the error text
    panel.shutdown()
    qtbot.wait(20)  # deliver readings the poller queued before it stopped
    panel.resize(340, 900)
    panel.show()
    before = panel.minimumSizeHint().width()
    panel.boxes["pump"].update_readings({"error": LONG})
    panel.show_interlock("temperature", "temperature=99.561 K is outside the band 100.065 +- 0.5 K " * 2)
    qtbot.wait(50)
    assert panel.boxes["pump"].readings_label.text().startswith("read error: InstrumentError")
    # the Set / Emission off buttons stay inside a 340 px dock: nothing forces the panel wider
    assert panel.minimumSizeHint().width() <= max(before, 340)
    assert panel.boxes["pump"].minimumSizeHint().width() < 340


def test_out_of_range_pump_power_is_reported_in_mw_and_refused(qtbot, panel: InstrumentsPanel, rig) -> None:
    box = panel.boxes["pump"]
    before = rig.pump.get_power()
    box.inputs["power_mw"].setText("99999")
    qtbot.mouseClick(box.buttons["power_mw_set"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.message.isVisibleTo(box) and "outside" in box.message.text(), timeout=30000)
    assert box.message.text() == "pump.power_mw=99999 mW is outside the allowed range [0, 3000] mW"
    assert " W" not in box.message.text()
    assert box.message.styleSheet().startswith("color: #c00000")
    assert rig.pump.get_power() == pytest.approx(before) and before <= 3.0  # refused: nothing moved


def test_in_operator_units_rewrites_only_range_messages_in_the_drivers_unit() -> None:
    from gui.instruments_panel import in_operator_units
    assert in_operator_units("power=-0.0015 W is outside the allowed range [0, 2] W", "pump.power_mw", "W", "mW",
                             1e3) == "pump.power_mw=-1.5 mW is outside the allowed range [0, 2000] mW"
    other = "pump: emission interlock open"
    assert in_operator_units(other, "pump.power_mw", "W", "mW", 1e3) == other
    nm = "wavelength=2e-06 m is outside the allowed range [1e-06, 1.1e-06] m"
    assert in_operator_units(nm, "pump.power_mw", "W", "mW", 1e3) == nm
