"""Warm grading (tutor.engine.warm): a zygote that has imported torch forks a fresh child per run. Same verdicts
as the cold path, the same limits, and no state carried from one run to the next."""

import os
import signal
import textwrap
import threading
import time

import pytest

from tests.test_engine import CORRECT
from tutor.engine.results import CRASHED, GRADED, MEMORY, TIMEOUT
from tutor.engine.runner import CANCELLED, grade
from tutor.engine.warm import WarmGrader

LOOP = "import torch\n\ndef corr2d(X, K):\n    while True:\n        pass\n"
EXIT = "import os\nimport torch\n\ndef corr2d(X, K):\n    os._exit(0)\n"
SEGFAULT = "import ctypes\nimport torch\n\ndef corr2d(X, K):\n    ctypes.string_at(0)\n"
CORRECT_BODY = CORRECT.split("def corr2d(X, K):\n", 1)[1]  # the body of a correct corr2d
SETS_MARKER = "import torch\n\ntorch.__dict__['_d2l_marker'] = 1\n\ndef corr2d(X, K):\n" + CORRECT_BODY
# Correct only when no earlier run's marker leaked into this process.
CHECKS_MARKER = ("import torch\n\ndef corr2d(X, K):\n    if '_d2l_marker' in torch.__dict__:\n        return X * 0\n"
                 + CORRECT_BODY)


@pytest.fixture(scope="module")
def warm():
    grader = WarmGrader()
    grader.start()
    yield grader
    grader.close()


@pytest.fixture
def write(tmp_path):
    def make(name: str, source: str):
        path = tmp_path / name / "corr2d.py"
        path.parent.mkdir()
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return make


@pytest.mark.parametrize("which", ["solution_path", "stub_path"])
def test_same_verdict_cold_and_warm(course, warm, which):
    ex = course.exercise("corr2d")
    path = getattr(ex, which)
    cold = grade(ex, path, device="cpu")
    hot = warm.grade(ex, path, device="cpu")
    assert hot.status == cold.status == GRADED
    assert hot.verdict() == cold.verdict()
    assert [(t.name, t.passed, t.earned, t.message) for t in hot.tests] == \
           [(t.name, t.passed, t.earned, t.message) for t in cold.tests]
    assert hot.score == cold.score == (12 if which == "solution_path" else 0)
    assert hot.file_hash == cold.file_hash


@pytest.mark.parametrize("source,status,kwargs,needle", [
    (LOOP, TIMEOUT, {"time_limit": 6}, "longer than its 6 s limit"),
    (EXIT, CRASHED, {}, "ended (exit code 0) before this test reported a result"),
    (SEGFAULT, CRASHED, {}, "SIGSEGV (segmentation fault)"),
])
def test_bad_files_get_the_same_status_warm_and_cold(course, warm, write, source, status, kwargs, needle):
    ex = course.exercise("corr2d")
    path = write("bad", source)
    zygote = warm.pid
    started = time.perf_counter()
    hot = warm.grade(ex, path, device="cpu", **kwargs)
    elapsed = time.perf_counter() - started
    cold = grade(ex, path, device="cpu", **kwargs)
    assert hot.status == cold.status == status
    assert hot.score == cold.score == 0
    assert needle in "\n".join(t.message for t in hot.tests)
    assert [t.message for t in hot.tests] == [t.message for t in cold.tests]
    if status == TIMEOUT:
        assert elapsed < 6 + 3
    # The zygote survives a crashing run and grades again.
    assert warm.pid == zygote
    again = warm.grade(ex, ex.solution_path, device="cpu")
    assert again.status == GRADED and again.full_marks
    assert warm.pid == zygote


def test_memory_cap_applies_to_the_forked_child(course, warm, write):
    hog = """
    import torch

    def corr2d(X, K):
        keep = []
        while True:
            keep.append(b"x" * (64 * 1024 * 1024))
    """
    result = warm.grade(course.exercise("corr2d"), write("hog", hog), device="cpu", memory_mb=1200)
    assert result.status == MEMORY
    assert "more than 1200 MB of memory" in "\n".join(t.message for t in result.tests)


def test_cancel_stops_a_warm_run(course, warm, write):
    cancel = threading.Event()

    def on_event(event):
        if event.event == "test_started":
            threading.Timer(0.3, cancel.set).start()

    started = time.perf_counter()
    result = warm.grade(course.exercise("corr2d"), write("loop", LOOP), device="cpu", time_limit=60,
                        cancel=cancel, on_event=on_event)
    assert result.status == CANCELLED
    assert time.perf_counter() - started < 10
    assert result.score == 0


def test_consecutive_warm_runs_are_isolated(course, warm, write):
    ex = course.exercise("corr2d")
    checker = write("checker", CHECKS_MARKER)
    assert warm.grade(ex, checker, device="cpu").full_marks  # the check itself works
    warm.grade(ex, write("marker", SETS_MARKER), device="cpu")
    after = warm.grade(ex, checker, device="cpu")
    assert after.status == GRADED and after.full_marks, [t.message for t in after.tests]


def test_a_dead_zygote_is_restarted(course, warm):
    ex = course.exercise("corr2d")
    warm.wait_ready()
    old, starts = warm.pid, warm.starts
    os.kill(old, signal.SIGKILL)
    time.sleep(0.2)
    result = warm.grade(ex, ex.solution_path, device="cpu")
    assert result.status == GRADED and result.full_marks
    assert warm.starts == starts + 1
    assert warm.pid not in (None, old)


def test_close_stops_the_zygote(course):
    grader = WarmGrader()
    grader.wait_ready()
    pid = grader.pid
    grader.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
