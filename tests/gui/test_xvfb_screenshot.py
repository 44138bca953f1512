"""The application in a real X window (Xvfb), screenshotted mid-sweep.

Runs ``python -m gui.screenshot`` in a subprocess, because a Qt process picks its platform once
and this test process is offscreen. Set AVALAB_UPDATE_SCREENSHOT=1 to also refresh the README's
docs/img/gui.png from the test.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PyQt6.QtGui import QColor, QImage

from gui.live_plots import DOWN_COLOR, UP_COLOR

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.skipif(shutil.which("Xvfb") is None,
                                 reason="Xvfb is not installed (Debian package: xvfb)")]


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """A private Xvfb server; -displayfd lets it pick a free display number (xdist-safe)."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24",
                               "-nolisten", "tcp"], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.fail("Xvfb started but did not report a display number")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def _near(color: QColor, target: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip((color.red(), color.green(), color.blue()), target))


def test_gui_in_a_real_x_window_mid_sweep(xvfb_display: str, tmp_path: Path) -> None:
    out = tmp_path / "gui.png"
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb",
               AVALAB_GUI_SETTINGS=str(tmp_path / "gui.ini"))
    completed = subprocess.run([sys.executable, "-m", "gui.screenshot", str(out), "--timeout-s", "80"],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["platform"] == "xcb"  # a real X11 window, not the offscreen plugin
    assert sidecar["points"]["up"] > 0 and sidecar["points"]["down"] > 0  # taken mid-sweep

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1600, 1000)
    # not blank: a real window has many distinct colours, a blank root window one or two
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 50

    # the plot is on screen and shows red (up) and blue (down) points
    left, top, width, height = sidecar["plot_rect"]
    red = blue = 0
    for x in range(left, min(left + width, image.width())):
        for y in range(top, min(top + height, image.height()), 2):
            pixel = image.pixelColor(x, y)
            red += _near(pixel, UP_COLOR)
            blue += _near(pixel, DOWN_COLOR)
    assert red > 100 and blue > 30, (red, blue)

    if os.environ.get("AVALAB_UPDATE_SCREENSHOT"):
        target = REPO / "docs" / "img" / "gui.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, target)


def test_a_map_fills_in_and_a_real_mouse_click_moves_the_stage_in_a_real_x_window(xvfb_display: str,
                                                                                  tmp_path: Path) -> None:
    """``--experiment map --click-mm``: the map is drawn in the X window, then a real mouse event
    on it sends the stage to the clicked position (through the window's instrument worker)."""
    out = tmp_path / "map.png"
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb",
               AVALAB_GUI_SETTINGS=str(tmp_path / "gui.ini"), AVALAB_HOME=str(tmp_path / "home"))
    completed = subprocess.run(
        [sys.executable, "-m", "gui.screenshot", str(out), "--experiment", "map", "--set", "x_mm=[12.495, 12.505]",
         "--set", "y_mm=[12.495, 12.505]", "--set", "step_um=2", "--points", "36",
         "--click-mm", "12.497", "12.503", "--timeout-s", "100"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=115)
    assert completed.returncode == 0, completed.stderr[-3000:]
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["platform"] == "xcb" and sidecar["experiment"] == "map"
    assert sidecar["points"] == {"points": 36}  # the whole 6 x 6 map arrived
    assert sidecar["stage_mm"] == pytest.approx([12.497, 12.503], abs=1e-4)  # the click moved the stage

    assert sidecar["map_pixels"] == 36  # and every point is a pixel of the map on screen

    # the map (left of the colour bar) shows the viridis scale: dark spots and bright ones
    image = QImage(str(out))
    left, top, width, height = sidecar["plot_rect"]
    purple = yellowish = 0
    for x in range(left, min(left + int(0.75 * width), image.width()), 3):
        for y in range(top, min(top + height, image.height()), 3):
            pixel = image.pixelColor(x, y)
            purple += _near(pixel, (68, 1, 84), 30)
            yellowish += pixel.red() > 150 and pixel.green() > 150 and pixel.blue() < 100
    assert purple > 200 and yellowish > 5, (purple, yellowish)
