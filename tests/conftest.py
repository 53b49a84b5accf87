import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tutor.manifest import load_course

REPO = Path(__file__).resolve().parent.parent
FIXTURE_COURSE = REPO / "tests" / "fixture_course"


@pytest.fixture
def fixture_course_env(monkeypatch):
    """Run on the small fixture course (tests/fixture_course): five exercises of the real course, so that adding
    content to the course never changes these tests. Child processes (the grading engine) inherit it."""
    monkeypatch.setenv("D2L_TUTOR_COURSE", str(FIXTURE_COURSE))
    yield FIXTURE_COURSE


@pytest.fixture(scope="session")
def course():
    return load_course()


@pytest.fixture(scope="module")
def warm():
    """A warm grader (a zygote that forks a verifier and a sandbox per run) shared by a module's tests."""
    from tutor.engine.warm import WarmGrader

    grader = WarmGrader(fallback_to_cold=False)
    grader.start()
    yield grader
    grader.close()


@pytest.fixture
def grade_source(tmp_path, course):
    """Grade a learner file with the given source text; returns the GradeResult."""
    from tutor.engine.runner import grade

    def run(exercise_id: str, source: str, **kwargs):
        path = tmp_path / f"{exercise_id}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        kwargs.setdefault("device", "cpu")
        return grade(course.exercise(exercise_id), path, **kwargs)

    return run


def run_cli(*args, cwd=None, env=None, timeout=300):
    """Run the real console entry point in a subprocess (what a learner types)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "120")
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
