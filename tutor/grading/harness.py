"""Graders declare hidden tests and smoke-checks; the child runs them through a Context.

A grader module (graders/<id>.py) creates `grader = Grader("<id>")` and
decorates its tests:

    @grader.test("keeps the input's dtype", points=1)
    def keeps_dtype(ctx): ...

    @grader.smoke("learns the edge kernel", points=3, metric="kernel error",
                  goal="max", threshold=0.05, budget=10)
    def learns(ctx): ...   # calls ctx.step(...) each step, returns the final metric
                           # (or {"value": metric, "reference": the reference solution's metric})
"""

from __future__ import annotations

import inspect
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from tutor.grading.checks import TestFailure, check_tensor, describe


@dataclass
class TestSpec:
    name: str
    points: float
    func: Callable
    kind: str = "test"
    description: str = ""
    metric: str = ""
    goal: str = ""          # "min": the metric must reach at least threshold; "max": at most threshold
    threshold: float = 0.0
    budget: float = 0.0     # smoke-checks: seconds of training allowed
    plot: str = ""          # smoke-checks: the ctx.step metric that is the graded metric (the threshold applies to it)

    __test__ = False

    def plan(self) -> dict:
        data = {"name": self.name, "points": self.points, "kind": self.kind, "description": self.description}
        if self.kind == "smoke":
            data.update(metric=self.metric, goal=self.goal, threshold=self.threshold, budget=self.budget,
                        plot=self.plot)
        return data


@dataclass
class Grader:
    exercise: str
    tests: list[TestSpec] = field(default_factory=list)

    def _add(self, spec: TestSpec) -> None:
        if any(t.name == spec.name for t in self.tests):
            raise ValueError(f"duplicate test name {spec.name!r} in grader {self.exercise}")
        self.tests.append(spec)

    def test(self, name: str, points: float, description: str = ""):
        def register(func):
            self._add(TestSpec(name=name, points=points, func=func, description=description or (func.__doc__ or "").strip()))
            return func
        return register

    def smoke(self, name: str, points: float, *, metric: str, goal: str, threshold: float, budget: float,
              description: str = "", plot: str = ""):
        """`plot` names the ctx.step metric that measures the graded metric, so a plot can draw the threshold on
        its curve; leave it empty when no per-step metric is that quantity."""
        if goal not in ("min", "max"):
            raise ValueError("goal is 'min' (metric >= threshold) or 'max' (metric <= threshold)")

        def register(func):
            self._add(TestSpec(name=name, points=points, func=func, kind="smoke",
                               description=description or (func.__doc__ or "").strip(),
                               metric=metric, goal=goal, threshold=threshold, budget=budget, plot=plot))
            return func
        return register


INCONCLUSIVE = object()  # what run_on_meta returns when the learner's code cannot run on meta tensors
DEVICE_ADVICE = ("Create new tensors with device=X.device (or torch.zeros_like / torch.ones_like / torch.rand_like) "
                 "so your code also works when the inputs live on a GPU; we check this with tensors on PyTorch's "
                 "'meta' device, a stand-in for a GPU.")


class LearnerError(Exception):
    """An exception raised inside the learner's code, already turned into a message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SmokeBudgetExceeded(Exception):
    pass


def call_text(name: str, args: tuple, kwargs: dict, param_names: list[str] | None = None) -> str:
    parts = []
    for i, a in enumerate(args):
        label = param_names[i] if param_names and i < len(param_names) else None
        parts.append(f"{label}: {describe(a)}" if label else describe(a))
    parts += [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


class Context:
    """What a hidden test gets: the device, the learner's and the reference's code, and checks."""

    def __init__(self, *, learner, reference, device: torch.device, guard, learner_file: str,
                 emit: Callable[[dict], None], spec: TestSpec | None = None):
        self.learner = learner
        self.reference = reference
        self.device = device
        self.guard = guard
        self.learner_file = learner_file
        self._emit = emit
        self.spec = spec
        self._started = time.perf_counter()
        self._step_count = 0

    # -- the learner's code ---------------------------------------------------
    def ref(self, name: str):
        return getattr(self.reference, name)

    def fn(self, name: str):
        """The learner's function or class `name`, checked to exist and to accept the course's signature."""
        ref_obj = getattr(self.reference, name)
        if not hasattr(self.learner, name):
            kind = "class" if isinstance(ref_obj, type) else "function"
            raise TestFailure(f"your file does not define the {kind} `{name}{self._ref_signature(name)}`. "
                              f"Define it at the top level of your file (check the spelling).")
        obj = getattr(self.learner, name)
        if isinstance(ref_obj, type):
            if not isinstance(obj, type):
                raise TestFailure(f"`{name}` should be a class, but your file defines it as {describe(obj)}.")
            return obj
        if not callable(obj):
            raise TestFailure(f"`{name}` should be a function, but your file defines it as {describe(obj)}.")
        self._check_signature(name, obj, ref_obj)
        return self._wrap(name, obj)

    def _ref_signature(self, name: str) -> str:
        try:
            return str(inspect.signature(getattr(self.reference, name)))
        except (TypeError, ValueError):
            return "(...)"

    def _check_signature(self, name: str, obj, ref_obj) -> None:
        try:
            theirs = inspect.signature(obj)
            ours = inspect.signature(ref_obj)
        except (TypeError, ValueError):
            return
        args, kwargs = [], {}
        for p in ours.parameters.values():
            if p.default is inspect.Parameter.empty:
                args.append(None)
            else:
                kwargs[p.name] = None
        try:
            theirs.bind(*args, **kwargs)
        except TypeError as exc:
            raise TestFailure(f"`{name}` has the signature {name}{theirs}, but the course calls it as "
                              f"{name}{ours} ({exc}). Change the parameters to match.") from None

    def _wrap(self, name: str, obj):
        ctx = self
        try:
            params = list(inspect.signature(obj).parameters)
        except (TypeError, ValueError):
            params = None

        def call(*args, **kwargs):
            try:
                result = obj(*args, **kwargs)
            except (TestFailure, SmokeBudgetExceeded):
                raise
            except BaseException as exc:  # noqa: BLE001 - everything the learner raises becomes a message
                raise LearnerError(ctx.explain(exc, call_text(name, args, kwargs, params))) from None
            ctx.check_untampered()
            return result

        call.__name__ = name
        call.__wrapped__ = obj
        call.describe = lambda *a, **k: call_text(name, a, k, params)
        return call

    def call(self, name: str, *args, **kwargs):
        return self.fn(name)(*args, **kwargs)

    def check_untampered(self) -> None:
        changed = self.guard.tampered()
        if changed:
            raise TestFailure("your code replaced " + ", ".join(changed[:5]) +
                              (" and more" if len(changed) > 5 else "") +
                              ". The grader does not allow changing torch, Python's builtins or the grader; "
                              "they were put back and this test fails.")

    def explain(self, exc: BaseException, what: str) -> str:
        """A learner-facing account of an exception raised while `what` ran."""
        from tutor.engine.guard import ForbiddenCall

        if isinstance(exc, ForbiddenCall):
            return (f"{what} called {exc.api}, which this exercise forbids: the point is to write it yourself "
                    f"with basic tensor operations.")
        if isinstance(exc, SystemExit):
            return f"{what} called sys.exit({exc.code!r}); your function must return a result instead of exiting."
        if isinstance(exc, KeyboardInterrupt):
            return f"{what} was interrupted."
        where = learner_frames(exc, self.learner_file)
        kind = type(exc).__name__
        text = str(exc).strip()
        if isinstance(exc, NotImplementedError):
            return (f"{what} is not written yet: it still raises the stub's NotImplementedError. "
                    f"Replace that line with your implementation.{where}")
        if isinstance(exc, MemoryError) or "can't allocate memory" in text or isinstance(exc, torch.OutOfMemoryError):
            return f"{what} ran out of memory ({kind}: {text[:200]}). Allocate only what the result needs.{where}"
        hint = ""
        if "same device" in text or "Expected all tensors to be on" in text:
            hint = (f"\n  Your code mixed devices: the inputs are on {self.device}; create new tensors with "
                    "device=X.device (or torch.zeros_like) instead of the default CPU.")
        elif "does not require grad" in text:
            hint = "\n  The result is not connected to the inputs' autograd graph (.item(), .numpy(), torch.tensor(...) or .detach() break it)."
        first = text.splitlines()[0] if text else ""
        return f"{what} raised {kind}: {first[:400]}{where}{hint}"

    # -- checks -----------------------------------------------------------------
    def compare(self, name: str, *args, shrink: Iterable[tuple] | None = None, atol=None, rtol=None,
                check_dtype: bool = True, **kwargs):
        """Call the learner's and the reference's `name` on copies of the same inputs and compare.

        `shrink` yields argument tuples, smallest first; on a value mismatch the
        first of them that also fails is shown as the smallest failing input.
        """
        learner_fn = self.fn(name)
        expected = self.ref(name)(*_clone(args), **_clone(kwargs))
        got = learner_fn(*_clone(args), **_clone(kwargs))
        try:
            check_tensor(got, expected, learner_fn.describe(*args, **kwargs), atol=atol, rtol=rtol,
                         check_dtype=check_dtype)
        except TestFailure as failure:
            if failure.shrinkable and shrink is not None:
                smallest = self._smallest(name, learner_fn, shrink, kwargs, atol, rtol)
                if smallest:
                    raise TestFailure(f"{failure.message}\n\n  smallest failing input:\n{smallest}") from None
            raise
        return got

    def _smallest(self, name, learner_fn, cases, kwargs, atol, rtol) -> str:
        """The first case (smallest first) on which the learner's `name` disagrees with the reference, printed."""
        from tutor.grading.checks import fmt_tensor

        try:
            names = list(inspect.signature(self.ref(name)).parameters)
        except (TypeError, ValueError):
            names = []
        for case in cases:
            got, raised = None, ""
            try:
                expected = self.ref(name)(*_clone(case), **_clone(kwargs))
            except Exception:  # noqa: BLE001 - a case the reference cannot take is skipped
                continue
            try:
                got = learner_fn(*_clone(case), **_clone(kwargs))
                check_tensor(got, expected, name, atol=atol, rtol=rtol)
                continue
            except LearnerError as err:
                raised = err.message.splitlines()[0]
            except TestFailure:
                pass
            lines = []
            for i, value in enumerate(case):
                label = names[i] if i < len(names) else f"arg{i}"
                lines.append(f"    {label} = {fmt_tensor(value)}".replace("\n", "\n" + " " * (7 + len(label))))
            lines.append(f"    expected = {fmt_tensor(expected)}".replace("\n", "\n" + " " * 15))
            if raised:
                lines.append(f"    got      = an exception: {raised}")
            elif isinstance(got, torch.Tensor):
                lines.append(f"    got      = {fmt_tensor(got)}".replace("\n", "\n" + " " * 15))
            else:
                lines.append(f"    got      = {describe(got)}")
            return "\n".join(lines)
        return ""

    def run_on_meta(self, what: str, call: Callable[[], object], advice: str = DEVICE_ADVICE):
        """Run learner code (`call`, already given tensors on PyTorch's "meta" device) and return its result.

        A device-mix error fails the test with `advice`; any other error is inconclusive (some operations need
        real data) and returns INCONCLUSIVE. Used by device_probe and by graders that probe several functions
        or a module. Callers should first ask `self.should_probe_devices()`.
        """
        try:
            got = call()
        except Exception as exc:  # noqa: BLE001 - only device mix-ups count here
            text = str(exc)
            if "Cannot copy out of meta tensor" in text or "not on the expected device" in text \
                    or ("meta" in text and "cpu" in text and "device" in text):
                first = text.splitlines()[0].rstrip(".!") if text else type(exc).__name__
                raise TestFailure(f"{what} mixed devices: {first}. {advice}") from None
            return INCONCLUSIVE
        self.check_untampered()
        return got

    def should_probe_devices(self) -> bool:
        """A meta-device probe is worth running: the run is on the CPU (a GPU run shows device mistakes by
        itself) and the learner's file creates tensors without device= somewhere."""
        return self.device.type == "cpu" and may_create_tensors_off_device(self.learner_file)

    def device_probe(self, name: str, make_args: Callable[[torch.device], tuple], **kwargs) -> None:
        """Catch code that creates tensors on the default device instead of the inputs' device.

        On a GPU run the real device already shows this. On a CPU-only machine, when
        the learner's file calls a tensor factory without device= (or .cpu(), .numpy()), the
        function is also called on tensors on PyTorch's "meta" device
        (shapes without data, a stand-in for a second device): a result that comes
        back on the CPU, or a device-mismatch error, means new tensors were created
        without device=X.device. Errors that only say an operation needs real data
        are inconclusive and ignored.
        """
        if not self.should_probe_devices():
            return
        fn = self.fn(name)
        args = make_args(torch.device("meta"))
        what = fn.describe(*args, **kwargs)
        got = self.run_on_meta(what, lambda: fn.__wrapped__(*args, **kwargs))
        if isinstance(got, torch.Tensor) and got.device.type != "meta":
            raise TestFailure(f"{what} returned a tensor on {got.device}, not on the inputs' device. {DEVICE_ADVICE}")

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise TestFailure(message)

    # -- smoke-checks -------------------------------------------------------------
    def step(self, step: int, **metrics: float) -> None:
        """Report one training step's metrics (streamed to the parent, plotted by the TUI)."""
        self._step_count += 1
        self._emit({"event": "smoke_step", "name": self.spec.name if self.spec else "", "step": int(step),
                    "metrics": {k: float(v) for k, v in metrics.items()}})
        if self.spec and self.spec.budget and time.perf_counter() - self._started > self.spec.budget:
            raise SmokeBudgetExceeded(
                f"training did not finish within its {self.spec.budget:g} s budget (stopped at step {step}). "
                "Your code is correct enough to run but too slow: avoid Python loops over elements where a tensor "
                "operation does the same, and keep tensors on the device.")

    def seed(self, value: int) -> torch.Generator:
        torch.manual_seed(value)
        return torch.Generator(device="cpu").manual_seed(value)


# Functions that create a tensor on the default device unless they are given device=.
_FACTORIES = frozenset({
    "zeros", "ones", "empty", "full", "rand", "randn", "randint", "randperm", "arange", "linspace", "logspace",
    "eye", "tensor", "as_tensor", "from_numpy", "normal", "empty_strided", "tril_indices",
    "triu_indices",
})
_off_device_cache: dict[str, bool] = {}


def may_create_tensors_off_device(path: str) -> bool:
    """Whether the file calls a tensor factory without device=, or .cpu()/.numpy()/.to("cpu").

    Running a function on PyTorch's meta device costs about a second the first time (it loads
    torch._dynamo), so the device probe runs only for files where this static look says it could matter.
    """
    if path in _off_device_cache:
        return _off_device_cache[path]
    import ast

    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (OSError, SyntaxError, ValueError):
        _off_device_cache[path] = True
        return True
    found = False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        keywords = {k.arg for k in node.keywords}
        if name in _FACTORIES and "device" not in keywords and None not in keywords:
            found = True
        elif name in ("cpu", "numpy"):
            found = True
        elif name == "to" and any(isinstance(a, ast.Constant) and a.value == "cpu" for a in node.args):
            found = True
        if found:
            break
    _off_device_cache[path] = found
    return found


def learner_frames(exc: BaseException, learner_file: str) -> str:
    """The lines of the learner's file on the exception's traceback, as '  at corr2d.py line 7 ...'."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == learner_file]
    if not frames:
        return ""
    import os

    base = os.path.basename(learner_file)
    shown = frames[-3:]
    lines = []
    for f in shown:
        code = f" : {f.line.strip()}" if f.line else ""
        lines.append(f"\n  at {base} line {f.lineno}, in {f.name}{code}")
    return "".join(lines)
