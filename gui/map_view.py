"""A map of a value over stage positions: pyqtgraph image, colour bar, position cursor, click.

Points arrive one at a time (x, y in m, stage coordinates, and a value); they are placed on the
grid the points themselves define (their distinct x and y values, so a raster fills in as it is
scanned and a list of positions shows as isolated pixels); pixels not measured yet are NaN
(transparent). The cursor shows where the stage is; a click anywhere on the image emits
``position_clicked(x_m, y_m)``, which the window sends to the stage through the instrument
worker (never on the GUI thread). Axes are in mm, what operators type and the K-Cubes display.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QVBoxLayout, QWidget

M_PER_MM = 1e-3
#: two positions closer than this are the same map pixel (stage encoder counts are 29 nm)
SAME_POSITION_M = 1e-8


class _AxisValues:
    """Sorted distinct coordinates (m) seen so far along one axis."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def index(self, value: float) -> tuple[int, bool]:
        """(index of ``value``, whether it was new)."""
        i = int(np.searchsorted(self.values, value))
        for j in (i - 1, i):
            if 0 <= j < len(self.values) and abs(self.values[j] - value) < SAME_POSITION_M:
                return j, False
        self.values.insert(i, value)
        return i, True

    def pitch(self) -> float:
        if len(self.values) < 2:
            return 1e-6
        return float(np.min(np.diff(self.values)))


class MapView(QWidget):
    """One map panel (title, colour-bar label) fed point by point or with a whole map."""

    position_clicked = pyqtSignal(float, float)

    def __init__(self, title: str = "", value_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._x, self._y = _AxisValues(), _AxisValues()
        self._values = np.empty((0, 0))  # rows: y, columns: x
        self._points: dict[tuple[float, float], float] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget()
        layout.addWidget(self.plot)
        self.plot.setTitle(title)
        self.plot.setLabel("bottom", "stage x", units="mm")
        self.plot.setLabel("left", "stage y", units="mm")
        self.plot.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"),
                                          label=value_label, interactive=False)
        self.colour_bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.cursor = pg.TargetItem(movable=False, size=12, pen=pg.mkPen("r", width=2))
        self.cursor.setVisible(False)
        self.plot.addItem(self.cursor)
        self.image.mouseClickEvent = self._on_image_click  # type: ignore[method-assign]
        self.plot.scene().sigMouseClicked.connect(self._on_scene_click)

    # ----------------------------------------------------------------- data
    @property
    def point_count(self) -> int:
        return int(np.count_nonzero(np.isfinite(self._values)))

    def clear(self) -> None:
        self._x, self._y = _AxisValues(), _AxisValues()
        self._values = np.empty((0, 0))
        self._points = {}
        self.image.clear()

    def add_point(self, x_m: float, y_m: float, value: float) -> None:
        value = value if math.isfinite(value) else math.nan
        self._points[(x_m, y_m)] = value
        column, new_column = self._x.index(x_m)
        row, new_row = self._y.index(y_m)
        if new_column or new_row:  # the lattice grew: place every point again
            self._values = np.full((len(self._y.values), len(self._x.values)), np.nan)
            for (x, y), v in self._points.items():
                self._values[self._y.index(y)[0], self._x.index(x)[0]] = v
        else:
            self._values[row, column] = value
        self._redraw()

    def set_map(self, x_m: np.ndarray, y_m: np.ndarray, values: np.ndarray) -> None:
        """A whole map from point columns (the runs browser, a finished survey)."""
        self.clear()
        for x, y, v in zip(np.asarray(x_m, float), np.asarray(y_m, float), np.asarray(values, float)):
            self.add_point(float(x), float(y), float(v))

    def values(self) -> np.ndarray:
        """The map as shown: rows along y, columns along x (NaN where not measured)."""
        return self._values.copy()

    def _redraw(self) -> None:
        if not self._values.size:
            return
        finite = self._values[np.isfinite(self._values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high <= low:
            high = low + max(abs(low) * 1e-3, 1e-12)
        self.image.setImage(self._values, autoLevels=False, levels=(low, high))
        self.colour_bar.setLevels((low, high))
        dx, dy = self._x.pitch(), self._y.pitch()
        x0, y0 = self._x.values[0] - dx / 2, self._y.values[0] - dy / 2
        width = (self._x.values[-1] - self._x.values[0]) + dx
        height = (self._y.values[-1] - self._y.values[0]) + dy
        # pixels are drawn on the measured lattice; irregular lists are stretched to fit
        self.image.setRect(x0 / M_PER_MM, y0 / M_PER_MM, width / M_PER_MM, height / M_PER_MM)

    # ----------------------------------------------------------------- cursor and clicks
    def set_cursor(self, x_m: float, y_m: float) -> None:
        self.cursor.setPos(x_m / M_PER_MM, y_m / M_PER_MM)
        self.cursor.setVisible(True)

    def cursor_position(self) -> tuple[float, float] | None:
        if not self.cursor.isVisible():
            return None
        pos = self.cursor.pos()
        return pos.x() * M_PER_MM, pos.y() * M_PER_MM

    def _on_image_click(self, event: object) -> None:
        event.accept()  # type: ignore[attr-defined]

    def _on_scene_click(self, event: object) -> None:
        if event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        view = self.plot.getPlotItem().getViewBox()
        point = view.mapSceneToView(event.scenePos())  # type: ignore[attr-defined]
        self.click_at(point.x() * M_PER_MM, point.y() * M_PER_MM)

    def click_at(self, x_m: float, y_m: float) -> None:
        """What a click at (x, y) does (tests call it with coordinates)."""
        self.position_clicked.emit(float(x_m), float(y_m))
