"""The toolkit that hidden tests in graders/ are written with (child side only).

Importing this package imports torch, so only the grading child process and the
graders themselves import it.
"""

from tutor.grading.checks import (  # noqa: F401
    N_,
    TestFailure,
    check_tensor,
    check_type,
    describe,
    fmt_tensor,
    probe_detail,
)
from tutor.grading.harness import Context, Grader  # noqa: F401
