"""Map panels of a run: one :class:`MapView` per mapped value (an emission map; a survey's
switch-on, width, contrast and s maps), side by side, filled in point by point.

The panels come from the running experiment's live-plot descriptions (kind ``"image"``: ``x``
and ``y`` name the position fields in m, ``series`` the value field, ``axis_labels`` the
title and unit); this widget only draws. A click on any map emits ``position_clicked(x_m, y_m)``.
"""
from __future__ import annotations

from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget

from gui.map_view import MapView

COLUMNS = 2


class MapPanels(QWidget):
    position_clicked = pyqtSignal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.views: dict[str, MapView] = {}
        self._empty = QLabel("no map yet: a map or survey run draws here")
        self._layout.addWidget(self._empty, 0, 0)

    def clear_data(self) -> None:
        for view in self.views.values():
            view.clear()

    def set_panels(self, panels: tuple[Any, ...]) -> None:
        """One map per panel (``panel.series`` the value field), in the declared order."""
        for view in self.views.values():
            self._layout.removeWidget(view)
            view.deleteLater()
        self.views = {}
        self._empty.setVisible(not panels)
        for i, panel in enumerate(panels):
            labels = tuple(panel.axis_labels) or (panel.series, "")
            view = MapView(str(labels[0]), str(labels[1]) if len(labels) > 1 else "")
            view.position_clicked.connect(self.position_clicked)
            self._layout.addWidget(view, 1 + i // COLUMNS, i % COLUMNS)
            self.views[panel.series] = view

    def add_point(self, field: str, x_m: float, y_m: float, value: float) -> None:
        view = self.views.get(field)
        if view is not None:
            view.add_point(x_m, y_m, value)
            view.set_cursor(x_m, y_m)

    def set_cursor(self, x_m: float, y_m: float) -> None:
        for view in self.views.values():
            view.set_cursor(x_m, y_m)

    @property
    def point_count(self) -> int:
        return max((view.point_count for view in self.views.values()), default=0)

    def refresh(self) -> None:
        """Maps redraw as points arrive; nothing is deferred."""
