"""Write grading results in Gradescope's autograder results.json format (no torch).

The format is Gradescope's "Autograder Specifications" (gradescope-autograders.readthedocs.io/en/latest/specs/):
a top-level `score` (here always the sum of the tests' scores), `execution_time` (seconds), `output` (text about
the whole submission), `visibility` and `stdout_visibility`, and `tests`: one entry per hidden test with `name`,
`number`, `score`, `max_score`, `status` ("passed" or "failed"), `output` and `visibility`. Every text is plain
(`output_format`, `test_output_format` and `test_name_format` are "text": a message that mentions `<lambda>` is not
HTML) and in the current language. A test that carries `hidden` is shown to students only once the grades are
published ("after_published").

Used by `d2l-tutor grade --gradescope PATH` and by the autograder bundle's run_autograder (tutor.autograder).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tutor.i18n import _, translate

VISIBLE = "visible"
AFTER_PUBLISHED = "after_published"
STDOUT_VISIBILITY = "hidden"  # run_autograder's stdout (the instructor's log) is never shown to students


def _points(x: float) -> float | int:
    """A score as JSON writes it best: 12 rather than 12.0; fractions stay as they are."""
    x = round(float(x), 6)
    return int(x) if x == int(x) else x


def test_name(exercise_id: str, name: str) -> str:
    return f"{exercise_id}: {translate(name, grader=True)}"


def test_output(t) -> str:
    """What a student reads under a test: why it failed, or the smoke-check's metric against its threshold."""
    from tutor.messages import render

    text = render(t.failure) if not t.passed else ""
    metric = t.metric or {}
    if t.kind == "smoke" and metric.get("value") is not None and metric.get("threshold") is not None:
        goal = "≥" if metric.get("goal") == "min" else "≤"
        line = _("  smoke-check: {metric} = {value} (needs {goal} {threshold}, {steps} steps, {seconds} s)").format(
            metric=translate(str(metric.get("name")), grader=True), value=f"{metric['value']:.4g}", goal=goal,
            threshold=f"{metric['threshold']:g}", steps=metric.get("steps", 0), seconds=f"{t.duration:.1f}")
        text = line.strip() + ("\n" + text if text else "")
    return text


def test_entry(exercise_id: str, t, number: str) -> dict:
    return {
        "name": test_name(exercise_id, t.name),
        "number": number,
        "score": _points(t.earned),
        "max_score": _points(t.points),
        "status": "passed" if t.passed else "failed",
        "output": test_output(t),
        "visibility": AFTER_PUBLISHED if getattr(t, "hidden", False) else VISIBLE,
    }


def placeholder_entry(exercise_id: str, title: str, max_score: float, output: str, number: str) -> dict:
    """A failed entry that stands for an exercise that has no tests to show (a missing file, a run that broke
    before the tests were planned): it keeps the exercise's points in the total."""
    return {"name": f"{exercise_id}: {title}", "number": number, "score": 0, "max_score": _points(max_score),
            "status": "failed", "output": output, "visibility": VISIBLE}


def result_entries(result, index: int, max_score: float | None = None) -> list[dict]:
    """The entries of one graded exercise (numbered index.1, index.2, ...)."""
    if result.tests:
        return [test_entry(result.exercise, t, f"{index}.{j}") for j, t in enumerate(result.tests, 1)]
    return [placeholder_entry(result.exercise, _("grading"), max_score or 0, result_problem(result) or _("failed"),
                              f"{index}.1")]


def result_problem(result) -> str:
    """Why the run stopped early (a time limit, a crash, an internal error), with what the status says; "" when the
    run went through."""
    from tutor.engine.results import GRADED

    if result.status == GRADED:
        return ""
    from tutor.render import status_word

    problem = result.problem
    return f"{status_word(result.status)}: {problem}" if problem else status_word(result.status)


def result_notes(result) -> list[str]:
    """What the summary line of an exercise adds to its score: why the run stopped early, and in a student build
    what the score leaves out (`notice`, where the result has one)."""
    from tutor.messages import render

    notes = [result_problem(result)]
    notice = getattr(result, "notice", None)
    if notice:
        notes.append(render(notice))
    return [n for n in notes if n]


def summary_line(exercise_id: str, score: float, max_score: float, note: str = "") -> str:
    line = _("{id}: {score}/{max} points").format(id=exercise_id, score=f"{score:g}", max=f"{max_score:g}")
    return f"{line} ({note})" if note else line


def document(tests: list[dict], *, output: str, execution_time: float, extra_data: dict | None = None) -> dict:
    """A whole results.json: the top-level score is the sum of the tests' scores."""
    data = {
        "score": _points(sum(t["score"] for t in tests)),
        "execution_time": round(float(execution_time), 2),
        "output": output,
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "visibility": VISIBLE,
        "stdout_visibility": STDOUT_VISIBILITY,
        "tests": tests,
    }
    if extra_data:
        data["extra_data"] = extra_data
    return data


def to_gradescope(results, points: dict | None = None) -> dict:
    """results.json for graded exercises (`points`: exercise id -> its points, for a run that has no tests)."""
    tests, lines = [], []
    for i, r in enumerate(results, 1):
        tests += result_entries(r, i, (points or {}).get(r.exercise))
        lines.append(summary_line(r.exercise, r.score, r.max_score, "; ".join(result_notes(r))))
    return document(tests, output="\n".join(lines), execution_time=sum(r.duration for r in results))


def write_json(path: Path, data: dict) -> None:
    """Write `data` as JSON at `path` atomically (a reader sees the old file or the new one, never half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_results(path: Path, results) -> None:
    write_json(path, to_gradescope(results))
