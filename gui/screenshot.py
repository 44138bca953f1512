"""Screenshot of the running application mid-sweep (README image, X11 smoke test).

    DISPLAY=:99 QT_QPA_PLATFORM=xcb python -m gui.screenshot docs/img/gui.png

Opens the full window on the simulated rig (virtual clock by default, so stage moves do not
make the picture wait; ``--clock real`` is what ``avalab gui`` uses), starts a
sweep from the experiment panel, waits until the up branch and part of the down branch are
plotted, grabs the X screen and writes the PNG plus a JSON sidecar with where the plot is on it
(so a test can look for the red and blue points there).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.screenshot")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--points", type=int, default=24, help="sweep points per direction")
    parser.add_argument("--down-points", type=int, default=8,
                        help="down-branch points to wait for before the screenshot (mid-sweep)")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--clock", choices=("real", "virtual"), default="virtual",
                        help="simulated rig clock (virtual: no waiting for stage moves)")
    parser.add_argument("--size", default="1600x1000", help="window size WxH")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO)

    from acquisition.events import PointTaken
    from gui.app import create_window, open_rig

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
    form = panel.select_experiment("sweep")
    form.set_value("points", args.points)
    form.set_value("settle_s", 0.0)
    form.set_value("dwell_s", 0.1)
    counts = {"up": 0, "down": 0}
    result = {"code": 1}

    def count(event: object) -> None:
        if isinstance(event, PointTaken) and event.stream == "sweep":
            counts[str(event.data.get("direction"))] = counts.get(str(event.data.get("direction")), 0) + 1

    def check() -> None:
        if counts["down"] >= args.down_points:
            window.plots.refresh()
            QTimer.singleShot(300, shoot)  # let the last batch paint
        else:
            QTimer.singleShot(100, check)

    def shoot() -> None:
        screen = app.primaryScreen()
        assert screen is not None
        image = screen.grabWindow(0)  # type: ignore[arg-type]  # 0 = the whole X screen (root window)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(args.out))
        plot = window.plots.hysteresis
        top_left = plot.mapToGlobal(plot.rect().topLeft())
        sidecar = {"platform": app.platformName(), "points": dict(counts),
                   "plot_rect": [top_left.x(), top_left.y(), plot.width(), plot.height()],
                   "screen": [image.width(), image.height()]}
        args.out.with_suffix(".json").write_text(json.dumps(sidecar))
        log.info("screenshot %s: %s", args.out, sidecar)
        result["code"] = 0
        app.quit()

    def give_up() -> None:
        log.error("no mid-sweep state within %.0f s (points so far %s)", args.timeout_s, counts)
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
