"""The d2l-tutor TUI: the course tree on the left; a lesson, a task, the exercise editor with its results, the
reference solution or the progress tables on the right.

Narrow terminals (fewer than NARROW columns, 80x24 included) get the whole width for the views: the tree becomes a
drawer over them (b), and the results and hints under the editor fold into one line (v) while there is nothing to
show, so that the editor keeps most of the height.

Keys are delivered one at a time: the next key goes out only once the app has dealt with the previous one (see
on_event), so a key that moves the focus (enter on an exercise, e, escape) sends the keys typed right after it to
the widget it focused; otherwise a fast burst (a paste, a quick typist, keys typed while a lesson renders) would go
to the old focus, where letters are commands.

Grading runs in a thread worker. It goes through a warm zygote (tutor.engine.warm) that imported torch at start-up
and forks a fresh child per run, or through the cold engine (tutor.engine.runner.grade) when the zygote cannot
start; either way this process never imports torch. Events from the child are shown live but are provisional: the
panel is redrawn from the parent's GradeResult (the verdict) when the run ends.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Footer, Header, Label, Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from tutor.engine.results import GradeResult
    from tutor.engine.warm import WarmGrader

from tutor.i18n import _, get_lang, numbering_label
from tutor.manifest import Course, Exercise, Lesson, load_course
from tutor.progress import Progress, ProgressError, Summary, course_totals
from tutor.tui.screens import ConfirmScreen, QuitScreen, SetupScreen
from tutor.workspace import DEFAULT_DIR, Workspace, WorkspaceError, init_workspace

# The first screen is only the course tree and a welcome; everything else (the Markdown, the editors, the plot,
# the engine) is imported and mounted once that screen is drawn (see on_ready), so that it appears fast.

NOT_STARTED, ATTEMPTED, FULL_MARKS = "·", "◐", "✓"
NOT_RECORDED = {"cancelled", "engine_error", "device_unavailable"}  # runs that say nothing about the learner's code
EXERCISE_LINK = "exercise:"


def welcome() -> str:
    return _("Welcome to d2l-tutor.\n\nPick a lesson or an exercise in the course tree (arrow keys and enter; b shows "
             "or hides the tree), or press ctrl+p and type its name. Press ? for every key, L to switch between "
             "English and Chinese.")


def points(x: float) -> str:
    return f"{x:g}"


def course_commands():
    """The command palette's provider, imported when the palette first opens."""
    from tutor.tui.commands import CourseCommands

    return CourseCommands

__all__ = ["ConfirmScreen", "QuitScreen", "SetupScreen", "TutorApp"]


def exercise_label(ex: Exercise, summary: Summary | None) -> Text:
    if summary is None:
        return Text.assemble((NOT_STARTED, "dim"), f" {ex.id}")
    done = summary.best >= ex.points
    mark = (FULL_MARKS, "green") if done else (ATTEMPTED, "yellow")
    return Text.assemble(mark, f" {ex.id} ", (f"{points(summary.best)}/{ex.points}", "dim"))


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and os.replace: the file is never half-written."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_text(path: Path) -> str:
    """The file's text; OSError or UnicodeDecodeError become one ValueError with a sentence a learner can act on."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist (deleted or moved?)") from None
    except PermissionError:
        raise ValueError(f"{path} cannot be read: permission denied (check its permissions with `ls -l`)") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not a Python file") from None
    except OSError as exc:
        raise ValueError(f"{path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8") from None


def file_stamp(path: Path) -> tuple[int, int] | None:
    """What the watcher compares: the file's mtime and size (None when it cannot be read)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class ResultsRow(Horizontal):
    """The results beside the smoke-check's plot; z fills the screen with it."""

    ALLOW_MAXIMIZE = True


EDITOR_THEMES = {True: "monokai", False: "github_light"}  # by the app theme's darkness


class TutorApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "d2l-tutor"
    COMMANDS = App.COMMANDS | {course_commands}
    NARROW = 100  # columns: below this the tree is a drawer over the views (the app gets the class -narrow)
    SHORT = 32    # rows: below this the editor drops its top and bottom borders (the class -short)
    KEY_SETTLE = 0.5  # seconds: the longest a key waits for the app to deal with the previous one
    # The footer shows the everyday keys; ? lists them all (o, s, r, z, v and b are there, and in the README).
    # c shows while grading runs, b on narrow terminals (see footer_shows).
    BINDINGS = [
        Binding("g", "grade", _("Grade")),
        Binding("ctrl+g", "grade", _("Grade"), show=False),  # the editor shows these two while it has the focus
        Binding("ctrl+s", "save", _("Save"), show=False),
        Binding("c", "cancel", _("Cancel")),
        Binding("h", "hint", _("Hint")),
        Binding("t", "show_task", _("Task")),
        Binding("l", "show_lesson", _("Lesson")),
        Binding("e", "show_exercise", _("Exercise")),
        Binding("p", "show_progress", _("Progress")),
        Binding("o", "external_editor", _("Open in $EDITOR"), show=False),
        Binding("s", "solution", _("Solution"), show=False),
        Binding("r", "reload", _("Reload from disk"), show=False),
        Binding("z", "zoom_results", _("Zoom the results"), show=False),
        Binding("v", "toggle_results", _("Show/hide the results"), show=False),
        Binding("b", "toggle_sidebar", _("Tree"), show=False),
        Binding("escape", "close_drawer", _("Close the tree"), show=False),
        Binding("L", "toggle_language", _("English/中文"), show=False),
        Binding("question_mark", "toggle_keys", _("Keys")),
        Binding("q", "quit", _("Quit")),
    ]
    FOOTER_KEYS = {b.key for b in BINDINGS if b.show}
    # The English of each description, to translate them again when the language changes.
    BINDING_TEXT = {"grade": "Grade", "save": "Save", "cancel": "Cancel", "hint": "Hint", "show_task": "Task",
                    "show_lesson": "Lesson", "show_exercise": "Exercise", "show_progress": "Progress",
                    "external_editor": "Open in $EDITOR", "solution": "Solution", "reload": "Reload from disk",
                    "zoom_results": "Zoom the results", "toggle_results": "Show/hide the results",
                    "toggle_sidebar": "Tree", "close_drawer": "Close the tree", "toggle_language": "English/中文",
                    "toggle_keys": "Keys", "quit": "Quit", "leave": "Leave editor"}
    WATCH_INTERVAL = 0.5  # seconds between two looks at the exercise file's mtime and size
    WATCH_SETTLE = 0.4    # the file must have been stable this long before it is reloaded and regraded

    def __init__(self, workspace: Workspace | None, *, course: Course | None = None, device: str = "auto",
                 warm: bool = True, start: Exercise | None = None, searched: Path | None = None,
                 proposed: Path | None = None):
        """`workspace` None: offer to create one at `proposed` (default ./d2l-workspace), after a search from
        `searched` (default the current folder) found none. `start`: the exercise to open at once."""
        super().__init__()
        self.workspace = workspace
        self.course = course or load_course()
        self.device = device
        self.use_warm = warm
        self.start_at = start
        self.warm_grader: WarmGrader | None = None
        self.searched = searched or Path.cwd()
        self.proposed = proposed or self.searched / DEFAULT_DIR
        self.exercise: Exercise | None = None
        self.shown_lesson: Lesson | None = None
        self.saved_text = ""
        self.cancel_event: threading.Event | None = None
        self.exercise_nodes: dict[str, TreeNode] = {}
        self.smoke_tests: dict[str, dict] = {}  # the plan's smoke-checks of the run in progress, by name
        # The watcher: the stamp of the file as the editor last loaded or saved it, the last stamp seen, and
        # when that one was first seen (None when nothing is waiting to settle).
        self.known_stamp: tuple[int, int] | None = None
        self.seen_stamp: tuple[int, int] | None = None
        self.changed_at: float | None = None
        self.disk_changed = False   # the file changed on disk while the editor had unsaved edits
        self.regrade_queued = False  # a change arrived during grading: grade once more when it ends
        self.workspace_missing = False  # the workspace folder was deleted while the app was open
        self.views_ready = False  # on_ready mounts every view but the first
        self.last_result: GradeResult | None = None  # the open exercise's last verdict (redrawn in a new language)
        self.panel_open = False  # the results and hints under the editor (v folds them into #panel-bar)
        self.typed: list[events.Key | events.Paste] = []  # keys and pastes waiting for the previous one's effects
        self.typing: asyncio.Task | None = None  # the task that hands them out (deliver_typed)

    # The language and the book's numbering

    @property
    def book(self) -> str:
        """The numbering shown beside lessons and exercises: course, zh (d2l-zh) or en (d2l-en)."""
        from tutor import settings

        remembered = settings.load(self.workspace.state_dir) if self.workspace is not None else {}
        return remembered.get("book", "course")

    def course_title(self) -> str:
        return self.course.title_zh if get_lang() == "zh" and self.course.title_zh else self.course.title

    def chapter_label(self, ch) -> Text:
        return Text(f"{ch.number}. {ch.title_in(get_lang())}")

    def lesson_label(self, lesson: Lesson) -> Text:
        return Text.assemble(lesson.title_in(get_lang()), (f" {lesson.section(self.book)}", "dim"))

    def show_exercise_title(self, ex: Exercise) -> None:
        """The exercise, its section and its file: the full path where it fits, else the file's name."""
        label = numbering_label(self.book)
        head = f"{ex.id} · {ex.title_in(get_lang())} ({label} {ex.section(self.book)}) · "
        self.query_one("#exercise-title").show(head + str(self.workspace.file_for(ex)), head + ex.filename)

    def action_toggle_language(self) -> None:
        """English ↔ Chinese, at once and everywhere; the workspace remembers the choice."""
        from tutor import settings
        from tutor.i18n import set_lang

        set_lang("zh" if get_lang() == "en" else "en")
        if self.workspace is not None:
            try:
                settings.save(self.workspace.state_dir, lang=get_lang())
            except OSError:
                pass
        self.relabel()
        self.notify(_("Language: English"), timeout=3)

    def set_language(self, lang: str) -> None:
        """The command palette's action: switch to `lang` (en or zh)."""
        if lang != get_lang():
            self.action_toggle_language()

    def footer_shows(self, binding: Binding) -> bool:
        """Whether the footer shows this key of the app's: c instead of g while grading runs, b only where the tree
        is a drawer; the others as BINDINGS says. (At 80 columns there is room for nine keys.)"""
        if binding.action == "cancel":
            return self.cancel_event is not None
        if binding.key == "g":
            return self.cancel_event is None
        if binding.action == "toggle_sidebar":
            return self.has_class("-narrow")
        return binding.key in self.FOOTER_KEYS

    def relabel_bindings(self) -> None:
        """The footer's and the key panel's descriptions, in the current language (the app's keys and the
        editor's), and which of the app's keys the footer shows now."""
        from dataclasses import replace

        nodes = [self, *self.query("CodeEditor")]
        for node in nodes:
            for key, bindings in list(node._bindings.key_to_bindings.items()):
                node._bindings.key_to_bindings[key] = [
                    replace(b, description=_(self.BINDING_TEXT[action]),
                            show=self.footer_shows(b) if node is self else b.show)
                    if (action := b.action.removeprefix("app.")) in self.BINDING_TEXT else b
                    for b in bindings]
        self.refresh_bindings()

    def relabel(self) -> None:
        """Draw every label, view and key description again in the current language."""
        drawer, focused = self.has_class("-drawer-open"), self.focused
        try:
            self.redraw_in_language()
        finally:  # redrawing the views must not close the tree's drawer or move the focus
            self.set_class(drawer, "-drawer-open")
            if focused is not None and focused.is_attached:
                focused.screen.set_focus(focused)

    def redraw_in_language(self) -> None:
        self.relabel_bindings()
        tree = self.query_one("#course", Tree)
        tree.root.set_label(Text(self.course_title()))
        for node in self._tree_nodes():
            if isinstance(node.data, Lesson):
                node.set_label(self.lesson_label(node.data))
            elif node.data is not None and not isinstance(node.data, Exercise):
                node.set_label(self.chapter_label(node.data))
        if self.workspace is not None:
            self.refresh_overall(self.load_summaries())
            self.sub_title = str(self.workspace.root)
        else:
            self.sub_title = _("no workspace")
        self.query_one("#welcome", Static).update(welcome())
        if not self.views_ready:
            return
        current = self.query_one("#main", ContentSwitcher).current
        if self.shown_lesson is not None:
            self.show_lesson(self.shown_lesson)
        if self.exercise is not None:
            self.show_exercise_title(self.exercise)
            self.show_hints(self.exercise, self.hints_shown(self.exercise))
            if self.last_result is not None and self.last_result.exercise == self.exercise.id:
                self.query_one("#results").finish(self.exercise, self.last_result)
            elif self.cancel_event is None:
                self.query_one("#results").clear()
        self.refresh_panel_bar()
        if current == "task-view":
            self.action_show_task()
        elif current == "progress-view":
            self.action_show_progress()
        else:
            self.show_view(current)

    # Keys, one at a time

    async def on_event(self, event: events.Event) -> None:
        """Keys and pastes from the terminal wait in `typed` and go out one at a time (deliver_typed).

        Textual hands each key to the widget focused when the key is read, without waiting for the previous key's
        effects. In a fast burst ("enter" on an exercise, then "return Y"), the keys after the one that moves the
        focus would all go to the tree, where r, e and t are commands and Y is dropped."""
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            self.typed.append(event)
            if self.typing is None or self.typing.done():
                self.typing = asyncio.create_task(self.deliver_typed())
            return
        await super().on_event(event)

    async def deliver_typed(self) -> None:
        """Hand out the waiting keys: each once the app has settled after the one before (or after KEY_SETTLE
        seconds, so that a key is late at worst, never lost)."""
        try:
            while self.typed:
                deadline = time.monotonic() + self.KEY_SETTLE
                spins = 0
                while not self.input_settled() and time.monotonic() < deadline:
                    await asyncio.sleep(0 if spins < 50 else 0.001)
                    spins += 1
                if not self.call_later(self.deliver, self.typed.pop(0)):
                    self.typed.clear()  # the app is closing
        except Exception as exc:  # noqa: BLE001 - never leave the keys stuck; show what went wrong
            self.typed.clear()
            self.call_later(self.notify, f"{type(exc).__name__}: {exc}", severity="error")

    async def deliver(self, event: events.Key | events.Paste) -> None:
        await super().on_event(event)

    def input_settled(self) -> bool:
        """True when the views are built and no message is waiting or being handled, by the app or by a widget of
        the current screen: the last key's effects (a selection, a new focus) have all happened."""
        if not self.views_ready and self.is_running:
            return False
        for pump in (self, *self.screen.walk_children(with_self=True)):
            queue = pump._message_queue
            if getattr(queue, "_unfinished_tasks", queue.qsize()) or pump._next_callbacks:
                return False
        return True

    # Layout, start-up and the course tree

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield Tree(Text(self.course_title()), id="course")
                yield Static("", id="overall-label")
            with ContentSwitcher(initial="lesson-view", id="main"):
                with VerticalScroll(id="lesson-view"):
                    yield Static(welcome(), id="welcome")
        yield Footer(compact=True, show_command_palette=self.size.width >= self.NARROW)

    async def on_ready(self) -> None:
        """The first screen is up: build the other views. Keys pressed meanwhile wait in the queue until then."""
        gc.enable()  # tutor.launch disables it for a faster start; what start-up made stays, so freeze it
        gc.freeze()
        from textual.widgets import Markdown, TextArea

        from tutor.tui.bars import FitLabel, PanelBar
        from tutor.tui.editor import CodeEditor
        from tutor.tui.plot import SmokePlot
        from tutor.tui.progress_view import ProgressView
        from tutor.tui.results import ResultsPanel

        if not self.is_running:
            return  # quitting already: nothing to build
        await self.query_one("#lesson-view").mount(Markdown("", id="lesson"))
        views = [
            VerticalScroll(Markdown("", id="task"), id="task-view"),
            Vertical(
                FitLabel(id="exercise-title"),
                CodeEditor.code_editor("", language="python", id="editor"),
                PanelBar(id="panel-bar"),
                VerticalScroll(Static("", id="hints"), id="hints-scroll"),
                ResultsRow(VerticalScroll(ResultsPanel(id="results"), id="results-scroll"), SmokePlot(id="plot"),
                           id="results-row"),
                id="exercise-view", classes="-collapsed"),
            Vertical(Label("", id="solution-title"),
                     TextArea.code_editor("", language="python", read_only=True, id="solution"),
                     id="solution-view"),
            ProgressView(id="progress-view"),
        ]
        for view in views:
            view.display = False  # the ContentSwitcher shows one at a time
        await self.query_one("#main", ContentSwitcher).mount_all(views)
        self.theme_changed(self.current_theme)
        self.relabel_bindings()  # the editor's keys, in the current language
        self.refresh_panel_bar()
        self.views_ready = True
        if self.start_at is not None and self.workspace is not None:
            self.jump_to(self.start_at)

    def on_mount(self) -> None:
        tree = self.query_one("#course", Tree)
        tree.show_root, tree.auto_expand = False, False  # selecting a lesson must not fold its exercises away
        tree.focus()
        self.set_class(True, "-drawer-open")  # on a narrow terminal the tree, the one thing to pick from, is shown
        self.relabel_bindings()  # the key descriptions were made when this module was imported; b on narrow ones
        self.theme_changed_signal.subscribe(self, self.theme_changed)
        if self.workspace is None:
            self.sub_title = _("no workspace")
            self.push_screen(SetupScreen(self.searched, self.proposed), self.setup_answered)
        else:
            self.workspace_ready()

    def on_resize(self, event) -> None:
        """-narrow below NARROW columns, -short below SHORT rows. (Not HORIZONTAL_BREAKPOINTS: setting the classes
        here, before the first frame, saves a restyle of every widget at start-up.)"""
        narrow = event.size.width < self.NARROW
        self.set_class(event.size.height < self.SHORT, "-short")
        if narrow == self.has_class("-narrow"):
            return
        self.set_class(narrow, "-narrow")
        for footer in self.query(Footer):  # ctrl+p still opens the palette; the welcome says so
            footer.show_command_palette = not narrow
        if narrow:  # the tree becomes a drawer: open while it has the focus, so that what has the keys is seen
            self.set_class(self.focused is None or self.focused is self.query_one("#course"), "-drawer-open")
        self.relabel_bindings()  # b in the footer, or not

    def theme_changed(self, theme) -> None:
        """Code is highlighted with a dark or a light palette to match the app's theme."""
        for editor in self.query("TextArea"):
            editor.theme = EDITOR_THEMES[theme.dark]

    def setup_answered(self, create: bool | None) -> None:
        if not create:
            self.exit(message=_("No workspace was created. Run `d2l-tutor init DIR` to make one where you like."))
            return
        try:
            report = init_workspace(self.proposed, self.course)
        except WorkspaceError as exc:
            self.exit(return_code=3, message=_("error:") + f" {exc}")
            return
        self.workspace = Workspace(report.root)
        if not getattr(report, "existed", False):
            self.notify(_("Created the workspace {root}: one file per exercise, yours to edit. Next time, run "
                          "d2l-tutor inside it.").format(root=report.root), title=_("Workspace created"), timeout=10)
        else:
            self.notify(_("Opened the workspace {root}, which was there already.").format(root=report.root),
                        title=_("Workspace"), timeout=10)
        self.workspace_ready()

    def workspace_ready(self) -> None:
        self.sub_title = str(self.workspace.root)
        summaries = self.load_summaries()
        tree = self.query_one("#course", Tree)
        for ch in self.course.chapters:
            ch_node = tree.root.add(self.chapter_label(ch), data=ch, expand=True)
            for lesson in ch.lessons:
                le_node = ch_node.add(self.lesson_label(lesson), data=lesson, expand=True)
                for ex in lesson.exercises:
                    self.exercise_nodes[ex.id] = le_node.add_leaf(exercise_label(ex, summaries.get(ex.id)), data=ex)
        self.refresh_overall(summaries)
        if self.start_at is not None and self.views_ready:  # else on_ready opens it, once the views exist
            self.jump_to(self.start_at)
        self.set_interval(self.WATCH_INTERVAL, self.poll_file, name="watch")
        if self.use_warm:
            self.call_after_refresh(self.start_warm_grader)  # after the first screen: it must not delay it

    def start_warm_grader(self) -> None:
        """Start the zygote; it imports torch in its own process while the learner reads."""
        from tutor.engine.warm import WarmGrader

        grader = WarmGrader()
        try:
            grader.start()
        except OSError as exc:
            grader.close()
            self.notify(_("Grading will start a new process each time ({reason}).").format(reason=exc),
                        severity="warning")
            return
        self.warm_grader = grader

    def load_summaries(self) -> dict[str, Summary]:
        try:
            with Progress(self.workspace.db_path) as progress:
                return progress.summaries()
        except ProgressError as exc:
            self.notify(str(exc), title=_("Progress"), severity="error", timeout=15)
            return {}

    def refresh_mark(self, ex: Exercise, summary: Summary | None) -> None:
        self.exercise_nodes[ex.id].set_label(exercise_label(ex, summary))

    def refresh_overall(self, summaries: dict[str, Summary]) -> None:
        """The line under the tree: points earned, exercises done, and a bar (one widget: it is on the first
        screen, where every widget costs start-up time)."""
        from rich.progress_bar import ProgressBar

        t = course_totals(self.course.exercises, summaries)
        bar = ProgressBar(total=t.total, completed=t.earned, width=None, complete_style="green",
                          finished_style="green")
        self.query_one("#overall-label", Static).update(
            Group(Text(_("{earned}/{total} points · {done}/{exercises} done").format(
                earned=points(t.earned), total=t.total, done=t.done, exercises=t.exercises), style="dim"), bar))

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data
        if isinstance(data, Lesson):
            self.show_lesson(data)
        elif isinstance(data, Exercise):
            self.open_exercise(data)

    def jump_to(self, target: Lesson | Exercise) -> None:
        """The command palette's action: move the tree's cursor there and open it."""
        tree = self.query_one("#course", Tree)
        for node in self._tree_nodes():
            if node.data == target:
                tree.move_cursor(node)
                break
        if isinstance(target, Lesson):
            self.show_lesson(target)
            if self.tree_shown:
                tree.screen.set_focus(tree)
            else:
                self.focus_view()
        else:
            self.open_exercise(target)

    def _tree_nodes(self) -> list[TreeNode]:
        out, stack = [], list(self.query_one("#course", Tree).root.children)
        while stack:
            node = stack.pop(0)
            out.append(node)
            stack[:0] = list(node.children)
        return out

    # Views: lesson, task, exercise, progress

    def show_view(self, view: str, *, close_drawer: bool = True) -> None:
        """Switch the main area to a view; on a narrow terminal this also closes the tree's drawer, which would
        hide it."""
        self.query_one("#main", ContentSwitcher).current = view
        if close_drawer:
            self.close_drawer()

    FOCUS_IN_VIEW = {"lesson-view": "#lesson-view", "task-view": "#task-view", "exercise-view": "#panel-bar",
                     "solution-view": "#solution", "progress-view": "#summary-table"}

    def focus_view(self) -> None:
        """Give the focus to the current view, where letters are commands (never to the editor, where they would
        type)."""
        view = self.query_one("#main", ContentSwitcher).current
        target = self.query_one(self.FOCUS_IN_VIEW[view]) if view in self.FOCUS_IN_VIEW and self.views_ready \
            else self.query_one(f"#{view}")
        target.screen.set_focus(target)

    @property
    def tree_shown(self) -> bool:
        if self.has_class("-narrow"):
            return self.has_class("-drawer-open")
        return not self.has_class("-tree-hidden")

    def close_drawer(self) -> None:
        """On a narrow terminal, put the tree's drawer away (the focus goes to the view if the tree had it)."""
        if not (self.has_class("-narrow") and self.has_class("-drawer-open")):
            return
        self.set_class(False, "-drawer-open")
        if self.focused is self.query_one("#course"):
            self.focus_view()

    def action_close_drawer(self) -> None:
        self.close_drawer()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        """A click beside the tree's drawer, which moves the focus out of it, puts it away too."""
        tree = self.query_one("#course")
        if event.widget is tree and self.has_class("-narrow") and tree.screen.focused not in (None, tree):
            self.set_class(False, "-drawer-open")
        elif event.widget.id == "editor":
            self.refresh_panel_bar()  # its key: v again

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id == "editor":
            self.refresh_panel_bar()  # its key: ctrl+r while letters type

    def leave_editor(self) -> None:
        """Escape in the editor: to the tree where it is on screen, else to the bar under the editor."""
        if self.tree_shown:
            tree = self.query_one("#course", Tree)
            tree.screen.set_focus(tree)
        else:
            self.focus_view()

    def show_lesson(self, lesson: Lesson) -> None:
        lang = get_lang()
        try:
            text = read_text(lesson.path_in(lang))
        except ValueError as exc:
            text = f"# {lesson.title_in(lang)}\n\n" + _("The lesson cannot be shown: {reason}.").format(reason=exc)
        if lesson.exercises:
            links = "\n".join(f"- [{ex.id}: {ex.title_in(lang)}]({EXERCISE_LINK}{ex.id}) (" +
                              _("{n} points").format(n=ex.points) + ")" for ex in lesson.exercises)
            text += "\n\n---\n\n## " + _("Your exercise") + f"\n\n{links}\n\n" + \
                _("Press **e** to open it, **t** for its task.") + "\n"
        elif lesson.practice:  # this section's code is asked for by another lesson's exercise
            links = "\n".join(f"- [{ex.id}: {ex.title_in(lang)}]({EXERCISE_LINK}{ex.id})"
                              for ex in self.course.practice(lesson))
            text += "\n\n---\n\n## " + _("Practised in") + f"\n\n{links}\n"
        numbers = " · ".join(f"{label} {lesson.section(b)}" for b, label in
                             (("course", _("course")), ("zh", "d2l-zh"), ("en", "d2l-en")))
        page = lesson.pages.get("zh" if lang == "zh" else "en")
        text += "\n" + numbers + (f" · [{_('the book')}]({page})" if page else "") + "\n"
        self.shown_lesson = lesson
        self.query_one("#welcome").display = False
        self.query_one("#lesson").update(text)
        self.query_one("#lesson-view", VerticalScroll).scroll_home(animate=False)
        self.show_view("lesson-view")

    def on_markdown_link_clicked(self, event) -> None:  # Markdown.LinkClicked
        if event.href.startswith(EXERCISE_LINK):
            event.prevent_default()
            try:
                self.open_exercise(self.course.exercise(event.href[len(EXERCISE_LINK):]))
            except LookupError:
                self.notify(_("No exercise {name!r} in this course.").format(name=event.href), severity="warning")

    def target_exercise(self) -> Exercise | None:
        """What e, t and g act on: the open exercise, else the lesson's or the tree cursor's exercise."""
        node = self.query_one("#course", Tree).cursor_node
        data = node.data if node is not None else None
        current = self.query_one("#main", ContentSwitcher).current
        if isinstance(data, Exercise) and self.query_one("#course", Tree).has_focus:
            return data
        if current == "lesson-view" and self.shown_lesson is not None and self.shown_lesson.exercises:
            if self.exercise is None or self.exercise not in self.shown_lesson.exercises:
                return self.shown_lesson.exercises[0]
        if self.exercise is not None:
            return self.exercise
        if isinstance(data, Lesson) and data.exercises:
            return data.exercises[0]
        return None

    def open_exercise(self, ex: Exercise) -> bool:
        if self.workspace is None:
            return False
        if self.exercise is not None and ex.id != self.exercise.id and self.dirty and not self.save():
            return False
        if self.exercise is None or ex.id != self.exercise.id:
            path = self.workspace.file_for(ex)
            try:
                text = read_text(path)
            except ValueError as exc:
                self.notify(_("Cannot open the exercise: {reason}. `d2l-tutor reset {id}` restores the stub (your "
                              "file is backed up first).").format(reason=exc, id=ex.id), severity="error", timeout=12)
                return False
            if self.cancel_event is not None:
                self.action_cancel()  # the running grading is of the exercise we are leaving
            self.exercise, self.saved_text, self.last_result = ex, text, None
            self.known_stamp = self.seen_stamp = file_stamp(path)
            self.changed_at, self.disk_changed, self.regrade_queued = None, False, False
            self.query_one("#editor").load_text(text)
            self.show_exercise_title(ex)
            self.query_one("#results").clear()
            self.query_one("#plot").display = False
            shown = self.hints_shown(ex)
            self.show_hints(ex, shown)
            self.set_panel(shown > 0)  # folded while there is nothing to read in it
        self.show_view("exercise-view")
        editor = self.query_one("#editor")
        editor.screen.set_focus(editor)  # now, not after the keys already waiting (see on_event)
        return True

    @property
    def dirty(self) -> bool:
        return self.exercise is not None and self.query_one("#editor").text != self.saved_text

    def save(self) -> bool:
        if self.exercise is None:
            return True
        path = self.workspace.file_for(self.exercise)
        text = self.query_one("#editor").text
        if not self.workspace.root.is_dir():
            try:  # deleted while the app was open: put the workspace back (stubs never overwrite anything)
                init_workspace(self.workspace.root, self.course)
            except WorkspaceError as exc:
                self.notify(_("Could not save: {reason} Your edits are still in the editor.").format(reason=exc),
                            severity="error")
                return False
            self.workspace_missing = False
            self.notify(_("Recreated the workspace {root}, which had been deleted.").format(root=self.workspace.root),
                        timeout=8)
        try:
            write_atomically(path, text)
        except OSError as exc:
            self.notify(_("Could not save {path}: {reason}. Your edits are still in the editor.").format(
                path=path, reason=exc.strerror), severity="error")
            return False
        self.saved_text = text
        self.known_stamp = self.seen_stamp = file_stamp(path)  # our own write is not a change to react to
        self.changed_at, self.disk_changed = None, False
        return True

    def action_save(self) -> None:
        if self.exercise is None:
            self.notify(_("Open an exercise first."))
        elif self.save():
            self.notify(_("Saved {file}.").format(file=self.exercise.filename), timeout=2)

    def action_show_lesson(self) -> None:
        node = self.query_one("#course", Tree).cursor_node
        if self.exercise is not None:
            self.show_lesson(self.course.lesson(self.exercise.id))
        elif node is not None and isinstance(node.data, Lesson):
            self.show_lesson(node.data)
        elif node is not None and isinstance(node.data, Exercise):
            self.show_lesson(self.course.lesson(node.data.id))

    def action_show_exercise(self) -> None:
        ex = self.target_exercise()
        if ex is None:
            self.notify(_("Pick an exercise in the tree first."))
        else:
            self.open_exercise(ex)

    def action_show_task(self) -> None:
        ex = self.target_exercise()
        if ex is None:
            self.notify(_("Pick an exercise in the tree first."))
            return
        from tutor.task import task_markdown

        self.query_one("#task").update(task_markdown(ex))
        self.query_one("#task-view", VerticalScroll).scroll_home(animate=False)
        self.show_view("task-view")
        self.query_one("#task-view", VerticalScroll).focus()

    def action_show_progress(self) -> None:
        if self.workspace is None:
            return
        try:
            with Progress(self.workspace.db_path) as progress:
                summaries = progress.summaries()
                hints = {ex.id: progress.hints_shown(ex.id) for ex in self.course.exercises}
                history = progress.history(self.exercise.id) if self.exercise is not None else []
        except ProgressError as exc:
            self.notify(str(exc), title=_("Progress"), severity="error", timeout=15)
            return
        view = self.query_one("#progress-view")
        view.show(self.course, summaries, hints, self.exercise, history)
        self.show_view("progress-view")
        view.query_one("#summary-table").focus()

    def on_data_table_row_selected(self, event) -> None:
        """Enter on a row of the progress overview opens that exercise's history."""
        if event.data_table.id != "summary-table" or event.row_key.value is None:
            return
        ex = self.course.exercise(event.row_key.value)
        if self.exercise is None or ex.id != self.exercise.id:
            if not self.open_exercise(ex):
                return
        self.action_show_progress()

    def action_toggle_sidebar(self) -> None:
        """b: the tree's drawer on a narrow terminal, the tree's column on a wide one. A hidden tree must not keep
        the keys, and the editor must not get them (they would type there): the view gets them."""
        tree = self.query_one("#course", Tree)
        if self.has_class("-narrow"):
            if self.has_class("-drawer-open"):
                self.close_drawer()
            else:
                self.set_class(True, "-drawer-open")
                tree.screen.set_focus(tree)
            return
        self.toggle_class("-tree-hidden")
        if self.has_class("-tree-hidden") and tree.has_focus:
            self.focus_view()

    # The results and hints under the editor: v folds them into the one line of #panel-bar

    def set_panel(self, opened: bool) -> None:
        if not self.views_ready:
            return
        self.panel_open = opened
        self.query_one("#exercise-view").set_class(not opened, "-collapsed")
        focused = self.focused
        if not opened and focused is not None and focused.id in ("results-scroll", "hints-scroll"):
            self.focus_view()
        self.refresh_panel_bar()
        editor = self.query_one("#editor")
        self.call_after_refresh(editor.scroll_cursor_visible)  # the editor changed height: keep the cursor seen

    def action_toggle_results(self) -> None:
        if self.exercise is None:
            self.notify(_("Open an exercise first."))
            return
        self.show_view("exercise-view")
        self.set_panel(not self.panel_open)

    def on_results_panel_changed(self, event) -> None:
        self.refresh_panel_bar()

    def refresh_panel_bar(self) -> None:
        """What the results panel shows, in a few words (the grading's progress, the score, or why there is
        none), and what v does."""
        if not self.views_ready:
            return
        panel = self.query_one("#results")
        if panel.running:
            summary = Text(panel.status_line or _("grading..."), style="bold")
        elif panel.problem:
            summary = Text(panel.problem.splitlines()[0], style="bold red")
        elif panel.result is not None:
            result = panel.result
            style = "bold green" if result.full_marks else ("bold yellow" if result.score > 0 else "bold red")
            summary = Text(_("{score}/{max} points").format(score=points(result.score), max=points(result.max_score)),
                           style=style)
        else:
            summary = Text(_("not graded yet"))
        key = "ctrl+r" if self.query_one("#editor").has_focus else "v"  # letters type in the editor
        self.query_one("#panel-bar").summarize(
            self.panel_open, Text.assemble((_("Results:"), "bold"), " ", summary),
            (_("{key} hides them") if self.panel_open else _("{key} shows them")).format(key=key))

    def action_zoom_results(self) -> None:
        """Fill the screen with the results and the plot (z again, or escape, restores the layout)."""
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        if self.exercise is None:
            self.notify(_("Open an exercise and grade it first."))
            return
        self.show_view("exercise-view")
        self.set_panel(True)
        self.screen.maximize(self.query_one("#results-row"), container=False)
        self.query_one("#results-scroll").focus()

    def action_toggle_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def action_quit(self) -> None:
        """Quit; with unsaved edits, ask first (save and quit, quit without saving, or stay)."""
        if not self.dirty:
            self.exit()
            return

        def answered(answer: str | None) -> None:
            if answer == "discard" or (answer == "save" and self.save()):
                self.exit()

        self.push_screen(QuitScreen(self.exercise.filename), answered)

    # Editing in the learner's own editor

    def action_external_editor(self) -> None:
        """Suspend the app, run $VISUAL or $EDITOR on the exercise file, then reload and regrade it if it changed."""
        ex = self.target_exercise()
        if ex is None:
            self.notify(_("Pick an exercise in the tree first."))
            return
        if (self.exercise is None or ex.id != self.exercise.id) and not self.open_exercise(ex):
            return
        if self.dirty and not self.save():
            return
        command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not command:
            self.notify(_("Set $EDITOR to your editor (for example `export EDITOR=vim`) and start d2l-tutor again; "
                          "or edit the file in another window: the app regrades it when you save."),
                        title=_("No $EDITOR"), severity="warning", timeout=12)
            return
        try:
            argv = shlex.split(command)
        except ValueError:
            argv = []
        if not argv or shutil.which(argv[0]) is None:
            self.notify(_("$EDITOR is {command!r}, which is not a command on your PATH.").format(command=command),
                        severity="error")
            return
        path = self.workspace.file_for(ex)
        try:
            with self.suspend():
                code = subprocess.run([*argv, str(path)], check=False).returncode
        except SuspendNotSupported:
            self.notify(_("This terminal cannot hand the screen to another program; edit the file in another "
                          "window instead: the app regrades it when you save."), severity="warning", timeout=12)
            return
        except OSError as exc:
            self.notify(_("Could not run {program}: {reason}.").format(program=argv[0], reason=exc.strerror),
                        severity="error")
            return
        if code != 0:
            self.notify(_("{program} exited with code {code}.").format(program=argv[0], code=code),
                        severity="warning")
        if file_stamp(path) != self.known_stamp:
            self.seen_stamp, self.changed_at = file_stamp(path), None
            self.file_changed_on_disk(ex)

    # Grading

    def action_grade(self) -> None:
        if self.workspace is None:
            return
        target = self.target_exercise()
        if target is not None and (self.exercise is None or target.id != self.exercise.id):
            if not self.open_exercise(target):
                return
        if self.exercise is None:
            self.notify(_("Pick an exercise in the tree first."))
            return
        if self.cancel_event is not None:
            self.notify(_("Already grading; press c to cancel."))
            return
        self.close_drawer()
        if self.dirty and not self.save():
            return
        path = self.workspace.file_for(self.exercise)
        if not path.is_file():
            self.notify(_("{path} is gone. Press ctrl+s to write the editor's text back to it, or run "
                          "`d2l-tutor reset {id}` for a fresh stub.").format(path=path, id=self.exercise.id),
                        severity="error", timeout=12)
            return
        self.start_grading()

    def start_grading(self) -> None:
        ex = self.exercise
        self.regrade_queued = False
        self.smoke_tests = {}
        self.show_view("exercise-view", close_drawer=False)  # an outside edit regrades: leave an open drawer be
        self.query_one("#results").start(ex)
        self.query_one("#plot").display = False
        self.cancel_event = threading.Event()
        self.set_panel(True)
        self.relabel_bindings()  # c Cancel in the footer
        self.run_grading(ex, self.workspace.file_for(ex), self.cancel_event)

    def action_cancel(self) -> None:
        if self.cancel_event is not None:
            self.regrade_queued = False
            self.cancel_event.set()
            self.notify(_("Cancelling..."), timeout=2)

    def engine_grade(self, ex: Exercise, path: Path, cancel: threading.Event, on_event) -> GradeResult:
        """Warm when the zygote runs (it falls back to a cold start by itself), cold otherwise."""
        hide = (str(self.workspace.state_dir),)  # the progress database: never the graded code's to touch
        if self.warm_grader is not None:
            return self.warm_grader.grade(ex, path, device=self.device, cancel=cancel, on_event=on_event, hide=hide)
        from tutor.engine.runner import grade

        return grade(ex, path, device=self.device, cancel=cancel, on_event=on_event, hide=hide)

    @work(thread=True, exclusive=True, exit_on_error=False, group="grade")
    def run_grading(self, ex: Exercise, path: Path, cancel: threading.Event) -> GradeResult:
        panel = self.query_one("#results")
        result = self.engine_grade(ex, path, cancel, lambda event: self.call_from_thread(self.on_engine_event, event))
        if result.status == "cancelled":
            self.call_from_thread(panel.failed, _("Grading cancelled; nothing was recorded."))
            return result
        summaries = None
        problem = ""
        if result.status not in NOT_RECORDED:
            try:
                with Progress(self.workspace.db_path) as progress:  # sqlite: a connection of this thread's own
                    progress.record(result)
                    summaries = progress.summaries()
            except ProgressError as exc:
                problem = _("This result was not recorded: {reason}").format(reason=exc)
        self.call_from_thread(self.grading_done, ex, result, summaries, problem)
        return result

    def on_engine_event(self, event) -> None:
        """A provisional (validated, typed) event of the verifier: the results panel, and the plot during a
        smoke-check."""
        from dataclasses import asdict

        from tutor.engine.protocol import Plan, SmokeStep, TestFinished

        self.query_one("#results").on_engine_event(event)
        plot = self.query_one("#plot")
        if isinstance(event, Plan):
            self.smoke_tests = {t.name: asdict(t) for t in event.tests if t.kind == "smoke"}
        elif isinstance(event, SmokeStep) and event.name in self.smoke_tests:
            if not plot.display:  # shown from the first step: a smoke-check that fails at once needs no plot
                plot.begin(self.smoke_tests[event.name])
                plot.display = True
            plot.add_step(event.step, event.metrics)
        elif isinstance(event, TestFinished) and event.name in self.smoke_tests and plot.display:
            plot.finish(event.passed)

    def grading_done(self, ex: Exercise, result: GradeResult, summaries: dict[str, Summary] | None,
                     problem: str) -> None:
        if self.exercise is None or ex.id != self.exercise.id:
            return  # the learner moved on; the tree mark below is still right
        self.last_result = result
        self.query_one("#results").finish(ex, result)
        if self.query_one("#main", ContentSwitcher).current != "exercise-view":  # the learner is reading elsewhere
            self.notify(_("{id}: {score}/{max} points. Press e for the results.").format(
                id=ex.id, score=points(result.score), max=points(result.max_score)), title=_("Graded"), timeout=8)
        if problem:
            self.query_one("#results").failed(problem)
            self.notify(problem, title=_("Progress"), severity="error", timeout=15)
        if summaries is not None:
            self.refresh_mark(ex, summaries.get(ex.id))
            self.refresh_overall(summaries)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a failed worker becomes a visible error; the app keeps running."""
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if event.worker.group == "grade":
            self.cancel_event = None
            if self.regrade_queued and self.exercise is not None:
                self.start_grading()
            else:
                self.relabel_bindings()  # g again instead of c in the footer
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            message = _("{worker} failed: {error}").format(worker=event.worker.name,
                                                          error=f"{type(error).__name__}: {error}")
            if event.worker.group == "grade":
                self.query_one("#results").failed(message)
            self.notify(message, title=_("Error"), severity="error", timeout=15)

    # Hints and the reference solution

    def hints_shown(self, ex: Exercise) -> int:
        try:
            with Progress(self.workspace.db_path) as progress:
                return progress.hints_shown(ex.id)
        except ProgressError as exc:
            self.notify(str(exc), title=_("Progress"), severity="error", timeout=15)
            return 0

    def show_hints(self, ex: Exercise, shown: int, *, last: bool = False) -> None:
        hints = self.query_one("#hints", Static)
        self.query_one("#hints-scroll").set_class(shown == 0, "-empty")  # the footer says h; the room is the editor's
        if shown == 0:
            return
        all_hints = ex.hints_in(get_lang())
        text = Text()
        for i in range(shown):
            if i:
                text.append("\n")
            text.append(_("Hint {n} of {total}:").format(n=i + 1, total=len(all_hints)) + " ", style="bold")
            text.append(all_hints[i])
        if last:
            text.append("\n" + _("That was the last hint. Re-read the lesson (l) or start over with "
                                  "`d2l-tutor hint {id} --reset`.").format(id=ex.id), style="dim")
        hints.update(text)
        self.query_one("#hints-scroll", VerticalScroll).scroll_end(animate=False)

    def action_hint(self) -> None:
        """Reveal the next hint: the same count as `d2l-tutor hint`, kept in the progress database."""
        ex = self.exercise
        if ex is None:
            self.notify(_("Open an exercise first."))
            return
        try:
            with Progress(self.workspace.db_path) as progress:
                already = progress.hints_shown(ex.id)
                shown = progress.reveal_hint(ex.id, len(ex.hints))
        except ProgressError as exc:
            self.notify(str(exc), title=_("Progress"), severity="error", timeout=15)
            return
        self.show_view("exercise-view")
        self.show_hints(ex, shown, last=shown == already)
        self.set_panel(True)
        if shown == already:
            self.notify(_("That was the last hint."), timeout=3)

    def action_solution(self) -> None:
        """The reference solution: at once with full marks, otherwise after a confirmation."""
        ex = self.exercise
        if ex is None:
            self.notify(_("Open an exercise first."))
            return
        summary = self.load_summaries().get(ex.id)
        if summary is not None and summary.best >= ex.points:
            self.show_solution(ex)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.show_solution(ex)

        self.push_screen(ConfirmScreen(_("Show the solution before you have full marks? [y/n]")), answered)

    def show_solution(self, ex: Exercise) -> None:
        try:
            text = read_text(ex.solution_path)
        except ValueError as exc:
            self.notify(_("Cannot show the reference solution: {reason}.").format(reason=exc), severity="error")
            return
        self.query_one("#solution-title", Label).update(
            _("Reference solution of {id} (read-only; e goes back to your file)").format(id=ex.id))
        solution = self.query_one("#solution")
        solution.load_text(text)
        self.show_view("solution-view")
        solution.focus()  # never leave the focus in the hidden editor, where keys would type

    # Watching the exercise file (and the workspace) for changes made elsewhere

    def poll_file(self) -> None:
        """Every WATCH_INTERVAL: compare the file's mtime and size; act once a change has settled."""
        if self.workspace is None:
            return
        if not self.workspace.root.is_dir():
            if not self.workspace_missing:
                self.workspace_missing = True
                self.notify(_("The workspace folder {root} was deleted or moved. The editor keeps your text: ctrl+s "
                              "writes it back (and recreates the workspace), q quits.").format(
                                root=self.workspace.root), title=_("Workspace gone"), severity="error", timeout=30)
            return
        self.workspace_missing = False
        ex = self.exercise
        if ex is None:
            return
        stamp = file_stamp(self.workspace.file_for(ex))
        now = time.monotonic()
        if stamp != self.seen_stamp:
            self.seen_stamp, self.changed_at = stamp, now
            return
        if self.changed_at is None or now - self.changed_at < self.WATCH_SETTLE:
            return
        self.changed_at = None
        if stamp is None or stamp == self.known_stamp:
            return  # the file is gone (grading says so), or it is back to what the editor holds
        self.file_changed_on_disk(ex)

    def file_changed_on_disk(self, ex: Exercise) -> None:
        path = self.workspace.file_for(ex)
        try:
            text = read_text(path)
        except ValueError as exc:
            self.notify(_("The exercise file changed but cannot be loaded: {reason}.").format(reason=exc),
                        severity="warning")
            return
        editor_text = self.query_one("#editor").text
        if self.dirty and text != editor_text:  # never overwrite the learner's unsaved edits
            self.disk_changed = True
            self.notify(_("{file} changed on disk, but you have unsaved edits here. Press ctrl+s to save yours over "
                          "it, or r to reload the file (your edits here are lost).").format(file=ex.filename),
                        title=_("File changed"), severity="warning", timeout=20)
            return
        self.known_stamp = self.seen_stamp
        if text == self.saved_text:
            return  # touched, not changed
        if text != editor_text:
            self.load_into_editor(text)
        else:
            self.saved_text = text
        self.request_grading()

    def load_into_editor(self, text: str) -> None:
        editor = self.query_one("#editor")
        cursor = editor.cursor_location
        self.saved_text = text
        editor.load_text(text)
        try:
            editor.move_cursor(cursor)
        except Exception:  # noqa: BLE001 - the old position may not exist in the new text
            pass

    def request_grading(self) -> None:
        """Grade now, or once more after the grading that is running now."""
        if self.cancel_event is not None:
            self.regrade_queued = True
        else:
            self.start_grading()

    def action_reload(self) -> None:
        """Load the file from disk into the editor, dropping unsaved edits; regrade when it had changed."""
        ex = self.exercise
        if ex is None:
            self.notify(_("Open an exercise first."))
            return
        path = self.workspace.file_for(ex)
        try:
            text = read_text(path)
        except ValueError as exc:
            self.notify(_("Cannot reload: {reason}.").format(reason=exc), severity="error")
            return
        changed = text != self.saved_text or self.disk_changed
        self.known_stamp = self.seen_stamp = file_stamp(path)
        self.changed_at, self.disk_changed = None, False
        self.load_into_editor(text)
        self.show_view("exercise-view")
        self.notify(_("Reloaded {file} from disk.").format(file=ex.filename), timeout=2)
        if changed:
            self.request_grading()

    def on_unmount(self) -> None:
        if self.typing is not None:
            self.typing.cancel()
        if self.cancel_event is not None:
            self.cancel_event.set()  # the engine kills the grading process
        if self.warm_grader is not None:
            self.warm_grader.close()
