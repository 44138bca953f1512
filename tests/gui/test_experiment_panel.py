"""Experiment panel on the simulated rig's engine: form units, the one-line result of a finished
run, the progress bar at completion, long messages."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from acquisition.engine import Engine
from acquisition.events import Progress, RunFinished, RunStarted, RunStatus
from acquisition.experiments import EXPERIMENTS
from acquisition.rig import load_rig
from gui.experiment_panel import ExperimentPanel
from gui.param_form import display_unit


@pytest.fixture
def panel(qtbot, tmp_path) -> Iterator[ExperimentPanel]:
    rig = load_rig("sim", clock="virtual")
    rig.connect_all()
    engine = Engine(rig)
    widget = ExperimentPanel(engine, EXPERIMENTS, tmp_path / "runs")
    qtbot.addWidget(widget)
    yield widget
    engine.close()
    rig.close_all()


def _unit_texts(panel: ExperimentPanel, experiment: str) -> set[str]:
    form = panel.forms[experiment]
    return {label.text() for label in form.findChildren(type(form.general_errors))}


def test_form_units_read_like_the_plots(panel: ExperimentPanel) -> None:
    assert display_unit("kW/cm2") == "kW/cm²" and display_unit("W/cm2") == "W/cm²"
    assert display_unit("K") == "K" and display_unit("nm") == "nm" and display_unit(None) == ""
    assert {"kW/cm²", "K", "s"} <= _unit_texts(panel, "sweep")
    assert "kW/cm2" not in _unit_texts(panel, "sweep")
    assert "W/cm²" in _unit_texts(panel, "switch")


def _finish(panel: ExperimentPanel, status: RunStatus, summary: dict, reason: str = "") -> str:
    panel.handle_event(RunStarted("r1", "sweep", {}, None, 0.0))
    panel.handle_event(Progress("r1", 40, 65))
    panel.handle_event(RunFinished("r1", status, reason, summary))
    return panel.message_label.text()


def test_a_finished_sweep_says_thresholds_width_and_verdict(panel: ExperimentPanel) -> None:
    text = _finish(panel, RunStatus.COMPLETE, {"switch_on_kw_cm2": 5.08, "switch_off_kw_cm2": 3.45,
                                               "hysteresis_width_kw_cm2": 1.63, "bistable": True})
    assert text == ("complete — switch-on 5.08 kW/cm², switch-off 3.45 kW/cm², width 1.63 kW/cm², "
                    "bistable")
    # nested plans (calibration first) may leave 40/65 behind: a complete run shows a full bar
    assert panel.progress.value() == panel.progress.maximum() == 65


def test_a_finished_switch_pulsed_and_lifetime_run_say_their_result(panel: ExperimentPanel) -> None:
    assert _finish(panel, RunStatus.COMPLETE, {"latched_by_bias_kw_cm2": {"2.700": False, "4.084": True,
                                                                          "5.861": False}}) \
        == "complete — latched at 4.084 kW/cm² of 3 biases"
    assert _finish(panel, RunStatus.COMPLETE, {"conditions": [{"bistable": True}, {"bistable": False}]}) \
        == "complete — 1/2 chopper conditions bistable"
    assert _finish(panel, RunStatus.COMPLETE, {"rise_time_s": 0.0121, "decay_time_s": 0.00093}) \
        == "complete — rise 12.1 ms, decay 0.93 ms"


def test_a_failed_run_shows_its_reason_without_widening_the_panel(panel: ExperimentPanel) -> None:
    panel.resize(420, 900)
    panel.show()
    before = panel.minimumSizeHint().width()
    reason = "OSError: cannot write /" + "very_long_directory_name_without_spaces/" * 5 + "run.h5"
    text = _finish(panel, RunStatus.FAILED, {}, reason)
    assert text == f"failed: {reason}"
    assert panel.message_label.toolTip() == text
    assert panel.minimumSizeHint().width() <= before
    assert panel.progress.value() != panel.progress.maximum()  # a failed run's bar is not "done"


@pytest.mark.parametrize("typed", ["abc", "nan", "-5", "400", "50"])
def test_a_bad_temperature_in_the_form_states_the_rigs_range(panel: ExperimentPanel, typed: str) -> None:
    form = panel.select_experiment("sweep")
    form.set_value("temperature_k", typed)
    assert not form.is_valid
    assert form.field_error("temperature_k").endswith("allowed range [77, 300] K"), form.field_error("temperature_k")
    assert not panel.start_button.isEnabled()


def test_a_pulsed_run_shows_the_estimated_eta_from_its_start(panel: ExperimentPanel) -> None:
    from gui.run_queue import format_duration
    params = panel.select_experiment("pulsed").values()
    estimate = EXPERIMENTS["pulsed"].estimate_duration_s(params)
    assert estimate > 60
    panel.handle_event(RunStarted("run-p", "pulsed", params, None, 1.7e9))
    assert panel.estimated_remaining_s() == pytest.approx(estimate, abs=2)
    assert panel.state_label.text() == f"running, ~{format_duration(estimate)} left (estimate)"
    # a note (no count, no ETA: all a pulsed run reports) keeps the estimate on screen
    panel.handle_event(Progress("run-p", 0, None, "waiting for the cryostat", None))
    assert panel.state_label.text().startswith("running, ~") and "left" in panel.state_label.text()
    # it counts down while running
    panel._run_elapsed_s = 30.0
    panel._tick_estimate()
    assert panel.estimated_remaining_s() == pytest.approx(estimate - 30, abs=2)
    assert panel.state_label.text() == f"running, ~{format_duration(panel.estimated_remaining_s())} left (estimate)"
    # a run that reports its own ETA takes over
    panel.handle_event(Progress("run-p", 5, 10, "point 5", 42.0))
    assert panel.state_label.text() == "running, 42 s left"
    assert panel.estimated_remaining_s() is None
    panel.handle_event(RunFinished("run-p", RunStatus.COMPLETE, summary={}))
    assert panel.state_label.text() == "idle" and not panel._eta_timer.isActive()


def test_queue_entries_are_compact_with_the_full_text_in_the_tooltip(panel: ExperimentPanel) -> None:
    from gui.run_queue import QueuedRun
    panel.resize(420, 900)
    panel.show()
    runs = []
    for name in ("sweep", "pulsed", "switch", "lifetime", "calibrate", "temperature_series"):
        params = panel.select_experiment(name).values()
        if name == "sweep":
            params["temperature_k"] = 77.0
        runs.append(QueuedRun(name, params, panel._estimate(name, params)))
        panel.queue.add(runs[-1])
    panel.queue.held = True
    panel._refresh()
    assert panel.queue_list.count() == len(runs)
    for index, run in enumerate(runs):
        item = panel.queue_list.item(index)
        assert item.toolTip() == run.describe()  # every parameter still readable
        assert item.text().startswith(run.experiment) and len(item.text()) <= 80
        assert len(item.text()) < len(run.describe())
    sweep = panel.queue_list.item(0).text()
    assert sweep.startswith("sweep · 77 K, 1–10 kW/cm² ×91 · ~")
    assert "100,1000 Hz" in panel.queue_list.item(1).text()
    # no sideways scrolling in a narrow dock
    assert panel.queue_list.horizontalScrollBar().maximum() == 0 or panel.queue_list.horizontalScrollBar().isHidden()
    widest = max(panel.queue_list.fontMetrics().horizontalAdvance(panel.queue_list.item(i).text())
                 for i in range(panel.queue_list.count()))
    assert widest <= 420
