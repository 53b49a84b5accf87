"""Graders declare hidden tests and smoke-checks; the verifier runs them through a Context.

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
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from tutor.grading.checks import TestFailure, check_tensor, describe, fmt_tensor
from tutor.grading.remote import RemoteClass, RemoteError


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
    hidden: bool = False    # only in the instructor's (full) build; a visible test is also in the student build

    __test__ = False

    def plan(self) -> dict:
        data = {"name": self.name, "points": self.points, "kind": self.kind, "description": self.description,
                "hidden": self.hidden}
        if self.kind == "smoke":
            data.update(metric=self.metric, goal=self.goal, threshold=self.threshold, budget=self.budget,
                        plot=self.plot)
        return data


@dataclass
class Grader:
    """A grader's tests. A test is visible (the default) or `hidden=True`: the student build (tutor.export) keeps
    only the visible tests, and they run without the reference solution (they check values written in the test);
    hidden tests run only when the instructor grades with the full course."""

    exercise: str
    tests: list[TestSpec] = field(default_factory=list)
    withheld_tests: int = 0        # a student build: how many tests the instructor's build has on top of these
    withheld_points: float = 0.0   # and their points

    def _add(self, spec: TestSpec) -> None:
        if any(t.name == spec.name for t in self.tests):
            raise ValueError(f"duplicate test name {spec.name!r} in grader {self.exercise}")
        self.tests.append(spec)

    def test(self, name: str, points: float, description: str = "", *, hidden: bool = False):
        def register(func):
            self._add(TestSpec(name=name, points=points, func=func, description=description or (func.__doc__ or "").strip(),
                               hidden=bool(hidden)))
            return func
        return register

    def smoke(self, name: str, points: float, *, metric: str, goal: str, threshold: float, budget: float,
              description: str = "", plot: str = "", hidden: bool = False):
        """`plot` names the ctx.step metric that measures the graded metric, so a plot can draw the threshold on
        its curve; leave it empty when no per-step metric is that quantity."""
        if goal not in ("min", "max"):
            raise ValueError("goal is 'min' (metric >= threshold) or 'max' (metric <= threshold)")

        def register(func):
            self._add(TestSpec(name=name, points=points, func=func, kind="smoke",
                               description=description or (func.__doc__ or "").strip(),
                               metric=metric, goal=goal, threshold=threshold, budget=budget, plot=plot,
                               hidden=bool(hidden)))
            return func
        return register

    def withheld(self, *, tests: int, points: float) -> None:
        """Written by the student build's export into each grader it strips: the instructor's build runs `tests`
        more tests worth `points` more points than this one (the result says so)."""
        self.withheld_tests, self.withheld_points = int(tests), float(points)


class ReferenceUnavailable(BaseException):
    """A test used the reference solution where there is none: a visible test (it runs in the student build, so it
    checks values written in the test) or any test of a student build. A bug in the grader, never the learner's.
    A BaseException, so that a grader's `except Exception` cannot swallow it."""


class NoReference:
    """What `ctx.reference` is where the reference solution may not be used: every attribute raises
    ReferenceUnavailable (and `touched` remembers it, in case a grader caught even that)."""

    def __init__(self, exercise: str, why: str):
        self._exercise = exercise
        self._why = why
        self.touched = False

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        self.touched = True
        raise ReferenceUnavailable(f"the test used the reference's {name} ({self._exercise}), but {self._why}")


INCONCLUSIVE = object()  # what run_on_meta returns when the learner's code cannot run on meta tensors


class LearnerError(Exception):
    """An exception raised inside the learner's code (in the sandbox), already turned into a verdict."""

    def __init__(self, failure: TestFailure, remote: RemoteError | None = None):
        super().__init__(failure.message)
        self.failure = failure
        self.remote = remote

    @property
    def message(self) -> str:
        return self.failure.message


class SmokeBudgetExceeded(Exception):
    def __init__(self, failure: TestFailure):
        super().__init__(failure.message)
        self.failure = failure


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


def frame_parts(frames) -> list[TestFailure]:
    """The learner's own lines on a traceback, each a part shown as '  at corr2d.py line 7, in corr2d : Y = ...'."""
    parts = []
    for frame in (frames or [])[-3:]:
        try:
            base, line, name, code = frame
        except (TypeError, ValueError):
            continue
        parts.append(TestFailure(code="learner_frame", file=str(base), line=int(line), function=str(name),
                                 source=f" : {code}" if code else ""))
    return parts


def explain(exc: BaseException, what: str, device=None) -> TestFailure:
    """A verdict for an exception the learner's code raised while `what` ran."""
    if isinstance(exc, RemoteError):
        info = exc.info
        kind = exc.type_name
        message = exc.message.strip()
        where = frame_parts(info.get("frames"))
        if exc.is_a("tutor.engine.guard.ForbiddenCall") or info.get("api"):
            return TestFailure(code="forbidden_api", call=what, api=str(info.get("api", message)))
        if exc.is_a("builtins.SystemExit"):
            return TestFailure(code="learner_exit", call=what, exit_code=str(info.get("exit_code", "")))
        if exc.is_a("builtins.KeyboardInterrupt"):
            return TestFailure(code="learner_interrupted", call=what)
        if exc.is_a("builtins.NotImplementedError"):
            return TestFailure(code="not_implemented", call=what, parts=where)
        if exc.is_a("builtins.MemoryError") or exc.is_a("torch.OutOfMemoryError") or "can't allocate memory" in message:
            return TestFailure(code="learner_out_of_memory", call=what, type=kind, message=message[:200], parts=where)
        first = message.splitlines()[0] if message else ""
        failure = TestFailure(code="learner_exception", call=what, type=kind, message=first[:400], parts=where)
        if "same device" in message or "Expected all tensors to be on" in message:
            failure.with_part(TestFailure(code="hint_device_mix", device=str(device)))
        elif "does not require grad" in message:
            failure.with_part(TestFailure(code="hint_not_differentiable"))
        elif "leaf Variable that requires grad is being used in an in-place operation" in message:
            failure.with_part(TestFailure(code="hint_inplace_leaf"))
        return failure
    if isinstance(exc, LearnerError):
        return exc.failure
    return TestFailure(code="learner_exception", call=what, type=type(exc).__name__,
                       message=str(exc).splitlines()[0][:400] if str(exc) else "")


class LearnerFunction:
    """A learner function as graders call it: arguments and results are copies; an exception becomes a
    LearnerError whose failure names the call. `__wrapped__` calls it raw (a RemoteError comes through)."""

    def __init__(self, ctx: "Context", name: str, remote):
        self.ctx = ctx
        self.__name__ = name
        self.remote = remote
        sig = remote.signature
        self.params = list(sig.parameters) if sig is not None else None

    def __call__(self, *args, **kwargs):
        try:
            return self.remote(*args, **kwargs)
        except RemoteError as exc:
            raise LearnerError(explain(exc, call_text(self.__name__, args, kwargs, self.params), self.ctx.device),
                               exc) from None

    def __wrapped__(self, *args, **kwargs):
        return self.remote(*args, **kwargs)

    def describe(self, *args, **kwargs) -> str:
        return call_text(self.__name__, args, kwargs, self.params)

    def mutated(self, tensor):
        """`tensor`'s value after the last call if the learner's code changed it (in the sandbox), else None."""
        return self.ctx.link.mutated(tensor)


class Context:
    """What a test gets: the device, the learner's code (through the sandbox), the course's declarations, the
    reference (hidden tests only) and checks."""

    def __init__(self, *, link, names: dict, reference, device: torch.device, learner_file: str,
                 emit: Callable[[object], None], spec: TestSpec | None = None, declared=None):
        self.link = link
        self.names = names
        self.reference = reference
        # the course's declarations (the stub): which names are classes, and the signatures the course calls
        self.declared = declared if declared is not None else reference
        self.device = device
        self.learner_file = learner_file
        self._emit = emit
        self.spec = spec
        self._started = time.perf_counter()
        self._step_count = 0

    # -- the learner's code ---------------------------------------------------------------------------------------
    def ref(self, name: str):
        """The reference solution's `name` (hidden tests only: see NoReference)."""
        return getattr(self.reference, name)

    def has_reference(self) -> bool:
        """Whether this test may use the reference solution: a hidden test in the instructor's build. Helpers shared
        with visible tests check this before a reference-based hint (a visible test never gets one)."""
        return not isinstance(self.reference, NoReference)

    def declaration(self, name: str):
        """The course's declaration of `name` (the stub's function or class): its signature is the one the course
        calls. Available to every test, in both builds."""
        return getattr(self.declared, name)

    def learner(self, name: str):
        """The sandbox's proxy for the learner's top-level `name` (None when the file does not define it)."""
        value = self.names.get(name)
        return None if value is None or isinstance(value, dict) else value

    def fn(self, name: str):
        """The learner's function (a LearnerFunction) or class (a RemoteClass) `name`, checked to exist and to
        accept the course's signature."""
        ref_obj = self.declaration(name)
        is_class = isinstance(ref_obj, type)
        found = self.names.get(name)
        if found is None:
            raise TestFailure(code="missing_class" if is_class else "missing_function", name=name,
                              signature=self._ref_signature(name))
        wrong = "not_a_class" if is_class else "not_a_function"
        if isinstance(found, dict):  # a value, not a callable
            raise TestFailure(code=wrong, name=name, got=".".join(found.get("type", ["", "?"])[1:]))
        if is_class:
            if not isinstance(found, RemoteClass):
                raise TestFailure(code=wrong, name=name, got=found.type_qualname)
            return found
        if isinstance(found, RemoteClass):
            raise TestFailure(code=wrong, name=name, got=f"class {found.__name__}")
        self.check_signature(name, found, ref_obj)
        return LearnerFunction(self, name, found)

    def _ref_signature(self, name: str) -> str:
        try:
            return str(inspect.signature(self.declaration(name)))
        except (TypeError, ValueError):
            return "(...)"

    def check_signature(self, name: str, remote, ref_obj) -> None:
        theirs = remote.signature
        try:
            ours = inspect.signature(ref_obj)
        except (TypeError, ValueError):
            return
        if theirs is None:
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
            raise TestFailure(code="signature_mismatch", name=name, theirs=str(theirs), ours=str(ours),
                              error=str(exc)) from None

    def construct(self, name: str, *args, **kwargs):
        """An instance of the learner's class `name` (built in the sandbox), or a failure that says why not."""
        cls = self.fn(name)
        what = f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
        try:
            return cls(*args, **kwargs), what
        except RemoteError as exc:
            raise explain(exc, what, self.device) from None

    def call(self, name: str, *args, **kwargs):
        return self.fn(name)(*args, **kwargs)

    def explain(self, exc: BaseException, what: str) -> TestFailure:
        return explain(exc, what, self.device)

    # -- checks -----------------------------------------------------------------------------------------------------
    def compare(self, name: str, *args, shrink: Iterable[tuple] | None = None, atol=None, rtol=None,
                check_dtype: bool = True, expected=None, oracle: Callable | None = None, **kwargs):
        """Call the learner's `name` on copies of the inputs and compare with what is expected: `expected` (a value
        written in the test), else `oracle(*args, **kwargs)` (a computation in the grader, e.g. with torch.nn),
        else the reference's `name` (hidden tests only).

        `shrink` yields argument tuples, smallest first; on a value mismatch the first of them that also fails is
        shown as the smallest failing input (its expected value from `oracle`, else the reference).
        """
        # what gives expected values, looked up before the learner's code runs: a test that needs the reference
        # (to shrink, say) needs it on every run, so a visible test that would fails at once, not only on a
        # learner's mistake
        truth = oracle if oracle is not None else (self.ref(name) if expected is None or shrink is not None
                                                   else None)
        learner_fn = self.fn(name)
        got = learner_fn(*_clone(args), **_clone(kwargs))
        if expected is None:
            expected = truth(*_clone(args), **_clone(kwargs))
        try:
            check_tensor(got, expected, learner_fn.describe(*args, **kwargs), atol=atol, rtol=rtol,
                         check_dtype=check_dtype)
        except TestFailure as failure:
            if failure.shrinkable and shrink is not None:
                smallest = self._smallest(name, learner_fn, shrink, kwargs, atol, rtol, truth)
                if smallest is not None:
                    raise failure.with_part(smallest) from None
            raise
        return got

    def _smallest(self, name, learner_fn, cases, kwargs, atol, rtol, truth) -> TestFailure | None:
        """The first case (smallest first) on which the learner's `name` disagrees with `truth` (an oracle or the
        reference's `name`)."""
        try:
            names = list(inspect.signature(self.declaration(name)).parameters)
        except (TypeError, ValueError):
            names = []
        for case in cases:
            got, raised = None, None
            try:
                expected = truth(*_clone(case), **_clone(kwargs))
            except Exception:  # noqa: BLE001 - a case the reference cannot take is skipped
                continue
            try:
                got = learner_fn(*_clone(case), **_clone(kwargs))
                check_tensor(got, expected, name, atol=atol, rtol=rtol)
                continue
            except LearnerError as err:
                raised = err.remote
            except TestFailure:
                pass
            lines = []
            for i, value in enumerate(case):
                label = names[i] if i < len(names) else f"arg{i}"
                lines.append(f"    {label} = {fmt_tensor(value)}".replace("\n", "\n" + " " * (7 + len(label))))
            shown_expected = fmt_tensor(expected).replace("\n", "\n" + " " * 15)
            if raised is not None:
                error = f"{raised.type_name}: {raised.message.splitlines()[0] if raised.message else ''}"
                return TestFailure(code="smallest_input_exception", inputs="\n".join(lines),
                                   expected=shown_expected, error=error[:300])
            shown_got = (fmt_tensor(got).replace("\n", "\n" + " " * 15) if isinstance(got, torch.Tensor)
                         else describe(got))
            return TestFailure(code="smallest_input", inputs="\n".join(lines), expected=shown_expected,
                               got=shown_got)
        return None

    def run_on_meta(self, what: str, call: Callable[[], object], advice: str | None = None):
        """Run learner code (`call`, already given tensors on PyTorch's "meta" device) and return its result.

        A device-mix error fails the test; any other error is inconclusive (some operations need real data) and
        returns INCONCLUSIVE. Callers should first ask `self.should_probe_devices()`.
        """
        try:
            got = call()
        except (RemoteError, LearnerError) as exc:
            remote = exc if isinstance(exc, RemoteError) else exc.remote
            text = remote.message if remote is not None else ""
            if "Cannot copy out of meta tensor" in text or "not on the expected device" in text \
                    or ("meta" in text and "cpu" in text and "device" in text):
                first = text.splitlines()[0].rstrip(".!") if text else "an error"
                raise TestFailure(code="device_probe_mixed", call=what, error=first[:300],
                                  parts=[TestFailure(advice) if advice else TestFailure(code="device_advice")]) from None
            return INCONCLUSIVE
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
            raise TestFailure(code="device_probe_wrong", call=what, device=str(got.device),
                              parts=[TestFailure(code="device_advice")])

    def expect(self, condition: bool, message: str, **params) -> None:
        if not condition:
            raise TestFailure(message, **params)

    # -- smoke-checks -------------------------------------------------------------------------------------------------
    def step(self, step: int, **metrics: float) -> None:
        """Report one training step's metrics (streamed to the parent, plotted by the TUI)."""
        from tutor.engine.protocol import SmokeStep

        self._step_count += 1
        self._emit(SmokeStep(name=self.spec.name if self.spec else "", step=int(step),
                             metrics={k: float(v) for k, v in metrics.items()}))
        if self.spec and self.spec.budget and time.perf_counter() - self._started > self.spec.budget:
            raise SmokeBudgetExceeded(TestFailure(code="smoke_budget", budget=f"{self.spec.budget:g}", step=step))

    def seed(self, value: int) -> torch.Generator:
        """Seed torch here and in the sandbox (so the learner's random initialisation is reproducible too);
        returns a CPU generator seeded with `value`."""
        torch.manual_seed(value)
        self.link.seed(value)
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
