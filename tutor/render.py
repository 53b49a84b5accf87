"""Rich rendering of grading results, the course list and progress (no torch)."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tutor.engine.results import GRADED, GradeResult
from tutor.manifest import Exercise
from tutor.messages import render

STATUS_WORDS = {
    "timeout": "stopped: time limit",
    "memory": "stopped: memory limit",
    "crashed": "crashed",
    "engine_error": "internal error",
    "device_unavailable": "device unavailable",
    "cancelled": "cancelled",
}


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


def render_result(console: Console, result: GradeResult, exercise: Exercise) -> None:
    head = Text.assemble((f"{exercise.id}", "bold"), f" · {exercise.title} (d2l {exercise.d2l})   ",
                         score_text(result.score, result.max_score), " points   ",
                         (f"{result.duration:.1f} s on {result.device}", "dim"))
    console.print(head)
    if result.status != GRADED:
        console.print(Text(f"  {STATUS_WORDS.get(result.status, result.status)}: {result.problem}", style="bold red"))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, padding=(0, 1))
    table.add_column("", width=1)
    table.add_column("test")
    table.add_column("points", justify="right")
    for t in result.tests:
        mark = Text("✓", style="green") if t.passed else Text("✗", style="red")
        name = Text(t.name)
        if t.kind == "smoke":
            name.append("  [smoke-check]", style="cyan")
        table.add_row(mark, name, f"{fmt_points(t.earned)}/{fmt_points(t.points)}")
    console.print(table)
    for t in result.tests:
        if t.kind == "smoke" and t.metric and t.metric.get("value") is not None:
            goal = "≥" if t.metric.get("goal") == "min" else "≤"
            console.print(Text(f"  smoke-check: {t.metric.get('name')} = {t.metric['value']:.4g} "
                               f"(needs {goal} {t.metric.get('threshold'):g}, {t.metric.get('steps', 0)} steps, "
                               f"{t.duration:.1f} s)"
                               + (f"; reference solution: {t.metric['reference']:.4g}"
                                  if t.metric.get("reference") is not None else ""),
                               style="green" if t.passed else "red"))
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
        body.append(f"\n\n{len(tests) - 1} more tests stop at {name} too: " + "; ".join(t.name for t in tests[1:]) + ".",
                    style="dim")
        console.print(Panel(body, title=Text(f"✗ {name} is not written yet ({len(tests)} tests)", style="red"),
                            title_align="left", border_style="red", expand=True))
    failed_detail = [t for t in failed if not any(t in tests for tests in grouped.values())]
    for t in failed_detail:
        message = t.message or "failed"
        smallest = _smallest_part(t.failure)
        if smallest is not None:
            key = repr(sorted((smallest.get("params") or {}).items()))
            if key in shown_inputs:  # the same data as above: say so instead of printing it again
                parts = [{"code": "smallest_input_same", "params": {}} if p is smallest else p
                         for p in t.failure.get("parts") or ()]
                message = render({**t.failure, "parts": parts})
            shown_inputs.add(key)
        console.print(Panel(Text(message), title=Text(f"✗ {t.name}", style="red"),
                            title_align="left", border_style="red", expand=True))
    if result.output.strip():
        lines = result.output.rstrip().splitlines()
        shown = "\n".join(lines[:20]) + (f"\n... ({len(lines) - 20} more lines)" if len(lines) > 20 else "")
        if result.output_truncated_bytes:
            shown += f"\n(output capped: {result.output_truncated_bytes} bytes dropped)"
        console.print(Panel(Text(shown), title="your code printed", title_align="left", border_style="dim"))
    if failed and result.status == GRADED:
        console.print(Text(f"  Read the lesson: d2l-tutor lesson {exercise.id}   ·   a hint: d2l-tutor hint {exercise.id}",
                           style="dim"))
    elif not failed:
        console.print(Text("  Full marks. Well done!", style="bold green"))

