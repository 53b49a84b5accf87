"""Progress database: transactional writes, survives a kill mid-write, refuses a damaged file."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tutor.engine.results import GradeResult, TestResult
from tutor.progress import Progress, ProgressError


def fake_result(exercise="corr2d", score=3.0):
    tests = [TestResult(name="a", points=3, earned=score, passed=score == 3, finished=True),
             TestResult(name="b", points=9, earned=0, passed=False, finished=True)]
    return GradeResult(exercise=exercise, file="x.py", status="graded", tests=tests, device="cpu",
                       duration=1.5, file_hash="ab" * 32)


def test_record_summaries_history_and_hints(tmp_path):
    with Progress(tmp_path / "p.db") as db:
        db.record(fake_result(score=0))
        db.record(fake_result(score=3))
        db.record(fake_result("dropout", score=0))
        s = db.summaries()
        assert s["corr2d"].attempts == 2 and s["corr2d"].best == 3 and s["corr2d"].max_score == 12
        assert s["dropout"].best == 0
        history = db.history("corr2d")
        assert [a.score for a in history] == [3, 0]
        assert history[0].tests[0] == {"name": "a", "passed": True, "earned": 3, "points": 3, "kind": "test"}
        assert history[0].file_hash == "ab" * 32 and history[0].device == "cpu"
        assert [db.reveal_hint("corr2d", 3) for _ in range(5)] == [1, 2, 3, 3, 3]
        db.reset_hints("corr2d")
        assert db.hints_shown("corr2d") == 0


def test_damaged_database_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "progress.db"
    path.write_bytes(b"this is not an sqlite database at all" * 100)
    before = path.read_bytes()
    with pytest.raises(ProgressError) as info:
        Progress(path).summaries()
    assert "damaged" in str(info.value) and "mv " in str(info.value)
    assert path.read_bytes() == before


def test_truncated_database_is_reported(tmp_path):
    path = tmp_path / "progress.db"
    with Progress(path) as db:
        for _ in range(200):
            db.record(fake_result())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProgressError):
        Progress(path).history()


WRITER = """
import sys
from tutor.progress import Progress
from tutor.engine.results import GradeResult, TestResult
db = Progress(sys.argv[1])
t = [TestResult(name="t%d" % i, points=1, earned=1, passed=True, finished=True) for i in range(200)]
r = GradeResult(exercise="corr2d", file="x", status="graded", tests=t, device="cpu", file_hash="f" * 64)
print("ready", flush=True)
while True:
    db.record(r)
"""


def test_killed_mid_write_never_corrupts(tmp_path):
    path = tmp_path / "progress.db"
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.4)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        with Progress(path) as db:
            rows = db.history("corr2d", limit=100000)
            assert rows and all(len(a.tests) == 200 for a in rows)


def test_course_totals_cap_each_exercise_at_its_points():
    from types import SimpleNamespace

    from tutor.progress import Summary, course_totals

    exercises = [SimpleNamespace(id="a", points=12), SimpleNamespace(id="b", points=10),
                 SimpleNamespace(id="c", points=8)]
    summaries = {"a": Summary("a", 3, 12, 12, ""), "b": Summary("b", 1, 4.5, 10, ""),
                 "x": Summary("x", 1, 99, 99, "")}  # an exercise no longer in the course counts for nothing
    t = course_totals(exercises, summaries)
    assert (t.earned, t.total, t.done, t.exercises) == (16.5, 30, 1, 3)


def test_a_database_that_cannot_be_written_is_not_called_damaged(tmp_path):
    from tutor.engine.results import GRADED, GradeResult
    from tutor.progress import ProgressError

    with Progress(tmp_path / "progress.db") as db:
        db.summaries()
        db.conn.execute("PRAGMA query_only = ON")  # SQLite then refuses writes as for a read-only file
        with pytest.raises(ProgressError) as info:
            db.record(GradeResult(exercise="corr2d", file="f", status=GRADED, tests=[]))
    assert "read-only" in str(info.value) and "damaged" not in str(info.value)
