"""``gui.app.main``: the command-line entry point opens the window on the simulated rig and
leaves every instrument safe and closed when the window is closed."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from gui.app import build_parser, main
from gui.main_window import MainWindow


def test_main_opens_the_simulated_rig_and_exits_cleanly(qapp, tmp_path: Path) -> None:
    seen: list[MainWindow] = []

    def close_when_shown() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].instruments_panel.readings_received > 0:
            seen.extend(windows)
            windows[0].close()
        else:
            QTimer.singleShot(50, close_when_shown)

    QTimer.singleShot(50, close_when_shown)
    code = main(["--clock", "virtual", "--settings", str(tmp_path / "gui.ini"),
                 "--data-dir", str(tmp_path / "runs")])
    assert code == 0
    assert seen, "the main window never showed live readings"
    rig = seen[0].rig
    assert all(not instrument.is_connected for instrument in rig.instruments.values())
    assert (tmp_path / "gui.ini").exists()  # the layout was saved on close


def test_default_rig_is_the_simulated_rig_on_wall_clock_time() -> None:
    args = build_parser().parse_args([])
    assert (args.rig, args.clock) == ("sim", "real")


def test_unknown_rig_file_is_reported_not_raised(qapp, tmp_path: Path) -> None:
    assert main(["--rig", str(tmp_path / "missing.toml")]) == 2


def test_avalab_gui_options_reach_the_window_unchanged(tmp_path: Path) -> None:
    from acquisition.cli import build_parser as build_cli_parser
    from gui.options import gui_argv

    rig_file = tmp_path / "lab.toml"
    cli_args = build_cli_parser().parse_args(
        ["gui", "--rig", str(rig_file), "--clock", "virtual", "--data-dir", str(tmp_path / "runs"),
         "--settings", str(tmp_path / "gui.ini"), "--poll-hz", "2"])
    gui_args = build_parser().parse_args(gui_argv(cli_args))
    assert gui_args.rig == str(rig_file)
    assert gui_args.clock == "virtual"
    assert gui_args.data_dir == tmp_path / "runs"
    assert gui_args.settings == tmp_path / "gui.ini"
    assert gui_args.poll_hz == 2.0
