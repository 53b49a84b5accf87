"""The grading engine.

`runner` (the parent side) never imports torch: it starts a fresh child process
(`tutor.engine.child`) for every grading run, reads the JSON-lines events the
child streams, enforces the time, memory and output limits and decides the
verdict. Everything that touches torch or the learner's code lives in the child.
`warm.WarmGrader` (for the long-lived app) forks each run's child from a zygote
that has imported torch already, and shares the runner's limits and verdict code.
"""

from tutor.engine.results import GradeResult, TestResult  # noqa: F401
