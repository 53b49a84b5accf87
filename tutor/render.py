"""Rich rendering of grading results, the course list and progress (no torch)."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tutor.engine.results import GRADED, GradeResult
from tutor.i18n import _, get_lang, numbering_label, translate
from tutor.manifest import Exercise
from tutor.messages import render


def status_word(status: str) -> str:
    words = {
        "timeout": _("stopped: time limit"),
        "memory": _("stopped: memory limit"),
        "crashed": _("crashed"),
        "engine_error": _("internal error"),
        "device_unavailable": _("device unavailable"),
        "cancelled": _("cancelled"),
        "invalid_report": _("invalid report"),
    }
    return words.get(status, status)


def test_name(name: str) -> str:
    """A hidden test's name, in the learner's language (the grader's catalog translates it)."""
    return translate(name, grader=True)


def unwritten_function(test) -> str | None:
    """The learner function a test stopped at because it still raises the stub's NotImplementedError."""
    f = test.failure
    if not f or f.get("code") != "not_implemented":
        return None
    return str((f.get("params") or {}).get("call", "")).split("(", 1)[0] or None


def failure_key(test) -> str:
    """Two failures with the same key say the same thing: an unwritten function, or the same failure data."""
    name = unwritten_function(test)
    if name:
        return f"not_implemented:{name}"
    import json

    return json.dumps(test.failure, sort_keys=True, default=str)


def _smallest_part(failure: dict | None):
    for part in (failure or {}).get("parts") or ():
        if str(part.get("code", "")).startswith("smallest_input"):
            return part
    return None


def fmt_points(x: float) -> str:
    return f"{x:g}"


def score_text(score: float, max_score: float) -> Text:
    style = "bold green" if max_score and score >= max_score else ("bold yellow" if score > 0 else "bold red")
    return Text(f"{fmt_points(score)}/{fmt_points(max_score)}", style=style)


def render_result(console: Console, result: GradeResult, exercise: Exercise, book: str = "course") -> None:
    lang = get_lang()
    label = numbering_label(book)
    head = Text.assemble((f"{exercise.id}", "bold"), f" · {exercise.title_in(lang)} ({label} {exercise.section(book)})   ",
                         score_text(result.score, result.max_score), " " + _("points") + "   ",
                         (_("{seconds} s on {device}").format(seconds=f"{result.duration:.1f}", device=result.device),
                          "dim"))
    console.print(head)
    if result.notice:  # a student build: the instructor's grading runs more tests
        console.print(Text("  " + render(result.notice), style="cyan"))
    if result.status != GRADED:
        console.print(Text(f"  {status_word(result.status)}: {result.problem}", style="bold red"))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, padding=(0, 1))
    table.add_column("", width=1)
    table.add_column(_("test"))
    table.add_column(_("points"), justify="right")
    for t in result.tests:
        mark = Text("✓", style="green") if t.passed else Text("✗", style="red")
        name = Text(test_name(t.name))
        if t.kind == "smoke":
            name.append("  [" + _("smoke-check") + "]", style="cyan")
        table.add_row(mark, name, f"{fmt_points(t.earned)}/{fmt_points(t.points)}")
    console.print(table)
    for t in result.tests:
        if t.kind == "smoke" and t.metric and t.metric.get("value") is not None:
            goal = "≥" if t.metric.get("goal") == "min" else "≤"
            line = _("  smoke-check: {metric} = {value} (needs {goal} {threshold}, {steps} steps, {seconds} s)").format(
                metric=translate(str(t.metric.get("name")), grader=True), value=f"{t.metric['value']:.4g}",
                goal=goal, threshold=f"{t.metric.get('threshold'):g}", steps=t.metric.get("steps", 0),
                seconds=f"{t.duration:.1f}")
            if t.metric.get("reference") is not None:
                line += _("; reference solution: {value}").format(value=f"{t.metric['reference']:.4g}")
            console.print(Text(line, style="green" if t.passed else "red"))
    failed = [t for t in result.tests if not t.passed]
    shown_inputs: set[str] = set()
    # An untouched stub fails test after test the same way: say it once per unwritten function.
    unwritten: dict[str, list] = {}
    for t in failed:
        name = unwritten_function(t)
        if name:
            unwritten.setdefault(name, []).append(t)
    grouped = {name: tests for name, tests in unwritten.items() if len(tests) > 1}
    for name, tests in grouped.items():
        body = Text(tests[0].message)
        body.append("\n\n" + _("{n} more tests stop at {name} too: {tests}.").format(
            n=len(tests) - 1, name=name, tests=_("; ").join(test_name(t.name) for t in tests[1:])), style="dim")
        title = _("✗ {name} is not written yet ({n} tests)").format(name=name, n=len(tests))
        console.print(Panel(body, title=Text(title, style="red"), title_align="left", border_style="red",
                            expand=True))
    failed_detail = [t for t in failed if not any(t in tests for tests in grouped.values())]
    for t in failed_detail:
        message = t.message or _("failed")
        smallest = _smallest_part(t.failure)
        if smallest is not None:
            key = repr(sorted((smallest.get("params") or {}).items()))
            if key in shown_inputs:  # the same data as above: say so instead of printing it again
                parts = [{"code": "smallest_input_same", "params": {}} if p is smallest else p
                         for p in t.failure.get("parts") or ()]
                message = render({**t.failure, "parts": parts})
            shown_inputs.add(key)
        console.print(Panel(Text(message), title=Text(f"✗ {test_name(t.name)}", style="red"),
                            title_align="left", border_style="red", expand=True))
    if result.output.strip():
        lines = result.output.rstrip().splitlines()
        shown = "\n".join(lines[:20])
        if len(lines) > 20:
            shown += "\n" + _("... ({n} more lines)").format(n=len(lines) - 20)
        if result.output_truncated_bytes:
            shown += "\n" + _("(output capped: {n} bytes dropped)").format(n=result.output_truncated_bytes)
        console.print(Panel(Text(shown), title=_("your code printed"), title_align="left", border_style="dim"))
    if failed and result.status == GRADED:
        console.print(Text(_("  Read the lesson: d2l-tutor lesson {id}   ·   a hint: d2l-tutor hint {id}").format(
            id=exercise.id), style="dim"))
    elif not failed and result.withheld_tests:
        console.print(Text(_("  Every visible test passes. Well done!"), style="bold green"))
    elif not failed:
        console.print(Text(_("  Full marks. Well done!"), style="bold green"))

