"""Grading a class: one job per (student, exercise), always in strict mode, run by a local pool of warm graders
or on a Dask cluster. Each job's result is a record (GradeResult.to_json() with the student, the submitted file's
path and hash, and the grader's version), the same whichever executor ran it.

The jobs never share anything but the grader: each file is graded in its own verifier and sandbox, the
submissions folder and the output folder are hidden from the sandbox, and a job that crashes, times out or blows
its memory limit gives that job's record and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tutor.classroom.submissions import file_hash

GRADER_PARTS = ("exercise.toml", "grader.py", "solution.py")
VOLATILE = ("duration", "output", "smoke_steps")  # what may differ between two runs of the same job
CANCELLED = "cancelled"


class ClusterError(Exception):
    """The Dask scheduler cannot be reached, or its workers cannot grade (a one-line message says what to do)."""


def grader_version(exercise) -> str:
    """What a verdict depends on besides the file: this tutor's version and the exercise's grader, reference and
    metadata. Two gradings with the same file hash and grader version give the same verdict (--resume skips)."""
    from tutor import __version__

    digest = hashlib.sha256(__version__.encode())
    for part in GRADER_PARTS:
        path = exercise.folder / part
        digest.update(part.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Job:
    student: str
    exercise: str
    file: str | None          # the file to grade (absolute), None when the student did not submit one
    shown: str                # the file as records name it: <student>/<exercise>.py
    file_hash: str
    grader_version: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.student, self.exercise, self.file_hash, self.grader_version)


def key_of(record: dict) -> tuple[str, str, str, str]:
    return (str(record.get("student")), str(record.get("exercise")), str(record.get("file_hash", "")),
            str(record.get("grader_version", "")))


def plan_jobs(students: dict[str, dict[str, Path]], exercises: list, *, versions: dict[str, str] | None = None
              ) -> list[Job]:
    """One job per student and exercise, in a stable order (students sorted as given, exercises in course order)."""
    versions = versions or {ex.id: grader_version(ex) for ex in exercises}
    jobs = []
    for student, files in students.items():
        for ex in exercises:
            path = files.get(ex.id)
            if path is not None and Path(path).is_file():
                jobs.append(Job(student, ex.id, str(Path(path).resolve()), f"{student}/{ex.filename}",
                                file_hash(path), versions[ex.id]))
            else:
                jobs.append(Job(student, ex.id, None, f"{student}/{ex.filename}", "", versions[ex.id]))
    return jobs


def record_of(job: Job, result: dict) -> dict:
    """A job's record: the result as JSON, named by the student and the submitted file (not where it was graded)."""
    record = dict(result)
    record.update(student=job.student, exercise=job.exercise, file=job.shown, file_hash=job.file_hash,
                  grader_version=job.grader_version)
    return record


def missing_record(job: Job, exercise) -> dict:
    return {"student": job.student, "exercise": job.exercise, "file": job.shown, "file_hash": "",
            "grader_version": job.grader_version, "status": "missing", "tests": [], "score": 0.0,
            "max_score": float(exercise.points), "full_marks": False, "duration": 0.0, "device": "",
            "problem": "", "problem_failure": {"code": "class_no_file", "params": {"file": job.shown}}}


def comparable(record: dict) -> dict:
    """A record without what may change between two gradings of the same file (times, printed output)."""
    out = {k: v for k, v in record.items() if k not in VOLATILE}
    out["tests"] = [{k: v for k, v in t.items() if k != "duration"} for t in record.get("tests", [])]
    return out


# -- executors ----------------------------------------------------------------------------------------------------


class LocalExecutor:
    """`jobs` warm graders on this machine (a fork per grading, not an import of torch)."""

    name = "local"

    def __init__(self, *, jobs: int = 2, device: str = "cpu", time_limit: float | None = None,
                 hide: Iterable[str] = ()):
        self.jobs = max(1, int(jobs))
        self.device = device
        self.time_limit = time_limit
        self.hide = tuple(str(h) for h in hide)

    def run(self, jobs: list[Job], course, on_record: Callable[[dict], None], cancel: threading.Event) -> None:
        from tutor.engine.runner import default_threads
        from tutor.engine.warm import GraderPool

        threads = default_threads(self.jobs)
        with GraderPool(self.jobs) as pool, ThreadPoolExecutor(max_workers=self.jobs) as workers:
            def one(job: Job):
                if cancel.is_set():
                    return None
                ex = course.exercise(job.exercise)
                result = pool.grade(ex, Path(job.file), device=self.device, time_limit=self.time_limit,
                                    strict=True, threads=threads, cancel=cancel, hide=self.hide)
                return None if result.status == CANCELLED or cancel.is_set() else result.to_json()

            pending = {workers.submit(one, job): job for job in jobs}
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    result = future.result()
                    if result is not None:
                        on_record(record_of(job, result))


class DaskExecutor:
    """One Dask task per (student, exercise): the file's bytes go to a worker, which grades them in strict mode
    with a warm grader of its own and sends back the result as JSON. `scheduler` None starts a LocalCluster of
    `jobs` single-threaded worker processes. With --device cuda each task asks for one `GPU` resource (start the
    workers with `--resources GPU=1`), so a GPU grades one file at a time."""

    name = "dask"

    def __init__(self, *, scheduler: str | None = None, jobs: int = 2, device: str = "cpu",
                 time_limit: float | None = None, connect_timeout: float = 10.0):
        self.scheduler = scheduler
        self.jobs = max(1, int(jobs))
        self.device = device
        self.time_limit = time_limit
        self.connect_timeout = connect_timeout

    @property
    def gpu(self) -> bool:
        """Each task asks for one `GPU` resource (--device cuda)."""
        return self.device.startswith("cuda")

    def check_reachable(self, versions: dict[str, str] | None = None) -> None:
        """Dask is installed, the scheduler answers and its workers can grade (check_workers), before anything is
        written."""
        if self.scheduler is None:
            self.client_classes()
            return
        client, _cluster = self.client()
        try:
            self.check_workers(client, versions)
        finally:
            client.close()

    def check_workers(self, client, versions: dict[str, str] | None = None) -> None:
        """The scheduler has a worker, with --device cuda one that offers a GPU (else the tasks would wait
        forever), and every worker grades `versions` ({exercise: grader version}) with the same grader as here."""
        where = self.scheduler or "the local cluster"
        if not client.scheduler_info().get("workers"):
            try:
                client.wait_for_workers(1, timeout=self.connect_timeout)
            except (TimeoutError, OSError):
                raise ClusterError(f"the Dask scheduler at {where} has no workers: start them with `dask worker "
                                   f"{where}` (with d2l-tutor installed).") from None
        if self.gpu and not any((w.get("resources") or {}).get("GPU", 0) >= 1
                                for w in client.scheduler_info().get("workers", {}).values()):
            raise ClusterError("--device cuda asks each task for a GPU, but no worker of this scheduler offers one: "
                               "start the GPU workers with `dask worker ADDRESS --resources GPU=1`.")
        if versions:
            remote = client.run(worker_versions, sorted(versions))  # {worker address: {exercise: version}}
            for address, theirs in remote.items():
                for ex_id, version in theirs.items():
                    if version != versions[ex_id]:
                        raise ClusterError(f"the worker {address} has another version of exercise {ex_id} "
                                           f"(grader {version}, here {versions[ex_id]}): install the same d2l-tutor "
                                           "on the workers.")

    @staticmethod
    def client_classes():
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ClusterError("Dask is not installed: pip install 'd2l-tutor[cluster]' (or dask[distributed]) "
                               "here and on the workers.") from None
        return Client, LocalCluster

    def client(self):
        Client, LocalCluster = self.client_classes()
        if self.scheduler is None:
            cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=50,
                                   resources={"GPU": 1} if self.gpu else None)
            return Client(cluster), cluster
        try:
            return Client(self.scheduler, timeout=f"{self.connect_timeout}s"), None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc.__class__.__name__}): "
                               "check the address and that `dask scheduler` is running there.") from None

    def run(self, jobs: list[Job], course, on_record: Callable[[dict], None], cancel: threading.Event) -> None:
        from distributed import as_completed

        client, cluster = self.client()
        try:
            self.check_workers(client, {job.exercise: job.grader_version for job in jobs})
            resources = {"GPU": 1} if self.gpu else None
            futures = {}
            for job in jobs:
                source = Path(job.file).read_bytes()
                future = client.submit(grade_on_worker, job.exercise, source, f"{job.exercise}.py", self.device,
                                       self.time_limit, key=f"d2l-grade-{job.student}-{job.exercise}-"
                                                            f"{job.file_hash[:12]}", resources=resources, pure=False)
                futures[future] = job
            for future in as_completed(list(futures)):
                if cancel.is_set():
                    client.cancel(list(futures))
                    return
                job = futures[future]
                on_record(record_of(job, future.result()))
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


_worker_grader = None
_worker_lock = threading.Lock()


def worker_versions(exercise_ids: list[str]) -> dict[str, str]:
    """On a worker: the grader version of each exercise in the course installed there."""
    from tutor.manifest import load_course

    course = load_course()
    return {ex_id: grader_version(course.exercise(ex_id)) for ex_id in exercise_ids}


def grade_on_worker(exercise_id: str, source: bytes, filename: str, device: str, time_limit: float | None) -> dict:
    """On a Dask worker: grade `source` as the learner's `filename` in strict mode; the result as JSON. The worker
    keeps one warm grader for all its tasks (its zygote imports torch once)."""
    global _worker_grader
    from tutor.engine.warm import WarmGrader
    from tutor.manifest import load_course

    exercise = load_course().exercise(exercise_id)
    with _worker_lock:
        if _worker_grader is None:
            _worker_grader = WarmGrader()
            _worker_grader.start()
        with tempfile.TemporaryDirectory(prefix="d2l-class-") as folder:
            path = Path(folder) / filename
            path.write_bytes(source)
            os.chmod(path, 0o644)
            result = _worker_grader.grade(exercise, path, device=device, time_limit=time_limit, strict=True)
    return result.to_json()
