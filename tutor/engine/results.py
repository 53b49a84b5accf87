"""Plain-data results of a grading run (no torch; JSON in and out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Run statuses. "graded" means every test reported its own outcome; the others
# say why the parent had to stop or judge the run itself.
GRADED = "graded"
TIMEOUT = "timeout"
MEMORY = "memory"
CRASHED = "crashed"           # the child died (signal, os._exit, ...) before reporting every test
ENGINE_ERROR = "engine_error"  # the grader itself broke: not the learner's fault
DEVICE_UNAVAILABLE = "device_unavailable"


@dataclass
class TestResult:
    __test__ = False  # not a pytest class

    name: str
    points: float
    earned: float = 0.0
    passed: bool = False
    message: str = ""
    kind: str = "test"            # "test" or "smoke"
    description: str = ""
    duration: float = 0.0
    metric: dict | None = None    # smoke-checks: {"name", "value", "threshold", "goal", "reference"}
    finished: bool = False        # True only when the child reported this test's outcome

    def to_json(self) -> dict:
        return asdict(self)


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
    problem: str = ""             # a run-level message (timeout, crash, syntax error, ...)
    smoke_steps: dict[str, list[dict]] = field(default_factory=dict)
    torch_version: str = ""

    @property
    def score(self) -> float:
        return round(sum(t.earned for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.points for t in self.tests), 6)

    @property
    def full_marks(self) -> bool:
        return self.status == GRADED and bool(self.tests) and all(t.passed for t in self.tests)

    def verdict(self) -> list[tuple]:
        """What must be identical between two runs of the same file."""
        return [(t.name, t.passed, t.earned, t.message) for t in self.tests] + [("status", self.status)]

    def to_json(self) -> dict:
        data = asdict(self)
        data["score"] = self.score
        data["max_score"] = self.max_score
        data["full_marks"] = self.full_marks
        return data
