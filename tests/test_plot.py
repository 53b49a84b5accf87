"""The smoke-check plot: the tracked metric against its threshold, fed plan entries and smoke_step metrics."""

from __future__ import annotations

import ast
import asyncio
import functools
import math
import subprocess
import sys

import pytest

pytest.importorskip("textual_plotext")

from textual.app import App, ComposeResult  # noqa: E402

from tutor.tui.plot import SmokePlot  # noqa: E402

DROPOUT = {"name": "an MLP learns", "kind": "smoke", "points": 3, "metric": "test accuracy", "goal": "min",
           "threshold": 0.85, "budget": 15, "plot": "accuracy"}
CORR2D = {"name": "learns the kernel", "kind": "smoke", "points": 3, "metric": "max |K - [1, -1]|", "goal": "max",
          "threshold": 0.05, "budget": 15, "plot": "error"}
BEAM = {"name": "beats greedy", "kind": "smoke", "points": 3, "metric": "mean BLEU (beam 4) minus greedy",
        "goal": "min", "threshold": 0.15, "budget": 12, "plot": "advantage"}


def asynchronous(test):
    """Let pytest call an async test body: it runs in a fresh event loop (no pytest async plugin here)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


class PlotApp(App):
    def compose(self) -> ComposeResult:
        yield SmokePlot()


def drawn(plot: SmokePlot) -> list[tuple[str | None, list[float], list[float]]]:
    """What the last redraw handed to plotext: (legend label, xs, ys) for each line."""
    monitor = plot.plt.monitor
    return [(label, list(x), list(y)) for label, x, y in zip(monitor.label, monitor.x, monitor.y)]


def threshold_lines(plot: SmokePlot) -> list[tuple[str, list[float], list[float]]]:
    return [line for line in drawn(plot) if line[0] and line[0].startswith("pass:")]


def unlabelled(plot: SmokePlot) -> list[tuple[list[float], list[float]]]:
    return [(x, y) for label, x, y in drawn(plot) if not label]


def rendered(plot: SmokePlot) -> str:
    return plot.render().plain


@asynchronous
async def test_tracked_metric_is_plotted_with_its_threshold_line():
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        plot.begin(DROPOUT)
        steps = list(range(1, 101))
        accuracy = [0.3 + 0.6 * s / 100 for s in steps]
        for s, a in zip(steps, accuracy):
            plot.add_step(s, {"loss": 2.0 / s, "accuracy": a})
        plot.finish(True)
        await pilot.pause()

        assert plot.shown == ["accuracy"]
        assert plot.series["accuracy"] == (steps, accuracy)
        assert unlabelled(plot) == [(steps, accuracy)]  # the loss is not drawn beside it
        [(label, xs, ys)] = threshold_lines(plot)
        assert label == "pass: >= 0.85" and ys == [0.85, 0.85] and (xs[0], xs[-1]) == (1, 100)
        assert plot.threshold_line == 0.85 and not plot.log_scale
        lower, upper = plot.plt.monitor.ylim[0]
        assert lower < 0.3 and upper > 0.9  # the line and the whole curve are inside the axis
        assert plot.title_text == "test accuracy 0.9 · passed"
        assert "test accuracy 0.9 · passed" in rendered(plot).splitlines()[0]
        assert "pass: >= 0.85" in rendered(plot)


@asynchronous
async def test_a_small_error_threshold_gets_a_log_axis():
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        plot.begin(CORR2D)
        errors = [1.2 * 0.9 ** s for s in range(1, 60)] + [0.0]  # an exact 0 cannot be logged: it is clipped
        for s, e in enumerate(errors, start=1):
            plot.add_step(s, {"loss": e * 10, "error": e})
        plot.finish(False)
        await pilot.pause()

        assert plot.log_scale and plot.shown == ["error"] and plot.threshold_line == 0.05
        [(label, _, ys)] = threshold_lines(plot)
        assert label == "pass: <= 0.05" and ys == pytest.approx([math.log10(0.05)] * 2)
        [(xs, curve)] = unlabelled(plot)
        assert xs == list(range(1, 61))
        assert curve[0] == pytest.approx(math.log10(1.08)) and curve[-1] == pytest.approx(math.log10(0.05 / 100))
        lower, upper = plot.plt.monitor.ylim[0]
        assert lower < math.log10(0.05) < upper
        assert plot.title_text == "max |K - [1, -1]| 0 · failed"
        assert " 0.1┤" in rendered(plot) and "0.01┤" in rendered(plot)  # decade ticks in the metric's units


@asynchronous
async def test_other_metrics_are_shown_until_the_tracked_one_appears():
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        plot.begin(BEAM)
        assert plot.shown == [] and plot.title_text.startswith("waiting for mean BLEU (beam 4) minus greedy")
        for s in range(10, 151, 10):
            plot.add_step(s, {"loss": 3.0 - s / 100})
        plot.finish(None)
        assert plot.shown == ["loss"] and plot.threshold_line is None and threshold_lines(plot) == []
        assert unlabelled(plot) == [(list(range(10, 151, 10)), [3.0 - s / 100 for s in range(10, 151, 10)])]
        assert plot.title_text.startswith("threshold >= 0.15 applies to mean BLEU (beam 4) minus greedy at the end")

        plot.add_step(151, {"beam_bleu": 0.6, "greedy_bleu": 0.3, "advantage": 0.3})
        plot.add_step(152, {"beam_bleu": 0.5, "greedy_bleu": 0.4, "advantage": 0.1})
        plot.finish(False)
        assert plot.shown == ["advantage"] and unlabelled(plot) == [([151, 152], [0.3, 0.1])]
        [(label, xs, ys)] = threshold_lines(plot)
        assert label == "pass: >= 0.15" and ys == [0.15, 0.15] and xs == [151, 152]
        assert plot.title_text == "mean BLEU (beam 4) minus greedy 0.1 · failed"


@asynchronous
async def test_without_a_tracked_metric_the_title_says_what_the_threshold_is_for():
    gru = {"name": "learns a grammar", "kind": "smoke", "metric": "held-out perplexity", "goal": "max",
           "threshold": 3.0, "plot": ""}
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        plot.begin(gru)
        for s in range(1, 31):
            plot.add_step(s, {"loss": 2.0 - s / 30, "perplexity": 9.0})
        plot.finish(True)
        assert plot.shown == ["loss", "perplexity"] and threshold_lines(plot) == []
        assert [label for label, _, _ in drawn(plot)] == ["loss", "perplexity"]  # two lines: a legend
        assert plot.title_text.startswith("threshold <= 3 applies to held-out perplexity at the end")


@asynchronous
async def test_non_finite_and_non_numeric_values_are_skipped_and_named():
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        plot.begin(DROPOUT)
        plot.add_step(1, {"loss": 1.0, "accuracy": 0.4, "note": "warming up", "flag": True, "none": None})
        plot.add_step(2, {"loss": float("nan"), "accuracy": 0.5})
        plot.add_step(3, {"loss": float("inf"), "accuracy": float("nan")})
        plot.add_step(4, {"loss": 0.5, "accuracy": 0.6})
        plot.finish(False)
        await pilot.pause()

        assert set(plot.series) == {"loss", "accuracy"}
        assert plot.series["loss"] == ([1, 4], [1.0, 0.5]) and plot.series["accuracy"] == ([1, 2, 4], [0.4, 0.5, 0.6])
        assert unlabelled(plot) == [([1, 2, 4], [0.4, 0.5, 0.6])]
        assert plot.title_text == "loss became nan at step 2 · test accuracy 0.6 · failed"
        assert "loss became nan at step 2" in rendered(plot)


@asynchronous
async def test_redraws_are_throttled_but_every_point_is_plotted():
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        plot.REDRAW_INTERVAL = 0.5  # long enough that the bursts below surely fall inside one interval
        plot.begin(DROPOUT)
        before = plot.redraws
        for s in range(1, 401):  # 400 steps at once, as fast as a child can send them
            plot.add_step(s, {"loss": 1.0 / s, "accuracy": s / 400})
        assert plot.redraws == before and unlabelled(plot) == []  # begin just redrew: the burst waits
        assert len(plot.series["accuracy"][0]) == 400
        plot.finish(True)
        assert plot.redraws == before + 1
        [(xs, ys)] = unlabelled(plot)
        assert xs == list(range(1, 401)) and ys[-1] == 1.0

        plot.add_step(401, {"loss": 0.001, "accuracy": 0.99})
        plot.add_step(402, {"loss": 0.001, "accuracy": 0.98})
        assert plot.redraws == before + 1 and unlabelled(plot)[0][0][-1] == 400
        await pilot.pause(1.0)  # the timer draws them, once, without another step or finish
        assert plot.redraws == before + 2
        [(xs, ys)] = unlabelled(plot)
        assert xs == list(range(1, 403)) and ys[-1] == 0.98


@asynchronous
async def test_a_small_plot_keeps_a_shortened_title():
    async with PlotApp().run_test(size=(40, 10)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        plot.begin(BEAM)
        for s in range(10, 151, 10):
            plot.add_step(s, {"loss": float("nan") if s == 150 else 3.0 - s / 100})
        plot.finish(None)
        await pilot.pause()
        first = rendered(plot).splitlines()[0].strip()
        assert first.startswith("loss became nan at step 150") and first.endswith("…")
        assert len(rendered(plot).splitlines()) == 10


def test_smoke_plan_names_the_plotted_metric():
    from tutor.grading.harness import Grader

    grader = Grader("demo")

    @grader.smoke("learns", points=3, metric="max |K - [1, -1]|", goal="max", threshold=0.05, budget=10,
                  plot="error")
    def learns(ctx):
        return 0.0

    @grader.smoke("trains", points=1, metric="loss", goal="max", threshold=1.0, budget=10)
    def trains(ctx):
        return 0.0

    @grader.test("a test", points=1)
    def a_test(ctx):
        pass

    plans = {spec.name: spec.plan() for spec in grader.tests}
    assert plans["learns"]["plot"] == "error" and plans["learns"]["threshold"] == 0.05
    assert plans["trains"]["plot"] == ""
    assert "plot" not in plans["a test"]


def test_every_plotted_metric_is_one_the_grader_reports(course):
    """A grader's plot= must name a keyword of one of its ctx.step calls, or the plot never shows the threshold."""
    from tests.test_manifest import load_grader

    plotted = {}
    for ex in course.exercises:
        for spec in load_grader(ex).tests:
            if spec.kind == "smoke" and spec.plot:
                tree = ast.parse(ex.grader_path.read_text(encoding="utf-8"))
                reported = {kw.arg for node in ast.walk(tree) if isinstance(node, ast.Call)
                            and isinstance(node.func, ast.Attribute) and node.func.attr == "step"
                            for kw in node.keywords}
                assert spec.plot in reported, (ex.id, spec.plot, reported)
                plotted[ex.id] = spec.plot
    assert plotted == {"autograd": "error", "softmax_regression": "accuracy", "perceptron": "accuracy",
                       "weight_decay": "ratio", "init": "xavier_loss", "custom_layers": "test_mse", "corr2d": "error",
                       "conv_channels": "error", "pool2d": "accuracy", "batch_norm": "accuracy",
                       "resnet": "accuracy", "lenet": "accuracy", "inception": "accuracy", "cnn_blocks": "accuracy",
                       "dropout": "accuracy", "multihead_attention": "accuracy", "sequence_mask": "accuracy",
                       "beam_search": "advantage", "vocab": "perplexity", "seq_data": "carried",
                       "rnn_scratch": "perplexity", "lstm": "perplexity", "nmt_data": "bleu", "seq2seq": "bleu",
                       "nadaraya_watson": "test_mse", "additive_attention": "accuracy", "bahdanau": "bleu",
                       "positional_encoding": "accuracy", "transformer": "accuracy", "optimizers": "excess_loss",
                       "bert": "score"}


def test_the_plot_does_not_import_torch():
    code = "import sys, tutor.tui.plot; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def _error_curve(plot: SmokePlot, errors: list[float]) -> None:
    plot.begin(CORR2D)
    for s, e in enumerate(errors, start=1):
        plot.add_step(s, {"loss": e * 10, "error": e})
    plot.finish(True)


@asynchronous
async def test_errors_far_below_the_threshold_are_drawn_where_they_are():
    """A float32 error falls to ~1e-6: the log axis goes down to it instead of drawing a flat line at
    threshold / 100."""
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        errors = [1.2 * 0.75 ** s for s in range(60)] + [9.5e-07]
        _error_curve(plot, errors)
        await pilot.pause()

        assert plot.log_scale
        [(_, curve)] = unlabelled(plot)
        assert curve == pytest.approx([math.log10(e) for e in errors])  # nothing clipped: no flat tail
        assert len(set(curve[-10:])) == 10
        lower, upper = plot.plt.monitor.ylim[0]
        assert lower < math.log10(9.5e-07) and upper > math.log10(1.2)
        assert plot.title_text == "max |K - [1, -1]| 9.5e-07 · passed"
        text = rendered(plot)
        assert "1e-06┤" in text and "0.01┤" in text  # decade ticks down to the data
        ticks = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
        assert 2 <= len(ticks) <= 6, ticks  # seven decades: every second one is labelled


@asynchronous
async def test_an_exact_zero_below_tiny_errors_stands_apart_and_absurd_values_are_clipped_visibly():
    async with PlotApp().run_test(size=(60, 20)) as pilot:
        plot = pilot.app.query_one(SmokePlot)
        _error_curve(plot, [1.0, 0.1, 1e-6, 0.0])
        [(_, curve)] = unlabelled(plot)
        assert curve[:3] == pytest.approx([0.0, -1.0, -6.0]) and curve[3] == pytest.approx(-7.0)  # 0: a decade under
        assert plot.title_text == "max |K - [1, -1]| 0 · passed"

        _error_curve(plot, [1.0, 0.1, 1e-15])  # beyond LOG_DECADES_BELOW decades under the threshold (0.05)
        [(_, curve)] = unlabelled(plot)
        assert curve[-1] == pytest.approx(math.log10(0.05 * 1e-8))
        assert plot.title_text == "max |K - [1, -1]| 1e-15 · 1e-15 is below the axis · passed"
