"""Warm grading: a zygote process that has imported torch forks a fresh verifier (and its sandbox) for each run.

`WarmGrader` lives in a long-lived UI process (which never imports torch). It starts ONE zygote,
`python -m tutor.engine.warm --socket N`, that imports torch and the grading toolkit (no learner code, no grader,
no reference solution, no CUDA, no torch op, so no OpenMP thread pool exists when it forks) and then waits for
requests on a Unix SOCK_SEQPACKET socket. For each run the UI process makes the two pipes itself (events, and the
learner's stdout+stderr) and sends their write ends to the zygote with the request (socket.send_fds). The zygote
forks a verifier; the verifier at once forks the sandbox (before it loads the grader or the reference, so the
sandbox's memory holds neither), which closes every descriptor but its channel and its output. Then the
verifier runs exactly like a cold one (tutor.engine.verifier.verify). The zygote answers with the verifier's pid
and, once it has reaped it, its exit status; it is a subreaper too, and kills whatever a killed verifier leaves.

The UI side reads the pipes, enforces the wall-clock, memory (the verifier's whole subtree), output and cancel
limits, kills the run's processes and decides the verdict with the same code as the cold path (runner.supervise
and runner.build_result). If the zygote has died, the next run restarts it; if it cannot start, the run falls
back to the cold path.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from tutor.engine import runner
from tutor.engine.results import GradeResult
from tutor.manifest import Exercise

START_TIMEOUT = 120.0  # seconds for the zygote to import torch (a cold disk cache can be slow)
REPLY_TIMEOUT = 10.0


class ZygoteGone(Exception):
    """The zygote died or stopped answering."""


# ---------------------------------------------------------------------------------------------- UI process side


class _WarmHandle:
    """A verifier forked by the zygote, as runner.supervise sees it (pid, poll, wait, returncode, kill_tree)."""

    def __init__(self, grader: "WarmGrader", pid: int):
        self.grader = grader
        self.pid = pid
        self.returncode: int | None = None

    def _take_messages(self, timeout: float) -> None:
        sock = self.grader._sock
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                return
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:  # the zygote died mid-run: nobody can report the exit status any more
                self.grader._zygote_died()
                self.kill_tree()
                self.returncode = -signal.SIGKILL
                return
            message = json.loads(data)
            if message.get("exit") == self.pid:
                self.returncode = int(message["returncode"])
            timeout = 0.0
            deadline = time.monotonic()

    def poll(self) -> int | None:
        if self.returncode is None:
            self._take_messages(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(f"warm child {self.pid}", timeout)
            self._take_messages(min(left, 1.0))
        return self.returncode

    def kill_tree(self) -> None:
        from tutor.engine import containment

        containment.kill_tree(self.pid, uid=containment.RUN_UID_BASE + self.pid)
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class WarmGrader:
    """Grades in processes forked from one warm zygote that has already imported torch.

    `grade()` takes the same arguments and returns the same GradeResult as tutor.engine.runner.grade. One run at a
    time per WarmGrader (a second call waits for the first). Call `start()` early (it returns at once; the zygote
    imports torch in the background) and `close()` when done.
    """

    def __init__(self, *, fallback_to_cold: bool = True):
        self.fallback_to_cold = fallback_to_cold
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._ready = False
        self._lock = threading.Lock()
        self._dir = tempfile.TemporaryDirectory(prefix="d2l-zygote-")
        self.starts = 0  # how many zygotes this grader has started (tests and diagnostics)

    # -- lifecycle

    def start(self) -> None:
        """Start the zygote if it is not running. Returns without waiting for torch's import."""
        if self._proc is not None and self._proc.poll() is None and self._sock is not None:
            return
        self._stop_zygote()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tutor.engine.warm", "--socket", str(child.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(child.fileno(),), start_new_session=True, cwd=self._dir.name, env=runner.child_env())
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        runner.remember(self._proc.pid)  # the zygote is ours: never swept as a stray
        self._sock = parent
        self._ready = False
        self.starts += 1

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the zygote has imported torch (raises ZygoteGone if it dies or takes too long)."""
        self.start()
        if self._ready:
            return
        ready, _, _ = select.select([self._sock], [], [], timeout)
        data = self._sock.recv(65536) if ready else b""
        if not data or json.loads(data).get("ready") is not True:
            self._stop_zygote()
            raise ZygoteGone("the warm grading process did not start")
        self._ready = True

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def close(self) -> None:
        with self._lock:
            self._stop_zygote()
        self._dir.cleanup()

    def __enter__(self) -> "WarmGrader":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _zygote_died(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._ready = False

    def _stop_zygote(self) -> None:
        # A ready zygote exits when its end of the socket reads EOF; one still importing torch does not read the
        # socket yet, and holds nothing worth waiting for: it is killed at once.
        patience = 2.0 if self._ready else 0.0
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._ready = False
        if self._proc is not None:
            try:
                self._proc.wait(timeout=patience)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                self._proc.wait()
            self._proc = None

    # -- grading

    def _fork(self, request: dict, fds: list[int]) -> _WarmHandle:
        self.wait_ready()
        try:
            socket.send_fds(self._sock, [json.dumps(request).encode()], fds)
            while True:
                ready, _, _ = select.select([self._sock], [], [], REPLY_TIMEOUT)
                data = self._sock.recv(65536) if ready else b""
                if not data or "exit" not in json.loads(data):  # skip a late exit status of an earlier run
                    break
        except OSError:
            data = b""
        if not data:
            self._stop_zygote()
            raise ZygoteGone("the warm grading process stopped answering")
        reply = json.loads(data)
        if "pid" not in reply:
            raise ZygoteGone(str(reply.get("error", "the warm grading process could not fork")))
        return _WarmHandle(self, int(reply["pid"]))

    def grade(
        self,
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
        strict: bool = False,
        hide: tuple[str, ...] = (),
    ) -> GradeResult:
        """Like tutor.engine.runner.grade, in a verifier forked from the warm zygote."""
        kwargs = dict(device=device, time_limit=time_limit, memory_mb=memory_mb, on_event=on_event, cancel=cancel,
                      seed=seed, threads=threads, strict=strict, hide=hide)
        with self._lock:
            for attempt in range(2):  # a dead zygote is restarted once
                try:
                    return self._grade(exercise, file, **kwargs)
                except ZygoteGone:
                    if attempt == 0:
                        continue
        if not self.fallback_to_cold:
            raise ZygoteGone("the warm grading process could not be started")
        return runner.grade(exercise, file, **kwargs)

    def _grade(self, exercise: Exercise, file: Path, *, device, time_limit, memory_mb, on_event, cancel, seed,
               threads, strict, hide) -> GradeResult:
        file = Path(file).resolve()
        time_limit = float(time_limit if time_limit is not None else exercise.time_limit)
        memory_mb = int(memory_mb if memory_mb is not None else exercise.memory_mb)
        digest = runner.file_hash(file)
        self.wait_ready()  # the zygote's own start-up is not part of the run's time limit
        started = time.perf_counter()

        event_r, event_w = os.pipe()
        output_r, output_w = os.pipe()
        workdir = tempfile.TemporaryDirectory(prefix="d2l-grade-")
        request = {"exercise": exercise.id, "file": str(file), "device": device, "seed": seed,
                   "threads": threads or runner.default_threads(), "cwd": workdir.name, "strict": bool(strict),
                   "hide": ([os.getcwd()] if strict else []) + [str(h) for h in hide]}
        try:
            try:
                handle = self._fork(request, [event_w, output_w])
            finally:
                os.close(event_w)
                os.close(output_w)
            events, stop_reason, output, detail = runner.supervise(handle, event_r, output_r, started=started,
                                                                   time_limit=time_limit, memory_mb=memory_mb,
                                                                   on_event=on_event, cancel=cancel)
        finally:
            os.close(event_r)
            os.close(output_r)
            workdir.cleanup()
        return runner.finish_result(exercise, file, events, stop_reason, handle.returncode, time_limit, memory_mb,
                                    started=started, digest=digest, output=output, detail=detail, strict=strict)


class GraderPool:
    """`size` warm graders, each with its own zygote, for gradings that run in parallel (the instructor check, a
    class): `grade()` takes whichever grader is free, so at most `size` gradings run at once."""

    def __init__(self, size: int, *, fallback_to_cold: bool = True):
        import queue

        self.size = max(1, int(size))
        self._free: "queue.Queue[WarmGrader]" = queue.Queue()
        self._all = [WarmGrader(fallback_to_cold=fallback_to_cold) for _ in range(self.size)]
        for g in self._all:
            self._free.put(g)

    def start(self) -> "GraderPool":
        for g in self._all:
            g.start()
        return self

    def grade(self, exercise: Exercise, file: Path, **kwargs) -> GradeResult:
        g = self._free.get()
        try:
            return g.grade(exercise, file, **kwargs)
        finally:
            self._free.put(g)

    def close(self) -> None:
        for g in self._all:
            g.close()

    def __enter__(self) -> "GraderPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------- zygote side


def _send(sock: socket.socket, message: dict) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        pass


def _run_forked(sock: socket.socket, request: dict, fds: list[int], zygote_cwd: str) -> None:
    """In the forked verifier: fork the sandbox, then load the grader and run the tests. Never returns."""
    code = 1
    plan = None
    try:
        os.setsid()
        sock.close()
        event_fd, output_fd = fds
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.close(devnull)
        os.chdir(request["cwd"])
        if sys.path and sys.path[0] == zygote_cwd:
            sys.path[0] = request["cwd"]  # as for `python -m` started in the run's directory
        from tutor.engine import verifier

        verifier.prepare()
        plan = verifier.Plan(exercise_id=request["exercise"], file=request["file"], strict=bool(request["strict"]),
                             hide=[str(h) for h in request.get("hide", [])], cuda_maybe=request["device"] != "cpu")
        pid, channel = verifier.start_sandbox(plan, output_fd=output_fd, cwd=request["cwd"], fork=True)
        os.close(output_fd)
        code = verifier.verify(verifier.Events(event_fd), plan, pid, channel, device_name=request["device"],
                               seed=int(request["seed"]), threads=int(request["threads"]), import_seconds=0.0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - like an uncaught exception in a cold verifier
        code = 1
    finally:
        try:
            from tutor.engine import verifier

            verifier.finish(plan.uid if plan is not None and plan.isolation == "user" else None)
        finally:
            os._exit(code)  # never return into the zygote's loop


def zygote_main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tutor.engine.warm")
    parser.add_argument("--socket", type=int, required=True)
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.socket)
    zygote_cwd = os.getcwd()

    from tutor.engine import containment, verifier

    containment.harden()
    containment.become_subreaper()  # what a killed verifier leaves is re-parented here, and killed below
    import_seconds = verifier.import_toolkit()
    import torch.fx.experimental.symbolic_shapes  # noqa: F401 - what torch.autograd.grad imports on first use (0.3 s)
    _send(sock, {"ready": True, "import_seconds": round(import_seconds, 3)})

    children: dict[int, int | None] = {}  # pid -> pidfd (None where pidfd_open is missing)
    while True:
        pidfds = [fd for fd in children.values() if fd is not None]
        polling = any(fd is None for fd in children.values())
        ready, _, _ = select.select([sock, *pidfds], [], [], 0.02 if polling else None)
        for pid, pidfd in list(children.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                del children[pid]
                if pidfd is not None:
                    os.close(pidfd)
                _send(sock, {"exit": pid, "returncode": os.waitstatus_to_exitcode(status)})
                containment.sweep_strays(set(children))
        if sock not in ready:
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, 65536, 4)
        except OSError:
            data, fds = b"", []
        if not data:
            break  # the UI process closed its end (or died): stop
        try:
            request = json.loads(data)
            if len(fds) != 2:
                raise ValueError("a request needs an event pipe and an output pipe")
        except ValueError as exc:
            for fd in fds:
                os.close(fd)
            _send(sock, {"error": str(exc)})
            continue
        pid = os.fork()
        if pid == 0:
            for fd in children.values():
                if fd is not None:
                    os.close(fd)
            _run_forked(sock, request, fds, zygote_cwd)
        for fd in fds:
            os.close(fd)
        try:
            children[pid] = os.pidfd_open(pid)
        except (AttributeError, OSError):
            children[pid] = None
        _send(sock, {"pid": pid})
    for pid in children:
        containment.kill_tree(pid, include_root=True)
    containment.sweep_strays(set())
    return 0


if __name__ == "__main__":
    sys.exit(zygote_main())
