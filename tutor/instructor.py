"""The instructor check: every reference solution scores full marks twice with identical verdicts,
every untouched stub scores zero with a clean verdict, and the manifest agrees with the graders."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


def check_exercise(ex: Exercise, device: str, grade: Callable, **options) -> tuple[list[Finding], str]:
    findings = []
    first = grade(ex, ex.solution_path, device=device, **options)
    if first.status == DEVICE_UNAVAILABLE:
        return [Finding(ex.id, "device", False, first.problem)], ""
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
    return findings, first.device


def layout_findings(course) -> list[Finding]:
    """The course's folders, names and translations (tutor.coursecheck), one finding per problem (or one pass)."""
    from tutor.coursecheck import problems, ui_problems

    found = problems(course) + ui_problems()
    if not found:
        return [Finding("course", "folders, names and translations follow the layout", True)]
    return [Finding("course", f"layout: {where}", False, what) for where, what in found]


def run_check(exercises: list[Exercise], *, device: str = "auto", jobs: int = 2,
              on_line: Callable[[str], None] | None = None, grade: Callable | None = None,
              course=None) -> Report:
    options = {}
    graders = None
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

    def one(ex: Exercise) -> list[Finding]:
        found, used = check_exercise(ex, device, grade, **options)
        report.device = report.device or used
        if on_line:
            bad = [f for f in found if not f.ok]
            on_line(f"{ex.id}: {'ok' if not bad else 'PROBLEM: ' + '; '.join(f.check for f in bad)}")
        return found

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for found in pool.map(one, exercises):
                report.findings.extend(found)
    finally:
        while graders is not None and not graders.empty():
            graders.get().close()
    report.device_unavailable = any(f.check == "device" for f in report.findings)
    return report
