"""Plain-data results of a grading run (no torch; JSON in and out).

A failing test carries its failure as data (`failure`: a reason code, parameters and parts; see
tutor.messages); `message` is that failure rendered in English, for people and for JSON readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tutor.messages import failure, render, signal_text

# Run statuses. "graded" means every test reported its own outcome; the others
# say why the parent had to stop or judge the run itself.
GRADED = "graded"
TIMEOUT = "timeout"
MEMORY = "memory"
CRASHED = "crashed"           # the sandbox died (signal, os._exit, ...) before every test reported
ENGINE_ERROR = "engine_error"  # the grader itself broke: not the learner's fault
DEVICE_UNAVAILABLE = "device_unavailable"
INVALID_REPORT = "invalid_report"  # the grading process broke the protocol: nothing after that was trusted
CANCELLED = "cancelled"


def exit_failure(returncode: int | None, *, shell_style: bool = False) -> dict:
    """Why a process ended early, as a failure: the signal that killed it (a negative return code; with
    `shell_style`, also 128 + n, as bubblewrap reports it) or its exit code."""
    import signal

    number = -returncode if returncode is not None and returncode < 0 else None
    if number is None and shell_style and returncode is not None and 128 < returncode < 128 + 65:
        number = returncode - 128
    if number is not None:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return failure("crashed_signal", signal=signal_text(name))
    return failure("crashed_exit", exit_code=returncode if returncode is not None else "unknown")


@dataclass
class TestResult:
    __test__ = False  # not a pytest class

    name: str
    points: float
    earned: float = 0.0
    passed: bool = False
    failure: dict | None = None   # why it failed, as data (tutor.messages renders it)
    kind: str = "test"            # "test" or "smoke"
    description: str = ""
    duration: float = 0.0
    metric: dict | None = None    # smoke-checks: {"name", "value", "threshold", "goal", "reference", "steps"}
    finished: bool = False        # True only when the verifier reported this test's outcome
    hidden: bool = False          # a hidden test: only in the instructor's build (never in the student build)

    @property
    def code(self) -> str:
        return self.failure.get("code", "") if self.failure else ""

    @property
    def message(self) -> str:
        return render(self.failure)

    def text(self, lang: str = "en") -> str:
        return render(self.failure, lang)

    def to_json(self) -> dict:
        return {"name": self.name, "points": self.points, "earned": self.earned, "passed": self.passed,
                "code": self.code or None, "failure": self.failure, "message": self.message, "kind": self.kind,
                "description": self.description, "duration": self.duration, "metric": self.metric,
                "finished": self.finished, "hidden": self.hidden}


@dataclass
class GradeResult:
    exercise: str
    file: str
    status: str
    tests: list[TestResult]
    device: str = "cpu"
    duration: float = 0.0
    file_hash: str = ""
    output: str = ""              # what the learner's code printed (capped)
    output_truncated_bytes: int = 0
    problem_failure: dict | None = None  # a run-level reason (timeout, crash, syntax error, ...) as data
    smoke_steps: dict[str, list[dict]] = field(default_factory=dict)
    torch_version: str = ""
    isolation: str = "process"    # how the learner's code was kept apart: "bwrap", "user" or "process"
    strict: bool = False
    withheld_tests: int = 0       # a student build: the instructor's build runs this many more tests,
    withheld_points: float = 0.0  # worth this many more points

    @property
    def problem(self) -> str:
        return render(self.problem_failure)

    @property
    def score(self) -> float:
        return round(sum(t.earned for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.points for t in self.tests), 6)

    @property
    def full_marks(self) -> bool:
        return self.status == GRADED and bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def notice(self) -> dict | None:
        """In a student build, what the score leaves out (as data: a reason code tutor.messages renders), else None."""
        if not self.withheld_tests:
            return None
        return failure("withheld_tests", score=f"{self.score:g}", max=f"{self.max_score:g}", tests=self.withheld_tests,
                       points=f"{self.withheld_points:g}")

    def verdict(self) -> list[tuple]:
        """What must be identical between two runs of the same file."""
        return [(t.name, t.passed, t.earned, t.message) for t in self.tests] + [("status", self.status)]

    def to_json(self) -> dict:
        return {"exercise": self.exercise, "file": self.file, "status": self.status,
                "tests": [t.to_json() for t in self.tests], "device": self.device, "duration": self.duration,
                "file_hash": self.file_hash, "output": self.output,
                "output_truncated_bytes": self.output_truncated_bytes,
                "problem": self.problem, "problem_failure": self.problem_failure, "smoke_steps": self.smoke_steps,
                "torch_version": self.torch_version, "isolation": self.isolation, "strict": self.strict,
                "score": self.score, "max_score": self.max_score, "full_marks": self.full_marks,
                "withheld": ({"tests": self.withheld_tests, "points": self.withheld_points}
                             if self.withheld_tests else None),
                "notice": render(self.notice), "notice_failure": self.notice}
