"""Every registered experiment has every part, and each part works on a real short run.

The registry is enumerated: a new experiment is covered by adding its module and its registry
line, with nothing to add here. Each listed experiment runs its own ``example`` parameters on the
simulated rig (virtual clock) into a run file; then its roles, analysis, summary lines, file plot,
live panels (fed with the run's own events), runs-browser re-plot and re-analysis, queue label,
campaign-report section and duration estimate are each exercised on that run.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from acquisition.calibration import CalibrationStore
from acquisition.engine import Engine, preflight_run
from acquisition.events import Event, PointTaken, RunFinished, RunStatus
from acquisition.experiments import EXPERIMENTS, listed_experiments
from acquisition.experiments.base import LivePlot, stored_summary
from acquisition.rig import load_rig

LISTED = [e.name for e in listed_experiments()]
#: the module's first test runs every example (about 2 min of simulated physics on a quiet machine)
pytestmark = pytest.mark.timeout(900)


@dataclass
class ExampleRun:
    name: str
    path: Path
    finished: RunFinished
    rig_seconds: float
    events: list[Event] = field(default_factory=list)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ExampleRun]]:
    """Each listed experiment's example run on the simulated rig (one calibration first)."""
    folder = tmp_path_factory.mktemp("registry")
    store = CalibrationStore(folder / "calibration")
    rig = load_rig("sim")
    engine = Engine(rig, store)
    runs: dict[str, ExampleRun] = {}
    try:
        assert engine.start("calibrate", {}).wait(600).status == RunStatus.COMPLETE
        for name in LISTED:
            events: list[Event] = []
            unsubscribe = engine.subscribe(events.append)
            path = folder / f"{name}.h5"
            started = rig.clock.now()
            finished = engine.start(name, dict(EXPERIMENTS[name].example), path).wait(900)
            unsubscribe()
            runs[name] = ExampleRun(name, path, finished, rig.clock.now() - started, events)
        yield runs
    finally:
        engine.close()
        rig.close_all()


def _run(examples: dict[str, ExampleRun], name: str) -> ExampleRun:
    run = examples[name]
    assert run.finished.status == RunStatus.COMPLETE, f"{name}: {run.finished.reason}"
    return run


def test_every_experiment_declares_every_part() -> None:
    for experiment in EXPERIMENTS.values():
        assert experiment.schema.parameters and callable(experiment.plan) and callable(experiment.duration)
        assert experiment.required_roles(experiment.schema.validate(dict(experiment.example))), experiment.name
        if not experiment.listed:
            continue
        missing = [part for part in ("file_plot", "report") if getattr(experiment, part) is None]
        assert not missing, f"{experiment.name} has no {', '.join(missing)}"
        assert experiment.analyze is not stored_summary, f"{experiment.name} has no analysis of its stored streams"
        assert experiment.figures or experiment.detail_lines is not None, experiment.name
        assert experiment.live_plots(experiment.schema.validate(dict(experiment.example))), experiment.name
        assert experiment.example, f"{experiment.name} has no example parameters"
        for panel in experiment.live_plots(experiment.schema.validate(dict(experiment.example))):
            assert panel.kind in LivePlot.KINDS, f"{experiment.name}: panel kind {panel.kind!r}"


@pytest.mark.parametrize("name", LISTED)
def test_roles_are_those_the_run_needs(examples: dict[str, ExampleRun], name: str, tmp_path: Path) -> None:
    _run(examples, name)
    experiment = EXPERIMENTS[name]
    params = experiment.validate(dict(experiment.example))
    roles = experiment.required_roles(params)
    rig = load_rig("sim")
    try:
        for role in roles:  # a rig without any one of them is refused before anything moves
            present = rig.instruments.pop(role)
            with pytest.raises(ValueError, match=f"needs roles {role}"):
                preflight_run(rig, CalibrationStore(tmp_path), name, params)
            rig.instruments[role] = present
    finally:
        rig.close_all()


@pytest.mark.parametrize("name", LISTED)
def test_stored_analysis_gives_the_run_own_figures(examples: dict[str, ExampleRun], name: str) -> None:
    from acquisition.cli_output import human_summary, json_safe
    from acquisition.reanalysis import reanalyze
    from acquisition.storage import open_run

    from acquisition.version import software_version

    run = _run(examples, name)
    experiment = EXPERIMENTS[name]
    stored = open_run(run.path)
    assert stored.software_version == software_version()  # the installed package's, not a constant
    figures = reanalyze(stored)
    for figure in experiment.figures:
        assert figure.key in figures, f"{name}: figure {figure.key} missing from the analysis"
        assert json_safe(figures[figure.key]) == json_safe(run.finished.summary.get(figure.key)), figure.key
    lines = experiment.summary_lines(figures)
    assert lines and lines == experiment.summary_lines(run.finished.summary), name
    assert human_summary({"experiment": name, "status": "complete", **figures}).splitlines()[1:1 + len(lines)] == lines


@pytest.mark.parametrize("name", LISTED)
def test_file_plot_draws_the_run(examples: dict[str, ExampleRun], name: str, tmp_path: Path) -> None:
    from PyQt6.QtGui import QImage

    from acquisition.plotting import plot_run_file

    run = _run(examples, name)
    png = plot_run_file(run.path, tmp_path / f"{name}.png")
    image = QImage(str(png))
    assert image.width() >= 600 and image.height() >= 400
    # not a blank page: many distinct colours (curves, markers, text)
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20


def _drawn(widget: Any) -> int:
    """How much a panel widget shows: points, samples or counts."""
    for attribute in ("point_count", "sample_count", "total_counts"):
        if hasattr(widget, attribute):
            return int(getattr(widget, attribute))
    raise AssertionError(f"unknown panel widget {widget!r}")


@pytest.mark.parametrize("name", LISTED)
def test_live_panels_draw_the_run_events(examples: dict[str, ExampleRun], name: str, qtbot) -> None:
    from gui.live_plots import LivePlots

    run = _run(examples, name)
    plots = LivePlots()
    qtbot.addWidget(plots)
    for event in run.events:
        plots.handle_event(event)
    plots.refresh()
    panels = plots.renderer.panels
    assert panels, name
    first = plots.renderer.widgets[panels[0].kind]
    assert plots.currentWidget() is first
    assert _drawn(first) > 0, f"{name}: the first live panel ({panels[0].kind}) drew nothing"
    assert sum(isinstance(e, PointTaken) for e in run.events) == plots.points_received


@pytest.mark.parametrize("name", LISTED)
def test_runs_browser_replots_and_reanalyses_like_avalab_analyze(examples: dict[str, ExampleRun], name: str,
                                                                 qtbot) -> None:
    from acquisition.cli_output import json_safe
    from gui.runs_browser import RunsBrowser

    run = _run(examples, name)
    browser = RunsBrowser(run.path.parent)
    qtbot.addWidget(browser)
    assert browser.open(run.path)
    target_panels = browser.renderer.panels
    assert target_panels and _drawn(browser.plots.currentWidget()) > 0, name
    assert browser.reanalyse_button.isEnabled()
    gui = browser.reanalyse()
    cli = _analyze_cli(run.path)
    if browser.selected_prefix() is None:  # a run of one part: the very same figures
        assert json_safe(gui) == {k: v for k, v in cli.items()
                                  if k not in ("experiment", "status", "run_id", "run_file")}
    else:  # a series: the chosen setpoint's figures are the CLI's for that setpoint
        entry = next(e for e in cli["by_temperature"] if e["stream_prefix"] == browser.selected_prefix())
        assert all(json_safe(gui)[k] == v for k, v in entry.items() if k in gui)


def _analyze_cli(path: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "acquisition.cli", "analyze", str(path), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", LISTED)
def test_queue_label_and_duration_estimate(examples: dict[str, ExampleRun], name: str) -> None:
    from gui.run_queue import QueuedRun

    run = _run(examples, name)
    experiment = EXPERIMENTS[name]
    params = experiment.validate(dict(experiment.example))
    label = experiment.queue_label(params)
    assert isinstance(label, str) and label, name
    assert label in QueuedRun(name, params).compact()
    estimate = experiment.estimate_duration_s(params)
    # the estimate leaves out stage moves and cryostat settling: right within a factor of a few
    assert 0.2 * run.rig_seconds <= estimate <= 5.0 * run.rig_seconds + 60.0, (estimate, run.rig_seconds)


@pytest.mark.parametrize("name", LISTED)
def test_campaign_report_section(examples: dict[str, ExampleRun], name: str, tmp_path: Path) -> None:
    from acquisition.campaigns.index import CampaignIndex
    from acquisition.storage.jsonsafe import to_jsonable

    run = _run(examples, name)
    index = CampaignIndex(tmp_path)
    try:
        for k in range(3):  # three runs of the example, as a campaign would repeat it
            run_id = index.begin(f"u{k}", k, 0, name, {"k": k}, name, str(run.path))
            index.finish(run_id, "complete", metrics=dict(to_jsonable(run.finished.summary)))
        runs = index.runs("complete")
    finally:
        index.close()
    section = EXPERIMENTS[name].report(runs, tmp_path, tmp_path)
    assert section is not None, f"{name}: no report section for three complete runs"
    assert section.figures or section.statistics, name
    for figure in section.figures:
        assert figure.exists() and figure.stat().st_size > 5000
    for stats in section.statistics.values():
        assert stats["n"] == 3 and math.isfinite(stats["mean"])


def test_nothing_outside_the_experiments_names_an_experiment() -> None:
    """The engine, CLI, GUI, storage, re-analysis, plotting and reports ask the registry."""
    import re

    root = Path(__file__).resolve().parents[2]
    branch = re.compile(r"experiment(_name)? *(==|!=|in \(|in \[)")
    found = [f"{path.relative_to(root)}:{number}: {line.strip()}"
             for folder in ("acquisition", "gui") for path in sorted((root / folder).rglob("*.py"))
             if "experiments" not in path.relative_to(root).parts
             for number, line in enumerate(path.read_text().splitlines(), 1) if branch.search(line)]
    assert not found, "\n".join(found)


#: calls that take an experiment's name: none outside experiments/ may pass a literal one
_NAME_TAKING_CALLS = {"start", "run_plan", "get_experiment", "select_experiment", "schema_check", "new_run_path"}


def test_no_code_outside_the_experiments_calls_one_by_a_literal_name_or_imports_its_module() -> None:
    """The power calibration, a campaign step's preparation and the GUI demo are found by what
    they do (``providing``, ``demo_experiment``), never by name (docstrings may name them)."""
    import ast

    root = Path(__file__).resolve().parents[2]
    names = set(EXPERIMENTS)
    modules = {e.plan.__module__ for e in EXPERIMENTS.values()}
    found = []
    for folder in ("acquisition", "gui"):
        for path in sorted((root / folder).rglob("*.py")):
            if "experiments" in path.relative_to(root).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Call):
                    func = node.func
                    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    literal = [a.value for a in node.args if isinstance(a, ast.Constant) and a.value in names]
                    if called in _NAME_TAKING_CALLS and literal:
                        found.append(f"{where}: {called}({literal[0]!r}, ...)")
                elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                        and node.slice.value in names and getattr(node.value, "id", "") == "EXPERIMENTS":
                    found.append(f"{where}: EXPERIMENTS[{node.slice.value!r}]")
                elif isinstance(node, ast.ImportFrom) and node.module in modules:
                    found.append(f"{where}: from {node.module} import ...")
    assert not found, "\n".join(found)


def test_jobs_and_the_demo_are_each_provided_by_exactly_one_experiment() -> None:
    from acquisition.experiments import JOBS, POWER_CALIBRATION, STEP_PREPARATION, demo_experiment, providing

    for job in JOBS:
        assert sum(job in e.provides for e in EXPERIMENTS.values()) == 1, job
    # the power calibration is a plan on the pump path that the engine can run with defaults
    calibration = providing(POWER_CALIBRATION)
    assert {"pump", "hwp", "power_meter"} <= set(calibration.required_roles(calibration.schema.validate({})))
    # the campaign runner passes a step's stage, setpoint and wait as these parameters
    preparation = providing(STEP_PREPARATION)
    assert not preparation.listed
    assert {"stage_x_mm", "stage_y_mm", "target_k", "ramp_k_per_min", "wait_s"} <= \
        {p.name for p in preparation.schema.parameters}
    demo = demo_experiment()
    assert demo.listed and demo.demo is not None and demo.demo.points > 0
    demo.schema.validate(dict(demo.demo.params))
    with pytest.raises(LookupError, match="job='nothing'"):
        providing("nothing")


def test_the_gui_offers_a_form_for_every_listed_experiment_and_no_internal_one(qtbot, tmp_path: Path) -> None:
    from gui.app import create_window

    rig = load_rig("sim", clock="virtual")
    rig.connect_all()
    window = create_window(rig, settings_path=tmp_path / "gui.ini", data_dir=tmp_path / "runs")
    qtbot.addWidget(window)
    try:
        panel = window.experiment_panel
        chooser = [panel.chooser.itemText(i) for i in range(panel.chooser.count())]
        assert chooser == LISTED  # registry order; campaign-internal experiments are not offered
        for name in LISTED:
            form = panel.select_experiment(name)
            assert form.revalidate(), f"{name}: the default form is not valid: {form.errors()}"
            example = EXPERIMENTS[name].example
            assert set(example) <= set(form.values()), name
    finally:
        window.close()
        rig.close_all()
