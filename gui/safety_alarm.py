"""The alarm an operator cannot miss: a safe state that failed.

When a run ends with ``safe_state_failures`` or STOP reports a role it could not make safe, the
window opens a modal message box naming each role and why; it stays until the operator presses
"Acknowledge" (the acknowledgement is logged). Nothing here blocks the event loop: the box is
shown (application modal) without a nested event loop, so the engine's events and the live
readings keep arriving behind it.
"""
from __future__ import annotations

import logging

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)

TITLE = "SAFE STATE FAILED"
ADVICE = ("Check these instruments by hand now: laser emission off at the controller (key switch), "
          "shutters closed, chopper and heater off. avalab could not confirm them safe.")


def alarm_text(failures: dict[str, str]) -> str:
    roles = ", ".join(failures)
    return f"safe state failed for {roles}"


class SafetyAlarm(QMessageBox):
    """Modal: which roles may not be safe and why; only "Acknowledge" closes it."""

    def __init__(self, failures: dict[str, str], context: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.failures = dict(failures)
        self.acknowledged = False
        self.setWindowTitle(TITLE)
        self.setIcon(QMessageBox.Icon.Critical)
        self.setText(f"<b>{alarm_text(self.failures)}</b> ({context})")
        self.setInformativeText(ADVICE)
        self.setDetailedText("\n".join(f"{role}: {reason}" for role, reason in self.failures.items()))
        self.acknowledge_button = self.addButton("Acknowledge", QMessageBox.ButtonRole.AcceptRole)
        self.setDefaultButton(self.acknowledge_button)
        self.setEscapeButton(None)  # Esc does not dismiss it
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.buttonClicked.connect(self._on_button)

    def _on_button(self, button: object) -> None:
        if button is self.acknowledge_button:
            self.acknowledged = True
            log.warning("operator acknowledged: %s", alarm_text(self.failures))

    def reject(self) -> None:  # noqa: D401 - Qt override: closing the box is not acknowledging
        """The window's close button (and Esc) do not dismiss the alarm."""
        if self.acknowledged:
            super().reject()
