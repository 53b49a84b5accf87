"""The verifier: `python -m tutor.engine.verifier --exercise ID --file PATH --event-fd N --output-fd M ...`.

It is the only process that reports to the parent, and it never runs learner code. It starts the sandbox first
(tutor.engine.sandbox, which imports torch while the verifier does too), then imports the grader and the
reference solution, asks the sandbox to load the learner's file, and runs every hidden test and smoke-check:
the tests call the learner's code through proxies (tutor.grading.remote), compute expected values here and
compare here. Events go to the parent as typed JSON lines (tutor.engine.protocol).

The verifier is the sandbox's parent and a child subreaper, so every process the learner's code starts, daemons
included, is re-parented to it and killed with the run; it is non-dumpable, so they cannot read its memory or
open its file descriptors. The warm zygote (tutor.engine.warm) forks it and calls `start`, like `main` does.
"""

from __future__ import annotations

import importlib.util
import os
import random
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path


class Events:
    """The event channel to the parent: one typed event per line (tutor.engine.protocol)."""

    def __init__(self, fd: int):
        self.fd = fd

    def emit(self, event) -> None:
        from tutor.engine.protocol import to_line

        view = memoryview(to_line(event))
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


def load_module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def given_spec(exercise, learner_file: str | None = None) -> dict | None:
    """What the sandbox needs to give `exercise` its given helpers (tutor.engine.sandbox.install_given): the
    references they come from, read here because the sandbox cannot see the course.

    A student build has no reference solutions: there the given names come from the learner's own files beside the
    graded one (sequence_mask.py for sequence_mask), as in the learner's own Python (tutor.given); where that file
    is missing, each given name is a stand-in that says so when called."""
    if not exercise.given:
        return None
    from tutor.given import missing_source
    from tutor.manifest import load_course

    course = load_course()
    chain = course.given_chain(exercise)
    names = {n for ex in [exercise, *chain] for n in ex.given}
    providers = {n: course.provider(n).id for n in sorted(names)}
    folder = Path(learner_file).parent if learner_file else None

    def source(ex) -> str:
        if ex.solution_path.is_file():
            return ex.solution_path.read_text("utf-8")
        own = folder / ex.filename if folder is not None else None
        if own is not None and own.is_file():
            return own.read_bytes().decode("utf-8", "replace")
        return missing_source(ex, [n for n in sorted(names) if providers[n] == ex.id])

    return {"exercise": exercise.id, "names": list(exercise.given), "providers": providers,
            "sources": [{"id": ex.id, "given": list(ex.given), "source": source(ex)} for ex in chain]}


def sandbox_env(strict: bool) -> dict:
    """The sandbox's environment: the caller's own in normal mode; a minimal one in strict mode."""
    from tutor.manifest import PACKAGE_DIR

    if strict:
        keep = ("PATH", "LANG", "LC_ALL", "TERM", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "OMP_NUM_THREADS")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env["HOME"] = "/tmp"
    else:
        env = dict(os.environ)
    src = str(PACKAGE_DIR.parent)
    env["PYTHONPATH"] = src + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    env.update(PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1",
               CUBLAS_WORKSPACE_CONFIG=":4096:8")
    return env


class Plan:
    """How this run keeps the learner's code apart, decided before the sandbox starts."""

    def __init__(self, *, exercise_id: str, file: str, strict: bool, hide: list[str], cuda_maybe: bool):
        from tutor.engine import containment
        from tutor.manifest import load_course

        self.exercise = load_course().exercise(exercise_id)
        self.file = os.path.realpath(file)
        self.strict = strict
        self.isolation = containment.strict_isolation() if strict else "process"
        from tutor.manifest import course_copies, course_root

        course_dirs = [str(p) for p in course_copies()]
        inside = self.exercise.folder.relative_to(course_root())
        self.secrets = [str(p / inside / name) for p in course_copies() for name in ("solution.py", "grader.py")]
        extra = [os.path.dirname(self.file), *hide]
        python = containment.python_paths()
        # bubblewrap builds its view from nothing: only folders inside the ones it binds need covering, and never
        # one that contains Python itself
        self.bwrap_hidden = course_dirs + [d for d in extra if not any(containment._inside(k, d) for k in python)]
        self.user_hidden = course_dirs + extra
        self.cuda_maybe = cuda_maybe
        self.uid = containment.RUN_UID_BASE + os.getpid()
        # Without strict isolation the course's folders (and `hide`: the workspace's progress database, say) are
        # still covered where the kernel lets any user do it (a user namespace): the learner's own code cannot
        # import the reference solution from disk or write its progress either. Not a folder that holds the
        # file graded itself (the instructor check grades the references).
        self.cover = [] if self.isolation != "process" else [
            d for d in course_dirs + list(hide) if not containment._inside(self.file, os.path.realpath(d))]

    @property
    def sandbox_file(self) -> str:
        from tutor.engine import containment

        if self.isolation == "bwrap":
            return f"{containment.SANDBOX_DIR}/{os.path.basename(self.file)}"
        return self.file


def start_sandbox(plan: Plan, *, output_fd: int, cwd: str, fork: bool) -> tuple[int, socket.socket]:
    """Start the sandbox as a child of this process; returns (pid, the verifier's end of the channel).

    `fork=True` (the warm path, torch already imported here and nothing secret loaded yet) forks it; otherwise,
    and always under bubblewrap, it is a new `python -m tutor.engine.sandbox`.
    """
    from tutor.engine import containment

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if fork and plan.isolation != "bwrap":
        pid = os.fork()
        if pid == 0:  # the sandbox
            try:
                os.setsid()
                ours.close()
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(output_fd, 1)
                os.dup2(output_fd, 2)
                os.chdir(cwd)
                from tutor.engine import sandbox

                sandbox.prepare(theirs.fileno(), cover=plan.cover)
                if plan.strict:
                    os.environ.clear()
                    os.environ.update(sandbox_env(True))
                sandbox.run(theirs)
            finally:
                os._exit(0)
        theirs.close()
        return pid, ours
    cmd = [sys.executable, "-m", "tutor.engine.sandbox", "--channel", str(theirs.fileno())]
    for folder in plan.cover:
        cmd += ["--cover", folder]
    if plan.isolation == "bwrap":
        cmd = containment.bwrap_command(cmd, learner_file=plan.file, learner_name=os.path.basename(plan.file),
                                        hidden=plan.bwrap_hidden, cuda=plan.cuda_maybe)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=output_fd, stderr=output_fd,
                                pass_fds=(theirs.fileno(),), start_new_session=True, cwd=cwd,
                                env=sandbox_env(plan.strict))
    finally:
        theirs.close()
    return proc.pid, ours


def sandbox_status(pid: int, timeout: float = 3.0) -> int | None:
    """The sandbox's exit code (negative: the signal that killed it), waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def load_failure(answer: dict, source_file: str, static: list):
    """The failure that stops every test before it starts (the file does not load, or uses a forbidden API)."""
    from tutor.grading.checks import TestFailure
    from tutor.grading.harness import frame_parts

    base = os.path.basename(source_file)
    error = answer.get("error")
    if isinstance(error, dict):
        mro = error.get("mro") or []
        kind = str((error.get("type") or ["", "Exception"])[1])
        message = str(error.get("message", "")).strip()
        where = frame_parts(error.get("frames"))
        syntax = error.get("syntax")
        if isinstance(syntax, dict) and "builtins.SyntaxError" in mro:
            line = str(syntax.get("text", ""))
            shown = ""
            if line:
                stripped = line.lstrip()
                offset = int(syntax.get("offset") or 0)
                caret = " " * max(0, offset - 1 - (len(line) - len(stripped))) + "^" if offset else ""
                shown = f"\n    {stripped}" + (f"\n    {caret}" if caret else "")
            return TestFailure(code="syntax_error", file=base, line=int(syntax.get("line") or 0), type=kind,
                               error=str(syntax.get("msg", "")), shown=shown)
        if "builtins.SystemExit" in mro:
            return TestFailure(code="load_exit", file=base, exit_code=str(error.get("exit_code", "")))
        if "tutor.engine.guard.ForbiddenCall" in mro:
            return TestFailure(code="load_forbidden", apis=str(error.get("api", message)))
        code = "import_failed" if "builtins.ImportError" in mro else "load_failed"
        return TestFailure(code=code, file=base, type=kind, message=message.splitlines()[0][:400] if message else "",
                           parts=where)
    violations = answer.get("violations") or []
    if violations:
        return TestFailure(code="load_forbidden", apis=", ".join(str(v) for v in violations))
    for api, line in static:
        if api == "__wrapped__":
            return TestFailure(code="forbidden_wrapped", line=line)
        return TestFailure(code="forbidden_static", api=api, line=line)
    return None


def verify(events: Events, plan: Plan, pid: int, sock, *, device_name: str, seed: int, threads: int,
           import_seconds: float) -> int:
    """Everything after the sandbox has started: load the grader, the reference and the learner's file (in the
    sandbox), run the tests, report. Shared by `main` (cold) and the warm zygote's forked verifiers."""
    import torch

    from tutor.engine import containment
    from tutor.engine.protocol import Fatal, Load, RunFinished, RunStopped, TestFinished, TestStarted
    from tutor.engine.results import exit_failure
    from tutor.engine.protocol import Plan as PlanEvent
    from tutor.engine.protocol import PlannedTest
    from tutor.engine.scan import scan
    from tutor.engine.wire import Channel
    from tutor.grading.checks import TestFailure
    from tutor.grading.harness import Context, LearnerError, NoReference, SmokeBudgetExceeded, explain
    from tutor.grading.remote import Link, RemoteError, SandboxBroken, SandboxGone
    from tutor.messages import failure

    exercise = plan.exercise
    if device_name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(device_name)
        if device.type == "cuda" and not torch.cuda.is_available():
            events.emit(Fatal(status="device_unavailable",
                              failure=failure("device_unavailable", device=device_name, torch=torch.__version__)))
            return 0
    if device.type == "cuda":
        torch.use_deterministic_algorithms(True, warn_only=True)  # ~1.6 s on CPU-only builds, so only on GPU
    torch.set_num_threads(max(1, threads))

    grader = load_module(f"d2l_grader_{exercise.id}", str(exercise.grader_path)).grader
    tests = tuple(PlannedTest(**t.plan()) for t in grader.tests)
    events.emit(PlanEvent(exercise=exercise.id, device=str(device), torch=torch.__version__, tests=tests,
                          import_seconds=round(import_seconds, 3), withheld_tests=grader.withheld_tests,
                          withheld_points=grader.withheld_points))
    # The course's declarations (which names are classes, the signatures it calls) come from the stub, in both
    # builds; the reference solution only where there is one (a student build has none), for hidden tests only.
    declared = load_module(f"d2l_declared_{exercise.id}", str(exercise.stub_path))
    reference = load_module(f"d2l_reference_{exercise.id}", str(exercise.solution_path)) \
        if exercise.solution_path.is_file() else None
    try:
        source = Path(plan.file).read_bytes().decode("utf-8", "replace")
    except OSError:
        source = ""
    static = scan(source, exercise.forbidden)

    link = Link(Channel(sock), devices=("cpu", "meta", str(device), device.type))
    stopped = None

    def stop(exc: BaseException) -> dict:
        if isinstance(exc, SandboxGone):
            return exit_failure(sandbox_status(pid), shell_style=plan.isolation == "bwrap")
        return failure("sandbox_broken", detail=str(exc)[:300])

    config = {"file": plan.sandbox_file, "module": f"d2l_learner_{exercise.id}", "forbidden": list(exercise.forbidden),
              "threads": max(1, threads), "devices": [str(device), device.type], "deterministic": device.type == "cuda",
              "isolation": plan.isolation, "uid": plan.uid, "hide": plan.user_hidden, "secrets": plan.secrets,
              "add_dir_to_path": not plan.strict, "given": given_spec(exercise, plan.file)}
    names: dict = {}
    isolation = plan.isolation if plan.isolation == "bwrap" else "process"
    try:
        answer = link.load(config)
        names = answer.get("names") if isinstance(answer.get("names"), dict) else {}
        if answer.get("isolation") in ("bwrap", "user", "process"):
            isolation = answer["isolation"] if plan.strict else "process"
        blocker = load_failure(answer, plan.file, static)
    except (SandboxGone, SandboxBroken) as exc:
        stopped = (exc, stop(exc))
        blocker = None
    events.emit(Load(ok=blocker is None and stopped is None, isolation=isolation,
                     failure=blocker.data() if blocker is not None else None))
    if stopped is not None:
        status = "crashed" if isinstance(stopped[0], SandboxGone) else "invalid_report"
        events.emit(RunStopped(status=status, failure=stopped[1]))
        return 0

    for spec in grader.tests:
        events.emit(TestStarted(name=spec.name))
        test_seed = seed * 1_000_003 + zlib.crc32(spec.name.encode())
        torch.manual_seed(test_seed)
        random.seed(test_seed)
        if reference is None:
            test_reference = NoReference(exercise.id, "this course is a student build, which has no reference "
                                                      "solutions")
        elif not spec.hidden:
            test_reference = NoReference(exercise.id, "a visible test runs in the student build too, which has no "
                                                      "reference solutions: check against values written in the test "
                                                      "or an oracle (ctx.compare(..., expected=..., oracle=...))")
        else:
            test_reference = reference
        ctx = Context(link=link, names=names, reference=test_reference, device=device, learner_file=plan.file,
                      emit=events.emit, spec=spec, declared=declared)
        started = time.perf_counter()
        passed, fail, metric, internal = False, None, None, False
        try:
            link.begin_test(test_seed)
            if blocker is not None:
                raise blocker
            value = spec.func(ctx)
            if spec.kind == "smoke":
                reference_value = None
                if isinstance(value, dict):  # {"value": learner's metric, "reference": the reference's, same seed}
                    reference_value = value.get("reference")
                    value = value["value"]
                value = float(value)
                ok = value >= spec.threshold if spec.goal == "min" else value <= spec.threshold
                ok = ok and value == value  # NaN never passes
                need = "≥" if spec.goal == "min" else "≤"
                metric = {"name": spec.metric, "value": value if value == value else None,
                          "threshold": spec.threshold, "goal": spec.goal, "steps": ctx._step_count}
                shown = dict(metric=spec.metric, value=f"{value:.4g}", need=need, threshold=f"{spec.threshold:g}",
                             steps=ctx._step_count)
                if reference_value is not None:
                    metric["reference"] = float(reference_value)
                    shown["reference"] = f"{float(reference_value):.4g}"
                if not ok:
                    code = "smoke_below_threshold_ref" if reference_value is not None else "smoke_below_threshold"
                    raise TestFailure(code=code, **shown)
            passed = True
        except (SandboxGone, SandboxBroken) as exc:
            stopped = (exc, stop(exc))
            fail = stopped[1]
        except TestFailure as exc:
            fail = exc.data()
        except LearnerError as exc:
            fail = exc.failure.data()
        except SmokeBudgetExceeded as exc:
            fail = exc.failure.data()
        except RemoteError as exc:
            fail = explain(exc, "your code", device).data()
        except BaseException as exc:  # noqa: BLE001 - a bug in the grader, never the learner's fault
            internal = True
            fail = failure("internal_error", type=type(exc).__name__, message=str(exc)[:300])
        if isinstance(test_reference, NoReference) and test_reference.touched and not internal:
            # the test caught the ReferenceUnavailable itself: still a grader bug, never a silent pass
            passed, internal = False, True
            fail = failure("internal_error", type="ReferenceUnavailable",
                           message=f"test {spec.name!r} used the reference solution, which it may not use here")
        found = sorted(set(link.violations))
        if found and stopped is None:
            passed = False
            fail = failure("forbidden_api", call="your code", api=", ".join(found))
        if device.type == "cuda":
            try:
                torch.cuda.synchronize()
            except Exception:  # noqa: BLE001
                pass
        events.emit(TestFinished(name=spec.name, passed=passed, duration=round(time.perf_counter() - started, 4),
                                 failure=None if passed else fail, metric=metric, internal=internal))
        if stopped is not None:
            status = "crashed" if isinstance(stopped[0], SandboxGone) else "invalid_report"
            events.emit(RunStopped(status=status, failure=stopped[1]))
            return 0
    link.close()
    sandbox_status(pid, timeout=2.0)
    containment.kill_tree(os.getpid(), uid=plan.uid if isolation == "user" else None)
    events.emit(RunFinished())
    return 0


def import_toolkit() -> float:
    """Import torch and the grading toolkit (never learner code, no grader, no reference); the seconds it took."""
    t = time.perf_counter()
    import torch  # noqa: F401

    import tutor.grading.checks  # noqa: F401
    import tutor.grading.harness  # noqa: F401
    import tutor.grading.remote  # noqa: F401
    from tutor.engine import guard, protocol, sandbox, scan, wire  # noqa: F401
    from tutor.manifest import load_course  # noqa: F401

    return time.perf_counter() - t


def prepare() -> None:
    from tutor.engine import containment

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    containment.harden()
    containment.become_subreaper()
    sys.dont_write_bytecode = True


def finish(plan_uid: int | None = None) -> None:
    """Leave nothing behind: every process below this one is killed before the verifier exits."""
    from tutor.engine import containment

    containment.kill_tree(os.getpid(), uid=plan_uid)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="tutor.engine.verifier")
    parser.add_argument("--exercise", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--event-fd", type=int, required=True)
    parser.add_argument("--output-fd", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--hide", action="append", default=[])
    args = parser.parse_args(argv)
    prepare()
    events = Events(args.event_fd)
    plan = Plan(exercise_id=args.exercise, file=args.file, strict=args.strict, hide=args.hide,
                cuda_maybe=args.device != "cpu")
    pid, sock = start_sandbox(plan, output_fd=args.output_fd, cwd=os.getcwd(), fork=False)
    os.close(args.output_fd)
    try:
        import_seconds = import_toolkit()
        return verify(events, plan, pid, sock, device_name=args.device, seed=args.seed, threads=args.threads,
                      import_seconds=import_seconds)
    finally:
        finish(plan.uid if plan.isolation == "user" else None)


if __name__ == "__main__":
    code = 1
    try:
        code = main()
    finally:
        os._exit(code)
