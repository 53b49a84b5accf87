"""The reports of a class's grading, written from result records (no torch, no grading).

A record is one (student, exercise): `GradeResult.to_json()` plus "student", "file" (<student>/<exercise>.py),
"file_hash" and "grader_version"; a file the student did not submit is the record
    {"student", "exercise", "status": "missing", "score": 0, "max_score": <the exercise's points>, "tests": [],
     "problem_failure": {"code": "class_no_file", ...}, ...}.
What is read from a record: student, exercise, status, score, max_score, full_marks, duration, grader_version,
problem / problem_failure, output, output_truncated_bytes, and per test: name, points, earned, passed, kind,
failure (rendered here in the reader's language; `message` is the English fallback), metric, duration.
When a (student, exercise) has several records (a --resume run appends), the last one counts.

What is written:
  grades.csv          one row per student: student, one column per exercise (points), total, maximum, notes
                      (stable English column names for gradebooks; the notes in the chosen language; a cell that
                      a spreadsheet would run as a formula is prefixed with ');
  results.jsonl       one record per line, appended and fsynced as each grading finishes; a line torn by a crash
                      is skipped when read back;
  feedback/<id>.md    what one student reads: per exercise the score, the tests and each failing test's message;
  summary.md          per exercise and test: mean points and pass rate; the most common named mistakes; the
                      slowest submissions; the ones that could not be graded; and score-histogram.svg beside it.
Every file but results.jsonl (appended) is written atomically (a temporary file in the same folder, fsync,
rename): a reader sees the old file or the new one, never half of one; a full disk raises ReportError.
The language of a report is the `lang` given (the process's language is restored after).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import unicodedata
from contextlib import contextmanager
from os import write as _os_write  # one name to make fail in the tests (a full disk midway)
from pathlib import Path
from xml.sax.saxutils import escape as _xml

from tutor.i18n import _, numbering_label, translate
from tutor.messages import render, walk

GRADED = "graded"
MISSING = "missing"
HISTOGRAM = "score-histogram.svg"
CHUNK = 1 << 16
_append_lock = threading.Lock()


class ReportError(Exception):
    """A report could not be written (a one-line message; the previous file, if any, is unchanged)."""

    def __init__(self, message: str, errno_: int | None = None):
        super().__init__(message)
        self.errno = errno_


@contextmanager
def language(lang: str | None):
    """Everything `_()` says inside is in `lang` (the process's language is restored after)."""
    from tutor import i18n

    before = i18n._state["lang"]
    if lang:
        i18n.set_lang(lang)
    try:
        yield
    finally:
        i18n._state["lang"] = before


# -- records --------------------------------------------------------------------------------------------------------


def latest(records) -> list[dict]:
    """One record per (student, exercise): the last one given, in the order the pairs first appear."""
    out: dict[tuple[str, str], dict] = {}
    for record in records:
        out[(str(record.get("student")), str(record.get("exercise")))] = record
    return list(out.values())


def _num(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and number not in (float("inf"), float("-inf")) else 0.0


def points(value) -> str:
    """A number of points as people write it: 12, 7.5, 0.33."""
    text = f"{round(_num(value), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def is_failed(record: dict) -> bool:
    """The grading of a submitted file did not run to the end (timeout, memory, crash, grader error...)."""
    return record.get("status") not in (GRADED, MISSING)


def status_word(status: str) -> str:
    """How a grading ended, in the current language: the words `d2l-tutor grade` uses, and two of a class's own."""
    from tutor.render import status_word as run_status_word

    if status == MISSING:
        return _("not submitted")
    if status == GRADED:
        return _("graded")
    return run_status_word(str(status))


def problem_text(record: dict, lang: str | None = None) -> str:
    """Why a run stopped (or why there is no file), in `lang`."""
    return render(record.get("problem_failure"), lang) or str(record.get("problem") or "")


def _exercise_ids(exercises) -> list[str]:
    return [getattr(ex, "id", ex) for ex in exercises]


def _maxima(exercises, records) -> dict[str, float]:
    """Each exercise's maximum: its points in the course (an Exercise), else the largest max_score recorded."""
    out = {}
    for ex in exercises:
        eid = getattr(ex, "id", ex)
        if hasattr(ex, "points"):
            out[eid] = _num(ex.points)
        else:
            out[eid] = max((_num(r.get("max_score")) for r in records if r.get("exercise") == eid), default=0.0)
    return out


def _course_exercises(course, ids) -> list:
    """The course's Exercise for each id (the id itself where the course does not know it)."""
    known = {ex.id: ex for ex in course.exercises} if course is not None else {}
    return [known.get(eid, eid) for eid in ids]


def _ordered_exercises(records, course) -> list[str]:
    seen = []
    for r in records:
        eid = str(r.get("exercise"))
        if eid not in seen:
            seen.append(eid)
    order = {ex.id: i for i, ex in enumerate(course.exercises)} if course is not None else {}
    return sorted(seen, key=lambda e: (order.get(e, len(order)), seen.index(e)))


def _students(records, students) -> list[str]:
    if students is not None:
        return list(students)
    found = {str(r.get("student")) for r in records}
    return sorted(found, key=lambda s: (s.casefold(), s))


def _notes_by_student(notes) -> dict:
    out: dict = {}
    for note in notes or ():
        out.setdefault(note[0], []).append(note)
    return out


# -- atomic files ---------------------------------------------------------------------------------------------------


def _write_error(path: Path, exc: OSError) -> ReportError:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return ReportError(_("no space left on the device to write {path}; the previous file (if any) is "
                             "unchanged.").format(path=path), exc.errno)
    return ReportError(_("could not write {path} ({error}); the previous file (if any) is unchanged.").format(
        path=path, error=exc.strerror or exc), exc.errno)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` so that it holds the old content or the new, never a part: a temporary file in the
    same folder, written, fsynced, then renamed over `path`. A failure (a full disk) leaves no temporary file and
    raises ReportError."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        try:
            view = memoryview(data)
            while view:
                written = _os_write(fd, view[:CHUNK])
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from None
        raise
    _fsync_dir(path.parent)


# -- results.jsonl --------------------------------------------------------------------------------------------------


def _line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def append_result(path: Path, record: dict) -> None:
    """Append one record to a JSON-lines file and fsync it (called as each grading finishes). When the file ends
    with a line torn by a crash, the record starts on a line of its own."""
    path = Path(path)
    data = _line(record)
    with _append_lock:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _write_error(path, exc) from None
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            view = memoryview(data)
            while view:
                view = view[_os_write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            raise _write_error(path, exc) from None
        finally:
            os.close(fd)


def write_results_jsonl(path: Path, records) -> None:
    """Write all the records at once (atomically), one JSON object per line."""
    atomic_write(path, b"".join(_line(r) for r in records))


def read_results_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file, in order ([] when there is none). A line that is not a whole JSON object
    (the last one, torn by a crash mid-write, followed perhaps by later appends) is skipped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    records = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


# -- grades.csv -----------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """A text cell that a spreadsheet will not run as a formula (=, +, -, @ first are quoted with ')."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _record_notes(record: dict) -> str | None:
    eid = record.get("exercise")
    if record.get("status") == MISSING:
        return _("{exercise}: not submitted").format(exercise=eid)
    if is_failed(record):
        return _("{exercise}: not graded to the end ({status})").format(exercise=eid,
                                                                        status=status_word(record.get("status")))
    return None


def grades_table(records, exercises, students=None, *, notes=None) -> list[list[str]]:
    """The rows of grades.csv (the header first), in the current language."""
    from tutor.classroom.submissions import note_text

    records = latest(records)
    ids = _exercise_ids(exercises)
    maxima = _maxima(exercises, records)
    by_pair = {(str(r.get("student")), str(r.get("exercise"))): r for r in records}
    intake = _notes_by_student(notes)
    rows = [["student", *ids, "total", "maximum", "notes"]]
    maximum = sum(maxima.values())
    for student in _students(records, students):
        cells, total, said = [], 0.0, []
        for eid in ids:
            record = by_pair.get((student, eid))
            if record is None:
                cells.append("")
                said.append(_("{exercise}: no result").format(exercise=eid))
                continue
            score = _num(record.get("score"))
            total += score
            cells.append(points(score))
            note = _record_notes(record)
            if note:
                said.append(note)
        said += [note_text(n) for n in intake.get(student, ())]
        rows.append([_cell(student), *cells, points(total), points(maximum), _cell(_("; ").join(said))])
    return rows


def write_grades_csv(path: Path, records, exercises, students=None, *, notes=None, lang: str | None = None) -> None:
    """grades.csv: one row per student (in `students` order; default: every student in the records, sorted), one
    column per exercise (`exercises`: the course's Exercise objects, whose points make the maximum, or ids), the
    total, the maximum and the notes (missing files, gradings that did not finish, and the intake's `notes`).
    Written atomically, UTF-8."""
    with language(lang):
        rows = grades_table(records, exercises, students, notes=notes)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    atomic_write(path, buffer.getvalue())


# -- Markdown -------------------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")


def md(text) -> str:
    """Text that Markdown shows as it is (its punctuation escaped; one line)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def fenced(text: str) -> str:
    """A code block that holds `text` whatever it contains (the fence is longer than any run of backticks)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def test_name(name: str, lang: str | None = None) -> str:
    """A hidden test's name in `lang` (the exercise's catalog translates it), as the CLI shows it."""
    return translate(str(name), lang=lang, grader=True)


_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def _slug(student: str) -> str:
    """A student id as a file name (before any hash): letters and digits of every language, @ + . - kept."""
    text = re.sub(r"[^\w@+.-]+", "-", unicodedata.normalize("NFC", str(student)))
    return re.sub(r"-{2,}", "-", text).strip(".-_ ") or "student"


def feedback_names(students) -> dict[str, str]:
    """A file name (<slug>.md) for each student id: letters of any language kept, everything else '-'. Ids whose
    slugs clash (also when only the case differs), are too long (cut to 80 characters), or are a name Windows
    reserves get a short hash of the id appended, so that two students never share a file."""
    students = list(dict.fromkeys(str(s) for s in students))
    slugs = {s: _slug(s) for s in students}
    groups: dict[str, int] = {}
    for slug in slugs.values():
        groups[slug[:80].casefold()] = groups.get(slug[:80].casefold(), 0) + 1

    def hashed(s: str, n: int) -> str:
        digest = hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()[:n]
        return f"{slugs[s][:80].rstrip('.-_ ')}-{digest}"

    names = {}
    for s, slug in slugs.items():
        special = (groups[slug[:80].casefold()] > 1 or len(slug) > 80
                   or slug.split(".")[0].casefold() in _RESERVED)
        names[s] = hashed(s, 8) if special else slug
    n = 8
    while len({v.casefold() for v in names.values()}) < len(names) and n < 64:   # never in practice
        n += 8
        names = {s: hashed(s, n) for s in names}
    return {s: f"{name}.md" for s, name in names.items()}


def _unwritten(test: dict) -> str | None:
    f = test.get("failure")
    if not isinstance(f, dict) or f.get("code") != "not_implemented":
        return None
    return str((f.get("params") or {}).get("call", "")).split("(", 1)[0] or None


def _course_title(course, lang: str) -> str:
    if course is None:
        return ""
    zh = getattr(course, "title_zh", "")
    return zh if lang == "zh" and zh else str(getattr(course, "title", "") or "")


def _exercise_heading(ex, eid: str, lang: str) -> str:
    if hasattr(ex, "title_in"):
        return f"{eid} · {ex.title_in(lang)} ({numbering_label('course')} {ex.section('course')})"
    return str(eid)


def _exercise_feedback(record: dict, ex, lang: str) -> list[str]:
    eid = str(record.get("exercise"))
    score = _num(record.get("score"))
    maximum = _num(ex.points) if hasattr(ex, "points") else _num(record.get("max_score"))
    out = [f"## {md(_exercise_heading(ex, eid, lang))}", "",
           f"**{points(score)}/{points(maximum)}** {md(_('points'))}", ""]
    status = record.get("status")
    if status == MISSING:
        out += [md(_("You did not submit {file}: 0 points.").format(file=f"{eid}.py")), ""]
        return out
    if status != GRADED:
        out += [f"**{md(status_word(status))}**: {md(problem_text(record, lang))}", ""]
    tests = [t for t in record.get("tests") or () if isinstance(t, dict)]
    if tests:
        out += [f"| | {md(_('test'))} | {md(_('points'))} |", "|:-:|:--|--:|"]
        for t in tests:
            name = md(test_name(t.get("name", ""), lang))
            if t.get("kind") == "smoke":
                name += f" \\[{md(_('smoke-check'))}\\]"
            mark = "✓" if t.get("passed") else "✗"
            out.append(f"| {mark} | {name} | {points(t.get('earned'))}/{points(t.get('points'))} |")
        out.append("")
    for t in tests:
        metric = t.get("metric")
        if t.get("kind") == "smoke" and isinstance(metric, dict) and isinstance(metric.get("value"), (int, float)):
            line = _("  smoke-check: {metric} = {value} (needs {goal} {threshold}, {steps} steps, {seconds} s)").format(
                metric=test_name(str(metric.get("name")), lang), value=f"{metric['value']:.4g}",
                goal="≥" if metric.get("goal") == "min" else "≤", threshold=f"{_num(metric.get('threshold')):g}",
                steps=metric.get("steps", 0), seconds=f"{_num(t.get('duration')):.1f}")
            if isinstance(metric.get("reference"), (int, float)):
                line += _("; reference solution: {value}").format(value=f"{metric['reference']:.4g}")
            out += [md(line.strip()), ""]
    failed = [t for t in tests if not t.get("passed")]
    unwritten: dict[str, list[dict]] = {}
    for t in failed:
        name = _unwritten(t)
        if name:
            unwritten.setdefault(name, []).append(t)
    grouped = {name: ts for name, ts in unwritten.items() if len(ts) > 1}
    for name, ts in grouped.items():
        out += [f"### {md(_('✗ {name} is not written yet ({n} tests)').format(name=name, n=len(ts)))}", "",
                fenced(render(ts[0].get("failure"), lang)), "",
                md(_("{n} more tests stop at {name} too: {tests}.").format(
                    n=len(ts) - 1, name=name, tests=_("; ").join(test_name(x.get("name", ""), lang) for x in ts[1:]))),
                ""]
    for t in failed:
        if any(t in ts for ts in grouped.values()):
            continue
        message = render(t.get("failure"), lang) or str(t.get("message") or "") or _("failed")
        out += [f"### ✗ {md(test_name(t.get('name', ''), lang))}", "", fenced(message), ""]
    printed = str(record.get("output") or "")
    if printed.strip():
        lines = printed.rstrip().splitlines()
        shown = "\n".join(lines[:20])
        if len(lines) > 20:
            shown += "\n" + _("... ({n} more lines)").format(n=len(lines) - 20)
        if record.get("output_truncated_bytes"):
            shown += "\n" + _("(output capped: {n} bytes dropped)").format(n=record["output_truncated_bytes"])
        out += [f"### {md(_('your code printed'))}", "", fenced(shown), ""]
    return out


def feedback_text(student: str, records, course, lang: str, *, notes=None) -> str:
    """One student's feedback (Markdown) in `lang`: their records (one per exercise) and the intake's notes."""
    from tutor.classroom.submissions import note_text

    with language(lang):
        records = latest(records)
        order = _ordered_exercises(records, course)
        records = sorted(records, key=lambda r: order.index(str(r.get("exercise"))))
        exercises = _course_exercises(course, [str(r.get("exercise")) for r in records])
        total = sum(_num(r.get("score")) for r in records)
        maximum = sum(_maxima(exercises, records).values())
        title = _course_title(course, lang)
        out = [f"# {md(_('Feedback for {student}').format(student=student))}", ""]
        if title:
            out += [md(title), ""]
        out += [md(_("Total: {score}/{maximum} points").format(score=points(total), maximum=points(maximum))), ""]
        said = [note_text(n) for n in notes or ()]
        if said:
            out += [f"**{md(_('About your submission'))}**", ""] + [f"- {md(s)}" for s in said] + [""]
        for record, ex in zip(records, exercises):
            out += _exercise_feedback(record, ex, lang)
        return "\n".join(out).rstrip() + "\n"


def write_feedback(folder: Path, records, course, lang: str, *, notes=None, students=None) -> dict[str, Path]:
    """feedback/<student>.md for every student (`students`, default: those in the records): what that student
    reads, in `lang`. `notes`: the intake's notes (tutor.classroom.submissions.Note), each shown to its student.
    Returns {student: the file written}."""
    folder = Path(folder)
    records = latest(records)
    everyone = _students(records, students)
    names = feedback_names(everyone)
    mine: dict[str, list[dict]] = {s: [] for s in everyone}
    for r in records:
        mine.setdefault(str(r.get("student")), []).append(r)
    intake = _notes_by_student(notes)
    written = {}
    for student in everyone:
        path = folder / names[student]
        atomic_write(path, feedback_text(student, mine.get(student, []), course, lang,
                                         notes=intake.get(student)))
        written[student] = path
    return written


# -- summary.md -----------------------------------------------------------------------------------------------------


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def known_mistakes(failure) -> list[tuple[str, dict]]:
    """(mistake id, the failure part that names it) for every known mistake a failure names."""
    out = []
    for part in walk(failure if isinstance(failure, dict) else None):
        mistake = (part.get("params") or {}).get("mistake") if isinstance(part, dict) else None
        if mistake:
            out.append((str(mistake), part))
    return out


def summary_stats(records, course=None, students=None) -> dict:
    """The numbers of summary.md, as data:
    {"students": [...], "totals": {student: total}, "maximum": float,
     "exercises": [{"id", "maximum", "records", "submitted", "mean", "mean_submitted", "full_marks", "failed",
                    "tests": [{"name", "kind", "points", "mean", "pass_rate", "n"}]}],
     "mistakes": [{"mistake", "exercise", "students", "tests", "example"}]   (most students first),
     "slowest": [record, ...] (10 at most), "failed": [record, ...]}.
    An exercise's mean counts a missing file as 0; its tests' means and pass rates are over the submitted files
    (a file whose grading stopped before a test counts as not passing it)."""
    records = latest(records)
    everyone = _students(records, students)
    ids = _ordered_exercises(records, course)
    exercises = _course_exercises(course, ids)
    maxima = _maxima(exercises, records)
    per_ex = []
    for eid in ids:
        mine = [r for r in records if str(r.get("exercise")) == eid]
        submitted = [r for r in mine if r.get("status") != MISSING]
        tests: dict[str, dict] = {}
        for r in submitted:
            for t in r.get("tests") or ():
                if isinstance(t, dict):
                    entry = tests.setdefault(str(t.get("name")), {"name": str(t.get("name")), "kind": t.get("kind"),
                                                                  "points": 0.0, "earned": [], "passed": 0})
                    entry["points"] = max(entry["points"], _num(t.get("points")))
        for r in submitted:
            by_name = {str(t.get("name")): t for t in r.get("tests") or () if isinstance(t, dict)}
            for name, entry in tests.items():
                t = by_name.get(name)
                entry["earned"].append(_num(t.get("earned")) if t else 0.0)
                entry["passed"] += bool(t and t.get("passed"))
        n = len(submitted)
        per_ex.append({
            "id": eid, "maximum": maxima[eid], "records": len(mine), "submitted": n,
            "mean": _mean(_num(r.get("score")) for r in mine),
            "mean_submitted": _mean(_num(r.get("score")) for r in submitted),
            "full_marks": sum(1 for r in submitted if r.get("status") == GRADED and (
                r.get("full_marks") or (maxima[eid] > 0 and _num(r.get("score")) >= maxima[eid]))),
            "failed": sum(1 for r in submitted if is_failed(r)),
            "grader_versions": sorted({str(r.get("grader_version")) for r in mine if r.get("grader_version")}),
            "tests": [{"name": e["name"], "kind": e["kind"], "points": e["points"], "n": n,
                       "mean": _mean(e["earned"]), "pass_rate": e["passed"] / n if n else 0.0}
                      for e in tests.values()],
        })
    mistakes: dict[str, dict] = {}
    for r in records:
        for t in r.get("tests") or ():
            if not isinstance(t, dict) or t.get("passed"):
                continue
            for mistake, part in known_mistakes(t.get("failure")):
                entry = mistakes.setdefault(mistake, {"mistake": mistake, "exercise": str(r.get("exercise")),
                                                      "students": set(), "tests": [], "example": part})
                entry["students"].add(str(r.get("student")))
                if str(t.get("name")) not in entry["tests"]:
                    entry["tests"].append(str(t.get("name")))
    ranked = sorted(mistakes.values(), key=lambda m: (-len(m["students"]), m["mistake"]))
    for m in ranked:
        m["students"] = sorted(m["students"])
    totals = {s: 0.0 for s in everyone}
    for r in records:
        if str(r.get("student")) in totals:
            totals[str(r.get("student"))] += _num(r.get("score"))
    submitted = [r for r in records if r.get("status") != MISSING]
    return {
        "students": everyone, "totals": totals, "maximum": sum(maxima.values()), "exercises": per_ex,
        "mistakes": ranked,
        "slowest": sorted(submitted, key=lambda r: -_num(r.get("duration")))[:10],
        "failed": [r for r in records if is_failed(r)],
    }


def _axis_number(x: float) -> str:
    return f"{x:.3g}" if x != int(x) else str(int(x))


def score_histogram_svg(totals, maximum, *, bins: int = 10, title: str | None = None) -> str:
    """A bar chart of the students' totals from 0 to `maximum` in `bins` equal bins (a total equal to the maximum
    falls in the last one), as a small standalone SVG document."""
    totals = [_num(t) for t in totals]
    maximum = max([_num(maximum), *totals, 0.0])
    bins = max(1, int(bins)) if maximum > 0 else 1
    counts = [0] * bins
    for t in totals:
        i = int(max(0.0, t) / maximum * bins) if maximum > 0 else 0
        counts[min(bins - 1, i)] += 1
    width, height = 640, 320
    left, right, top, bottom = 50, 20, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    tallest = max(counts) or 1
    bar_w = plot_w / bins
    title = title if title is not None else "score distribution"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_xml(title, {chr(34): "&quot;"})}">',
             f"<title>{_xml(title)}</title>",
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2:.1f}" y="24" text-anchor="middle" font-family="sans-serif" font-size="16">'
             f"{_xml(title)}</text>"]
    for i, count in enumerate(counts):
        h = count / tallest * plot_h
        x = left + i * bar_w
        y = top + plot_h - h
        parts.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" '
                     f'fill="#4c78a8"><title>{count}</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                         f'font-family="sans-serif" font-size="12">{count}</text>')
    for i in range(bins + 1):
        x = left + i * bar_w
        value = maximum * i / bins if maximum > 0 else 0.0
        parts.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="black"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" font-family="sans-serif" '
                     f'font-size="11">{_xml(_axis_number(value))}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>')
    parts.append(f'<text x="{left - 8}" y="{top + 4}" text-anchor="end" font-family="sans-serif" '
                 f'font-size="11">{tallest}</text>')
    parts.append(f'<text x="{left - 8}" y="{top + plot_h + 4}" text-anchor="end" font-family="sans-serif" '
                 f'font-size="11">0</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def summary_text(records, course, lang: str, *, notes=None, students=None, histogram: str = HISTOGRAM) -> str:
    """summary.md in `lang`."""
    from tutor.classroom.submissions import note_text

    with language(lang):
        stats = summary_stats(records, course, students)
        known = {ex.id: ex for ex in course.exercises} if course is not None else {}
        title = _course_title(course, lang)
        totals = list(stats["totals"].values())
        out = [f"# {md(_('Class summary: {title}').format(title=title) if title else _('Class summary'))}", ""]
        out += [md(_("Students: {n}. Exercises: {m}. Maximum: {maximum} points.").format(
            n=len(stats["students"]), m=len(stats["exercises"]), maximum=points(stats["maximum"]))), ""]
        if totals:
            ordered = sorted(totals)
            mid = len(ordered) // 2
            median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
            out += [md(_("Total: mean {mean}, median {median}, lowest {low}, highest {high}.").format(
                mean=points(_mean(totals)), median=points(median), low=points(ordered[0]),
                high=points(ordered[-1]))), ""]
        out += [f"![{md(_('score distribution'))}]({histogram})", ""]
        out += [f"## {md(_('Exercises'))}", "",
                f"| {md(_('exercise'))} | {md(_('maximum'))} | {md(_('mean'))} | {md(_('mean of those submitted'))} "
                f"| {md(_('submitted'))} | {md(_('students with full marks'))} | {md(_('not graded to the end'))} |",
                "|:--|--:|--:|--:|--:|--:|--:|"]
        for e in stats["exercises"]:
            out.append(f"| {md(e['id'])} | {points(e['maximum'])} | {points(e['mean'])} | "
                       f"{points(e['mean_submitted'])} | {e['submitted']}/{e['records']} | {e['full_marks']} | "
                       f"{e['failed']} |")
        out.append("")
        for e in stats["exercises"]:
            out += [f"### {md(_exercise_heading(known.get(e['id']), e['id'], lang))}", ""]
            if e["grader_versions"]:
                out += [md(_("grader version: {version}").format(version=", ".join(e["grader_versions"]))), ""]
            if not e["tests"]:
                out += [md(_("No test results.")), ""]
                continue
            out += [f"| {md(_('test'))} | {md(_('points'))} | {md(_('mean'))} | {md(_('pass rate'))} |",
                    "|:--|--:|--:|--:|"]
            for t in e["tests"]:
                name = md(test_name(t["name"], lang))
                if t["kind"] == "smoke":
                    name += f" \\[{md(_('smoke-check'))}\\]"
                out.append(f"| {name} | {points(t['points'])} | {points(t['mean'])} | {_pct(t['pass_rate'])} |")
            out.append("")
        out += [f"## {md(_('Most common mistakes'))}", ""]
        if stats["mistakes"]:
            out += [f"| {md(_('mistake'))} | {md(_('exercise'))} | {md(_('students'))} | {md(_('tests'))} | "
                    f"{md(_('what it says'))} |", "|:--|:--|--:|:--|:--|"]
            for m in stats["mistakes"][:15]:
                example = (render(m["example"], lang).strip().splitlines() or [""])[0]
                example = example if len(example) <= 160 else example[:157] + "..."
                out.append(f"| {md(m['mistake'])} | {md(m['exercise'])} | {len(m['students'])} | "
                           f"{md(_('; ').join(test_name(n, lang) for n in m['tests']))} | {md(example)} |")
        else:
            out.append(md(_("No failing test named a known mistake.")))
        out.append("")
        out += [f"## {md(_('Slowest submissions'))}", ""]
        if stats["slowest"]:
            out += [f"| {md(_('student'))} | {md(_('exercise'))} | {md(_('seconds'))} | {md(_('status'))} |",
                    "|:--|:--|--:|:--|"]
            for r in stats["slowest"]:
                out.append(f"| {md(r.get('student'))} | {md(r.get('exercise'))} | {_num(r.get('duration')):.1f} | "
                           f"{md(status_word(r.get('status')))} |")
        else:
            out.append(md(_("No submission was graded.")))
        out.append("")
        out += [f"## {md(_('Not graded to the end'))}", ""]
        if stats["failed"]:
            out += [f"| {md(_('student'))} | {md(_('exercise'))} | {md(_('status'))} | {md(_('why'))} |",
                    "|:--|:--|:--|:--|"]
            for r in stats["failed"]:
                why = (problem_text(r, lang).strip().splitlines() or [""])[0]
                out.append(f"| {md(r.get('student'))} | {md(r.get('exercise'))} | {md(status_word(r.get('status')))} "
                           f"| {md(why)} |")
        else:
            out.append(md(_("Every submitted file was graded to the end.")))
        out.append("")
        if notes:
            out += [f"## {md(_('Notes on the submissions'))}", ""]
            for note in notes:
                who = note[0] if note[0] is not None else _("(the class)")
                out.append(f"- {md(who)}: {md(note_text(note))}")
            out.append("")
        return "\n".join(out).rstrip() + "\n"


def write_summary(path: Path, records, course, lang: str, *, notes=None, students=None) -> Path:
    """summary.md at `path` in `lang`, and score-histogram.svg beside it (linked from it); returns the SVG's
    path. `notes`: the intake's notes, listed at the end."""
    path = Path(path)
    svg_path = path.with_name(HISTOGRAM)
    with language(lang):
        stats = summary_stats(records, course, students)
        svg = score_histogram_svg(list(stats["totals"].values()), stats["maximum"], title=_("score distribution"))
    atomic_write(svg_path, svg)
    atomic_write(path, summary_text(records, course, lang, notes=notes, students=students, histogram=svg_path.name))
    return svg_path
