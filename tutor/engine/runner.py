"""The parent side of a grading run. It never imports torch.

`grade()` starts `python -m tutor.engine.child` in a new session (its own
process group), reads its JSON-lines events from a private pipe and the
learner's output from another, and enforces the wall-clock limit, a memory cap
(resident set size, polled) and an output cap. Whatever happens to the child,
the verdict is decided here: a test counts as passed only when the child
reported it passed; a test the child never finished fails with the reason.
"""

from __future__ import annotations

import hashlib
import json
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

from tutor.engine.results import (
    CRASHED,
    DEVICE_UNAVAILABLE,
    ENGINE_ERROR,
    GRADED,
    MEMORY,
    TIMEOUT,
    GradeResult,
    TestResult,
)
from tutor.manifest import PACKAGE_DIR, Exercise

CANCELLED = "cancelled"
OUTPUT_HEAD = 48 * 1024
OUTPUT_TAIL = 16 * 1024
POLL_SECONDS = 0.05


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _signal_name(code: int) -> str:
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"
    meaning = {"SIGSEGV": "segmentation fault", "SIGABRT": "aborted", "SIGKILL": "killed", "SIGBUS": "bus error",
               "SIGFPE": "arithmetic error", "SIGILL": "illegal instruction"}.get(name)
    return f"{name} ({meaning})" if meaning else name


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


def grade(
    exercise: Exercise,
    file: Path,
    *,
    device: str = "auto",
    time_limit: float | None = None,
    memory_mb: int | None = None,
    on_event: Callable[[dict], None] | None = None,
    cancel: threading.Event | None = None,
    seed: int = 0,
    threads: int | None = None,
) -> GradeResult:
    """Grade `file` against `exercise`'s hidden tests in a fresh child process.

    `threads` is torch's CPU thread count in the child (default: half the cores, at most 4). Runs that share
    the machine should split the cores between them: oversubscribed CPU threads slow small models ten-fold.
    """
    file = Path(file).resolve()
    time_limit = float(time_limit if time_limit is not None else exercise.time_limit)
    memory_mb = int(memory_mb if memory_mb is not None else exercise.memory_mb)
    digest = file_hash(file)
    started = time.perf_counter()

    read_fd, write_fd = os.pipe()
    workdir = tempfile.TemporaryDirectory(prefix="d2l-grade-")
    cmd = [sys.executable, "-m", "tutor.engine.child", "--exercise", exercise.id, "--file", str(file),
           "--device", device, "--event-fd", str(write_fd), "--seed", str(seed),
           "--threads", str(threads or default_threads())]
    try:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    pass_fds=(write_fd,), start_new_session=True, cwd=workdir.name,
                                    env=child_env())
        finally:
            os.close(write_fd)
        handle = PopenHandle(proc)
        try:
            events, stop_reason, output = supervise(handle, read_fd, proc.stdout.fileno(), started=started,
                                                    time_limit=time_limit, memory_mb=memory_mb, on_event=on_event,
                                                    cancel=cancel)
        finally:
            proc.stdout.close()
    finally:
        os.close(read_fd)
        workdir.cleanup()
    return finish_result(exercise, file, events, stop_reason, handle.returncode, time_limit, memory_mb,
                         started=started, digest=digest, output=output)


class PopenHandle:
    """The cold path's process handle: a `python -m tutor.engine.child` started by subprocess.

    `supervise` needs only `pid`, `poll()`, `wait(timeout)` (raising subprocess.TimeoutExpired), `returncode`
    and `kill_group()`; tutor.engine.warm provides the same for a process forked from its zygote.
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

    def kill_group(self) -> None:
        _kill_group(self.proc)


def supervise(handle, event_fd: int, output_fd: int, *, started: float, time_limit: float, memory_mb: int,
              on_event: Callable[[dict], None] | None = None,
              cancel: threading.Event | None = None) -> tuple[list[dict], str, _Output]:
    """Read a grading process's events and output until it ends; enforce the time, memory and output limits.

    Returns (events, stop_reason, output). The process (its whole group) is dead when this returns.
    Shared by the cold path (`grade`) and the warm one (tutor.engine.warm).
    """
    output = _Output()
    events: list[dict] = []
    stop_reason = ""
    buffer = b""
    sel = selectors.DefaultSelector()
    sel.register(event_fd, selectors.EVENT_READ, "events")
    sel.register(output_fd, selectors.EVENT_READ, "output")
    open_streams = {"events", "output"}
    run_finished = False
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
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(event, dict):
                        continue
                    events.append(event)
                    run_finished = run_finished or event.get("event") == "run_finished"
                    if on_event is not None:
                        on_event(event)
            elapsed = time.perf_counter() - started
            peak_rss = max(peak_rss, _rss_mb(handle.pid))
            if elapsed > time_limit:
                stop_reason = TIMEOUT
            elif peak_rss > memory_mb:
                stop_reason = MEMORY
            elif cancel is not None and cancel.is_set():
                stop_reason = CANCELLED
            if stop_reason:
                handle.kill_group()
                break
            if handle.poll() is not None and ("events" not in open_streams or run_finished):
                # The child is gone; a process it started may still hold the output pipe open.
                break
        try:
            handle.wait(timeout=5)
        except subprocess.TimeoutExpired:
            handle.kill_group()
            handle.wait()
        # Drain what is left of the learner's output after a kill.
        for key in list(sel.get_map().values()):
            try:
                os.set_blocking(key.fd, False)
                while chunk := os.read(key.fd, 65536):
                    if key.data == "output":
                        output.add(chunk)
            except (BlockingIOError, OSError):
                pass
    finally:
        handle.kill_group()  # stray grandchildren the learner's code may have started
        sel.close()
    return events, stop_reason, output


def finish_result(exercise: Exercise, file: Path, events: list[dict], stop_reason: str, returncode: int | None,
                  time_limit: float, memory_mb: int, *, started: float, digest: str, output: _Output) -> GradeResult:
    result = build_result(exercise, file, events, stop_reason, returncode, time_limit, memory_mb)
    result.duration = round(time.perf_counter() - started, 3)
    result.file_hash = digest
    result.output = output.text()
    result.output_truncated_bytes = output.dropped
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def build_result(exercise: Exercise, file: Path, events: list[dict], stop_reason: str, returncode: int | None,
                 time_limit: float, memory_mb: int) -> GradeResult:
    """Turn the child's events and how it ended into a verdict. Only the parent decides."""
    result = GradeResult(exercise=exercise.id, file=str(file), status=GRADED, tests=[])
    by_name: dict[str, TestResult] = {}
    current = None
    finished_run = False
    load_message = ""
    for event in events:
        kind = event.get("event")
        if kind == "plan" and not by_name:
            result.device = str(event.get("device", "cpu"))
            result.torch_version = str(event.get("torch", ""))
            for t in event.get("tests", []):
                tr = TestResult(name=str(t["name"]), points=float(t["points"]), kind=str(t.get("kind", "test")),
                                description=str(t.get("description", "")))
                if tr.kind == "smoke":
                    tr.metric = {"name": t.get("metric"), "value": None, "threshold": t.get("threshold"),
                                 "goal": t.get("goal"), "budget": t.get("budget")}
                by_name[tr.name] = tr
                result.tests.append(tr)
        elif kind == "fatal":
            result.status = DEVICE_UNAVAILABLE if event.get("status") == DEVICE_UNAVAILABLE else ENGINE_ERROR
            result.problem = str(event.get("message", ""))
            return result
        elif kind == "load" and not event.get("ok"):
            load_message = str(event.get("message", ""))
        elif kind == "test_started" and event.get("name") in by_name:
            current = event["name"]
        elif kind == "smoke_step" and event.get("name") in by_name:
            result.smoke_steps.setdefault(event["name"], []).append(
                {"step": event.get("step"), **(event.get("metrics") or {})})
        elif kind == "test_finished":
            tr = by_name.get(event.get("name"))
            if tr is None or tr.finished or event.get("name") != current:
                continue  # only the test that is running can finish, and only once
            tr.finished = True
            tr.passed = event.get("passed") is True
            tr.earned = tr.points if tr.passed else 0.0
            tr.message = str(event.get("message", ""))
            tr.duration = float(event.get("duration", 0.0))
            if event.get("metric"):
                tr.metric = {**(tr.metric or {}), **event["metric"]}
            if event.get("internal"):
                result.status = ENGINE_ERROR
                result.problem = "a hidden test itself failed (a bug in d2l-tutor, not in your code): " + tr.message
            current = None
        elif kind == "run_finished":
            finished_run = True
    result.problem = result.problem or load_message

    if not by_name and stop_reason:
        result.status = stop_reason  # stopped before the child listed its tests (e.g. cancelled at once)
        result.problem = f"grading was {'cancelled' if stop_reason == CANCELLED else 'stopped (' + stop_reason + ')'} " \
                         "before the hidden tests started; nothing was graded."
        return result
    if not by_name:
        result.status = ENGINE_ERROR
        result.problem = ("the grader could not start (exit code "
                          f"{returncode}); this is a problem with d2l-tutor or its installation, not with your code.")
        return result

    unfinished = [t for t in result.tests if not t.finished]
    if not unfinished and finished_run:
        return result

    if stop_reason == TIMEOUT:
        result.status = TIMEOUT
        why = (f"stopped: grading {exercise.id} took longer than its {time_limit:g} s limit while this test was "
               "running. Look for a loop that never ends (a `while` whose condition never changes) or code that is "
               "far too slow.")
    elif stop_reason == MEMORY:
        result.status = MEMORY
        why = (f"stopped: your code used more than {memory_mb} MB of memory while this test was running. "
               "Allocate only what the result needs (check the sizes you pass to torch.zeros/ones/empty).")
    elif stop_reason == CANCELLED:
        result.status = CANCELLED
        why = "cancelled before this test finished."
    else:
        result.status = CRASHED
        if returncode is not None and returncode < 0:
            why = (f"the grading process was killed by {_signal_name(returncode)} while this test was running. "
                   "Something in your code crashed Python itself (ctypes, a C extension, or os.kill).")
        else:
            why = (f"the grading process ended (exit code {returncode}) before this test reported a result. "
                   "Did your code call os._exit(), sys.exit() or exit()? A test that does not finish never passes.")
    result.problem = why if not result.problem else f"{result.problem}\n{why}"
    stopped_at = current
    for t in unfinished:
        t.passed, t.earned = False, 0.0
        if t.name == stopped_at or (stopped_at is None and t is unfinished[0]):
            t.message = why
        else:
            t.message = f"not run: grading stopped at an earlier test ({result.status})."
    return result
