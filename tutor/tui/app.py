"""The d2l-tutor TUI: course tree on the left; the lesson or the exercise editor with its results on the right.

Grading runs `tutor.engine.runner.grade` in a thread worker; the engine itself starts a child process, so
this process never imports torch. Events from the child are shown live but are provisional: the panel is
redrawn from the parent's GradeResult (the verdict) when the run ends.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
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
    ]

    def __init__(self, workspace: Workspace, *, course: Course | None = None, device: str = "auto"):
        super().__init__()
        self.workspace = workspace
        self.course = course or load_course()
        self.device = device
        self.exercise: Exercise | None = None
        self.saved_text = ""
        self.cancel_event: threading.Event | None = None
        self.exercise_nodes: dict[str, TreeNode] = {}

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
                    with VerticalScroll(id="results-scroll"):
                        yield ResultsPanel(id="results")
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
            self.query_one("#editor", TextArea).load_text(text)
            self.query_one("#exercise-title", Label).update(f"{ex.id} · {ex.title} (d2l {ex.d2l}) · {path}")
            self.query_one("#results", ResultsPanel).update("Press g to grade this exercise.")
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
        ex = self.exercise
        self.query_one("#main", ContentSwitcher).current = "exercise-view"
        self.query_one("#results", ResultsPanel).start(ex)
        self.cancel_event = threading.Event()
        self.run_grading(ex, self.workspace.file_for(ex), self.cancel_event)

    def action_cancel(self) -> None:
        if self.cancel_event is not None:
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
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            message = f"{event.worker.name} failed: {type(error).__name__}: {error}"
            if event.worker.group == "grade":
                self.query_one("#results", ResultsPanel).failed(message)
            self.notify(message, title="Error", severity="error", timeout=15)

    def on_unmount(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()  # the engine kills the grading process
