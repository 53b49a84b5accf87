"""Snapshots of the TUI's main screens at 80x24 and 120x40 (pytest-textual-snapshot).

The SVGs live in tests/__snapshots__/. After a deliberate change of the layout, look at the report of the failing
run, then accept the new pictures with `python -m pytest tests/test_tui_snapshots.py --snapshot-update`.

Everything on screen is made deterministic: a fixed workspace path, a real grading whose only varying number (its
duration) is fixed afterwards, fixed timestamps in the progress database, and UTC for showing them.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

pytest.importorskip("textual")
pytest.importorskip("pytest_textual_snapshot")

from textual.widgets import Tree  # noqa: E402

from tests.test_engine import CORRECT  # noqa: E402
from tutor.engine.protocol import Plan, PlannedTest, SmokeStep, TestFinished, TestStarted  # noqa: E402
from tutor.engine.results import GRADED, GradeResult, TestResult  # noqa: E402
from tutor.engine.runner import grade  # noqa: E402
from tutor.manifest import load_course  # noqa: E402
from tutor.progress import Progress  # noqa: E402
from tutor.tui.app import TutorApp  # noqa: E402
from tutor.workspace import Workspace, init_workspace  # noqa: E402

pytestmark = pytest.mark.usefixtures("fixture_course_env")  # the TUI runs on the fixture course

ROOT = Path("/tmp/d2l-tutor-snapshots/w")  # fixed: the path is on screen
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

# A corr2d that flips the kernel (convolution, not cross-correlation): the classic mistake.
FLIPPED = CORRECT.lstrip().replace("    h, w = K.shape\n", "    K = torch.flip(K, (0, 1))\n    h, w = K.shape\n")
assert FLIPPED != CORRECT


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def ws() -> Workspace:
    shutil.rmtree(ROOT.parent, ignore_errors=True)
    init_workspace(ROOT, load_course())
    return Workspace(ROOT)


@pytest.fixture(scope="module")
def flipped_result(tmp_path_factory) -> GradeResult:
    """A real grading of the flipped corr2d (cold engine, CPU), with its duration fixed."""
    shutil.rmtree(ROOT.parent, ignore_errors=True)
    init_workspace(ROOT, load_course())
    path = ROOT / "corr2d.py"
    path.write_text(FLIPPED, encoding="utf-8")
    result = grade(load_course().exercise("corr2d"), path, device="cpu")
    assert result.status == GRADED and 0 < result.score < result.max_score, result
    result.duration = 1.5
    return result


def app_for(ws: Workspace, **kwargs) -> TutorApp:
    return TutorApp(ws, warm=False, device="cpu", **kwargs)


def open_tree_node(pilot, predicate) -> None:
    tree = pilot.app.query_one("#course", Tree)
    node = next(n for n in pilot.app._tree_nodes() if predicate(n.data))
    tree.select_node(node)


def test_lesson(snap_compare, ws, size):
    async def run_before(pilot):
        open_tree_node(pilot, lambda d: d == load_course().lesson("corr2d"))
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=size)


def test_exercise_with_a_failing_result_and_a_hint(snap_compare, ws, size, flipped_result):
    ex = load_course().exercise("corr2d")
    ws.file_for(ex).write_text(FLIPPED, encoding="utf-8")
    with Progress(ws.db_path) as progress:
        progress.reveal_hint("corr2d", len(ex.hints))

    async def run_before(pilot):
        open_tree_node(pilot, lambda d: d == ex)
        await pilot.pause()
        pilot.app.query_one("#results").finish(ex, flipped_result)
        await pilot.press("escape")
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=size)


def smoke_run(pilot, ex) -> None:
    """Feed the app the events of a corr2d smoke-check, as the verifier sends them."""
    smoke = PlannedTest(name="learns the edge-detection kernel [1, -1] by gradient descent", kind="smoke", points=3,
                        metric="max |K - [1, -1]|", goal="max", threshold=0.05, plot="error")
    pilot.app.query_one("#results").start(ex)
    pilot.app.set_panel(True)  # as grading does: the results open under the editor
    pilot.app.on_engine_event(Plan(exercise="corr2d", device="cpu", torch="", tests=(smoke,)))
    pilot.app.on_engine_event(TestStarted(name=smoke.name))
    error = 1.2
    for step in range(1, 61):
        error *= 0.85
        pilot.app.on_engine_event(SmokeStep(name=smoke.name, step=step,
                                            metrics={"loss": 4 * error * error, "error": error}))
    pilot.app.on_engine_event(TestFinished(name=smoke.name, passed=True))


def test_smoke_check_plot(snap_compare, ws, size):
    ex = load_course().exercise("corr2d")

    async def run_before(pilot):
        open_tree_node(pilot, lambda d: d == ex)
        await pilot.pause()
        smoke_run(pilot, ex)
        await pilot.pause(0.3)  # the plot's last redraw (it redraws at most ten times a second)
        await pilot.press("escape")
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=size)


def record_attempts(ws, attempts) -> None:
    """(exercise, points earned of 12) attempts in the progress database, at fixed times and file hashes."""
    with Progress(ws.db_path) as progress:
        for exercise, earned in attempts:
            progress.record(GradeResult(exercise=exercise, file="x", status=GRADED, duration=2.0,
                                        tests=[TestResult(name="hidden tests", passed=earned == 12, earned=earned,
                                                          points=12)]))
    with sqlite3.connect(ws.db_path) as db:
        db.execute("UPDATE attempts SET finished_at = '2026-11-24T10:0' || id || ':00+00:00', file_hash = "
                   "'0123456789abcdef'")


async def open_progress_view(pilot) -> None:
    open_tree_node(pilot, lambda d: d == load_course().exercise("corr2d"))
    await pilot.pause()
    await pilot.press("escape", "p")
    await pilot.pause()


def test_progress(snap_compare, ws, size):
    record_attempts(ws, (("dropout", 12), ("corr2d", 4), ("corr2d", 9)))
    assert snap_compare(app_for(ws), run_before=open_progress_view, terminal_size=size)


def test_no_workspace_offer(snap_compare, tmp_path, size):
    app = TutorApp(None, warm=False, searched=Path("/home/learner/notes"),
                   proposed=Path("/home/learner/notes/d2l-workspace"))
    assert snap_compare(app, terminal_size=size)


def test_light_theme_exercise(snap_compare, ws, flipped_result):
    ex = load_course().exercise("corr2d")

    async def run_before(pilot):
        pilot.app.theme = "textual-light"
        open_tree_node(pilot, lambda d: d == ex)
        await pilot.pause()
        smoke_run(pilot, ex)
        pilot.app.query_one("#results").finish(ex, flipped_result)
        await pilot.press("escape")
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=(120, 40))


def test_exercise_just_opened_at_80x24(snap_compare, ws):
    """The first hour's layout: the tree is a drawer (closed), the results are folded into one line, and the
    editor has the rest of the height."""
    ex = load_course().exercise("corr2d")

    async def run_before(pilot):
        open_tree_node(pilot, lambda d: d == ex)
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=(80, 24))


@pytest.fixture
def chinese():
    """The whole app in Chinese (as `--lang zh`, D2L_TUTOR_LANG=zh or a zh_CN locale give it)."""
    from tutor.i18n import get_lang, set_lang

    before = get_lang()
    set_lang("zh")
    yield
    set_lang(before)


def test_lesson_in_chinese(snap_compare, ws, size, chinese):
    """Double-width text laid out without cutting a character in half, at 80x24 and 120x40."""
    async def run_before(pilot):
        open_tree_node(pilot, lambda d: d == load_course().lesson("corr2d"))
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=size)


def test_wide_formula_wraps_at_80x24_in_chinese(snap_compare, ws, chinese):
    """A formula block wider than the terminal wraps onto a second line instead of running off the edge."""
    from textual.widgets._markdown import MarkdownFence

    async def run_before(pilot):
        open_tree_node(pilot, lambda d: d == load_course().lesson("bleu"))
        await pilot.pause()
        fence = next(f for f in pilot.app.query(MarkdownFence) if f.code.startswith("BLEU = exp"))
        pilot.app.query_one("#lesson-view").scroll_to_widget(fence, animate=False, top=True)
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=(80, 24))


def test_exercise_with_a_failing_result_in_chinese(snap_compare, ws, size, flipped_result, chinese):
    ex = load_course().exercise("corr2d")
    ws.file_for(ex).write_text(FLIPPED, encoding="utf-8")
    with Progress(ws.db_path) as progress:
        progress.reveal_hint("corr2d", len(ex.hints))

    async def run_before(pilot):
        open_tree_node(pilot, lambda d: d == ex)
        await pilot.pause()
        pilot.app.query_one("#results").finish(ex, flipped_result)
        await pilot.press("escape")
        await pilot.pause()

    assert snap_compare(app_for(ws), run_before=run_before, terminal_size=size)


def test_progress_in_chinese(snap_compare, ws, size, chinese):
    record_attempts(ws, (("dropout", 12), ("corr2d", 4)))
    assert snap_compare(app_for(ws), run_before=open_progress_view, terminal_size=size)


@pytest.fixture(params=SIZES)
def size(request):
    return request.param
