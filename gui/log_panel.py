"""The log panel: every ``logging`` record of the application, shown on the GUI thread.

Records are produced on any thread (engine worker, instrument poller); the handler only formats
them and emits a Qt signal, which Qt delivers to the panel through the GUI thread's event queue.
"""
from __future__ import annotations

import logging

from PyQt6.QtCore import QObject, Qt, pyqtSignal, pyqtSlot
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
          "ERROR": logging.ERROR}


class _RecordSignal(QObject):
    record = pyqtSignal(int, str)


class QtLogHandler(logging.Handler):
    """A logging.Handler that forwards formatted records through a Qt signal (thread-safe)."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                                            "%H:%M:%S"))
        self._signal = _RecordSignal()
        self.record = self._signal.record

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._signal.record.emit(record.levelno, self.format(record))
        except RuntimeError:
            # the Qt side is already destroyed (application shutting down): nothing to show it on
            pass


class LogPanel(QWidget):
    """Scrolling, bounded view of log records with a minimum-level filter."""

    MAX_LINES = 5000  # bounded so a night-long campaign cannot eat the memory of the GUI

    def __init__(self, handler: QtLogHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(self.MAX_LINES)
        self.level_box = QComboBox()
        self.level_box.addItems(list(LEVELS))
        self.level_box.setCurrentText("INFO")
        clear = QPushButton("Clear")
        clear.clicked.connect(self.text.clear)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show from"))
        top.addWidget(self.level_box)
        top.addStretch(1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.text)
        handler.record.connect(self.append_record, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]

    @pyqtSlot(int, str)
    def append_record(self, levelno: int, line: str) -> None:
        if levelno >= LEVELS[self.level_box.currentText()]:
            self.text.appendPlainText(line)

    def lines(self) -> list[str]:
        return self.text.toPlainText().splitlines()
