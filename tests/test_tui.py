"""The Textual TUI, driven headless with App.run_test() (the pilot)."""

import asyncio
import functools
import subprocess
import sys

import pytest

pytest.importorskip("textual")

from textual import events  # noqa: E402
from textual.widgets import ContentSwitcher, Markdown, TextArea, Tree  # noqa: E402

from tests.conftest import REPO  # noqa: E402
from tutor.manifest import load_course  # noqa: E402
from tutor.progress import Progress  # noqa: E402
from tutor.tui.app import TutorApp  # noqa: E402
from tutor.tui.results import ResultsPanel  # noqa: E402
from tutor.workspace import Workspace, init_workspace  # noqa: E402

pytestmark = pytest.mark.usefixtures("fixture_course_env")  # the TUI runs on the fixture course

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
    return app._tree_nodes()


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
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        labels = [str(n.label) for n in tree_nodes(pilot.app) if n.data in course.exercises]
        assert [label.split()[1] for label in labels] == [ex.id for ex in course.exercises]
        assert all(label.startswith("·") for label in labels)


@run_async
async def test_selecting_a_lesson_shows_its_markdown(ws):
    lesson = load_course().lesson("corr2d")
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == lesson)
        assert pilot.app.query_one("#main", ContentSwitcher).current == "lesson-view"
        source = pilot.app.query_one("#lesson", Markdown).source
        assert source.startswith(lesson.path.read_text(encoding="utf-8"))
        assert "[corr2d: 2-D cross-correlation](exercise:corr2d)" in source
        # The link opens the exercise, like e does from the lesson.
        pilot.app.query_one("#lesson", Markdown).post_message(
            Markdown.LinkClicked(pilot.app.query_one("#lesson", Markdown), "exercise:corr2d"))
        await pilot.pause()
        assert pilot.app.query_one("#main", ContentSwitcher).current == "exercise-view"
        assert pilot.app.exercise.id == "corr2d"


@run_async
async def test_selecting_an_exercise_opens_the_file_and_ctrl_s_saves(ws):
    ex = load_course().exercise("corr2d")
    path = ws.file_for(ex)
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
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

    monkeypatch.setattr("tutor.engine.runner.grade", broken)
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, warm=False).run_test(size=SIZE, notifications=True) as pilot:
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
    async with TutorApp(ws, warm=False).run_test(size=SIZE, notifications=True) as pilot:
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
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:  # a new session shows what was revealed
        await select(pilot, lambda d: d == ex)
        assert f"Hint {n} of {n}" in hints_text(pilot.app)


@run_async
async def test_solution_needs_a_confirmation_before_full_marks(ws):
    from tutor.tui.app import ConfirmScreen

    ex = load_course().exercise("corr2d")
    solution = ex.solution_path.read_text(encoding="utf-8")
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
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
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
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
    monkeypatch.setattr("tutor.engine.runner.grade", lambda ex, path, **kw: graded.append(path.read_text()) or
                        (_ for _ in ()).throw(RuntimeError("stop here")))
    ex = load_course().exercise("corr2d")
    path = ws.file_for(ex)
    elsewhere = "# written elsewhere\n" + path.read_text(encoding="utf-8")
    async with TutorApp(ws, warm=False).run_test(size=SIZE, notifications=True) as pilot:
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


# Keys, views and the command palette

@run_async
async def test_letters_type_in_the_editor_and_escape_makes_them_commands(ws, monkeypatch):
    graded = []
    monkeypatch.setattr(TutorApp, "start_grading", lambda self: graded.append(self.exercise.id))
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        editor = pilot.app.query_one("#editor", TextArea)
        editor.move_cursor((0, 0))
        await pilot.press("g", "h", "q", "t")
        assert editor.text.startswith("ghqt") and graded == [] and pilot.app.is_running
        assert pilot.app.query_one("#main", ContentSwitcher).current == "exercise-view"
        await pilot.press("ctrl+g")  # ctrl keys work while typing: the edit is saved, then graded
        assert graded == ["corr2d"] and ws.file_for(ex).read_text(encoding="utf-8").startswith("ghqt")
        await pilot.press("escape")
        assert pilot.app.query_one("#course", Tree).has_focus
        await pilot.press("g")
        assert graded == ["corr2d", "corr2d"]


@run_async
async def test_command_palette_jumps_to_an_exercise_and_a_lesson(ws):
    async def palette(pilot, typed: str) -> None:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*typed)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()

    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await palette(pilot, "beam_sea")
        assert pilot.app.exercise is not None and pilot.app.exercise.id == "beam_search"
        assert pilot.app.query_one("#main", ContentSwitcher).current == "exercise-view"
        assert pilot.app.query_one("#course", Tree).cursor_node.data.id == "beam_search"
        await palette(pilot, "lesson: dropout")
        assert pilot.app.query_one("#main", ContentSwitcher).current == "lesson-view"
        assert pilot.app.shown_lesson == load_course().lesson("dropout")


@run_async
async def test_task_view_shows_the_stubs_docstrings_even_when_the_file_lost_them(ws):
    ex = load_course().exercise("corr2d")
    ws.file_for(ex).write_text("def corr2d(X, K):\n    pass\n", encoding="utf-8")
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == load_course().lesson("corr2d"))
        await pilot.press("t")  # from the lesson: the lesson's exercise
        assert pilot.app.query_one("#main", ContentSwitcher).current == "task-view"
        source = pilot.app.query_one("#task", Markdown).source
        assert "## `def corr2d(X, K)`" in source and "Return the 2-D cross-correlation of X" in source
        await pilot.press("e")
        assert pilot.app.query_one("#main", ContentSwitcher).current == "exercise-view"
        assert pilot.app.exercise == ex


@run_async
async def test_quitting_with_unsaved_edits_asks_first(ws):
    from tutor.tui.app import QuitScreen

    ex = load_course().exercise("corr2d")
    path = ws.file_for(ex)
    stub = path.read_text(encoding="utf-8")
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        pilot.app.query_one("#editor", TextArea).insert("# mine\n", (0, 0))
        await pilot.press("escape", "q")
        assert isinstance(pilot.app.screen, QuitScreen) and pilot.app.is_running
        await pilot.press("escape")  # stay
        assert not isinstance(pilot.app.screen, QuitScreen) and pilot.app.is_running and pilot.app.dirty
        await pilot.press("q", "s")  # save and quit
        await pilot.pause()
        assert not pilot.app.is_running
    assert path.read_text(encoding="utf-8") == "# mine\n" + stub

    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        pilot.app.query_one("#editor", TextArea).insert("# dropped\n", (0, 0))
        await pilot.press("escape", "q", "d")  # quit without saving
        await pilot.pause()
        assert not pilot.app.is_running
    assert path.read_text(encoding="utf-8") == "# mine\n" + stub


@run_async
async def test_progress_view_shows_best_scores_and_the_history(ws):
    from tutor.engine.results import GRADED, GradeResult, TestResult

    with Progress(ws.db_path) as progress:
        for earned in (3, 12):
            progress.record(GradeResult(exercise="corr2d", file="x", status=GRADED, duration=1.25,
                                        tests=[TestResult(name="a", passed=earned == 12, earned=earned, points=12)]))
        progress.reveal_hint("corr2d", 4)
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await pilot.press("p")
        assert pilot.app.query_one("#main", ContentSwitcher).current == "progress-view"
        summary = pilot.app.query_one("#summary-table")
        row = summary.get_row("corr2d")
        assert str(row[1]) == "12/12" and row[2] == "2" and row[3] == "1/4"
        assert str(summary.get_row("gru")[1]) == "not started"
        assert "12/60 points · 1 of 5 exercises" in str(pilot.app.query_one("#progress-title").content)
        summary.move_cursor(row=summary.get_row_index("corr2d"))
        await pilot.press("enter")  # that exercise's history, newest first
        await pilot.pause()
        history = pilot.app.query_one("#history-table")
        assert history.row_count == 2
        assert [str(history.get_row_at(i)[1]) for i in range(2)] == ["12/12", "3/12"]
        assert "a" in str(history.get_row_at(1)[6]) and "none" in str(history.get_row_at(0)[6])
        overall_text, bar = pilot.app.query_one("#overall-label").content.renderables
        assert str(overall_text) == "12/60 points · 1/5 done" and (bar.completed, bar.total) == (12, 60)


def editor_lines(app) -> int:
    """How many lines of code the editor shows (its height less borders and a horizontal scrollbar)."""
    return app.query_one("#editor").scrollable_content_region.height


@run_async
async def test_80x24_gives_the_editor_most_of_the_height(ws):
    """At 80x24 the tree is a drawer over the views (b) and the results fold into one line (v) until there is
    something to read: the editor shows 19 lines (it showed 5 before), 11 with the results open."""
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, warm=False).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app = pilot.app
        sidebar, main, tree = app.query_one("#sidebar"), app.query_one("#main"), app.query_one("#course", Tree)
        assert app.has_class("-narrow") and sidebar.display and tree.has_focus  # nothing open: the tree shows
        assert (main.region.x, main.region.width) == (0, 80)  # under the drawer, not beside it
        await select(pilot, lambda d: d == ex)
        editor = app.query_one("#editor")
        assert not sidebar.display and editor.has_focus
        assert editor_lines(app) >= 16 and editor.scrollable_content_region.width >= 70
        bar = app.query_one("#panel-bar")
        assert "Results: not graded yet" in bar.plain and "ctrl+r shows them" in bar.plain
        await pilot.press("ctrl+r")  # while typing: the results open, the editor keeps the keys
        assert app.query_one("#results-row").display and editor.has_focus and "ctrl+r hides them" in bar.plain
        await pilot.press("ctrl+r")
        assert not app.query_one("#results-row").display and editor.text == ws.file_for(ex).read_text(encoding="utf-8")
        await pilot.press("escape")  # to the bar under the editor, where letters are commands
        assert app.focused.id == "panel-bar" and not sidebar.display and "v shows them" in bar.plain
        await pilot.press("v")  # the results (and hints) open under the editor
        assert app.query_one("#results-row").display and app.query_one("#results-row").size.height >= 5
        assert editor_lines(app) >= 9
        await pilot.press("v")
        assert not app.query_one("#results-row").display and editor_lines(app) >= 16
        await pilot.press("b")  # the drawer, with the keys in the tree
        assert sidebar.display and tree.has_focus
        await pilot.press("escape")
        assert not sidebar.display and app.focused.id == "panel-bar"
        await pilot.press("b")
        await pilot.click("#editor", offset=(60, 5))  # beside the drawer: it goes
        assert not sidebar.display and editor.has_focus
        await pilot.press("escape", "b", "enter")  # the cursor is on corr2d: the drawer goes, the editor has the keys
        assert not sidebar.display and editor.has_focus
        await pilot.press("escape", "h")  # a hint opens the panel
        assert app.query_one("#results-row").display and "Hint 1 of" in hints_text(app)

        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not app.has_class("-narrow") and sidebar.display and sidebar.outer_size.width == 38
        assert editor_lines(app) >= 14
        await pilot.press("v")
        assert editor_lines(app) >= 30
        await pilot.press("b")  # a wide terminal: b hides the tree's column, and the view keeps the keys
        assert not sidebar.display and app.focused.id == "panel-bar"
        assert editor.scrollable_content_region.width >= 110
        await pilot.press("b")
        assert sidebar.display


@run_async
async def test_after_a_long_line_short_lines_show_from_column_0(ws):
    ex = load_course().exercise("corr2d")
    long_line = "Y = " + " + ".join(["X[i, j] * K[0, 0]"] * 6)  # 120 columns
    async with TutorApp(ws, warm=False).run_test(size=(80, 24)) as pilot:
        await select(pilot, lambda d: d == ex)
        editor = pilot.app.query_one("#editor", TextArea)
        editor.load_text("import torch\n\n    return Y\n")
        editor.insert(long_line, (1, 0))
        editor.move_cursor((1, 0))
        await pilot.press("end", "x")  # at the end of the long line: scrolled sideways
        assert editor.scroll_x > 0 and editor.text.splitlines()[1] == long_line + "x"
        await pilot.press("down")  # a short line: back to column 0, the indentation in view
        assert editor.cursor_location == (2, 12) and editor.scroll_x == 0
        await pilot.press("up")  # back on the long line, at the column remembered
        assert editor.cursor_location == (1, len(long_line) + 1) and editor.scroll_x > 0
        await pilot.press("up")
        assert editor.cursor_location[0] == 0 and editor.scroll_x == 0


async def burst(pilot, *keys: str) -> None:
    """Send keys the way a terminal does a paste or a fast typist: all at once, without waiting in between."""
    for key in keys:
        name = "space" if key == " " else key
        pilot.app.post_message(events.Key(name, key if len(key) == 1 else " " if key == "space" else None))
    for _ in range(100):
        await pilot.pause()
        if not pilot.app.typed and pilot.app.input_settled():  # every key handed out, and its effects done
            return


@run_async
async def test_keys_typed_in_a_burst_all_reach_the_editor(ws):
    """Enter on an exercise, or e, followed at once by text: the text goes to the editor the key opened, never to
    the tree where its letters are commands (every letter bound in the app is in it)."""
    ex = load_course().exercise("corr2d")
    stub = ws.file_for(ex).read_text(encoding="utf-8")
    typed = "return Y  # gchtlepoSrzvbLq?"
    async with TutorApp(ws, warm=False).run_test(size=SIZE) as pilot:
        await pilot.pause()
        tree = pilot.app.query_one("#course", Tree)
        tree.move_cursor(next(n for n in tree_nodes(pilot.app) if n.data == ex))
        await burst(pilot, "enter", *typed)
        editor = pilot.app.query_one("#editor", TextArea)
        assert editor.text == typed + stub and editor.has_focus and pilot.app.is_running
        await pilot.press("escape")
        await burst(pilot, "e", "Z", "space", "shift+w")  # shift+w: a terminal that reports no text for it
        assert editor.text == typed + "Z W" + stub
        assert pilot.app.query_one("#main", ContentSwitcher).current == "exercise-view"


def fence_texts(markdown) -> list[tuple[str, str, int]]:
    """Each code block of a Markdown view: its code, the text drawn on screen, and how far it scrolls sideways."""
    from textual.geometry import Region
    from textual.widgets._markdown import MarkdownFence

    out = []
    for fence in markdown.query(MarkdownFence):
        label = fence.query_one("Label")
        drawn = "\n".join(strip.text for strip in label.render_lines(Region(0, 0, *label.outer_size)))
        out.append((fence.code, drawn, fence.max_scroll_x))
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
@run_async
async def test_lessons_and_tasks_at_80_columns_lose_no_code(ws, lang):
    """Code and formula blocks wider than an 80-column terminal wrap: every character is drawn, none is scrolled
    out of sight (Chinese is double width)."""
    from tutor.i18n import get_lang, set_lang

    before = get_lang()
    set_lang(lang)
    try:
        async with TutorApp(ws, warm=False).run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            checked = 0
            for exercise, views in (("bleu", ("#lesson", "#task")), ("beam_search", ("#lesson",)),
                                    ("gru", ("#task",))):  # the widest blocks of the fixture course
                pilot.app.jump_to(load_course().lesson(exercise))
                await pilot.pause()
                for view in views:
                    if view == "#task":
                        await pilot.press("t")
                    for code, drawn, scroll in fence_texts(pilot.app.query_one(view, Markdown)):
                        assert scroll == 0 and "".join(code.split()) == "".join(drawn.split()), (exercise, drawn)
                        checked += any(len(line) > 74 for line in code.splitlines())
            assert checked >= 3  # blocks that did not fit were among them
    finally:
        set_lang(before)


# Bad input: the app says what happened and stays usable

@run_async
async def test_a_file_that_is_not_utf8_is_refused_with_a_reason(ws):
    ex = load_course().exercise("corr2d")
    ws.file_for(ex).write_bytes(b"def corr2d(X, K):\n    return '\xff'\n")
    async with TutorApp(ws, warm=False).run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, lambda d: d == ex)
        assert pilot.app.exercise is None
        assert any("is not UTF-8 text" in n.message and "d2l-tutor reset corr2d" in n.message
                   for n in pilot.app._notifications)
        await select(pilot, lambda d: d == load_course().exercise("gru"))
        assert pilot.app.exercise.id == "gru"


@run_async
async def test_a_deleted_workspace_is_reported_and_ctrl_s_recreates_it(ws):
    import shutil

    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, warm=False).run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, lambda d: d == ex)
        pilot.app.query_one("#editor", TextArea).insert("# keep me\n", (0, 0))
        shutil.rmtree(ws.root)
        assert await wait_until(pilot, lambda: any("was deleted or moved" in n.message
                                                   for n in pilot.app._notifications), timeout=5)
        await pilot.press("ctrl+s")
        assert ws.file_for(ex).read_text(encoding="utf-8").startswith("# keep me\n")
        assert ws.file_for(load_course().exercise("gru")).is_file() and ws.db_path.parent.is_dir()
        assert pilot.app.is_running


@run_async
async def test_external_editor_is_explained_when_it_cannot_run(ws, monkeypatch):
    ex = load_course().exercise("corr2d")
    monkeypatch.delenv("VISUAL", raising=False)
    async with TutorApp(ws, warm=False).run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, lambda d: d == ex)
        monkeypatch.delenv("EDITOR", raising=False)
        await pilot.press("escape", "o")
        assert any("Set $EDITOR" in n.message for n in pilot.app._notifications)
        monkeypatch.setenv("EDITOR", "no-such-editor-d2l --wait")
        await pilot.press("o")
        assert any("'no-such-editor-d2l --wait', which is not a command" in n.message
                   for n in pilot.app._notifications)
        monkeypatch.setenv("EDITOR", "true")
        await pilot.press("o")  # headless: the app cannot hand over the terminal, and says so
        assert any("cannot hand the screen" in n.message for n in pilot.app._notifications)
        assert pilot.app.is_running


@run_async
async def test_broken_learner_files_are_graded_and_the_app_keeps_running(ws):
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, device="cpu").run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        pilot.app.query_one("#editor", TextArea).load_text("def corr2d(X, K)\n    return X\n")
        await grade_and_wait(pilot)
        assert "0/12" in results_text(pilot.app) and "SyntaxError" in results_text(pilot.app)
        pilot.app.query_one("#editor", TextArea).load_text("import os\n\ndef corr2d(X, K):\n    os._exit(3)\n")
        await grade_and_wait(pilot)
        assert "0/12" in results_text(pilot.app) and "exit code 3" in results_text(pilot.app)
        assert pilot.app.is_running and pilot.app.cancel_event is None


# The smoke-check's live plot, and cancelling it

@run_async
async def test_smoke_check_is_plotted_against_its_threshold(ws):
    ex = load_course().exercise("corr2d")
    ws.file_for(ex).write_text(ex.solution_path.read_text(encoding="utf-8"), encoding="utf-8")
    async with TutorApp(ws, device="cpu").run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        await grade_and_wait(pilot)
        plot = pilot.app.query_one("#plot")
        assert "12/12" in results_text(pilot.app)
        assert plot.display and plot.shown == ["error"] and plot.threshold_line == 0.05
        assert plot.series["error"][0] == [float(s) for s in range(1, 61)]
        assert plot.passed is True


@run_async
async def test_cancel_a_running_smoke_check(ws):
    ex = load_course().exercise("dropout")
    ws.file_for(ex).write_text(ex.solution_path.read_text(encoding="utf-8"), encoding="utf-8")
    async with TutorApp(ws, device="cpu").run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        await pilot.press("escape", "g")
        plot = pilot.app.query_one("#plot")
        assert await wait_for(pilot, lambda: plot.display and plot.series.get("loss")), results_text(pilot.app)
        await pilot.press("c")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "cancelled" in results_text(pilot.app) and pilot.app.cancel_event is None
        steps = len(plot.series["loss"][0])
        assert 0 < steps < 400
    with Progress(ws.db_path) as progress:
        assert progress.summaries() == {}


async def wait_for(pilot, condition, timeout=60.0):
    """Like wait_until, without waiting for the workers (they are still running)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


# Start-up: no workspace, and an exercise named on the command line

@run_async
async def test_without_a_workspace_the_app_offers_to_create_one(tmp_path):
    from tutor.tui.app import SetupScreen

    proposed = tmp_path / "d2l-workspace"
    async with TutorApp(None, warm=False, searched=tmp_path, proposed=proposed).run_test(
            size=SIZE, notifications=True) as pilot:
        assert isinstance(pilot.app.screen, SetupScreen)
        text = " ".join(str(label.content) for label in pilot.app.screen.query("Static"))
        assert str(tmp_path) in text and f"Create one at {proposed}?" in text
        await pilot.press("y")
        await pilot.pause()
        assert (proposed / ".d2l-tutor").is_dir() and (proposed / "corr2d.py").is_file()
        assert pilot.app.workspace.root == proposed.resolve()
        await select(pilot, lambda d: d == load_course().exercise("corr2d"))
        assert pilot.app.exercise.id == "corr2d"

    async with TutorApp(None, warm=False, searched=tmp_path, proposed=tmp_path / "other").run_test(
            size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert not pilot.app.is_running
    assert not (tmp_path / "other").exists()


@run_async
async def test_start_opens_the_named_exercise(ws):
    ex = load_course().exercise("bleu")
    async with TutorApp(ws, warm=False, start=ex).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert pilot.app.exercise == ex
        assert pilot.app.query_one("#course", Tree).cursor_node.data == ex


@run_async
async def test_z_zooms_the_results_and_the_editor_follows_the_theme(ws):
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, warm=False).run_test(size=(80, 24)) as pilot:
        await pilot.press("z")  # nothing graded yet: nothing to zoom
        assert pilot.app.screen.maximized is None
        await select(pilot, lambda d: d == ex)
        await pilot.press("escape", "z")
        assert pilot.app.screen.maximized is pilot.app.query_one("#results-row")
        assert pilot.app.query_one("#results-row").size.height >= 20
        await pilot.press("escape")
        assert pilot.app.screen.maximized is None
        editor = pilot.app.query_one("#editor", TextArea)
        assert editor.theme == "monokai"
        pilot.app.theme = "textual-light"
        await pilot.pause()
        assert editor.theme == "github_light" and pilot.app.query_one("#solution", TextArea).theme == "github_light"


@run_async
async def test_an_infinite_loop_times_out_and_the_app_stays_responsive(ws, tmp_path):
    """With corr2d's time limit cut to 4 s (a copy of the course): the run is stopped and explained, and keys
    keep working while it runs."""
    import re as _re
    import shutil

    original = load_course(REPO / "course")  # the real course (the fixture course's folders are outside it)
    copy = tmp_path / "course"
    shutil.copytree(original.root, copy)
    meta = copy / original.exercise("corr2d").folder.relative_to(original.root) / "exercise.toml"
    meta.write_text(_re.sub(r"time_limit = [\d.]+", "time_limit = 4", meta.read_text(encoding="utf-8")),
                    encoding="utf-8")
    course = load_course(copy)
    ex = course.exercise("corr2d")
    assert ex.time_limit == 4
    async with TutorApp(ws, course=course, device="cpu").run_test(size=SIZE, notifications=True) as pilot:
        await select(pilot, lambda d: d == ex)
        pilot.app.query_one("#editor", TextArea).load_text("def corr2d(X, K):\n    while True:\n        pass\n")
        await pilot.press("escape", "g")
        await pilot.pause(1.0)
        await pilot.press("t")  # the UI answers while the child spins
        assert pilot.app.query_one("#main", ContentSwitcher).current == "task-view"
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        text = results_text(pilot.app)
        assert "0/12" in text and "longer than its 4 s limit" in text, text
        assert any("corr2d: 0/12 points. Press e" in n.message for n in pilot.app._notifications)
        await pilot.press("e")
        assert pilot.app.query_one("#main", ContentSwitcher).current == "exercise-view"
        assert pilot.app.is_running


CORR2D_TYPED = [  # what a learner types: one string per line, with no indentation (the editor adds it)
    "import torch", "", "", "def corr2d(X, K):",
    "h, w = K.shape",
    "Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)",
    "for i in range(Y.shape[0]):", "for j in range(Y.shape[1]):",
    "Y[i, j] = (X[i:i + h, j:j + w] * K).sum()",
]


@run_async
async def test_a_learner_types_corr2d_in_the_editor_and_gets_full_marks(ws):
    """The issue's "done when", keys only: the editor indents like a Python editor, ctrl+g saves and grades."""
    ex = load_course().exercise("corr2d")
    async with TutorApp(ws, device="cpu").run_test(size=SIZE) as pilot:
        await select(pilot, lambda d: d == ex)
        await pilot.press("f7", "delete")  # select all, delete: an empty file
        for line in CORR2D_TYPED:
            await burst(pilot, *line, "enter")  # a line at a time, as fast as a terminal sends keys
        await burst(pilot, "backspace", "backspace", *"return Y")  # two levels back out of the loops
        expected = ("import torch\n\n\ndef corr2d(X, K):\n    h, w = K.shape\n"
                    "    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)\n"
                    "    for i in range(Y.shape[0]):\n        for j in range(Y.shape[1]):\n"
                    "            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()\n    return Y")
        assert pilot.app.query_one("#editor", TextArea).text == expected
        await pilot.press("ctrl+g")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "12/12" in results_text(pilot.app) and "Full marks" in results_text(pilot.app)
        assert ws.file_for(ex).read_text(encoding="utf-8") == expected
        plot = pilot.app.query_one("#plot")
        assert plot.display and plot.passed is True
        await pilot.press("escape", "p")
        assert str(pilot.app.query_one("#summary-table").get_row("corr2d")[1]) == "12/12"
