"""The grading child: `python -m tutor.engine.child --exercise ID --file PATH --device D --event-fd N`.

It runs in a fresh process started by tutor.engine.runner (or forked by the warm
zygote of tutor.engine.warm, which calls `run` after its own import). It imports torch,
the exercise's grader and reference solution, installs the guards, imports the
learner's file and runs every hidden test and smoke-check, writing one JSON
event per line to the event file descriptor (never to stdout, which belongs to
the learner's prints). The parent decides the verdict from these events.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
import traceback
import zlib


class Events:
    def __init__(self, fd: int):
        self.fd = fd

    def emit(self, event: dict) -> None:
        data = (json.dumps(event, default=str) + "\n").encode()
        view = memoryview(data)
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


def describe_load_error(exc: BaseException, path: str, explain) -> str:
    base = os.path.basename(path)
    if isinstance(exc, SyntaxError):
        line = (exc.text or "").rstrip("\n")
        caret = ""
        if line and exc.offset:
            stripped = line.lstrip()
            caret = "\n    " + " " * max(0, exc.offset - 1 - (len(line) - len(stripped))) + "^"
            line = stripped
        shown = f"\n    {line}{caret}" if line else ""
        return (f"your file has a syntax error, so none of it could run: {base} line {exc.lineno}: "
                f"{type(exc).__name__}: {exc.msg}{shown}")
    if isinstance(exc, ImportError):
        return explain(exc, f"importing {base}") + " (only the Python standard library, torch and numpy are available)"
    return explain(exc, f"importing {base}")


def prepare() -> None:
    """Process-wide settings for a grading process (the cold child and each warm, forked one)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    except (ImportError, ValueError, OSError):
        pass
    sys.dont_write_bytecode = True  # never leave __pycache__ in the learner's workspace


def import_toolkit() -> float:
    """Import torch and the grading toolkit (never learner code); returns the seconds it took."""
    t_import = time.perf_counter()
    import torch  # noqa: F401

    import tutor.grading.checks  # noqa: F401
    import tutor.grading.harness  # noqa: F401
    from tutor.engine import guard  # noqa: F401
    from tutor.manifest import load_course  # noqa: F401

    return time.perf_counter() - t_import


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tutor.engine.child")
    parser.add_argument("--exercise", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--event-fd", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    events = Events(args.event_fd)
    prepare()
    import_seconds = import_toolkit()
    return run(events, exercise_id=args.exercise, file=args.file, device_name=args.device, seed=args.seed,
               threads=args.threads, import_seconds=import_seconds)


def run(events: Events, *, exercise_id: str, file: str, device_name: str, seed: int, threads: int,
        import_seconds: float) -> int:
    """Everything after torch's import: load the grader, the reference and the learner's file, run the tests.

    Shared by `python -m tutor.engine.child` (cold) and the processes tutor.engine.warm forks from its zygote.
    """
    import torch

    import tutor.grading.checks as checks_module
    import tutor.grading.harness as harness_module
    from tutor.engine import guard as guard_module
    from tutor.grading.checks import TestFailure
    from tutor.grading.harness import Context, LearnerError, SmokeBudgetExceeded
    from tutor.manifest import load_course

    exercise = load_course().exercise(exercise_id)

    if device_name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(device_name)
        if device.type == "cuda" and not torch.cuda.is_available():
            events.emit({"event": "fatal", "status": "device_unavailable",
                         "message": "--device cuda was asked for, but this machine has no CUDA GPU that torch can use "
                                    f"(torch {torch.__version__}). Use --device cpu or --device auto."})
            return 0
    if device.type == "cuda":
        # CPU kernels are deterministic already; this call costs ~1.6 s on CPU-only builds, so only on GPU.
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(max(1, threads))

    grader = load_module(f"d2l_grader_{exercise.id}", str(exercise.grader_path)).grader
    events.emit({"event": "plan", "exercise": exercise.id, "device": str(device), "torch": torch.__version__,
                 "import_seconds": round(import_seconds, 3), "tests": [t.plan() for t in grader.tests]})
    reference = load_module(f"d2l_reference_{exercise.id}", str(exercise.solution_path))

    learner_file = os.path.realpath(file)
    guard = guard_module.Guard(learner_file, exercise.forbidden)
    guard.install()
    import builtins
    import math

    import torch.nn.functional as F
    guard.snapshot([torch, torch.testing, checks_module._comparison, torch.nn, F, torch.autograd, torch.Tensor, torch.nn.Module,
                    builtins, math, checks_module, harness_module, guard_module,
                    sys.modules[f"d2l_grader_{exercise.id}"], reference])

    base_ctx = Context(learner=None, reference=reference, device=device, guard=guard,
                       learner_file=learner_file, emit=events.emit)
    load_error = ""
    learner = None
    sys.path.append(os.path.dirname(learner_file))
    try:
        learner = load_module(f"d2l_learner_{exercise.id}", learner_file)
    except BaseException as exc:  # noqa: BLE001 - a broken file is a verdict, not a crash
        load_error = describe_load_error(exc, learner_file, base_ctx.explain)
    violations = guard.take_violations()
    if violations and not load_error:
        load_error = f"your file calls {', '.join(violations)} when it is imported; this exercise forbids it."
    changed = guard.tampered()
    if changed and not load_error:
        load_error = ("your file replaces " + ", ".join(changed[:5]) + " when it is imported; the grader does not "
                      "allow changing torch, Python's builtins or the grader.")
    events.emit({"event": "load", "ok": not load_error, "message": load_error})

    for spec in grader.tests:
        events.emit({"event": "test_started", "name": spec.name})
        test_seed = seed * 1_000_003 + zlib.crc32(spec.name.encode())
        torch.manual_seed(test_seed)
        random.seed(test_seed)
        ctx = Context(learner=learner, reference=reference, device=device, guard=guard,
                      learner_file=learner_file, emit=events.emit, spec=spec)
        started = time.perf_counter()
        passed, message, metric, internal = False, "", None, False
        try:
            if load_error:
                raise TestFailure(load_error)
            value = spec.func(ctx)
            ctx.check_untampered()
            if spec.kind == "smoke":
                reference_value = None
                if isinstance(value, dict):  # {"value": learner's metric, "reference": the reference's, same seed}
                    reference_value = value.get("reference")
                    value = value["value"]
                value = float(value)
                ok = value >= spec.threshold if spec.goal == "min" else value <= spec.threshold
                ok = ok and value == value  # NaN never passes
                need = "≥" if spec.goal == "min" else "≤"
                metric = {"name": spec.metric, "value": value, "threshold": spec.threshold, "goal": spec.goal,
                          "steps": ctx._step_count}
                message = f"{spec.metric} = {value:.4g} (needs {need} {spec.threshold:g}) after {ctx._step_count} steps"
                if reference_value is not None:
                    metric["reference"] = float(reference_value)
                    message += f"; the reference solution gets {float(reference_value):.4g} with the same seed"
                if not ok:
                    raise TestFailure(f"the training ran, but it did not get there: {message}. The reference "
                                      "solution passes with the same data, seed and settings, so the difference "
                                      "comes from your code; the failing tests above usually show why.")
            passed = True
        except TestFailure as failure:
            message = failure.message
        except LearnerError as err:
            message = err.message
        except SmokeBudgetExceeded as err:
            message = str(err)
        except guard_module.ForbiddenCall as err:
            message = (f"your code called {err.api}, which this exercise forbids: the point is to write it "
                       "yourself with basic tensor operations.")
        except BaseException as exc:  # noqa: BLE001
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == learner_file]
            if frames:
                message = ctx.explain(exc, "your code")
            else:
                internal = True
                message = ("the grader itself failed while checking this test, which is a bug in d2l-tutor rather "
                           f"than in your code: {type(exc).__name__}: {str(exc)[:300]}")
        found = guard.take_violations()
        if found:
            passed = False
            message = (f"your code called {', '.join(found)}, which this exercise forbids: the point is to write it "
                       "yourself with basic tensor operations.")
        changed = guard.tampered()
        if changed:
            passed = False
            message = ("your code replaced " + ", ".join(changed[:5]) + "; the grader does not allow changing torch, "
                       "Python's builtins or the grader, so this test fails.")
        if device.type == "cuda":
            try:
                torch.cuda.synchronize()
            except Exception:  # noqa: BLE001
                pass
        events.emit({"event": "test_finished", "name": spec.name, "passed": passed,
                     "earned": spec.points if passed else 0, "points": spec.points, "message": message,
                     "duration": round(time.perf_counter() - started, 4), "metric": metric, "internal": internal})
    events.emit({"event": "run_finished"})
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # do not wait for threads the learner's code may have left running
