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


def hints_text(app) -> str:
    return str(app.query_one("#hints").content)


@run_async
async def test_h_reveals_hints_one_by_one_and_shares_the_count_with_the_cli(ws):
    ex = load_course().exercise("corr2d")
    n = len(ex.hints)
    async with TutorApp(ws).run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, lambda d: d == ex)
        assert "Hint 1" not in hints_text(pilot.app)
        await pilot.press("escape", "h", "h")
        text = hints_text(pilot.app)
        assert f"Hint 1 of {n}: {ex.hints[0]}" in text and f"Hint 2 of {n}: {ex.hints[1]}" in text
        assert "Hint 3" not in text
        with Progress(ws.db_path) as progress:
            assert progress.hints_shown("corr2d") == 2
        await pilot.press(*["h"] * (n - 1))  # past the last one
        assert f"Hint {n} of {n}" in hints_text(pilot.app) and "last hint" in hints_text(pilot.app)
        assert any("last hint" in note.message for note in pilot.app._notifications)
    with Progress(ws.db_path) as progress:
        assert progress.hints_shown("corr2d") == n
    async with TutorApp(ws).run_test(size=SIZE) as pilot:  # a new session shows what was revealed
        await select(pilot, lambda d: d == ex)
        assert f"Hint {n} of {n}" in hints_text(pilot.app)


@run_async
async def test_solution_needs_a_confirmation_before_full_marks(ws):
    from tutor.tui.app import ConfirmScreen

    ex = load_course().exercise("corr2d")
    solution = ex.solution_path.read_text(encoding="utf-8")
    async with TutorApp(ws).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        switcher = pilot.app.query_one("#main", ContentSwitcher)
        await pilot.press("escape", "s")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        assert "Show the solution before you have full marks? [y/n]" in str(
            pilot.app.screen.query_one("#confirm-question").content)
        await pilot.press("n")
        assert not isinstance(pilot.app.screen, ConfirmScreen) and switcher.current == "exercise-view"
        await pilot.press("s")
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, ConfirmScreen) and switcher.current == "exercise-view"
        await pilot.press("s", "y")
        await pilot.pause()
        assert switcher.current == "solution-view"
        assert pilot.app.query_one("#solution", TextArea).text == solution
        assert pilot.app.query_one("#solution", TextArea).read_only
        await pilot.press("e")
        assert switcher.current == "exercise-view"
        assert pilot.app.query_one("#editor", TextArea).text == ex.stub_path.read_text(encoding="utf-8")
        assert ws.file_for(ex).read_text(encoding="utf-8") == ex.stub_path.read_text(encoding="utf-8")


@run_async
async def test_solution_is_shown_at_once_with_full_marks(ws):
    from tutor.engine.results import GRADED, GradeResult, TestResult
    from tutor.tui.app import ConfirmScreen

    ex = load_course().exercise("corr2d")
    with Progress(ws.db_path) as progress:
        progress.record(GradeResult(exercise="corr2d", file="x", status=GRADED,
                                    tests=[TestResult(name="t", passed=True, earned=ex.points, points=ex.points)]))
    async with TutorApp(ws).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        await pilot.press("escape", "s")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, ConfirmScreen)
        assert pilot.app.query_one("#main", ContentSwitcher).current == "solution-view"
        assert pilot.app.query_one("#solution", TextArea).text == ex.solution_path.read_text(encoding="utf-8")


async def wait_until(pilot, condition, timeout=20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await pilot.pause(0.1)
        await pilot.app.workers.wait_for_complete()
        if condition():
            return True
    return condition()


@run_async
async def test_an_edit_made_elsewhere_is_reloaded_and_regraded(ws):
    ex = load_course().exercise("corr2d")
    solution = ex.solution_path.read_text(encoding="utf-8")
    async with TutorApp(ws, device="cpu").run_test(size=SIZE) as pilot:
        node = await select(pilot, lambda d: d == ex)
        ws.file_for(ex).write_text(solution, encoding="utf-8")  # another editor saves the file
        assert await wait_until(pilot, lambda: "12/12" in results_text(pilot.app)), results_text(pilot.app)
        assert pilot.app.query_one("#editor", TextArea).text == solution
        assert not pilot.app.dirty
        assert str(node.label).startswith("✓")
    with Progress(ws.db_path) as progress:
        assert progress.summaries()["corr2d"].attempts == 1  # debounced: one grading for one change


@run_async
async def test_an_edit_elsewhere_never_overwrites_unsaved_edits(ws, monkeypatch):
    graded = []
    monkeypatch.setattr("tutor.tui.app.grade", lambda ex, path, **kw: graded.append(path.read_text()) or
                        (_ for _ in ()).throw(RuntimeError("stop here")))
    ex = load_course().exercise("corr2d")
    path = ws.file_for(ex)
    elsewhere = "# written elsewhere\n" + path.read_text(encoding="utf-8")
    async with TutorApp(ws).run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, lambda d: d == ex)
        editor = pilot.app.query_one("#editor", TextArea)
        editor.move_cursor((0, 0))
        await pilot.press("#", " ", "m", "i", "n", "e", "enter")
        mine = editor.text
        path.write_text(elsewhere, encoding="utf-8")
        assert await wait_until(pilot, lambda: any("unsaved edits" in n.message for n in pilot.app._notifications),
                                timeout=5)
        assert editor.text == mine and pilot.app.dirty
        assert path.read_text(encoding="utf-8") == elsewhere and graded == []
        await pilot.press("escape", "r")  # reload: take the file from disk, then it is graded
        assert editor.text == elsewhere and not pilot.app.dirty
        await pilot.app.workers.wait_for_complete()
        assert graded == [elsewhere]
