"""Screenshot of the running application mid-run (README image, X11 smoke test, operator QA).

    DISPLAY=:99 QT_QPA_PLATFORM=xcb python -m gui.screenshot docs/img/gui.png
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python -m gui.screenshot map.png --experiment map \\
        --set step_um=2 --points 40 --click-mm 12.5 12.5

Opens the full window on the simulated rig (virtual clock by default, so stage moves do not
make the picture wait; ``--clock real`` is what ``avalab gui`` uses) and starts, from the
experiment panel, the registry's demonstration run (``Experiment.demo``: its form values and how
many points make a mid-run picture) or the experiment named by ``--experiment`` (its demo, else
its ``example`` parameters), with ``--set`` values on top. It waits until that many points of
the run's first live panel have arrived, grabs the X screen and writes the PNG plus a JSON
sidecar: the points per series of that panel (e.g. up/down) and where the panel is on the
screen (so a test can look for its colours there). ``--click-mm X Y`` waits for the run to end,
then clicks the first map at (X, Y) mm with a real mouse event and waits for the stage to get
there before the picture (the cross-hair on the map shows where it went).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from PyQt6.QtCore import QPointF, Qt, QTimer
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

log = logging.getLogger(__name__)
#: points to wait for when the experiment declares no demo and --points is not given
DEFAULT_POINTS = 10
#: how close (m) the stage must come to a clicked position
CLICK_TOLERANCE_M = 1e-7


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``field=value`` pairs; a value is JSON if it parses ("[1, 2]", "0.5", "true"), else text."""
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set {item!r}: expected field=value")
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
    return values


def _chosen(name: str | None) -> tuple[Any, dict[str, Any], int]:
    """(experiment, form values, points to wait for) of the run to show."""
    from acquisition.experiments import demo_experiment, get_experiment

    experiment = demo_experiment() if name is None else get_experiment(name)
    if experiment.demo is not None:
        return experiment, dict(experiment.demo.params), int(experiment.demo.points)
    return experiment, dict(experiment.example), DEFAULT_POINTS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.screenshot")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--experiment", default=None,
                        help="experiment to run (default: the registry's demonstration run)")
    parser.add_argument("--set", dest="values", action="append", default=[], metavar="FIELD=VALUE",
                        help="a form value on top of the demo's (repeatable; JSON values: [12.49, 12.51])")
    parser.add_argument("--points", type=int, default=None,
                        help="points of the first live panel to wait for (default: the demo's)")
    parser.add_argument("--click-mm", type=float, nargs=2, default=None, metavar=("X", "Y"),
                        help="after the run, click the first map here and wait for the stage")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--clock", choices=("real", "virtual"), default="virtual",
                        help="simulated rig clock (virtual: no waiting for stage moves)")
    parser.add_argument("--size", default="1600x1000", help="window size WxH")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO)

    from acquisition.events import PointTaken
    from gui.app import create_window, open_rig
    from gui.live_plots import panel_pattern, panels_of

    experiment, values, points = _chosen(args.experiment)
    values.update(_parse_set(args.values))
    points = args.points if args.points is not None else points

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    workdir = Path(tempfile.mkdtemp(prefix="avalab-shot-"))
    rig = open_rig("sim", args.clock)
    window = create_window(rig, settings_path=workdir / "gui.ini", data_dir=workdir / "runs")
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.move(0, 0)
    window.show()
    panel = window.experiment_panel
    form = panel.select_experiment(experiment.name)
    for name, value in values.items():
        form.set_value(name, value)
    if not form.is_valid:
        log.error("%s form is not valid: %s", experiment.name, form.errors())
        return 2
    first = panels_of(experiment.name, form.values())[0]
    pattern = panel_pattern(first)
    counts: dict[str, int] = {}
    result = {"code": 1}

    def count(event: object) -> None:
        if isinstance(event, PointTaken) and pattern.match(event.stream):
            key = str(event.data.get(first.series, "points")) if first.kind in ("loop", "curve") else "points"
            counts[key] = counts.get(key, 0) + 1

    def check() -> None:
        if sum(counts.values()) < points:
            QTimer.singleShot(100, check)
        elif args.click_mm is not None:
            wait_for_run_end()
        else:
            window.plots.refresh()
            QTimer.singleShot(300, shoot)  # let the last batch paint

    def wait_for_run_end() -> None:
        if window.engine.is_busy:
            QTimer.singleShot(100, wait_for_run_end)
            return
        window.plots.refresh()
        view = next(iter(window.plots.maps.views.values()))
        x_mm, y_mm = args.click_mm
        scene = view.plot.getPlotItem().getViewBox().mapViewToScene(QPointF(x_mm, y_mm))
        pixel = view.plot.mapFromScene(scene)
        QTest.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixel)
        QTimer.singleShot(100, wait_for_stage)

    def wait_for_stage() -> None:
        x_mm, y_mm = args.click_mm
        stage = window.rig.xy_stage
        x, y = stage.get_position()
        if stage.is_moving() or abs(x - x_mm * 1e-3) > CLICK_TOLERANCE_M or abs(y - y_mm * 1e-3) > CLICK_TOLERANCE_M:
            QTimer.singleShot(100, wait_for_stage)
            return
        QTimer.singleShot(700, shoot)  # the instrument poll moves the cross-hair

    def shoot() -> None:
        screen = app.primaryScreen()
        assert screen is not None
        image = screen.grabWindow(0)  # type: ignore[arg-type]  # 0 = the whole X screen (root window)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(args.out))
        plot = window.plots.currentWidget()
        top_left = plot.mapToGlobal(plot.rect().topLeft())
        sidecar: dict[str, Any] = {
            "platform": app.platformName(), "experiment": experiment.name, "points": dict(counts),
            "plot_rect": [top_left.x(), top_left.y(), plot.width(), plot.height()],
            "screen": [image.width(), image.height()]}
        if window.plots.maps.views:
            sidecar["map_pixels"] = window.plots.maps.point_count
        if args.click_mm is not None:
            sidecar["stage_mm"] = [1e3 * v for v in window.rig.xy_stage.get_position()]
        args.out.with_suffix(".json").write_text(json.dumps(sidecar))
        log.info("screenshot %s: %s", args.out, sidecar)
        result["code"] = 0
        app.quit()

    def give_up() -> None:
        log.error("no mid-run state within %.0f s (points so far %s)", args.timeout_s, counts)
        app.quit()

    window.bridge.received.connect(count)
    panel.start_clicked()
    QTimer.singleShot(100, check)
    QTimer.singleShot(int(args.timeout_s * 1000), give_up)
    app.exec()
    window.shutdown()
    window.engine.close()
    rig.close_all()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
