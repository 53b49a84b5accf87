"""The events a verifier reports to its parent: one JSON object per line, typed and validated (no torch).

The verifier is the only process that writes them; the runner, the warm grader, the CLI and the TUI read them
through `parse` and `Sequence`, which reject anything malformed, oversized or out of order with InvalidReport.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

MAX_LINE = 1024 * 1024        # one event is at most 1 MiB
MAX_EVENTS = 400_000
MAX_TEXT = 100_000
_CODE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class InvalidReport(Exception):
    """An event that breaks the protocol; the message says which rule."""


@dataclass(frozen=True)
class PlannedTest:
    name: str
    points: float
    kind: str = "test"
    description: str = ""
    metric: str = ""
    goal: str = ""
    threshold: float = 0.0
    budget: float = 0.0
    plot: str = ""
    hidden: bool = False      # only in the instructor's build (absent from older verifiers: visible)


@dataclass(frozen=True)
class Plan:
    exercise: str
    device: str
    torch: str
    tests: tuple[PlannedTest, ...]
    import_seconds: float = 0.0
    withheld_tests: int = 0       # a student build: tests (and points) that only the instructor's build runs
    withheld_points: float = 0.0
    event: str = field(default="plan", repr=False)


@dataclass(frozen=True)
class Load:
    ok: bool
    isolation: str = "process"
    failure: dict | None = None
    event: str = field(default="load", repr=False)


@dataclass(frozen=True)
class TestStarted:
    __test__ = False
    name: str
    event: str = field(default="test_started", repr=False)


@dataclass(frozen=True)
class SmokeStep:
    name: str
    step: int
    metrics: dict
    event: str = field(default="smoke_step", repr=False)


@dataclass(frozen=True)
class TestFinished:
    __test__ = False
    name: str
    passed: bool
    duration: float = 0.0
    failure: dict | None = None
    metric: dict | None = None
    internal: bool = False
    event: str = field(default="test_finished", repr=False)


@dataclass(frozen=True)
class RunStopped:
    """The verifier stopped before the last test: the sandbox crashed, or broke the protocol."""
    status: str
    failure: dict | None = None
    event: str = field(default="run_stopped", repr=False)


@dataclass(frozen=True)
class RunFinished:
    event: str = field(default="run_finished", repr=False)


@dataclass(frozen=True)
class Fatal:
    status: str
    failure: dict | None = None
    event: str = field(default="fatal", repr=False)


Event = Plan | Load | TestStarted | SmokeStep | TestFinished | RunStopped | RunFinished | Fatal
STATUSES = ("graded", "timeout", "memory", "crashed", "engine_error", "device_unavailable", "cancelled",
            "invalid_report")


def to_line(event) -> bytes:
    """One event as a line. NaN and infinities (a diverged training's loss) travel as JSON's NaN / Infinity."""
    data = asdict(event)
    if isinstance(event, Plan):
        data["tests"] = [asdict(t) for t in event.tests]
    return (json.dumps(data, separators=(",", ":"), default=str) + "\n").encode()


# -- validation -------------------------------------------------------------------------------------------------


def _str(v, what: str, limit: int = 1000) -> str:
    if type(v) is not str or len(v) > limit:
        raise InvalidReport(f"{what} is not a string of at most {limit} characters")
    return v


def _num(v, what: str) -> float:
    if type(v) not in (int, float):
        raise InvalidReport(f"{what} is not a number")
    return float(v)


def _bool(v, what: str) -> bool:
    if type(v) is not bool:
        raise InvalidReport(f"{what} is not true or false")
    return v


def _scalar_ok(v) -> bool:
    return v is None or type(v) in (bool, int, float) or (type(v) is str and len(v) <= MAX_TEXT)


def check_failure(v, depth: int = 0) -> dict | None:
    """A failure as tutor.messages renders it, checked field by field."""
    if v is None:
        return None
    if type(v) is not dict or depth > 4:
        raise InvalidReport("a failure that is not an object")
    extra = set(v) - {"code", "params", "msg", "parts"}
    if extra:
        raise InvalidReport(f"a failure with unknown fields {sorted(extra)}")
    code = v.get("code")
    if type(code) is not str or not _CODE.match(code):
        raise InvalidReport("a failure without a valid reason code")
    params = v.get("params", {})
    if type(params) is not dict or len(params) > 64:
        raise InvalidReport("failure parameters that are not a small object")
    for key, value in params.items():
        if type(key) is not str or not _KEY.match(key):
            raise InvalidReport("a failure parameter with an invalid name")
        if type(value) is list:
            if len(value) > 1000 or not all(_scalar_ok(x) for x in value):
                raise InvalidReport(f"failure parameter {key!r} is not a list of plain values")
        elif not _scalar_ok(value):
            raise InvalidReport(f"failure parameter {key!r} is not a plain value")
    msg = v.get("msg")
    if msg is not None and (type(msg) is not str or len(msg) > 20_000):
        raise InvalidReport("a failure message that is not a short string")
    parts = v.get("parts", [])
    if type(parts) is not list or len(parts) > 16:
        raise InvalidReport("failure parts that are not a short list")
    return {"code": code, "params": dict(params), "msg": msg,
            "parts": [check_failure(p, depth + 1) for p in parts]}


def _metric(v) -> dict | None:
    if v is None:
        return None
    if type(v) is not dict or len(v) > 16:
        raise InvalidReport("a metric that is not a small object")
    out = {}
    for key, value in v.items():
        if type(key) is not str or len(key) > 64 or not _scalar_ok(value) or (type(value) is str and len(value) > 500):
            raise InvalidReport("a metric field that is not a plain value")
        out[key] = value
    return out


def _fields(data: dict, allowed: set[str]) -> None:
    extra = set(data) - allowed - {"event"}
    if extra:
        raise InvalidReport(f"unknown fields {sorted(extra)} in a {data.get('event')} event")


def parse(line: bytes):
    """One event from one line (without its newline); raises InvalidReport."""
    if len(line) > MAX_LINE:
        raise InvalidReport("an event longer than 1 MiB")
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise InvalidReport("a line that is not JSON") from None
    if type(data) is not dict:
        raise InvalidReport("an event that is not an object")
    kind = data.get("event")
    try:
        if kind == "plan":
            _fields(data, {"exercise", "device", "torch", "tests", "import_seconds", "withheld_tests",
                           "withheld_points"})
            tests = data.get("tests")
            if type(tests) is not list or not 0 < len(tests) <= 500:
                raise InvalidReport("a plan without a list of tests")
            planned, names = [], set()
            for t in tests:
                if type(t) is not dict:
                    raise InvalidReport("a planned test that is not an object")
                _fields(t, {"name", "points", "kind", "description", "metric", "goal", "threshold", "budget", "plot",
                            "hidden"})
                name = _str(t.get("name"), "a test name", 300)
                if name in names:
                    raise InvalidReport(f"the test name {name!r} twice in the plan")
                names.add(name)
                test_kind = t.get("kind", "test")
                if test_kind not in ("test", "smoke"):
                    raise InvalidReport("a test kind that is neither test nor smoke")
                points = _num(t.get("points"), "a test's points")
                if not 0 <= points <= 1000:
                    raise InvalidReport("a test's points out of range")
                goal = t.get("goal", "")
                if goal not in ("", "min", "max"):
                    raise InvalidReport("a smoke-check goal that is neither min nor max")
                planned.append(PlannedTest(name=name, points=points, kind=test_kind,
                                           description=_str(t.get("description", ""), "a description", 5000),
                                           metric=_str(t.get("metric", ""), "a metric name", 300), goal=goal,
                                           threshold=_num(t.get("threshold", 0.0), "a threshold"),
                                           budget=_num(t.get("budget", 0.0), "a budget"),
                                           plot=_str(t.get("plot", ""), "a plot name", 100),
                                           hidden=_bool(t.get("hidden", False), "a test's hidden flag")))
            withheld_tests = data.get("withheld_tests", 0)
            if type(withheld_tests) is not int or not 0 <= withheld_tests <= 500:
                raise InvalidReport("a count of withheld tests that is not a small integer")
            withheld_points = _num(data.get("withheld_points", 0.0), "withheld points")
            if not 0 <= withheld_points <= 100_000:
                raise InvalidReport("withheld points out of range")
            return Plan(exercise=_str(data.get("exercise"), "the exercise", 100),
                        device=_str(data.get("device"), "the device", 40), torch=_str(data.get("torch"), "torch", 100),
                        tests=tuple(planned), import_seconds=_num(data.get("import_seconds", 0.0), "import time"),
                        withheld_tests=withheld_tests, withheld_points=withheld_points)
        if kind == "load":
            _fields(data, {"ok", "isolation", "failure"})
            isolation = data.get("isolation", "process")
            if isolation not in ("bwrap", "user", "process"):
                raise InvalidReport("an unknown isolation")
            return Load(ok=_bool(data.get("ok"), "load.ok"), isolation=isolation,
                        failure=check_failure(data.get("failure")))
        if kind == "test_started":
            _fields(data, {"name"})
            return TestStarted(name=_str(data.get("name"), "a test name", 300))
        if kind == "smoke_step":
            _fields(data, {"name", "step", "metrics"})
            step = data.get("step")
            metrics = data.get("metrics")
            if type(step) is not int or not 0 <= step < 10 ** 9:
                raise InvalidReport("a step that is not a small integer")
            if type(metrics) is not dict or len(metrics) > 16 or not all(
                    type(k) is str and len(k) <= 64 and type(x) in (int, float) for k, x in metrics.items()):
                raise InvalidReport("step metrics that are not a few numbers")
            return SmokeStep(name=_str(data.get("name"), "a test name", 300), step=step,
                             metrics={k: float(x) for k, x in metrics.items()})
        if kind == "test_finished":
            _fields(data, {"name", "passed", "duration", "failure", "metric", "internal"})
            duration = _num(data.get("duration", 0.0), "a duration")
            return TestFinished(name=_str(data.get("name"), "a test name", 300),
                                passed=_bool(data.get("passed"), "passed"), duration=max(0.0, duration),
                                failure=check_failure(data.get("failure")), metric=_metric(data.get("metric")),
                                internal=_bool(data.get("internal", False), "internal"))
        if kind == "run_stopped":
            _fields(data, {"status", "failure"})
            status = data.get("status")
            if status not in ("crashed", "invalid_report"):
                raise InvalidReport("an unknown reason to stop")
            return RunStopped(status=status, failure=check_failure(data.get("failure")))
        if kind == "run_finished":
            _fields(data, set())
            return RunFinished()
        if kind == "fatal":
            _fields(data, {"status", "failure"})
            status = data.get("status")
            if status not in ("engine_error", "device_unavailable"):
                raise InvalidReport("an unknown fatal status")
            return Fatal(status=status, failure=check_failure(data.get("failure")))
    except InvalidReport:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidReport(f"a malformed {kind} event ({type(exc).__name__})") from None
    raise InvalidReport(f"an unknown event {str(kind)[:40]!r}")


class Sequence:
    """Checks that events come in the only order a verifier sends them."""

    def __init__(self):
        self.plan: Plan | None = None
        self.loaded = False
        self.next_test = 0
        self.current: PlannedTest | None = None
        self.done = False
        self.count = 0

    def check(self, event) -> None:
        self.count += 1
        if self.count > MAX_EVENTS:
            raise InvalidReport("too many events")
        if self.done:
            raise InvalidReport(f"a {event.event} event after the end of the run")
        if isinstance(event, Fatal):
            if self.plan is not None:
                raise InvalidReport("a fatal event after the plan")
            self.done = True
            return
        if isinstance(event, Plan):
            if self.plan is not None:
                raise InvalidReport("a second plan")
            self.plan = event
            return
        if self.plan is None:
            raise InvalidReport(f"a {event.event} event before the plan")
        if isinstance(event, Load):
            if self.loaded:
                raise InvalidReport("a second load event")
            self.loaded = True
            return
        if not self.loaded:
            raise InvalidReport(f"a {event.event} event before the learner's file was loaded")
        if isinstance(event, TestStarted):
            if self.current is not None or self.next_test >= len(self.plan.tests) \
                    or self.plan.tests[self.next_test].name != event.name:
                raise InvalidReport(f"test {event.name!r} started out of order")
            self.current = self.plan.tests[self.next_test]
            self.next_test += 1
            return
        if isinstance(event, SmokeStep):
            if self.current is None or self.current.name != event.name or self.current.kind != "smoke":
                raise InvalidReport(f"a smoke-check step for {event.name!r}, which is not the running smoke-check")
            return
        if isinstance(event, TestFinished):
            if self.current is None or self.current.name != event.name:
                raise InvalidReport(f"test {event.name!r} finished without running")
            self.current = None
            return
        if isinstance(event, RunStopped):
            self.done = True
            return
        if isinstance(event, RunFinished):
            if self.current is not None or self.next_test != len(self.plan.tests):
                raise InvalidReport("the run finished before every test did")
            self.done = True
            return
        raise InvalidReport("an unknown event")


class LineReader:
    """Splits a byte stream into lines in linear time, refusing any line longer than MAX_LINE."""

    def __init__(self, limit: int = MAX_LINE):
        self.limit = limit
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        start = len(self.buffer)
        self.buffer += chunk
        lines = []
        begin = 0
        at = self.buffer.find(b"\n", start)
        while at != -1:
            lines.append(bytes(self.buffer[begin:at]))
            begin = at + 1
            at = self.buffer.find(b"\n", begin)
        if begin:
            del self.buffer[:begin]
        if len(self.buffer) > self.limit or any(len(line) > self.limit for line in lines):
            raise InvalidReport("an event longer than 1 MiB")
        return lines
