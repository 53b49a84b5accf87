"""`d2l-tutor grade-class`: read the class, grade what is not graded yet, write the gradebook.

Every finished grading is appended to DIR/results.jsonl at once (fsync'd), so Ctrl-C loses at most the gradings
that were running, and `--resume` skips every (student, exercise) already graded with the same file hash and the
same grader version. The reports (grades.csv, feedback/, summary.md and its histogram) are written from
results.jsonl at the end, each atomically.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tutor.classroom import report as reports
from tutor.classroom.run import (ClusterError, DaskExecutor, Job, LocalExecutor, grader_version, key_of, missing_record,
                                 plan_jobs)
from tutor.classroom.submissions import ClassError, read_class
from tutor.i18n import _

RESULTS = "results.jsonl"
WORK = ".submissions"  # where a zip is unpacked, inside DIR (hidden from the sandbox like the rest of DIR)


@dataclass
class ClassRun:
    """What a grade-class run did (the --json summary)."""
    out: Path
    students: int = 0
    exercises: list[str] = field(default_factory=list)
    jobs: int = 0
    graded_now: int = 0
    resumed: int = 0
    missing: int = 0
    failed_to_grade: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    executor: str = "local"
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"out": str(self.out), "students": self.students, "exercises": self.exercises, "jobs": self.jobs,
                "graded_now": self.graded_now, "resumed": self.resumed, "missing": self.missing,
                "failed_to_grade": self.failed_to_grade, "seconds": round(self.seconds, 2),
                "rate_per_minute": round(60 * self.graded_now / self.seconds, 1) if self.seconds else None,
                "interrupted": self.interrupted, "executor": self.executor, "files": self.files}


def prepare_out(out: Path, source: Path, resume: bool) -> None:
    """DIR must not be (or be inside) the submissions, and holds no earlier results unless --resume."""
    out, source = out.resolve(), source.resolve()
    if out == source or (source.is_dir() and source in out.parents):
        raise ClassError(_("--out {out} is inside the submissions {source}: choose a folder outside them.").format(
            out=out, source=source))
    if (out / RESULTS).exists() and not resume:
        raise ClassError(_("{path} already holds results: add --resume to continue that run, or choose another "
                           "--out.").format(path=out))


def grade_class(source: Path, out: Path, course, *, exercises: list[str] | None = None, executor: str = "local",
                jobs: int = 2, scheduler: str | None = None, device: str = "cpu", time_limit: float | None = None,
                resume: bool = False, lang: str = "en", on_start: Callable[[int], None] | None = None,
                on_record: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> ClassRun:
    source, out = Path(source), Path(out)
    started = time.perf_counter()
    prepare_out(out, source, resume)
    created = not out.exists()
    klass = read_class(source, out / WORK, course, exercises=exercises, exclude=[out])
    selected = [course.exercise(ex_id) for ex_id in klass.exercises]
    if executor == "dask":
        runner = DaskExecutor(scheduler=scheduler, jobs=jobs, device=device, time_limit=time_limit)
        try:
            runner.check_reachable({ex.id: grader_version(ex) for ex in selected})
        except ClusterError:
            if created:  # nothing half-written: an unreachable scheduler leaves no DIR behind
                shutil.rmtree(out, ignore_errors=True)
            raise
    else:
        runner = LocalExecutor(jobs=jobs, device=device, time_limit=time_limit, hide=[str(out), str(source)])
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS
    planned = plan_jobs(klass.students, selected)
    have = {key_of(r) for r in reports.read_results_jsonl(results)} if resume else set()
    run = ClassRun(out=out, students=len(klass.students), exercises=list(klass.exercises), jobs=len(planned),
                   executor=runner.name)
    todo: list[Job] = []
    for job in planned:
        if job.key in have:
            run.resumed += 1
        elif job.file is None:
            reports.append_result(results, missing_record(job, course.exercise(job.exercise)))
            run.missing += 1
        else:
            todo.append(job)
    if on_start:
        on_start(len(todo))

    def finished(record: dict) -> None:
        reports.append_result(results, record)
        run.graded_now += 1
        if on_record:
            on_record(record)

    cancel = cancel or threading.Event()
    try:
        runner.run(todo, course, finished, cancel)
    except KeyboardInterrupt:
        cancel.set()
        run.interrupted = True
    run.interrupted = run.interrupted or cancel.is_set()
    run.seconds = time.perf_counter() - started
    if run.interrupted:
        return run
    current = {job.key for job in planned}
    records = [r for r in reports.latest(reports.read_results_jsonl(results)) if key_of(r) in current]
    run.failed_to_grade = sum(reports.is_failed(r) for r in records)
    students = list(klass.students)
    reports.write_grades_csv(out / "grades.csv", records, selected, students, notes=klass.notes, lang=lang)
    reports.write_feedback(out / "feedback", records, course, lang, notes=klass.notes, students=students)
    svg = reports.write_summary(out / "summary.md", records, course, lang, notes=klass.notes, students=students)
    run.files = {"grades": str(out / "grades.csv"), "results": str(results), "feedback": str(out / "feedback"),
                 "summary": str(out / "summary.md"), "histogram": str(svg)}
    return run
