"""A live plot of a smoke-check's training metric against the threshold it must reach.

The TUI process never imports torch: the plot is fed the plan entry and the `smoke_step`
events' plain dicts. It is drawn with plotext (through textual-plotext, which follows the app's
theme, so no colour is hard-coded here).
"""

from __future__ import annotations

import math
import time

from textual.app import RenderResult
from textual.timer import Timer
from textual_plotext import PlotextPlot

Series = tuple[list[float], list[float]]


def _number(value) -> float | None:
    """The value as a float, or None for anything that is not a real number (bools, strings, None)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


LOG_DECADES_BELOW = 8  # a log axis reaches at most this many decades under the threshold; lower values are clipped
MAX_LOG_TICKS = 6       # more decades than this on a log axis: a tick every second (third, ...) decade


def log_floor(ys: list[float], threshold: float) -> float:
    """The lowest value a log axis shows for the values `ys` and a threshold > 0: threshold / 100, lowered to the
    smallest positive value (a decade under it when some value is 0 or negative, so that a 0 stands apart), but
    never more than LOG_DECADES_BELOW decades under the threshold."""
    floor = threshold / 100
    positive = [y for y in ys if y > 0]
    smallest = min(positive, default=floor)
    if smallest < floor:
        floor = smallest / 10 if len(positive) < len(ys) else smallest
    return max(floor, threshold * 10.0 ** -LOG_DECADES_BELOW)


class SmokePlot(PlotextPlot):
    """The tracked metric (the plan's "plot" key) against step, with the pass threshold as a horizontal line.

    Until the tracked metric has a point (or when the grader names none), the other metrics are shown and the
    title says which metric the threshold applies to at the end. Call its methods from the app's thread (they
    may start a Textual timer).
    """

    REDRAW_INTERVAL = 0.1  # seconds: steps can arrive hundreds a second, and a plotext redraw is not free

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.test: dict = {}
        self.series: dict[str, Series] = {}          # every finite point received, by metric
        self.nonfinite: tuple[str, int, float] | None = None  # the first nan/inf: (metric, step, value)
        self.finished = False
        self.passed: bool | None = None
        # What the last redraw drew (read by the tests and handy for debugging):
        self.shown: list[str] = []                    # the metrics plotted
        self.threshold_line: float | None = None      # the threshold line's value, in the metric's units
        self.log_scale = False
        self.title_text = ""
        self.redraws = 0
        self._label_width = 4  # the y tick labels' width (set by _limits; a guess until then)
        self._last_redraw = -math.inf
        self._timer: Timer | None = None

    # -- the API the app uses ------------------------------------------------------------------------------------
    def begin(self, test: dict) -> None:
        """Start plotting one smoke-check; `test` is its entry in the plan (metric, goal, threshold, plot)."""
        self.test = dict(test)
        self.series = {}
        self.nonfinite = None
        self.finished = False
        self.passed = None
        self._redraw()

    def add_step(self, step: int, metrics: dict[str, float]) -> None:
        """Record one step's metrics; the plot is redrawn at most every REDRAW_INTERVAL seconds."""
        x = _number(step)
        if x is None:
            return
        for name, value in (metrics or {}).items():
            y = _number(value)
            if y is None:
                continue
            if not math.isfinite(y):  # plotext cannot place nan/inf; say so in the title instead
                if self.nonfinite is None:
                    self.nonfinite = (str(name), int(x), y)
                continue
            xs, ys = self.series.setdefault(str(name), ([], []))
            xs.append(x)
            ys.append(y)
        self._schedule()

    def finish(self, passed: bool | None = None) -> None:
        """The smoke-check ended: draw every point now and show the outcome in the title."""
        self.finished = True
        self.passed = passed
        self._redraw()

    # -- properties of the current smoke-check -------------------------------------------------------------------
    @property
    def tracked(self) -> str:
        """The ctx.step metric the threshold applies to ("" when the grader names none)."""
        return str(self.test.get("plot") or "")

    @property
    def metric(self) -> str:
        return str(self.test.get("metric") or self.tracked or "the metric")

    @property
    def threshold(self) -> float | None:
        return _number(self.test.get("threshold"))

    @property
    def requirement(self) -> str:
        """How the threshold is met, e.g. ">= 0.85" (goal "min": at least) or "<= 0.05" (goal "max": at most)."""
        if self.threshold is None:
            return ""
        return f"{'<=' if self.test.get('goal') == 'max' else '>='} {self.threshold:g}"

    # -- drawing -------------------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._redraw()

    def _schedule(self) -> None:
        """Redraw now if the last redraw is old enough, else once when it is; no point is dropped either way."""
        if not self.is_mounted:
            return  # on_mount draws everything recorded so far
        wait = self._last_redraw + self.REDRAW_INTERVAL - time.monotonic()
        if wait <= 0:
            self._redraw()
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._timed_redraw)

    def _timed_redraw(self) -> None:
        self._timer = None
        self._redraw()

    def _redraw(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._last_redraw = time.monotonic()
        self.redraws += 1
        self._build()
        self.refresh()

    def _build(self) -> None:
        plt = self.plt
        plt.clear_figure()  # plotext cannot reset custom ticks; textual-plotext sets the size and theme again on render
        self.shown, self.threshold_line, self.log_scale, self._label_width = [], None, False, 4
        tracked = self.series.get(self.tracked) if self.tracked else None
        if tracked and tracked[0]:
            title = self._draw_tracked(tracked)
        else:
            title = self._draw_others()
        if self.nonfinite is not None:
            name, step, value = self.nonfinite
            title = f"{name} became {value} at step {step} · {title}"
        if self.finished and self.passed is not None:
            title += " · passed" if self.passed else " · failed"
        self.title_text = title

    def _draw_tracked(self, series: Series) -> str:
        xs, ys = series
        threshold, goal = self.threshold, self.test.get("goal")
        # A "max" goal's threshold is usually a small error the curve must fall under after starting orders of
        # magnitude above it (corr2d: ~1 down to < 0.05). On a linear axis the line and the end of the curve would
        # share the bottom row, so such curves get a log axis, on which each decade has the same height. The axis
        # goes down to threshold / 100, or lower when the curve does (a float32 error ends near 1e-7): every
        # positive value is drawn where it is, down to LOG_DECADES_BELOW decades under the threshold. An error of
        # exactly 0 (which has no log) is drawn at threshold / 100, or a decade under the smallest positive value
        # when that is lower; a value clipped at the bottom is named in the title with its real value. plotext's own
        # yscale("log") transforms its data in place on every build (and textual-plotext builds on every render),
        # so the log is taken here. "min" goals (accuracies, BLEU gains) stay linear, with limits that include
        # the threshold.
        self.log_scale = (goal == "max" and threshold is not None and threshold > 0
                          and max(ys) >= 10 * threshold)
        clipped = ""
        if self.log_scale:
            floor = log_floor(ys, threshold)
            below = [y for y in ys if 0 < y < floor]
            if below:  # positive values under the deepest axis the plot allows: clipped, and the title says so
                clipped = f" · {min(below):.2g} is below the axis"
        else:
            floor = 0.0

        def to_axis(value: float) -> float:
            return math.log10(max(value, floor)) if self.log_scale else value

        plotted = [to_axis(y) for y in ys]
        line_x: list[float] = []
        line_y: list[float] = []
        if threshold is not None:  # drawn first, so the curve stays visible where the two share a row
            line_x, line_y = [xs[0], max(xs[-1], xs[0] + 1)], [to_axis(threshold)] * 2
            self.plt.plot(line_x, line_y, label=f"pass: {self.requirement}")
            self.threshold_line = threshold
        self.plt.plot(xs, plotted)
        self.shown = [self.tracked]
        self._limits(xs + line_x, plotted + line_y)
        return f"{self.metric} {ys[-1]:.3g}{clipped}"

    def _draw_others(self) -> str:
        names = [n for n in self.series if n != self.tracked and self.series[n][0]]
        values = [y for n in names for y in self.series[n][1]]
        # Losses often fall over several decades: log them when they all are positive and span at least two.
        self.log_scale = bool(values) and min(values) > 0 and max(values) >= 100 * min(values)
        xs_all: list[float] = []
        plotted: list[float] = []
        for name in names:
            xs, ys = self.series[name]
            ys = [math.log10(y) for y in ys] if self.log_scale else ys
            self.plt.plot(xs, ys, label=name if len(names) > 1 else None)
            xs_all += xs
            plotted += ys
        self.shown = names
        need = f" {self.requirement}" if self.requirement else ""
        if not names:
            return f"waiting for {self.metric}{need}"
        self._limits(xs_all, plotted)
        # The most useful words first: a narrow plot cuts the title's end.
        return f"threshold{need} applies to {self.metric} at the end · plotting {', '.join(names)}"

    def _limits(self, xs: list[float], plotted: list[float]) -> None:
        """Y limits with room above the data for the legend row, and ticks chosen here so the labels' width is
        known when the title is fitted (decades on a log axis, whole numbers for steps)."""
        lo, hi = min(plotted), max(plotted)
        span = hi - lo or max(abs(hi), 1.0) * 0.1
        lower, upper = lo - 0.05 * span, hi + 0.3 * span
        self.plt.ylim(lower, upper)
        # Ticks at least a row apart: plotext draws one label of two that share a row, picked at random (a low plot,
        # as at 80x24, would otherwise show a different axis from one run to the next).
        gaps = max(1, self.data_rows - 1)
        if self.log_scale:  # a tick every decade, or every second or third one when the axis spans many
            decades = range(math.ceil(lower), math.floor(upper) + 1)
            every = max(1, math.ceil(len(decades) / MAX_LOG_TICKS), math.ceil((upper - lower) / gaps))
            ticks = [float(d) for d in decades if d % every == 0]
            labels = [f"{10.0 ** d:g}" for d in ticks]
        else:
            n = min(4, gaps)
            ticks = [lower + (upper - lower) * i / n for i in range(n + 1)]
            decimals = max(0, 1 - math.floor(math.log10((upper - lower) / n)))
            labels = [f"{t:.{decimals}f}" for t in ticks]
        self.plt.yticks(ticks, labels)
        self._label_width = max((len(label) for label in labels), default=4)
        first, last = min(xs), max(xs)
        if last - first >= 1:
            steps = sorted({round(first + (last - first) * i / 4) for i in range(5)})
            self.plt.xticks(steps, [str(t) for t in steps])

    @property
    def data_rows(self) -> int:
        """The rows the curves are drawn on: the title, the frame and the step labels take four (a plot not laid
        out yet counts as a tall one)."""
        return self.size.height - 4 if self.size.height > 4 else 1000

    def on_resize(self) -> None:
        if self.test:
            self._redraw()  # the ticks depend on the height

    def render(self) -> RenderResult:
        """The plot, with the title cut to fit: plotext leaves out a title that does not fit."""
        self.plt.title(_fit(self.title_text, self.size.width, self._label_width))
        return super().render()


def _fit(title: str, width: int, label_width: int) -> str:
    """The title, shortened with an ellipsis to what plotext can centre on a canvas `width` columns wide whose
    y tick labels are `label_width` wide."""
    col_start = label_width + 1                       # the labels and the y axis
    center = col_start + (width - col_start - 1) // 2  # plotext centres the title on the canvas
    for length in range(len(title), 0, -1):
        if center - length // 2 >= 0 and center - length // 2 + length <= width:
            return title if length == len(title) else title[:length - 1] + "…"
    return ""
