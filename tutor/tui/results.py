"""The results panel: live test results while grading, then the parent's verdict."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.engine.protocol import Plan, SmokeStep, TestFinished, TestStarted
from tutor.engine.results import GRADED, GradeResult
from tutor.manifest import Exercise
from tutor.render import failure_key


def points(x: float) -> str:
    return f"{x:g}"


def _indent(message: str) -> str:
    return "\n".join("    " + line for line in message.splitlines())


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

    def on_engine_event(self, event) -> None:
        if isinstance(event, Plan):
            self.planned = len(event.tests)
            self.points = {t.name: t.points for t in event.tests}
            self.status_line = f"0/{self.planned} tests done on {event.device}"
        elif isinstance(event, TestStarted):
            self.status_line = f"{self.finished}/{self.planned} tests done; running {event.name}"
        elif isinstance(event, SmokeStep):
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
            self.status_line = f"smoke-check {event.name} step {event.step}: {metrics}"
        elif isinstance(event, TestFinished):
            self.finished += 1
            worth = getattr(self, "points", {}).get(event.name, 0)
            self.text.append("\n")
            self.text.append("✓ " if event.passed else "✗ ", style="green" if event.passed else "red")
            self.text.append(f"{event.name}  {points(worth if event.passed else 0)}/{points(worth)}")
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
            key = failure_key(t)  # an unwritten function, or the same failure again: say it once
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
