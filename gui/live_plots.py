"""Live plots of a run: hysteresis loop (log-log), trace, TCSPC histogram, curve, temperature.

Which panel draws which stream is the running experiment's declaration (``Experiment.live``,
:class:`acquisition.experiments.base.LivePlot`); :class:`PanelRenderer` draws any declaration,
for the live tabs and for the runs browser alike.

Events only append to buffers; one QTimer (``REFRESH_HZ``) pushes dirty buffers to pyqtgraph, so a
sweep streaming thousands of points costs a few redraws per second, not one per point.
"""
from __future__ import annotations

import logging
import math
import re
import time
from typing import Any, Mapping

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QTabWidget, QWidget

from acquisition.events import Event, PointTaken, RunFinished, RunStarted
from acquisition.experiments.base import LivePlot
from acquisition.units import W_M2_PER_KW_CM2
from gui.map_panels import MapPanels

log = logging.getLogger(__name__)

REFRESH_HZ = 20
UP_COLOR = (220, 30, 30)
DOWN_COLOR = (30, 80, 230)


class _GrowingArray:
    """Amortised O(1) append of (x, y) pairs, read back as views without copying."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty((capacity, 2), dtype=float)
        self._n = 0

    def append(self, x: float, y: float) -> None:
        if self._n == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self._n] = (x, y)
        self._n += 1

    def clear(self) -> None:
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        return self._data[: self._n, 0]

    @property
    def y(self) -> np.ndarray:
        return self._data[: self._n, 1]


class DecadeLogAxis(pg.AxisItem):
    """Log axis that labels only the decades when at least two are visible (the emission axis
    spans several, and "2·10³ … 9·10³" labels crowd it); within one decade it labels as usual."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        strings = super().logTickStrings(values, scale, spacing)
        decades = [abs(v - round(v)) < 1e-6 for v in values]
        if sum(decades) < 2:
            return strings
        return [text if decade else "" for text, decade in zip(strings, decades)]


class _Branch:
    """One sweep direction drawn incrementally: new points are appended to the scatter item, the
    guide line is rebuilt (cheap). Rebuilding a 1e4-symbol scatter at 25 Hz took ~35 ms per
    refresh, which is what made the GUI stutter; appending costs only the new points."""

    def __init__(self, item: pg.PlotItem, name: str, color: tuple[int, int, int], symbol: str,
                 rising: bool) -> None:
        self.data = _GrowingArray()          # kW/cm2, cps as measured (zeros included)
        self.line_data = _GrowingArray()     # log10 values with NaN breaks between repeats
        self.rising = rising
        self.drawn = 0
        self.color = color
        self.line = pg.PlotCurveItem(pen=pg.mkPen(color, width=1), connect="finite", skipFiniteCheck=True)
        self.scatter = pg.ScatterPlotItem(symbol=symbol, size=5, brush=pg.mkBrush(color), pen=None,
                                          name=name)
        item.addItem(self.line)
        item.addItem(self.scatter)
        self._last_x: float | None = None

    def __len__(self) -> int:
        return len(self.data)

    def append(self, x_kw_cm2: float, y_cps: float) -> None:
        self.data.append(x_kw_cm2, y_cps)
        if not (x_kw_cm2 > 0 and y_cps > 0 and math.isfinite(x_kw_cm2) and math.isfinite(y_cps)):
            return  # a log axis has no place for zero counts; the point is kept in the data
        # a new repeat starts back at the low (up) or high (down) end: break the guide line there
        if self._last_x is not None and (x_kw_cm2 < self._last_x if self.rising else x_kw_cm2 > self._last_x):
            self.line_data.append(math.nan, math.nan)
        self._last_x = x_kw_cm2
        self.line_data.append(math.log10(x_kw_cm2), math.log10(y_cps))

    def clear(self) -> None:
        self.data.clear()
        self.line_data.clear()
        self.drawn = 0
        self._last_x = None
        self.scatter.clear()
        self.line.setData([], [])

    def refresh(self) -> None:
        n = len(self.line_data)
        if n == self.drawn:
            return
        x, y = self.line_data.x, self.line_data.y
        new_x, new_y = x[self.drawn:], y[self.drawn:]
        keep = np.isfinite(new_x)
        self.scatter.addPoints(x=new_x[keep], y=new_y[keep])
        self.line.setData(x, y)
        self.drawn = n

    def plotted(self) -> tuple[np.ndarray, np.ndarray]:
        """Displayed (log10) coordinates of the points drawn so far."""
        x, y = self.scatter.getData()
        return np.asarray(x), np.asarray(y)


class HysteresisPlot(pg.PlotWidget):
    """Emission rate vs pump power density, log-log; up branch red, down branch blue."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"left": DecadeLogAxis("left")})
        self.setBackground("w")
        item = self.getPlotItem()
        # log axes; the branches are drawn in log10 coordinates by us (see _Branch)
        item.setLogMode(x=True, y=True)
        item.showGrid(x=True, y=True, alpha=0.3)
        item.setLabel("bottom", "pump power density", units="kW/cm²")
        item.setLabel("left", "emission", units="cps")
        # SI prefixes on a log axis would relabel 1e4 cps as "10 kcps" inconsistently per tick
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.addLegend(offset=(10, 10))  # the named scatter items add themselves
        self.up_branch = _Branch(item, "up", UP_COLOR, "o", rising=True)
        self.down_branch = _Branch(item, "down", DOWN_COLOR, "s", rising=False)
        self.threshold_lines: dict[str, pg.InfiniteLine] = {}
        self.thresholds_kw_cm2: dict[str, float] = {}

    @property
    def point_count(self) -> int:
        return len(self.up_branch) + len(self.down_branch)

    def clear_data(self) -> None:
        self.up_branch.clear()
        self.down_branch.clear()
        self.set_thresholds(None, None)

    def add_point(self, density_w_m2: float, rate_cps: float, direction: str) -> None:
        branch = self.down_branch if str(direction).lower().startswith("d") else self.up_branch
        branch.append(float(density_w_m2) / W_M2_PER_KW_CM2, float(rate_cps))

    def set_branches(self, density_up_w_m2: np.ndarray, rate_up: np.ndarray,
                     density_down_w_m2: np.ndarray, rate_down: np.ndarray) -> None:
        self.up_branch.clear()
        self.down_branch.clear()
        for x, y in zip(np.asarray(density_up_w_m2, float), np.asarray(rate_up, float)):
            self.up_branch.append(x / W_M2_PER_KW_CM2, y)
        for x, y in zip(np.asarray(density_down_w_m2, float), np.asarray(rate_down, float)):
            self.down_branch.append(x / W_M2_PER_KW_CM2, y)
        self.refresh()

    def set_thresholds(self, switch_on_kw_cm2: float | None, switch_off_kw_cm2: float | None) -> None:
        item = self.getPlotItem()
        for line in self.threshold_lines.values():
            item.removeItem(line)
        self.threshold_lines.clear()
        self.thresholds_kw_cm2.clear()
        for name, value, color in (("switch-on", switch_on_kw_cm2, UP_COLOR),
                                   ("switch-off", switch_off_kw_cm2, DOWN_COLOR)):
            if value is None or not math.isfinite(value) or value <= 0:
                continue
            # in a log-mode view an InfiniteLine's position is in view (log10) coordinates
            line = pg.InfiniteLine(pos=math.log10(value), angle=90,
                                   pen=pg.mkPen(color, width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
                                   label=f"{name} {value:.2f} kW/cm²",
                                   labelOpts={"position": 0.9 if name == "switch-on" else 0.8,
                                              "color": color, "movable": False})
            item.addItem(line)
            self.threshold_lines[name] = line
            self.thresholds_kw_cm2[name] = float(value)

    def refresh(self) -> None:
        self.up_branch.refresh()
        self.down_branch.refresh()


class TracePlot(pg.PlotWidget):
    """Emission rate vs time of a switching run, with the control pulse shaded."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.3)
        item.setLabel("bottom", "time", units="s")
        item.setLabel("left", "emission", units="cps")
        self.curve = item.plot(pen=pg.mkPen((20, 20, 20), width=1), connect="finite")
        self.pulse_region = pg.LinearRegionItem(values=(0, 0), movable=False,
                                                brush=pg.mkBrush(255, 160, 0, 70))
        self.pulse_region.hide()
        item.addItem(self.pulse_region)
        self._pending: tuple[np.ndarray, np.ndarray, float | None, float | None] | None = None
        self.pulse_s: tuple[float, float] | None = None

    def set_trace(self, t_s: np.ndarray, rate_cps: np.ndarray, pulse_start_s: float | None,
                  pulse_end_s: float | None) -> None:
        self._pending = (np.asarray(t_s, float), np.asarray(rate_cps, float), pulse_start_s, pulse_end_s)

    def clear_data(self) -> None:
        self._pending = (np.empty(0), np.empty(0), None, None)

    def refresh(self) -> None:
        if self._pending is None:
            return
        t, rate, start, end = self._pending
        self._pending = None
        self.curve.setData(t, rate)
        if start is not None and end is not None and math.isfinite(start) and math.isfinite(end):
            self.pulse_region.setRegion((start, end))
            self.pulse_region.show()
            self.pulse_s = (float(start), float(end))
        else:
            self.pulse_region.hide()
            self.pulse_s = None

    @property
    def sample_count(self) -> int:
        x, _ = self.curve.getData()
        return 0 if x is None else len(x)


class HistogramPlot(pg.PlotWidget):
    """TCSPC histogram: counts per bin vs delay after the pump edge (log counts)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        # decade labels only: pyqtgraph's default labels every minor tick (2·10¹ ... 9·10¹)
        super().__init__(parent, axisItems={"left": DecadeLogAxis("left")})
        self.setBackground("w")
        item = self.getPlotItem()
        item.setLogMode(x=False, y=True)
        item.showGrid(x=True, y=True, alpha=0.3)
        item.setLabel("bottom", "delay", units="s")
        item.setLabel("left", "counts / bin")
        self.curve = item.plot(pen=pg.mkPen((90, 20, 140), width=1), stepMode="center",
                               fillLevel=0, brush=(90, 20, 140, 60))
        self._pending: tuple[np.ndarray, np.ndarray] | None = None
        self.total_counts = 0

    def set_histogram(self, bin_times_s: np.ndarray, counts: np.ndarray) -> None:
        self._pending = (np.asarray(bin_times_s, float), np.asarray(counts, float))

    def clear_data(self) -> None:
        self._pending = (np.empty(0), np.empty(0))

    def refresh(self) -> None:
        if self._pending is None:
            return
        t, counts = self._pending
        self._pending = None
        self.total_counts = int(np.sum(counts)) if len(counts) else 0
        if len(t) == 0:
            self.curve.setData([], [])
            return
        # stepMode "center" wants bin edges: one more than the counts
        width = float(t[1] - t[0]) if len(t) > 1 else 1.0
        edges = np.append(t, t[-1] + width) if len(t) == len(counts) else t
        # log axis: an empty bin is drawn at 0.5 count, below the one-count floor, not dropped
        self.curve.setData(edges, np.maximum(counts, 0.5))


class TemperaturePlot(pg.PlotWidget):
    """Cryostat temperature: the monitor's readings and the temperatures recorded with points."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.3)
        item.setLabel("bottom", "time", units="s")
        item.setLabel("left", "temperature", units="K")
        item.addLegend(offset=(10, 10))
        self.monitor = _GrowingArray()
        self.setpoint = _GrowingArray()
        self.run = _GrowingArray()
        self.monitor_curve = item.plot(name="sensor", pen=pg.mkPen((200, 90, 0), width=2))
        self.setpoint_curve = item.plot(name="setpoint", pen=pg.mkPen((120, 120, 120), width=1,
                                                                       style=pg.QtCore.Qt.PenStyle.DashLine))
        # a line, not symbols: a symbol per point is rebuilt on every refresh and a long run has 1e4
        self.run_curve = item.plot(name="during run", pen=pg.mkPen((0, 140, 0), width=2))
        self._t0 = time.monotonic()
        self._run_t0: float | None = None
        self._dirty = False

    MAX_MONITOR_SAMPLES = 20000  # ~1.5 h at 4 Hz; older samples are dropped in halves

    def add_monitor_sample(self, kelvin: float, setpoint_k: float | None) -> None:
        now = time.monotonic() - self._t0
        if len(self.monitor) >= self.MAX_MONITOR_SAMPLES:
            self._drop_older_half()
        self.monitor.append(now, kelvin)
        if setpoint_k is not None:
            self.setpoint.append(now, setpoint_k)
        self._dirty = True

    def _drop_older_half(self) -> None:
        for data in (self.monitor, self.setpoint):
            x, y = data.x.copy(), data.y.copy()
            data.clear()
            for a, b in zip(x[len(x) // 2:], y[len(y) // 2:]):
                data.append(a, b)

    def add_run_sample(self, timestamp: float, kelvin: float) -> None:
        if self._run_t0 is None:
            self._run_t0 = timestamp - (time.monotonic() - self._t0)
        self.run.append(timestamp - self._run_t0, kelvin)
        self._dirty = True

    def start_run(self) -> None:
        self.run.clear()
        self._run_t0 = None
        self._dirty = True

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.monitor_curve.setData(self.monitor.x, self.monitor.y)
        self.setpoint_curve.setData(self.setpoint.x, self.setpoint.y)
        self.run_curve.setData(self.run.x, self.run.y)


class CalibrationPlot(pg.PlotWidget):
    """A "curve" panel: y against x, one curve per series value, in the order they appear (a
    calibration: power at the objective against stage angle, plate then ND wheel)."""

    COLORS = ((200, 90, 0), (0, 120, 160), (0, 140, 0), (140, 20, 140), (80, 80, 80))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.3)
        item.setLabel("bottom", "stage angle", units="°")
        item.setLabel("left", "power at the objective", units="W")
        item.addLegend(offset=(10, 10))
        self.data: dict[str, _GrowingArray] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False

    def add_sample(self, stage: str, angle_deg: float, power_w: float) -> None:
        if stage not in self.data:
            color = self.COLORS[min(len(self.data), len(self.COLORS) - 1)]
            self.data[stage] = _GrowingArray(256)
            self.curves[stage] = self.getPlotItem().plot(name=stage, pen=pg.mkPen(color, width=1),
                                                         symbol="o", symbolSize=5, symbolBrush=color,
                                                         symbolPen=None)
        self.data[stage].append(angle_deg, power_w)
        self._dirty = True

    def clear_data(self) -> None:
        for data in self.data.values():
            data.clear()
        self._dirty = True

    def set_labels(self, panel: LivePlot) -> None:
        """The axis labels the panel declares (``axis_labels``: x text, x unit, y text, y unit)."""
        if len(panel.axis_labels) == 4:
            x_text, x_unit, y_text, y_unit = panel.axis_labels
            self.getPlotItem().setLabel("bottom", x_text, units=x_unit or None)
            self.getPlotItem().setLabel("left", y_text, units=y_unit or None)

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for stage, data in self.data.items():
            self.curves[stage].setData(data.x, data.y)

    @property
    def sample_count(self) -> int:
        return sum(len(d) for d in self.data.values())


def _first(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in data:
            return data[name]
    return None


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def segmented_trace(data: Mapping[str, Any], panel: LivePlot) -> tuple[np.ndarray, np.ndarray, float | None,
                                                                       float | None] | None:
    """Rebuild a trace point of ``panel`` (kind "trace"): the count arrays ``panel.segments`` in
    bins of ``panel.bin_field`` seconds, with a gap of ``panel.gap_field`` seconds (shaded, no
    data: e.g. the control pulse, detector blocked) between the first two."""
    segments = [data.get(name) for name in panel.segments]
    bin_s = _as_float(data.get(panel.bin_field))
    gap_s = _as_float(data.get(panel.gap_field)) if panel.gap_field else 0.0
    if not segments or any(seg is None for seg in segments) or not bin_s or gap_s is None:
        return None
    times, rates = [], []
    start = 0.0
    gap: tuple[float, float] | None = None
    for k, segment in enumerate(segments):
        counts = np.asarray(segment, float)
        times.append(start + (np.arange(len(counts)) + 0.5) * bin_s)
        rates.append(counts / bin_s)
        start += len(counts) * bin_s
        if k == 0 and len(segments) > 1:
            gap = (start, start + gap_s)
            times.append(np.array([start + 0.5 * gap_s]))  # NaN: no emission data in the gap
            rates.append(np.array([np.nan]))
            start += gap_s
    return np.concatenate(times), np.concatenate(rates), *(gap if gap is not None else (None, None))


def histogram_fields(data: Mapping[str, Any], panel: LivePlot | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(bin_times_s, counts) of a histogram point: the panel's ``x``/``y`` fields, else the usual
    names of a delay axis and of counts."""
    x_names = ((panel.x,) if panel is not None and panel.x else ()) + ("delay_s", "bin_times_s", "t_s", "time_s")
    y_names = ((panel.y,) if panel is not None and panel.y else ()) + ("counts", "histogram")
    t, counts = _first(data, *x_names), _first(data, *y_names)
    if t is None or counts is None or np.ndim(counts) == 0:
        return None
    return np.asarray(t, float), np.asarray(counts, float)


def panel_pattern(panel: LivePlot) -> re.Pattern[str]:
    """The stream names ``panel`` reads: its stream, after a prefix matching ``prefix_pattern``."""
    prefix = f"(?:{panel.prefix_pattern})" if panel.prefix_pattern else ""
    return re.compile(f"^(?P<_prefix>{prefix}){re.escape(panel.stream)}$")


def group_title(panel: LivePlot, prefix_groups: Mapping[str, str], data: Mapping[str, Any]) -> str:
    """The title of one loop of ``panel``: its prefix (a series' temperature) and its group
    values (chopper frequency, duty cycle), as the panel's formats say."""
    parts = []
    if panel.prefix_title and prefix_groups:
        try:
            parts.append(panel.prefix_title.format(**prefix_groups))
        except (KeyError, IndexError, ValueError):
            pass
    for name, fmt in panel.group_title:
        value = _as_float(data.get(name))
        if value is not None:
            parts.append(fmt.format(value))
    return ", ".join(parts)


def trace_title(data: Mapping[str, Any], panel: LivePlot) -> str | None:
    """"bias 4.08 kW/cm² — latched": which of the run's traces is on screen."""
    if panel.caption is None:
        return None
    name, scale, fmt = panel.caption
    value = _as_float(data.get(name))
    if value is None:
        return None
    text = fmt.format(value / scale)
    if panel.flag is not None and data.get(panel.flag[0]) is not None:
        text += panel.flag[1] if data.get(panel.flag[0]) else panel.flag[2]
    return text


def all_panels() -> tuple[LivePlot, ...]:
    """Every registered experiment's panels (first of each kind and stream): what a point is
    drawn with before a run has said which experiment it is."""
    from acquisition.experiments import EXPERIMENTS

    seen: dict[tuple[str, str], LivePlot] = {}
    for experiment in EXPERIMENTS.values():
        for panel in experiment.live:
            seen.setdefault((panel.kind, panel.stream), panel)
    return tuple(seen.values())


def panels_of(experiment: str, params: Mapping[str, Any] | None) -> tuple[LivePlot, ...]:
    """The panels ``experiment`` declares for a run with ``params`` (none for an unknown one)."""
    from acquisition.experiments import EXPERIMENTS

    known = EXPERIMENTS.get(experiment)
    return known.live_plots(dict(params or {})) if known is not None else ()


class PanelRenderer:
    """Draws points into panel widgets as an experiment's :class:`LivePlot` descriptions say;
    the live tabs and the runs browser's re-plot both use it, so a stored run looks as it did
    live. ``widgets``: panel kind -> widget (``loop`` HysteresisPlot, ``trace`` TracePlot,
    ``histogram`` HistogramPlot, ``curve`` CalibrationPlot, ``image`` MapPanels)."""

    def __init__(self, widgets: Mapping[str, Any]) -> None:
        self.widgets = dict(widgets)
        self.panels: tuple[LivePlot, ...] = all_panels()
        self._patterns = [(panel_pattern(p), p) for p in self.panels]
        self._loop_group: tuple[Any, ...] | None = None

    def start(self, panels: tuple[LivePlot, ...]) -> Any:
        """A new run with ``panels``: their widgets are cleared; returns the first one's widget."""
        self.panels = tuple(p for p in panels if p.kind in self.widgets)
        self._patterns = [(panel_pattern(p), p) for p in self.panels]
        self._loop_group = None
        images = tuple(p for p in self.panels if p.kind == "image")
        if images:
            self.widgets["image"].set_panels(images)
        for panel in self.panels:
            widget = self.widgets[panel.kind]
            widget.clear_data()
            if panel.kind == "loop":
                widget.setTitle(None)
            if panel.kind == "trace":
                widget.setTitle(None)
            if panel.kind == "curve":
                widget.set_labels(panel)
        return self.widgets[self.panels[0].kind] if self.panels else None

    def feed(self, stream: str, data: Mapping[str, Any]) -> None:
        """Draw one point of ``stream`` in every panel that reads it."""
        for pattern, panel in self._patterns:
            match = pattern.match(stream)
            if match is not None:
                prefix_groups = {k: v for k, v in match.groupdict().items() if k != "_prefix" and v is not None}
                getattr(self, f"_feed_{panel.kind}")(panel, match.group("_prefix"), prefix_groups, data)

    def finish(self, summary: Mapping[str, Any]) -> None:
        """The run's figures: threshold lines of the loop panels."""
        for panel in self.panels:
            if panel.kind == "loop" and panel.thresholds:
                values = [_as_float(summary.get(key)) for key, _ in panel.thresholds] + [None, None]
                if values[0] is not None or values[1] is not None:
                    self.widgets["loop"].set_thresholds(values[0], values[1])

    def _feed_loop(self, panel: LivePlot, prefix: str, groups: Mapping[str, str], data: Mapping[str, Any]) -> None:
        if panel.x not in data or panel.y not in data:
            return
        widget = self.widgets["loop"]
        group = (prefix, *(_as_float(data.get(name)) for name in panel.group_by))
        if group != self._loop_group:  # one loop at a time: a new condition starts afresh
            if self._loop_group is not None:
                widget.clear_data()
            self._loop_group = group
            widget.setTitle(group_title(panel, groups, data) or None)
        widget.add_point(float(data[panel.x]), float(data[panel.y]), str(data.get(panel.series, "up")))

    def _feed_trace(self, panel: LivePlot, prefix: str, groups: Mapping[str, str], data: Mapping[str, Any]) -> None:
        traced = segmented_trace(data, panel)
        if traced is not None:
            self.widgets["trace"].set_trace(*traced)
            self.widgets["trace"].setTitle(trace_title(data, panel))

    def _feed_histogram(self, panel: LivePlot, prefix: str, groups: Mapping[str, str],
                        data: Mapping[str, Any]) -> None:
        histogram = histogram_fields(data, panel)
        if histogram is not None:
            self.widgets["histogram"].set_histogram(*histogram)

    def _feed_image(self, panel: LivePlot, prefix: str, groups: Mapping[str, str], data: Mapping[str, Any]) -> None:
        x, y = _as_float(data.get(panel.x)), _as_float(data.get(panel.y))
        value = _as_float(data.get(panel.series))
        if x is not None and y is not None:
            self.widgets["image"].add_point(panel.series, x, y, math.nan if value is None else value)

    def _feed_curve(self, panel: LivePlot, prefix: str, groups: Mapping[str, str], data: Mapping[str, Any]) -> None:
        x, y = _as_float(data.get(panel.x)), _as_float(data.get(panel.y))
        if x is not None and y is not None:
            self.widgets["curve"].add_sample(str(data.get(panel.series, panel.stream)), x, y)


class LivePlots(QTabWidget):
    """The live plots as tabs, fed with engine events on the GUI thread; what is drawn from which
    stream is the running experiment's declaration (``Experiment.live``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hysteresis = HysteresisPlot()
        self.trace = TracePlot()
        self.histogram = HistogramPlot()
        self.temperature = TemperaturePlot()
        self.calibration = CalibrationPlot()
        self.maps = MapPanels()
        self.addTab(self.hysteresis, "Emission vs power")
        self.addTab(self.trace, "Switching trace")
        self.addTab(self.histogram, "TCSPC histogram")
        self.addTab(self.temperature, "Temperature")
        self.addTab(self.calibration, "Calibration")
        self.addTab(self.maps, "Map")
        self.renderer = PanelRenderer({"loop": self.hysteresis, "trace": self.trace,
                                       "histogram": self.histogram, "curve": self.calibration,
                                       "image": self.maps})
        self.points_received = 0
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REFRESH_HZ))
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def refresh(self) -> None:
        for plot in (self.hysteresis, self.trace, self.histogram, self.temperature, self.calibration,
                     self.maps):
            plot.refresh()

    def handle_event(self, event: Event) -> None:
        if isinstance(event, PointTaken):
            self._handle_point(event)
        elif isinstance(event, RunStarted):
            self._start_run(event)
        elif isinstance(event, RunFinished):
            self.renderer.finish(event.summary)
            self.refresh()

    def _start_run(self, event: RunStarted) -> None:
        self.points_received = 0
        self.temperature.start_run()
        self.hysteresis.set_thresholds(None, None)
        first = self.renderer.start(panels_of(event.experiment, event.params))
        if first is not None:
            self.setCurrentWidget(first)

    def _handle_point(self, event: PointTaken) -> None:
        self.points_received += 1
        data = event.data
        self.renderer.feed(event.stream, data)
        kelvin = _as_float(data.get("temperature_k"))
        stamp = _as_float(_first(data, "timestamp_s", "timestamp"))
        if kelvin is not None and stamp is not None:
            self.temperature.add_run_sample(stamp, kelvin)
