"""The d2l-tutor TUI: course tree on the left; the lesson or the exercise editor with its results on the right.

Grading runs `tutor.engine.runner.grade` in a thread worker; the engine itself starts a child process, so
this process never imports torch. Events from the child are shown live but are provisional: the panel is
redrawn from the parent's GradeResult (the verdict) when the run ends.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Footer, Header, Label, Markdown, Static, TextArea, Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker, WorkerState

from tutor.engine.results import DEVICE_UNAVAILABLE, ENGINE_ERROR, GRADED, GradeResult
from tutor.engine.runner import CANCELLED, grade
from tutor.manifest import Course, Exercise, Lesson, load_course
from tutor.progress import Progress, ProgressError, Summary
from tutor.render import STUB_MARK
from tutor.workspace import Workspace

NOT_STARTED, ATTEMPTED, FULL_MARKS = "·", "◐", "✓"
NOT_RECORDED = {CANCELLED, ENGINE_ERROR, DEVICE_UNAVAILABLE}  # runs that say nothing about the learner's code


def points(x: float) -> str:
    return f"{x:g}"


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


class ResultsPanel(Static):
    """Live test results while grading, then the final verdict."""

    def __init__(self, **kwargs):
        super().__init__("Press g to grade this exercise.", **kwargs)
        self.text = Text()
        self.planned = 0
        self.finished = 0
        self.status_line = ""

    def _show(self) -> None:
        text = self.text.copy()
        if self.status_line:
            text.append(f"\n{self.status_line}", style="dim")
        self.update(text)

    def start(self, ex: Exercise) -> None:
        self.text = Text(f"Grading {ex.id}...", style="bold")
        self.planned = self.finished = 0
        self.status_line = "starting the grader"
        self._show()

    def on_engine_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "plan":
            self.planned = len(event.get("tests", []))
            self.status_line = f"0/{self.planned} tests done on {event.get('device', 'cpu')}"
        elif kind == "test_started":
            self.status_line = f"{self.finished}/{self.planned} tests done; running {event.get('name')}"
        elif kind == "smoke_step":
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in (event.get("metrics") or {}).items()
                                if isinstance(v, (int, float)))
            self.status_line = f"smoke-check {event.get('name')} step {event.get('step')}: {metrics}"
        elif kind == "test_finished":
            self.finished += 1
            passed = event.get("passed") is True
            self.text.append("\n")
            self.text.append("✓ " if passed else "✗ ", style="green" if passed else "red")
            self.text.append(f"{event.get('name')}  {points(event.get('earned', 0))}/{points(event.get('points', 0))}")
            self.status_line = f"{self.finished}/{self.planned} tests done"
        else:
            return
        self._show()

    def finish(self, ex: Exercise, result: GradeResult) -> None:
        full = result.full_marks
        style = "bold green" if full else ("bold yellow" if result.score > 0 else "bold red")
        text = Text.assemble((f"{ex.id}", "bold"), f" · {ex.title}   ",
                             (f"{points(result.score)}/{points(result.max_score)}", style), " points   ",
                             (f"{result.duration:.1f} s on {result.device}", "dim"))
        if result.status != GRADED:
            text.append(f"\n{result.status}: {result.problem}", style="bold red")
        shown: set[str] = set()
        for t in result.tests:
            text.append("\n")
            text.append("✓ " if t.passed else "✗ ", style="green" if t.passed else "red")
            text.append(f"{t.name}  {points(t.earned)}/{points(t.points)}")
            if t.passed or not t.message:
                continue
            key = STUB_MARK if STUB_MARK in t.message else t.message  # an unwritten stub: say it once
            if key in shown:
                text.append("\n    (the same problem as above)", style="dim")
            else:
                shown.add(key)
                text.append("\n" + _indent(t.message))
        if result.output.strip():
            lines = result.output.rstrip().splitlines()
            text.append("\nyour code printed:\n", style="bold")
            text.append(_indent("\n".join(lines[-20:])), style="dim")
        if full:
            text.append("\nFull marks. Well done!", style="bold green")
        self.text, self.status_line = text, ""
        self._show()

    def failed(self, message: str) -> None:
        self.text.append(f"\n{message}", style="bold red")
        self.status_line = ""
        self._show()


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y answers True; n or escape answer False."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self.question, id="confirm-question")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def file_stamp(path: Path) -> tuple[int, int] | None:
    """What the watcher compares: the file's mtime and size (None when it cannot be read)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _indent(message: str) -> str:
    return "\n".join("    " + line for line in message.splitlines())


class TutorApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "d2l-tutor"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("g", "grade", "Grade"),
        Binding("ctrl+g", "grade", "Grade", show=False),  # works while typing in the editor
        Binding("c,escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        Binding("l", "show_lesson", "Lesson"),
        Binding("e", "show_exercise", "Exercise"),
        Binding("h", "hint", "Hint"),
        Binding("s", "solution", "Solution"),
        Binding("r", "reload", "Reload"),
    ]
    WATCH_INTERVAL = 0.5  # seconds between two looks at the exercise file's mtime and size
    WATCH_SETTLE = 0.4    # the file must have been stable this long before it is reloaded and regraded

    def __init__(self, workspace: Workspace, *, course: Course | None = None, device: str = "auto"):
        super().__init__()
        self.workspace = workspace
        self.course = course or load_course()
        self.device = device
        self.exercise: Exercise | None = None
        self.saved_text = ""
        self.cancel_event: threading.Event | None = None
        self.exercise_nodes: dict[str, TreeNode] = {}
        # The watcher: the stamp of the file as the editor last loaded or saved it, the last stamp seen, and
        # when that one was first seen (None when nothing is waiting to settle).
        self.known_stamp: tuple[int, int] | None = None
        self.seen_stamp: tuple[int, int] | None = None
        self.changed_at: float | None = None
        self.disk_changed = False   # the file changed on disk while the editor had unsaved edits
        self.regrade_queued = False  # a change arrived during grading: grade once more when it ends

    # Layout and the course tree

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield Tree(Text(self.course.title), id="course")
            with ContentSwitcher(initial="lesson-view", id="main"):
                with VerticalScroll(id="lesson-view"):
                    yield Markdown("Pick a lesson or an exercise in the tree on the left.", id="lesson")
                with Vertical(id="exercise-view"):
                    yield Label("", id="exercise-title")
                    yield TextArea.code_editor("", language="python", id="editor")
                    with VerticalScroll(id="hints-scroll"):
                        yield Static("", id="hints")
                    with VerticalScroll(id="results-scroll"):
                        yield ResultsPanel(id="results")
                with Vertical(id="solution-view"):
                    yield Label("", id="solution-title")
                    yield TextArea.code_editor("", language="python", read_only=True, id="solution")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.workspace.root)
        summaries = self.load_summaries()
        tree = self.query_one("#course", Tree)
        tree.show_root, tree.auto_expand = False, False  # selecting a lesson must not fold its exercises away
        for ch in self.course.chapters:
            ch_node = tree.root.add(Text(f"{ch.number}. {ch.title}"), data=ch, expand=True)
            for lesson in ch.lessons:
                le_node = ch_node.add(Text(lesson.title), data=lesson, expand=True)
                for ex in lesson.exercises:
                    self.exercise_nodes[ex.id] = le_node.add_leaf(exercise_label(ex, summaries.get(ex.id)), data=ex)
        tree.focus()
        self.set_interval(self.WATCH_INTERVAL, self.poll_file, name="watch")

    def load_summaries(self) -> dict[str, Summary]:
        try:
            with Progress(self.workspace.db_path) as progress:
                return progress.summaries()
        except ProgressError as exc:
            self.notify(str(exc), title="Progress", severity="error", timeout=15)
            return {}

    def refresh_mark(self, ex: Exercise, summary: Summary | None) -> None:
        self.exercise_nodes[ex.id].set_label(exercise_label(ex, summary))

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data
        if isinstance(data, Lesson):
            self.show_lesson(data)
        elif isinstance(data, Exercise):
            self.open_exercise(data)

    # Lesson and exercise views

    def show_lesson(self, lesson: Lesson) -> None:
        try:
            text = lesson.path.read_text(encoding="utf-8")
        except OSError as exc:
            text = f"# {lesson.title}\n\nCannot read {lesson.path}: {exc.strerror}."
        self.query_one("#lesson", Markdown).update(text)
        self.query_one("#lesson-view", VerticalScroll).scroll_home(animate=False)
        self.query_one("#main", ContentSwitcher).current = "lesson-view"

    def open_exercise(self, ex: Exercise) -> None:
        if self.exercise is not None and ex.id != self.exercise.id and self.dirty and not self.save():
            return
        if self.exercise is None or ex.id != self.exercise.id:
            path = self.workspace.file_for(ex)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                self.notify(f"Cannot open {path}: {exc.strerror}. `d2l-tutor reset {ex.id}` restores the stub.",
                            severity="error")
                return
            self.exercise, self.saved_text = ex, text
            self.known_stamp = self.seen_stamp = file_stamp(path)
            self.changed_at, self.disk_changed, self.regrade_queued = None, False, False
            self.query_one("#editor", TextArea).load_text(text)
            self.query_one("#exercise-title", Label).update(f"{ex.id} · {ex.title} (d2l {ex.d2l}) · {path}")
            self.query_one("#results", ResultsPanel).update("Press g to grade this exercise.")
            self.show_hints(ex, self.hints_shown(ex))
        self.query_one("#main", ContentSwitcher).current = "exercise-view"
        self.query_one("#editor", TextArea).focus()

    @property
    def dirty(self) -> bool:
        return self.exercise is not None and self.query_one("#editor", TextArea).text != self.saved_text

    def save(self) -> bool:
        if self.exercise is None:
            return True
        path = self.workspace.file_for(self.exercise)
        text = self.query_one("#editor", TextArea).text
        try:
            write_atomically(path, text)
        except OSError as exc:
            self.notify(f"Could not save {path}: {exc.strerror}. Your edits are still in the editor.",
                        severity="error")
            return False
        self.saved_text = text
        self.known_stamp = self.seen_stamp = file_stamp(path)  # our own write is not a change to react to
        self.changed_at, self.disk_changed = None, False
        return True

    def action_save(self) -> None:
        if self.exercise is None:
            self.notify("Open an exercise first.")
        elif self.save():
            self.notify(f"Saved {self.exercise.filename}.", timeout=2)

    def action_show_lesson(self) -> None:
        node = self.query_one("#course", Tree).cursor_node
        if self.exercise is not None:
            self.show_lesson(self.course.lesson(self.exercise.id))
        elif node is not None and isinstance(node.data, Lesson):
            self.show_lesson(node.data)

    def action_show_exercise(self) -> None:
        if self.exercise is not None:
            self.open_exercise(self.exercise)

    # Grading

    def action_grade(self) -> None:
        node = self.query_one("#course", Tree).cursor_node
        if self.exercise is None and node is not None and isinstance(node.data, Exercise):
            self.open_exercise(node.data)
        if self.exercise is None:
            self.notify("Pick an exercise in the tree first.")
            return
        if self.cancel_event is not None:
            self.notify("Already grading; press c to cancel.")
            return
        if self.dirty and not self.save():
            return
        self.start_grading()

    def start_grading(self) -> None:
        ex = self.exercise
        self.regrade_queued = False
        self.query_one("#main", ContentSwitcher).current = "exercise-view"
        self.query_one("#results", ResultsPanel).start(ex)
        self.cancel_event = threading.Event()
        self.run_grading(ex, self.workspace.file_for(ex), self.cancel_event)

    def action_cancel(self) -> None:
        if self.cancel_event is not None:
            self.regrade_queued = False
            self.cancel_event.set()
            self.notify("Cancelling...", timeout=2)

    @work(thread=True, exclusive=True, exit_on_error=False, group="grade")
    def run_grading(self, ex: Exercise, path: Path, cancel: threading.Event) -> GradeResult:
        panel = self.query_one("#results", ResultsPanel)
        result = grade(ex, path, device=self.device, cancel=cancel,
                       on_event=lambda event: self.call_from_thread(panel.on_engine_event, event))
        if result.status == CANCELLED:
            self.call_from_thread(panel.failed, "Grading cancelled; nothing was recorded.")
            return result
        summary = None
        if result.status not in NOT_RECORDED:
            with Progress(self.workspace.db_path) as progress:  # sqlite: a connection of this thread's own
                progress.record(result)
                summary = progress.summaries().get(ex.id)
        self.call_from_thread(self.grading_done, ex, result, summary)
        return result

    def grading_done(self, ex: Exercise, result: GradeResult, summary: Summary | None) -> None:
        self.query_one("#results", ResultsPanel).finish(ex, result)
        if summary is not None:
            self.refresh_mark(ex, summary)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a failed worker becomes a visible error; the app keeps running."""
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if event.worker.group == "grade":
            self.cancel_event = None
            if self.regrade_queued and self.exercise is not None:
                self.start_grading()
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            message = f"{event.worker.name} failed: {type(error).__name__}: {error}"
            if event.worker.group == "grade":
                self.query_one("#results", ResultsPanel).failed(message)
            self.notify(message, title="Error", severity="error", timeout=15)

    # Hints and the reference solution

    def hints_shown(self, ex: Exercise) -> int:
        try:
            with Progress(self.workspace.db_path) as progress:
                return progress.hints_shown(ex.id)
        except ProgressError as exc:
            self.notify(str(exc), title="Progress", severity="error", timeout=15)
            return 0

    def show_hints(self, ex: Exercise, shown: int, *, last: bool = False) -> None:
        hints = self.query_one("#hints", Static)
        if shown == 0:
            hints.update(Text("Stuck? Press h for a hint.", style="dim"))
            return
        text = Text()
        for i in range(shown):
            if i:
                text.append("\n")
            text.append(f"Hint {i + 1} of {len(ex.hints)}: ", style="bold")
            text.append(ex.hints[i])
        if last:
            text.append("\nThat was the last hint. Re-read the lesson (l) or start over with "
                        f"`d2l-tutor hint {ex.id} --reset`.", style="dim")
        hints.update(text)
        self.query_one("#hints-scroll", VerticalScroll).scroll_end(animate=False)

    def action_hint(self) -> None:
        """Reveal the next hint: the same count as `d2l-tutor hint`, kept in the progress database."""
        ex = self.exercise
        if ex is None:
            self.notify("Open an exercise first.")
            return
        try:
            with Progress(self.workspace.db_path) as progress:
                already = progress.hints_shown(ex.id)
                shown = progress.reveal_hint(ex.id, len(ex.hints))
        except ProgressError as exc:
            self.notify(str(exc), title="Progress", severity="error", timeout=15)
            return
        self.query_one("#main", ContentSwitcher).current = "exercise-view"
        self.show_hints(ex, shown, last=shown == already)
        if shown == already:
            self.notify("That was the last hint.", timeout=3)

    def action_solution(self) -> None:
        """The reference solution: at once with full marks, otherwise after a confirmation."""
        ex = self.exercise
        if ex is None:
            self.notify("Open an exercise first.")
            return
        summary = self.load_summaries().get(ex.id)
        if summary is not None and summary.best >= ex.points:
            self.show_solution(ex)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.show_solution(ex)

        self.push_screen(ConfirmScreen("Show the solution before you have full marks? [y/n]"), answered)

    def show_solution(self, ex: Exercise) -> None:
        try:
            text = ex.solution_path.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(f"Cannot read the reference solution {ex.solution_path}: {exc.strerror}.", severity="error")
            return
        self.query_one("#solution-title", Label).update(f"Reference solution of {ex.id} (read-only; e goes back to "
                                                        "your file)")
        solution = self.query_one("#solution", TextArea)
        solution.load_text(text)
        self.query_one("#main", ContentSwitcher).current = "solution-view"
        solution.focus()  # never leave the focus in the hidden editor, where keys would type

    # Watching the exercise file for edits made elsewhere

    def poll_file(self) -> None:
        """Every WATCH_INTERVAL: compare the file's mtime and size; act once a change has settled."""
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
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"{path} changed but cannot be read: {exc}.", severity="warning")
            return
        editor_text = self.query_one("#editor", TextArea).text
        if self.dirty and text != editor_text:  # never overwrite the learner's unsaved edits
            self.disk_changed = True
            self.notify(f"{ex.filename} changed on disk, but you have unsaved edits here. Press ctrl+s to "
                        "save yours over it, or r to reload the file (your edits here are lost).",
                        title="File changed", severity="warning", timeout=20)
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
        editor = self.query_one("#editor", TextArea)
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
            self.notify("Open an exercise first.")
            return
        path = self.workspace.file_for(ex)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"Cannot read {path}: {exc}.", severity="error")
            return
        changed = text != self.saved_text or self.disk_changed
        self.known_stamp = self.seen_stamp = file_stamp(path)
        self.changed_at, self.disk_changed = None, False
        self.load_into_editor(text)
        self.query_one("#main", ContentSwitcher).current = "exercise-view"
        self.notify(f"Reloaded {ex.filename} from disk.", timeout=2)
        if changed:
            self.request_grading()

    def on_unmount(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()  # the engine kills the grading process
