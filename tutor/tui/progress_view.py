"""The progress view: every exercise's attempts and best score, and one exercise's history of attempts, read from
the same SQLite database as `d2l-tutor progress`."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from tutor.i18n import _
from tutor.render import test_name
from tutor.manifest import Course, Exercise
from tutor.progress import Attempt, Summary, course_totals


def when(iso: str) -> str:
    """An ISO timestamp (UTC) as local time, to the minute."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def score_text(score: float, max_score: float) -> Text:
    style = "green" if max_score and score >= max_score else ("yellow" if score > 0 else "red")
    return Text(f"{score:g}/{max_score:g}", style=style)


class ProgressView(Vertical):
    """Two tables: the course overview, then the history of the chosen exercise (newest first)."""

    def compose(self) -> ComposeResult:
        yield Label(_("Progress"), id="progress-title")
        yield DataTable(id="summary-table", cursor_type="row", zebra_stripes=True)
        yield Label("", id="history-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)

    def columns(self) -> None:
        """The tables' headers, in the current language."""
        summary, history = self.query_one("#summary-table", DataTable), self.query_one("#history-table", DataTable)
        summary.clear(columns=True)
        history.clear(columns=True)
        summary.add_columns(_("exercise"), _("best"), _("attempts"), _("hints"), _("last"))
        history.add_columns(_("when"), _("score"), _("status"), _("time"), _("device"), _("file"), _("failed tests"))

    def on_mount(self) -> None:
        self.columns()

    def show(self, course: Course, summaries: dict[str, Summary], hints: dict[str, int],
             exercise: Exercise | None, history: list[Attempt]) -> None:
        self.columns()
        t = course_totals(course.exercises, summaries)
        self.query_one("#progress-title", Label).update(
            _("{earned}/{total} points · {done} of {exercises} exercises with full marks").format(
                earned=f"{t.earned:g}", total=t.total, done=t.done, exercises=t.exercises))
        table = self.query_one("#summary-table", DataTable)
        for ex in course.exercises:
            s = summaries.get(ex.id)
            best = score_text(s.best, ex.points) if s else Text(_("not started"), style="dim")
            table.add_row(ex.id, best, str(s.attempts if s else 0), f"{hints.get(ex.id, 0)}/{len(ex.hints)}",
                          when(s.last) if s else "", key=ex.id)
        history_table = self.query_one("#history-table", DataTable)
        history_table.clear()
        title = self.query_one("#history-title", Label)
        if exercise is None:
            title.update(_("Open an exercise (or pick a row above and press enter) to see its history."))
            return
        title.update(_("History of {id}: {n} attempt(s)").format(id=exercise.id, n=len(history))
                     + (" " + _("(newest first)") if history else ""))
        for a in history:
            failed = [test_name(t.get("name", "?")) for t in a.tests if not t.get("passed")]
            history_table.add_row(when(a.finished_at), score_text(a.score, a.max_score), a.status,
                                  f"{a.duration:.1f} s", a.device, a.file_hash[:8],
                                  Text(", ".join(failed) if failed else _("none"), style="dim"))
