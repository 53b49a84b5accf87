"""The parent side of a grading run. It never imports torch and trusts nothing it reads.

`grade()` starts `python -m tutor.engine.verifier` (which starts the sandbox that runs the learner's code),
reads the verifier's events from a private pipe and the learner's output from another, and enforces the
wall-clock limit, a memory cap (the resident memory of the verifier's whole subtree: the sandbox and everything
it started) and an output cap. Every event is validated (tutor.engine.protocol): a malformed, oversized or
out-of-order one ends the run with an "invalid report" verdict. A test counts as passed only when the verifier
reported it passed; a test that never finished fails with the reason. The result exists only once every process
of the run is gone.
"""

from __future__ import annotations

import hashlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from tutor.engine import containment
from tutor.engine.protocol import (
    Fatal,
    InvalidReport,
    LineReader,
    Load,
    Plan,
    RunFinished,
    RunStopped,
    Sequence,
    SmokeStep,
    TestFinished,
    TestStarted,
    parse,
)
from tutor.engine.results import (
    CANCELLED,
    CRASHED,
    DEVICE_UNAVAILABLE,
    ENGINE_ERROR,
    GRADED,
    INVALID_REPORT,
    MEMORY,
    TIMEOUT,
    GradeResult,
    TestResult,
    exit_failure,
)
from tutor.manifest import PACKAGE_DIR, Exercise
from tutor.messages import failure

__all__ = ["grade", "CANCELLED", "default_threads", "file_hash", "supervise", "finish_result"]

OUTPUT_HEAD = 48 * 1024
OUTPUT_TAIL = 16 * 1024
POLL_SECONDS = 0.05
_KNOWN: set[int] = set()       # processes this process started on purpose (verifiers, the warm zygote)
_REAPER = {"on": False}


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _Output:
    """Keeps the head and the tail of what the learner's code prints; counts the rest."""

    def __init__(self):
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = OUTPUT_HEAD - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        extra = len(self.tail) - OUTPUT_TAIL
        if extra > 0:
            self.dropped += extra
            del self.tail[:extra]

    def text(self) -> str:
        out = self.head.decode("utf-8", "replace")
        if self.dropped:
            out += f"\n... [{self.dropped} bytes of output dropped] ...\n"
        return out + self.tail.decode("utf-8", "replace")


def default_threads(parallel_runs: int = 1) -> int:
    return max(1, min(4, (os.cpu_count() or 1) // (2 * max(1, parallel_runs)) or 1))


def child_env() -> dict:
    env = dict(os.environ)
    src_root = str(PACKAGE_DIR.parent)
    env["PYTHONPATH"] = src_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1",
               PYTHONFAULTHANDLER="1", CUBLAS_WORKSPACE_CONFIG=":4096:8")
    return env


def protect_this_process() -> None:
    """The grading parent: non-dumpable (its pipes and memory are its own) and a subreaper (a daemon of a run
    whose verifier died is re-parented here, and swept)."""
    if not _REAPER["on"]:
        containment.harden()
        containment.become_subreaper()
        _REAPER["on"] = True


def remember(pid: int) -> None:
    _KNOWN.add(pid)


def forget(pid: int) -> None:
    _KNOWN.discard(pid)


def grade(
    exercise: Exercise,
    file: Path,
    *,
    device: str = "auto",
    time_limit: float | None = None,
    memory_mb: int | None = None,
    on_event: Callable[[object], None] | None = None,
    cancel: threading.Event | None = None,
    seed: int = 0,
    threads: int | None = None,
    strict: bool = False,
    hide: tuple[str, ...] = (),
) -> GradeResult:
    """Grade `file` against `exercise`'s hidden tests in a fresh verifier and sandbox.

    `threads` is torch's CPU thread count in each (default: half the cores, at most 4). Runs that share
    the machine should split the cores between them: oversubscribed CPU threads slow small models ten-fold.
    `strict` (for other people's files) hides the course and the caller's files from the learner's code;
    `hide` names more folders to hide from it in any mode (the workspace's .d2l-tutor, the folder of all
    submissions), where the machine allows it.
    """
    file = Path(file).resolve()
    time_limit = float(time_limit if time_limit is not None else exercise.time_limit)
    memory_mb = int(memory_mb if memory_mb is not None else exercise.memory_mb)
    digest = file_hash(file)
    protect_this_process()
    started = time.perf_counter()
    before = set(containment.children(os.getpid()))

    event_r, event_w = os.pipe()
    output_r, output_w = os.pipe()
    workdir = tempfile.TemporaryDirectory(prefix="d2l-grade-")
    cmd = [sys.executable, "-m", "tutor.engine.verifier", "--exercise", exercise.id, "--file", str(file),
           "--device", device, "--event-fd", str(event_w), "--output-fd", str(output_w), "--seed", str(seed),
           "--threads", str(threads or default_threads())]
    if strict:
        cmd.append("--strict")
    for folder in ((os.getcwd(),) if strict else ()) + tuple(hide):
        cmd += ["--hide", str(folder)]
    debug = bool(os.environ.get("D2L_TUTOR_DEBUG"))
    try:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=None if debug else subprocess.DEVNULL, pass_fds=(event_w, output_w),
                                    start_new_session=True, cwd=workdir.name, env=child_env())
        finally:
            os.close(event_w)
            os.close(output_w)
        remember(proc.pid)
        handle = PopenHandle(proc)
        try:
            events, stop_reason, output, detail = supervise(handle, event_r, output_r, started=started,
                                                            time_limit=time_limit, memory_mb=memory_mb,
                                                            on_event=on_event, cancel=cancel)
        finally:
            forget(proc.pid)
    finally:
        os.close(event_r)
        os.close(output_r)
        workdir.cleanup()
    containment.sweep_strays(_KNOWN | before)
    return finish_result(exercise, file, events, stop_reason, handle.returncode, time_limit, memory_mb,
                         started=started, digest=digest, output=output, detail=detail, strict=strict)


class PopenHandle:
    """The cold path's process handle: a `python -m tutor.engine.verifier` started by subprocess.

    `supervise` needs only `pid`, `poll()`, `wait(timeout)` (raising subprocess.TimeoutExpired), `returncode`
    and `kill_tree()`; tutor.engine.warm provides the same for a verifier forked from its zygote.
    """

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.pid = proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def kill_tree(self) -> None:
        containment.kill_tree(self.pid, uid=containment.RUN_UID_BASE + self.pid)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def supervise(handle, event_fd: int, output_fd: int, *, started: float, time_limit: float, memory_mb: int,
              on_event: Callable[[object], None] | None = None,
              cancel: threading.Event | None = None) -> tuple[list, str, _Output, str]:
    """Read a verifier's events and output until it ends; enforce the time, memory and output limits.

    Returns (events, stop_reason, output, detail): the validated events, why the parent stopped the run ("" if
    it did not), the learner's output, and what was wrong with an invalid report. Every process of the run is
    dead when this returns. Shared by the cold path (`grade`) and the warm one (tutor.engine.warm).
    """
    output = _Output()
    events: list = []
    stop_reason, detail = "", ""
    reader = LineReader()
    sequence = Sequence()
    sel = selectors.DefaultSelector()
    sel.register(event_fd, selectors.EVENT_READ, "events")
    sel.register(output_fd, selectors.EVENT_READ, "output")
    open_streams = {"events", "output"}
    run_over = False
    peak_rss = 0.0
    try:
        while open_streams:
            for key, _ in sel.select(timeout=POLL_SECONDS):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    open_streams.discard(key.data)
                    continue
                if key.data == "output":
                    output.add(chunk)
                    continue
                if stop_reason:
                    continue
                try:
                    for line in reader.feed(chunk):
                        event = parse(line)
                        sequence.check(event)
                        events.append(event)
                        run_over = run_over or sequence.done
                        if on_event is not None:
                            on_event(event)
                except InvalidReport as exc:
                    stop_reason, detail = INVALID_REPORT, str(exc)
            elapsed = time.perf_counter() - started
            peak_rss = max(peak_rss, containment.tree_rss_mb(handle.pid))
            if not stop_reason:
                if elapsed > time_limit:
                    stop_reason = TIMEOUT
                elif peak_rss > memory_mb:
                    stop_reason = MEMORY
                elif cancel is not None and cancel.is_set():
                    stop_reason = CANCELLED
            if stop_reason:
                handle.kill_tree()
                break
            if handle.poll() is not None and ("events" not in open_streams or run_over):
                break  # the verifier is gone; a process of the learner's may still hold the output pipe open
        try:
            handle.wait(timeout=5)
        except subprocess.TimeoutExpired:
            handle.kill_tree()
            handle.wait()
        handle.kill_tree()  # whatever the learner's code started that is still alive
        for key in list(sel.get_map().values()):
            try:
                os.set_blocking(key.fd, False)
                while chunk := os.read(key.fd, 65536):
                    if key.data == "output":
                        output.add(chunk)
            except (BlockingIOError, OSError):
                pass
    finally:
        handle.kill_tree()
        sel.close()
    return events, stop_reason, output, detail


def finish_result(exercise: Exercise, file: Path, events: list, stop_reason: str, returncode: int | None,
                  time_limit: float, memory_mb: int, *, started: float, digest: str, output: _Output,
                  detail: str = "", strict: bool = False) -> GradeResult:
    result = build_result(exercise, file, events, stop_reason, returncode, time_limit, memory_mb, detail)
    result.duration = round(time.perf_counter() - started, 3)
    result.file_hash = digest
    result.output = output.text()
    result.output_truncated_bytes = output.dropped
    result.strict = strict
    return result


def build_result(exercise: Exercise, file: Path, events: list, stop_reason: str, returncode: int | None,
                 time_limit: float, memory_mb: int, detail: str = "") -> GradeResult:
    """Turn the verifier's (validated) events and how it ended into a verdict. Only the parent decides."""
    result = GradeResult(exercise=exercise.id, file=str(file), status=GRADED, tests=[])
    by_name: dict[str, TestResult] = {}
    current = None
    finished_run = False
    stopped: RunStopped | None = None
    load_failure = None
    for event in events:
        if isinstance(event, Plan):
            result.device = event.device
            result.torch_version = event.torch
            result.withheld_tests, result.withheld_points = event.withheld_tests, event.withheld_points
            for t in event.tests:
                tr = TestResult(name=t.name, points=t.points, kind=t.kind, description=t.description, hidden=t.hidden)
                if tr.kind == "smoke":
                    tr.metric = {"name": t.metric, "value": None, "threshold": t.threshold, "goal": t.goal,
                                 "budget": t.budget}
                by_name[tr.name] = tr
                result.tests.append(tr)
        elif isinstance(event, Fatal):
            result.status = DEVICE_UNAVAILABLE if event.status == DEVICE_UNAVAILABLE else ENGINE_ERROR
            result.problem_failure = event.failure
            return result
        elif isinstance(event, Load):
            result.isolation = event.isolation
            if not event.ok:
                load_failure = event.failure
        elif isinstance(event, TestStarted):
            current = event.name
        elif isinstance(event, SmokeStep):
            result.smoke_steps.setdefault(event.name, []).append({"step": event.step, **event.metrics})
        elif isinstance(event, TestFinished):
            tr = by_name[event.name]
            tr.finished = True
            tr.passed = event.passed
            tr.earned = tr.points if tr.passed else 0.0
            tr.failure = None if event.passed else event.failure
            tr.duration = event.duration
            if event.metric:
                tr.metric = {**(tr.metric or {}), **event.metric}
            if event.internal:
                result.status = ENGINE_ERROR
                result.problem_failure = failure("internal_run", detail=tr.message)
            current = None
        elif isinstance(event, RunStopped):
            stopped = event
        elif isinstance(event, RunFinished):
            finished_run = True
    result.problem_failure = result.problem_failure or load_failure

    if not by_name and stop_reason and stop_reason != INVALID_REPORT:
        result.status = stop_reason  # stopped before the verifier listed its tests (e.g. cancelled at once)
        result.problem_failure = failure("cancelled_before_tests") if stop_reason == CANCELLED else \
            failure("stopped_before_tests", status=stop_reason)
        return result
    if not by_name:
        result.status = ENGINE_ERROR if stop_reason != INVALID_REPORT else INVALID_REPORT
        result.problem_failure = failure("engine_start_failed", exit_code=returncode) if stop_reason != \
            INVALID_REPORT else failure("invalid_report", detail=detail)
        return result

    unfinished = [t for t in result.tests if not t.finished]
    if not unfinished and finished_run and not stop_reason:
        return result

    if stop_reason == TIMEOUT:
        result.status = TIMEOUT
        why = failure("timeout", exercise=exercise.id, limit=f"{time_limit:g}")
    elif stop_reason == MEMORY:
        result.status = MEMORY
        why = failure("memory", limit=memory_mb)
    elif stop_reason == CANCELLED:
        result.status = CANCELLED
        why = failure("cancelled")
    elif stop_reason == INVALID_REPORT:
        result.status = INVALID_REPORT
        why = failure("invalid_report", detail=detail)
    elif stopped is not None:
        result.status = CRASHED if stopped.status == "crashed" else INVALID_REPORT
        why = stopped.failure or exit_failure(returncode)
    else:
        result.status = CRASHED
        why = exit_failure(returncode)
    result.problem_failure = why if result.problem_failure is None else \
        {**result.problem_failure, "parts": [*(result.problem_failure.get("parts") or []), why]}
    if stop_reason == INVALID_REPORT:
        # nothing the verifier said can be trusted once it broke the protocol: no test keeps its points
        for t in result.tests:
            t.passed, t.earned = False, 0.0
            if t.finished:
                t.failure = why
    # the verifier may already have put the reason on the test that was running when the sandbox died
    reported = stopped is not None and any(t.finished and t.failure == stopped.failure for t in result.tests)
    for t in unfinished:
        t.passed, t.earned = False, 0.0
        if t.name == current or (current is None and not reported and t is unfinished[0]):
            t.failure = why
        else:
            t.failure = failure("not_run", status=result.status)
    return result
