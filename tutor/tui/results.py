"""The results panel: live test results while grading, then the parent's verdict."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from tutor.engine.protocol import Plan, SmokeStep, TestFinished, TestStarted
from tutor.engine.results import GRADED, GradeResult
from tutor.manifest import Exercise
from tutor.i18n import _, get_lang
from tutor.messages import render
from tutor.render import failure_key, status_word, test_name


def points(x: float) -> str:
    return f"{x:g}"


def _indent(message: str) -> str:
    return "\n".join("    " + line for line in message.splitlines())


class ResultsPanel(Static):
    """Live test results while grading, then the final verdict. Each change posts Changed, for the one-line
    summary under the editor."""

    class Changed(Message):
        pass

    def __init__(self, **kwargs):
        super().__init__(_("Press g to grade this exercise."), **kwargs)
        self.text = Text()
        self.planned = 0
        self.finished = 0
        self.status_line = ""
        self.running = False  # a grading run is in progress
        self.result: GradeResult | None = None  # the verdict shown
        self.problem = ""  # why there is none (cancelled, the worker failed)

    def _show(self) -> None:
        text = self.text.copy()
        if self.status_line:
            text.append(f"\n{self.status_line}", style="dim")
        self.update(text)
        self.post_message(self.Changed())

    def clear(self) -> None:
        """A newly opened exercise: nothing graded yet."""
        self.text, self.status_line, self.running, self.result, self.problem = Text(), "", False, None, ""
        self.update(_("Press g to grade this exercise."))
        self.post_message(self.Changed())

    def start(self, ex: Exercise) -> None:
        self.text = Text(_("Grading {id}...").format(id=ex.id), style="bold")
        self.planned = self.finished = 0
        self.status_line = _("starting the grader")
        self.running, self.result, self.problem = True, None, ""
        self._show()

    def on_engine_event(self, event) -> None:
        if isinstance(event, Plan):
            self.planned = len(event.tests)
            self.points = {t.name: t.points for t in event.tests}
            self.status_line = _("0/{planned} tests done on {device}").format(planned=self.planned, device=event.device)
        elif isinstance(event, TestStarted):
            self.status_line = _("{done}/{planned} tests done; running {test}").format(
                done=self.finished, planned=self.planned, test=test_name(event.name))
        elif isinstance(event, SmokeStep):
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
            self.status_line = _("smoke-check {test} step {step}: {metrics}").format(
                test=test_name(event.name), step=event.step, metrics=metrics)
        elif isinstance(event, TestFinished):
            self.finished += 1
            worth = getattr(self, "points", {}).get(event.name, 0)
            self.text.append("\n")
            self.text.append("✓ " if event.passed else "✗ ", style="green" if event.passed else "red")
            self.text.append(f"{test_name(event.name)}  {points(worth if event.passed else 0)}/{points(worth)}")
            self.status_line = _("{done}/{planned} tests done").format(done=self.finished, planned=self.planned)
        else:
            return
        self._show()

    def finish(self, ex: Exercise, result: GradeResult) -> None:
        full = result.full_marks
        style = "bold green" if full else ("bold yellow" if result.score > 0 else "bold red")
        text = Text.assemble((f"{ex.id}", "bold"), f" · {ex.title_in(get_lang())}   ",
                             (f"{points(result.score)}/{points(result.max_score)}", style), " " + _("points") + "   ",
                             (_("{seconds} s on {device}").format(seconds=f"{result.duration:.1f}",
                                                                 device=result.device), "dim"))
        if result.notice:  # a student build: the instructor's grading runs more tests
            text.append("\n" + render(result.notice), style="cyan")
        if result.status != GRADED:
            text.append(f"\n{status_word(result.status)}: {result.problem}", style="bold red")
        shown: set[str] = set()
        for t in result.tests:
            text.append("\n")
            text.append("✓ " if t.passed else "✗ ", style="green" if t.passed else "red")
            text.append(f"{test_name(t.name)}  {points(t.earned)}/{points(t.points)}")
            if t.passed or not t.message:
                continue
            key = failure_key(t)  # an unwritten function, or the same failure again: say it once
            if key in shown:
                text.append("\n    " + _("(the same problem as above)"), style="dim")
            else:
                shown.add(key)
                text.append("\n" + _indent(t.message))
        if result.output.strip():
            lines = result.output.rstrip().splitlines()
            text.append("\n" + _("your code printed:") + "\n", style="bold")
            text.append(_indent("\n".join(lines[-20:])), style="dim")
        if full and result.withheld_tests:
            text.append("\n" + _("Every visible test passes. Well done!"), style="bold green")
        elif full:
            text.append("\n" + _("Full marks. Well done!"), style="bold green")
        self.text, self.status_line = text, ""
        self.running, self.result, self.problem = False, result, ""
        self._show()

    def failed(self, message: str) -> None:
        self.text.append(f"\n{message}", style="bold red")
        self.status_line = ""
        self.running, self.problem = False, message
        self._show()
