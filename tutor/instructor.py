"""The instructor check: every reference solution scores full marks twice with identical verdicts,
every untouched stub scores zero with a clean verdict, and the manifest agrees with the graders.

It covers the student build too (tutor.export): the course is exported to a temporary folder, which must hold no
reference solution and no hidden test and follow the layout; there, on the visible tests only, each reference
(from the full course: the build has none) gets full marks and each stub zero, with the verdicts, points and
withheld tests the full build's gradings say it should have."""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tutor.engine.results import DEVICE_UNAVAILABLE, GRADED, GradeResult
from tutor.manifest import Exercise
from tutor.messages import first_line


@dataclass
class Finding:
    exercise: str
    check: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    device: str = ""
    device_unavailable: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    def to_json(self) -> dict:
        return {"ok": self.ok, "device": self.device,
                "passed": sum(f.ok for f in self.findings), "failed": sum(not f.ok for f in self.findings),
                "findings": [vars(f) for f in self.findings]}

    def render(self, console) -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"Instructor check ({self.device or 'no device'})", title_justify="left", header_style="bold")
        for col in ("", "exercise", "check", "time", "detail"):
            table.add_column(col)
        for f in self.findings:
            # names and details are data (a message can hold `[bos_id]`): escaped, never read as rich markup
            table.add_row("[green]✓[/]" if f.ok else "[red]✗[/]", escape(f.exercise), escape(f.check),
                          f"{f.seconds:.1f} s", escape(f.detail) if not f.ok else "")
        console.print(table)
        passed = sum(f.ok for f in self.findings)
        failed = len(self.findings) - passed
        # A plain closing line that CI and people can read at a glance.
        console.print(f"check: {passed} passed, {failed} failed", markup=False, highlight=False)


def _first_difference(a: GradeResult, b: GradeResult) -> str:
    for x, y in zip(a.verdict(), b.verdict()):
        if x != y:
            return f"{x!r} vs {y!r}"
    return "different number of tests"


@dataclass
class Gradings:
    """The full build's gradings of one exercise, which the student-build pass compares with its own."""
    reference: GradeResult
    stub: GradeResult


def check_exercise(ex: Exercise, device: str, grade: Callable, **options) -> tuple[list[Finding], str]:
    findings, used, _ = check_exercise_gradings(ex, device, grade, **options)
    return findings, used


def check_exercise_gradings(ex: Exercise, device: str, grade: Callable,
                            **options) -> tuple[list[Finding], str, Gradings | None]:
    findings = []
    first = grade(ex, ex.solution_path, device=device, **options)
    if first.status == DEVICE_UNAVAILABLE:
        return [Finding(ex.id, "device", False, first.problem)], "", None
    second = grade(ex, ex.solution_path, device=device, **options)
    stub = grade(ex, ex.stub_path, device=device, **options)

    failing = [t.name for t in first.tests if not t.passed]
    findings.append(Finding(
        ex.id, "reference solution gets full marks", first.full_marks,
        f"{first.score:g}/{first.max_score:g} ({first.status}); failing: {', '.join(failing)}: "
        + "; ".join(first_line(t.failure) for t in first.tests if not t.passed and t.failure)[:600]
        + (f" {first.problem}" if first.problem else ""),
        first.duration))
    findings.append(Finding(ex.id, "reference solution: same verdict on a second run",
                            first.verdict() == second.verdict(), _first_difference(first, second), second.duration))
    findings.append(Finding(
        ex.id, "manifest points equal the grader's test points", first.max_score == ex.points,
        f"course.toml says {ex.points}, the grader's tests add up to {first.max_score:g}"))
    internal = {"internal_error", "internal_run", "invalid_report"}
    clean = stub.status == GRADED and all(t.failure and t.code not in internal for t in stub.tests)
    findings.append(Finding(
        ex.id, "untouched stub scores zero with a clean verdict", stub.score == 0 and clean,
        f"{stub.score:g}/{stub.max_score:g} ({stub.status}) {stub.problem}", stub.duration))
    smoke = [t for t in first.tests if t.kind == "smoke"]
    findings.append(Finding(ex.id, "has hidden tests and a smoke-check", bool(smoke) and len(first.tests) > len(smoke),
                            f"{len(first.tests) - len(smoke)} tests, {len(smoke)} smoke-checks"))
    return findings, first.device, Gradings(first, stub)


# -- the student build ---------------------------------------------------------------------------------------------


# The student build's gradings are short (no smoke-check): one zygote serves them, which spares the CPU time of
# importing torch in another while the full build's gradings run.
STUDENT_ZYGOTES = 1


@contextmanager
def _course_env(root: Path):
    """D2L_TUTOR_COURSE=root for what starts meanwhile (a warm zygote takes its environment when it starts)."""
    from tutor.manifest import COURSE_ENV

    before = os.environ.get(COURSE_ENV)
    os.environ[COURSE_ENV] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(COURSE_ENV, None)
        else:
            os.environ[COURSE_ENV] = before


def _lines(result: GradeResult) -> list[tuple]:
    """What each test said, as data (its reason code; the file's name in a message differs between the copies)."""
    return [(t.name, t.points, t.passed, t.code) for t in result.tests]


class StudentPass:
    """check's pass over the student build: export it to a temporary folder (its findings: it holds no solution
    text and follows the layout), then grade each exercise's reference and stub there, on the visible tests.

    The files graded are copies, `<id>.py` in a folder of references and one of stubs: in a student build a given
    helper comes from the learner's own file beside the graded one (tutor.given), so multi-head attention's
    reference gets sequence_mask's reference and its stub sequence_mask's stub."""

    def __init__(self, course, *, jobs: int, grade: Callable | None = None):
        from tutor.coursecheck import problems
        from tutor.export import ExportError, export_student, solution_leaks
        from tutor.manifest import load_course

        self._tmp = tempfile.TemporaryDirectory(prefix="d2l-check-student-")
        root = Path(self._tmp.name)
        self.findings: list[Finding] = []
        self.course = None
        self._graders = None
        self._grade = grade
        try:
            export_student(root / "course", course=course, verify=False)
        except ExportError as exc:
            self.findings.append(Finding("student build", "the course exports", False, str(exc)))
            return
        leaks = solution_leaks(root / "course", course)
        self.findings.append(Finding("student build", "holds no reference solution and no hidden test", not leaks,
                                     "; ".join(leaks)[:600]))
        self.course = load_course(root / "course")
        layout = problems(self.course)
        self.findings.append(Finding("student build", "folders, names and translations follow the layout", not layout,
                                     "; ".join(f"{where}: {what}" for where, what in layout)[:600]))
        self.folders = {"reference": root / "references", "stub": root / "stubs"}
        for folder in self.folders.values():
            folder.mkdir()
        for ex in course.exercises:
            shutil.copy2(ex.solution_path, self.folders["reference"] / ex.filename)
            shutil.copy2(ex.stub_path, self.folders["stub"] / ex.filename)
        if grade is None:
            import queue

            from tutor.engine.warm import WarmGrader

            # zygotes whose verifiers read the student build: D2L_TUTOR_COURSE while they start, and never a cold
            # fallback (that would read the course of this process)
            self._graders = queue.Queue()
            with _course_env(root / "course"):
                for _ in range(max(1, min(jobs, STUDENT_ZYGOTES))):
                    g = WarmGrader(fallback_to_cold=False)
                    g.start()
                    self._graders.put(g)

    def grade(self, ex: Exercise, kind: str, **kwargs) -> GradeResult:
        student_ex = self.course.exercise(ex.id)
        path = self.folders[kind] / ex.filename
        if self._grade is not None:
            return self._grade(student_ex, path, **kwargs)
        g = self._graders.get()
        try:
            return g.grade(student_ex, path, **kwargs)
        finally:
            self._graders.put(g)

    def check(self, ex: Exercise, full: Gradings, device: str, **options) -> list[Finding]:
        """The findings of `ex` in the student build, next to the full build's gradings `full`."""
        if self.course is None:
            return []
        where = ex.id
        try:
            reference = self.grade(ex, "reference", device=device, **options)
            stub = self.grade(ex, "stub", device=device, **options)
        except Exception as exc:  # noqa: BLE001 - a grading process that cannot start is a finding, not a crash
            return [Finding(where, "student build: graded", False, f"{type(exc).__name__}: {exc}")]
        findings = []
        failing = [t.name for t in reference.tests if not t.passed]
        findings.append(Finding(
            where, "student build: the reference gets full marks on the visible tests", reference.full_marks,
            f"{reference.score:g}/{reference.max_score:g} ({reference.status}); failing: {', '.join(failing)}: "
            + "; ".join(first_line(t.failure) for t in reference.tests if not t.passed and t.failure)[:600]
            + (f" {reference.problem}" if reference.problem else ""), reference.duration))
        internal = {"internal_error", "internal_run", "invalid_report"}
        clean = stub.status == GRADED and all(t.failure and t.code not in internal for t in stub.tests)
        findings.append(Finding(
            where, "student build: the untouched stub scores zero with a clean verdict", stub.score == 0 and clean,
            f"{stub.score:g}/{stub.max_score:g} ({stub.status}) {stub.problem}", stub.duration))
        visible = [t for t in full.reference.tests if not t.hidden]
        hidden = [t for t in full.reference.tests if t.hidden]
        student_ex = self.course.exercise(ex.id)
        expected = ([t.name for t in visible], student_ex.points, len(hidden), sum(t.points for t in hidden))
        got = ([t.name for t in reference.tests], reference.max_score, reference.withheld_tests,
               reference.withheld_points)
        findings.append(Finding(
            where, "student build: the visible tests and the withheld ones, as in the full build", got == expected,
            f"expected (tests, points, withheld tests, withheld points) {expected}, got {got}"))
        # the same tests on the same file give the same verdicts in both builds (the stub's failures say the most)
        full_stub = [line for line, t in zip(_lines(full.stub), full.stub.tests) if not t.hidden]
        findings.append(Finding(
            where, "student build: the stub's verdicts on the visible tests are the full build's",
            full_stub == _lines(stub), next((f"{a!r} vs {b!r}" for a, b in zip(full_stub, _lines(stub)) if a != b),
                                            "different tests")[:600]))
        return findings

    def close(self) -> None:
        while self._graders is not None and not self._graders.empty():
            self._graders.get().close()
        self._tmp.cleanup()


def layout_findings(course) -> list[Finding]:
    """The course's folders, names and translations (tutor.coursecheck), one finding per problem (or one pass)."""
    from tutor.coursecheck import problems, ui_problems

    found = problems(course) + ui_problems()
    if not found:
        return [Finding("course", "folders, names and translations follow the layout", True)]
    return [Finding("course", f"layout: {where}", False, what) for where, what in found]


def run_check(exercises: list[Exercise], *, device: str = "auto", jobs: int = 2,
              on_line: Callable[[str], None] | None = None, grade: Callable | None = None,
              course=None, student: bool | None = None, student_grade: Callable | None = None) -> Report:
    """Check `exercises` (and, with `course`, its layout). `student` (default: with `course`, when the gradings are
    real ones) adds the student-build pass; `grade`/`student_grade` replace the gradings (tests)."""
    options = {}
    graders = None
    if student is None:
        student = course is not None and (grade is None or student_grade is not None)
    if grade is None:
        # The course's own files are graded here, so the warm path is safe and fast: one zygote per parallel job
        # forks a verifier (and its sandbox) per run instead of importing torch twice per run.
        import queue

        from tutor.engine.runner import default_threads
        from tutor.engine.warm import WarmGrader

        options["threads"] = default_threads(jobs)  # the parallel runs share the cores
        graders = queue.Queue()
        for _ in range(max(1, jobs)):
            g = WarmGrader()
            g.start()
            graders.put(g)

        def grade(ex_, path, **kwargs):
            g = graders.get()
            try:
                return g.grade(ex_, path, **kwargs)
            finally:
                graders.put(g)
    report = Report()
    if course is not None:
        report.findings.extend(layout_findings(course))
        if on_line:
            bad = [f for f in report.findings if not f.ok]
            on_line(f"course: {'ok' if not bad else 'PROBLEM: ' + '; '.join(f.check for f in bad)}")
    build = None

    def one(ex: Exercise) -> list[Finding]:
        found, used, gradings = check_exercise_gradings(ex, device, grade, **options)
        if build is not None and gradings is not None:
            found += build.check(ex, gradings, device, **options)
        report.device = report.device or used
        if on_line:
            bad = [f for f in found if not f.ok]
            on_line(f"{ex.id}: {'ok' if not bad else 'PROBLEM: ' + '; '.join(f.check for f in bad)}")
        return found

    try:
        if student and course is not None:
            build = StudentPass(course, jobs=jobs, grade=student_grade)
            report.findings.extend(build.findings)
            if on_line:
                bad = [f for f in build.findings if not f.ok]
                on_line(f"student build: {'ok' if not bad else 'PROBLEM: ' + '; '.join(f.check for f in bad)}")
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for found in pool.map(one, exercises):
                report.findings.extend(found)
    finally:
        while graders is not None and not graders.empty():
            graders.get().close()
        if build is not None:
            build.close()
    report.device_unavailable = any(f.check == "device" for f in report.findings)
    return report
