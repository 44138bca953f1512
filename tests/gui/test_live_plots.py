"""Live plots fed with engine events: branches, colours, thresholds, traces, histograms."""
from __future__ import annotations

import math
import threading

import numpy as np

from acquisition.events import PointTaken, RunFinished, RunStarted, RunStatus
from gui.event_bridge import EngineEventBridge
from gui.live_plots import DOWN_COLOR, UP_COLOR, LivePlots


def _sweep_events(run_id: str, n: int) -> list[PointTaken]:
    """A bistable loop: dark (~100 cps) below the jump, bright (~1e6 cps) above it."""
    densities = np.linspace(1e7, 1e8, n)  # 1 .. 10 kW/cm2
    events = []
    for i, d in enumerate(densities):
        events.append(PointTaken(run_id, "sweep", i, {"density_w_m2": d, "rate_cps": 1e6 if d > 6.7e7 else 100.0,
                                                      "direction": "up", "temperature_k": 77.0,
                                                      "timestamp_s": float(i)}))
    for j, d in enumerate(densities[::-1]):
        events.append(PointTaken(run_id, "sweep", n + j, {"density_w_m2": d, "rate_cps": 1e6 if d > 4.2e7 else 100.0,
                                                          "direction": "down", "temperature_k": 77.1,
                                                          "timestamp_s": float(n + j)}))
    return events


def test_sweep_points_split_into_red_up_and_blue_down_on_log_axes(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(RunStarted("r1", "sweep", {}, None, 0.0))
    for event in _sweep_events("r1", 20):
        plots.handle_event(event)
    plots.refresh()
    hyst = plots.hysteresis
    x_up, y_up = hyst.up_branch.plotted()
    x_down, _ = hyst.down_branch.plotted()
    assert len(x_up) == 20 and len(x_down) == 20
    assert hyst.getPlotItem().ctrl.logXCheck.isChecked() and hyst.getPlotItem().ctrl.logYCheck.isChecked()
    # plotted() returns the displayed (log10) coordinates
    assert math.isclose(x_up[0], 0.0) and math.isclose(x_up[-1], 1.0)
    assert math.isclose(y_up[-1], 6.0)
    assert hyst.up_branch.scatter.opts["brush"].color().getRgb()[:3] == UP_COLOR
    assert hyst.down_branch.scatter.opts["brush"].color().getRgb()[:3] == DOWN_COLOR
    assert len(plots.temperature.run.x) == 40


def test_thresholds_from_the_run_summary_are_drawn(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(RunStarted("r1", "sweep", {}, None, 0.0))
    plots.handle_event(RunFinished("r1", RunStatus.COMPLETE, summary={"switch_on_kw_cm2": 6.7,
                                                                       "switch_off_kw_cm2": 4.2}))
    lines = plots.hysteresis.threshold_lines
    assert set(lines) == {"switch-on", "switch-off"}
    assert math.isclose(lines["switch-on"].value(), math.log10(6.7))
    assert math.isclose(lines["switch-off"].value(), math.log10(4.2))
    plots.handle_event(RunStarted("r2", "sweep", {}, None, 0.0))
    assert plots.hysteresis.threshold_lines == {}


def test_zero_rate_points_are_not_sent_to_log_axes(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(PointTaken("r", "sweep", 0, {"density_w_m2": 1e7, "rate_cps": 0.0, "direction": "up"}))
    plots.handle_event(PointTaken("r", "sweep", 1, {"density_w_m2": 2e7, "rate_cps": 50.0, "direction": "up"}))
    plots.refresh()
    x, _ = plots.hysteresis.up_branch.plotted()
    assert plots.hysteresis.point_count == 2 and len(x) == 1


def test_switching_trace_shades_the_control_pulse(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(RunStarted("s", "switch", {}, None, 0.0))
    # 1 s of baseline in 10 ms bins, a 1 s control pulse, 3 s of hold (bright: latched)
    plots.handle_event(PointTaken("s", "switch", 0, {"baseline_counts": np.full(100, 1.0), "pulse_s": 1.0,
                                                     "hold_counts": np.full(300, 1e4), "bin_s": 0.01,
                                                     "bias_w_m2": 5e7, "latched": True}))
    plots.refresh()
    assert plots.currentWidget() is plots.trace
    assert plots.trace.sample_count == 100 + 1 + 300  # the pulse is one NaN gap
    assert plots.trace.getPlotItem().titleLabel.text == "bias 5 kW/cm² — latched"
    assert plots.trace.pulse_region.isVisible() and plots.trace.pulse_s == (1.0, 2.0)
    assert plots.trace.pulse_region.getRegion() == (1.0, 2.0)


def test_histogram_shows_counts_per_bin(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    bins = np.arange(100) * 1e-5
    counts = np.floor(1000 * np.exp(-bins / 2.3e-4))
    plots.handle_event(PointTaken("l", "histogram", 0, {"bin_times_s": bins, "counts": counts}))
    plots.refresh()
    x, _ = plots.histogram.curve.getData()
    assert plots.histogram.total_counts == int(counts.sum())
    assert len(x) == 101  # step mode: bin edges


class _ThreadedSource:
    """Engine-like publisher: subscribers are called on a worker thread, as the engine does."""

    def __init__(self) -> None:
        self.subscribers: list = []

    def subscribe(self, callback):
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def publish_from_thread(self, events) -> threading.Thread:
        def run() -> None:
            for event in events:
                for callback in list(self.subscribers):
                    callback(event)
        thread = threading.Thread(target=run)
        thread.start()
        return thread


def test_bridge_delivers_worker_thread_events_in_order_on_the_gui_thread(qtbot) -> None:
    source = _ThreadedSource()
    bridge = EngineEventBridge(source)
    received: list[tuple[int, bool]] = []
    gui_thread = threading.current_thread()
    bridge.received.connect(lambda e: received.append((e.index, threading.current_thread() is gui_thread)))
    events = [PointTaken("r", "sweep", i, {"rate_cps": 1.0}) for i in range(5000)]
    source.publish_from_thread(events).join()
    qtbot.waitUntil(lambda: len(received) == 5000, timeout=30000)
    assert [i for i, _ in received] == list(range(5000))
    assert all(on_gui for _, on_gui in received)
    bridge.close()
    assert source.subscribers == []


def test_calibration_points_are_plotted_per_stage(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(RunStarted("c", "calibrate", {}, None, 0.0))
    for i, angle in enumerate(range(0, 46, 5)):
        power = 0.1 * math.cos(math.radians(2 * angle)) ** 2
        plots.handle_event(PointTaken("c", "calibration", i, {"stage": "plate", "angle_deg": float(angle),
                                                              "objective_power_w": power}))
    plots.handle_event(PointTaken("c", "calibration", 99, {"stage": "wheel", "angle_deg": 10.0,
                                                           "objective_power_w": 0.05}))
    plots.refresh()
    assert plots.currentWidget() is plots.calibration
    x, y = plots.calibration.curves["plate"].getData()
    assert len(x) == 10 and math.isclose(y[0], 0.1) and y[-1] < 1e-3
    assert plots.calibration.sample_count == 11


def test_a_burst_is_delivered_in_slices_so_timers_still_run(qtbot) -> None:
    """20000 events pushed at once (a fast virtual-clock run) must not monopolise the GUI thread."""
    from PyQt6.QtCore import QTimer

    source = _ThreadedSource()
    bridge = EngineEventBridge(source)
    delivered: list[int] = []
    ticks_during_delivery: list[int] = []
    bridge.received.connect(lambda e: delivered.append(e.index))
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks_during_delivery.append(len(delivered))
                          if 0 < len(delivered) < 20000 else None)
    timer.start()
    source.publish_from_thread([PointTaken("r", "sweep", i, {}) for i in range(20000)]).join()
    qtbot.waitUntil(lambda: len(delivered) == 20000, timeout=30000)
    timer.stop()
    assert delivered == list(range(20000))
    assert ticks_during_delivery, "the timer never ran while the burst was being delivered"
    bridge.close()


def test_pulsed_run_plots_its_sweeps_one_condition_at_a_time(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(RunStarted("r0", "sweep", {}, None, 0.0))
    for event in _sweep_events("r0", 5):
        plots.handle_event(event)
    plots.handle_event(RunStarted("r1", "pulsed", {}, None, 0.0))
    assert plots.currentWidget() is plots.hysteresis  # pulsed streams "sweep" points, not traces
    assert plots.hysteresis.point_count == 0  # the previous run's loop is gone
    for frequency in (100.0, 1000.0):
        for event in _sweep_events("r1", 6):
            event.data.update({"frequency_hz": frequency, "duty_cycle": 0.5})
            plots.handle_event(event)
        assert plots.hysteresis.point_count == 12  # only this condition's loop
        assert plots.hysteresis.getPlotItem().titleLabel.text == f"chopper {frequency:g} Hz, duty 0.5"


def test_temperature_series_starts_a_new_loop_per_temperature(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(RunStarted("r1", "temperature_series", {}, None, 0.0))
    for kelvin in (77, 100):
        for event in _sweep_events("r1", 4):
            plots.handle_event(PointTaken("r1", f"T{kelvin}K_sweep", event.index, event.data))
        assert plots.hysteresis.point_count == 8
        assert plots.hysteresis.getPlotItem().titleLabel.text == f"T = {kelvin} K"


def test_switching_trace_says_which_bias_it_shows(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.handle_event(RunStarted("r1", "switch", {}, None, 0.0))
    plots.handle_event(PointTaken("r1", "switch", 0, {
        "bias_w_m2": 4.084e7, "latched": True, "pulse_s": 1.0, "bin_s": 0.5,
        "baseline_counts": np.full(4, 50.0), "hold_counts": np.full(4, 5000.0)}))
    plots.refresh()
    assert plots.currentWidget() is plots.trace
    assert plots.trace.getPlotItem().titleLabel.text == "bias 4.08 kW/cm² — latched"
    assert plots.trace.pulse_s == (2.0, 3.0)


def test_histogram_axis_labels_decades_only(qtbot) -> None:
    plots = LivePlots()
    qtbot.addWidget(plots)
    axis = plots.histogram.getPlotItem().getAxis("left")
    labels = axis.logTickStrings([1.0, math.log10(20), math.log10(50), 2.0], 1.0, 1.0)
    assert labels[0] and labels[3] and labels[1] == "" and labels[2] == ""
