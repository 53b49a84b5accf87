"""The Textual TUI, driven headless with App.run_test() (the pilot)."""

import asyncio
import functools
import subprocess
import sys

import pytest

pytest.importorskip("textual")

from textual.widgets import ContentSwitcher, Markdown, TextArea, Tree  # noqa: E402

from tutor.manifest import load_course  # noqa: E402
from tutor.progress import Progress  # noqa: E402
from tutor.tui.app import ResultsPanel, TutorApp  # noqa: E402
from tutor.workspace import Workspace, init_workspace  # noqa: E402

SIZE = (120, 40)


def run_async(test):
    """Run an async test body with asyncio (the project does not depend on a pytest async plugin)."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))
    return wrapper


@pytest.fixture
def ws(tmp_path):
    init_workspace(tmp_path / "w", load_course())
    return Workspace((tmp_path / "w").resolve())


def tree_nodes(app):
    out, stack = [], list(app.query_one("#course", Tree).root.children)
    while stack:
        node = stack.pop(0)
        out.append(node)
        stack[:0] = list(node.children)
    return out


async def select(pilot, predicate):
    tree = pilot.app.query_one("#course", Tree)
    node = next(n for n in tree_nodes(pilot.app) if predicate(n.data))
    tree.select_node(node)
    await pilot.pause()
    return node


def results_text(app) -> str:
    return str(app.query_one("#results", ResultsPanel).content)


async def grade_and_wait(pilot):
    await pilot.press("escape")  # leave the editor (escape there moves the focus) so g is a command
    await pilot.press("g")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@run_async
async def test_tree_lists_every_exercise(ws):
    course = load_course()
    async with TutorApp(ws).run_test(size=SIZE) as pilot:
        labels = [str(n.label) for n in tree_nodes(pilot.app) if n.data in course.exercises]
        assert [label.split()[1] for label in labels] == [ex.id for ex in course.exercises]
        assert all(label.startswith("·") for label in labels)


@run_async
async def test_selecting_a_lesson_shows_its_markdown(ws):
    lesson = load_course().lesson("corr2d")
    async with TutorApp(ws).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == lesson)
        assert pilot.app.query_one("#main", ContentSwitcher).current == "lesson-view"
        assert pilot.app.query_one("#lesson", Markdown).source == lesson.path.read_text(encoding="utf-8")


@run_async
async def test_selecting_an_exercise_opens_the_file_and_ctrl_s_saves(ws):
    ex = load_course().exercise("corr2d")
    path = ws.file_for(ex)
    async with TutorApp(ws).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        editor = pilot.app.query_one("#editor", TextArea)
        assert pilot.app.query_one("#main", ContentSwitcher).current == "exercise-view"
        assert editor.text == path.read_text(encoding="utf-8")
        editor.move_cursor((0, 0))
        await pilot.press("#", " ", "h", "i", "enter")
        assert path.read_text(encoding="utf-8") == ex.stub_path.read_text(encoding="utf-8")  # not saved yet
        await pilot.press("ctrl+s")
        assert path.read_text(encoding="utf-8") == "# hi\n" + ex.stub_path.read_text(encoding="utf-8")
        assert not list(path.parent.glob(".*.tmp"))


@run_async
async def test_grading_the_stub_then_the_solution(ws):
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, device="cpu").run_test(size=SIZE) as pilot:
        node = await select(pilot, lambda d: d == ex)
        await grade_and_wait(pilot)
        assert "0/12" in results_text(pilot.app)
        assert str(node.label).startswith("◐")

        # Paste the reference solution into the editor: g saves it first, then grades.
        pilot.app.query_one("#editor", TextArea).load_text(ex.solution_path.read_text(encoding="utf-8"))
        await grade_and_wait(pilot)
        assert "12/12" in results_text(pilot.app)
        assert "Full marks" in results_text(pilot.app)
        assert str(node.label).startswith("✓") and "12/12" in str(node.label)
        assert ws.file_for(ex).read_text(encoding="utf-8") == ex.solution_path.read_text(encoding="utf-8")
    with Progress(ws.db_path) as progress:
        summary = progress.summaries()["corr2d"]
    assert (summary.attempts, summary.best) == (2, 12)


@run_async
async def test_cancel_stops_grading_and_records_nothing(ws):
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, device="cpu").run_test(size=SIZE) as pilot:
        node = await select(pilot, lambda d: d == ex)
        await pilot.press("escape", "g", "c")  # the child is still importing torch when c arrives
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "cancelled" in results_text(pilot.app)
        assert str(node.label).startswith("·") and pilot.app.cancel_event is None
    with Progress(ws.db_path) as progress:
        assert progress.summaries() == {}


@run_async
async def test_a_failing_worker_is_shown_and_the_app_keeps_running(ws, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the engine broke")

    monkeypatch.setattr("tutor.tui.app.grade", broken)
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws).run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, lambda d: d == ex)
        await grade_and_wait(pilot)
        assert "the engine broke" in results_text(pilot.app)
        assert any("the engine broke" in n.message for n in pilot.app._notifications)
        assert pilot.app.is_running and pilot.app.cancel_event is None


def test_the_tui_does_not_import_torch():
    code = ("import asyncio, sys\n"
            "from tutor.manifest import load_course\n"
            "from tutor.workspace import Workspace, init_workspace\n"
            "import tempfile, pathlib\n"
            "import tutor.tui.app as m\n"
            "assert 'torch' not in sys.modules\n"
            "root = pathlib.Path(tempfile.mkdtemp()) / 'w'\n"
            "init_workspace(root, load_course())\n"
            "async def main():\n"
            "    async with m.TutorApp(Workspace(root)).run_test(size=(120, 40)) as pilot:\n"
            "        await pilot.pause()\n"
            "asyncio.run(main())\n"
            "assert 'torch' not in sys.modules, 'the TUI imported torch'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
