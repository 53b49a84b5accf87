"""Progress in SQLite: every grading attempt and how many hints were shown.

Each write is one transaction (SQLite's journal makes a write killed half-way
leave the previous state intact). A damaged database raises ProgressError with
what to do; it is never replaced or repaired silently.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    exercise    TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    score       REAL NOT NULL,
    max_score   REAL NOT NULL,
    status      TEXT NOT NULL,
    duration    REAL NOT NULL,
    device      TEXT NOT NULL,
    file_hash   TEXT NOT NULL,
    tests       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_exercise ON attempts (exercise, finished_at);
CREATE TABLE IF NOT EXISTS hints (
    exercise TEXT PRIMARY KEY,
    shown    INTEGER NOT NULL
);
"""


class ProgressError(Exception):
    """The progress database cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Summary:
    exercise: str
    attempts: int
    best: float
    max_score: float
    last: str

    @property
    def full_marks(self) -> bool:
        return self.attempts > 0 and self.max_score > 0 and self.best >= self.max_score


@dataclass(frozen=True)
class Attempt:
    id: int
    exercise: str
    finished_at: str
    score: float
    max_score: float
    status: str
    duration: float
    device: str
    file_hash: str
    tests: list


@dataclass(frozen=True)
class CourseTotals:
    earned: float   # points, each exercise's best counted up to its points
    total: int      # the course's points
    done: int       # exercises with full marks
    exercises: int


def course_totals(exercises, summaries: dict[str, Summary]) -> CourseTotals:
    """Where the learner stands over the whole course (the TUI's bar and progress view, `d2l-tutor progress`)."""
    earned = sum(min(s.best, ex.points) for ex in exercises if (s := summaries.get(ex.id)))
    done = sum(1 for ex in exercises if (s := summaries.get(ex.id)) and s.best >= ex.points)
    return CourseTotals(earned=earned, total=sum(ex.points for ex in exercises), done=done,
                        exercises=len(exercises))


class Progress:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def _damaged(self, exc: Exception) -> ProgressError:
        """The right message for a failure of SQLite or of the file system: damaged, not writable, or busy."""
        text = str(exc).lower()
        if isinstance(exc, PermissionError) or "readonly" in text or "read-only" in text \
                or "unable to open" in text or "permission" in text:
            return ProgressError(
                f"cannot write the progress database {self.path}: {exc}. The workspace (or the file) is read-only "
                f"for you: check the permissions of {self.path.parent} (e.g. ls -l, chmod u+w). Your files and "
                "your history are untouched.")
        if "locked" in text or "busy" in text:
            return ProgressError(
                f"the progress database {self.path} is busy (another d2l-tutor is writing it): {exc}. Try again "
                "in a moment; nothing was changed.")
        if isinstance(exc, OSError) and not isinstance(exc, sqlite3.DatabaseError):
            return ProgressError(f"cannot use the progress database {self.path}: {exc}. Nothing was changed.")
        return ProgressError(
            f"the progress database {self.path} is damaged or not a d2l-tutor database ({exc}). "
            f"Your exercise files are untouched. Move it aside (mv {self.path} {self.path}.damaged) and run the "
            "command again to start a fresh history; nothing was changed.")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=15, isolation_level=None)
                conn.execute("PRAGMA synchronous=FULL")
                row = conn.execute("PRAGMA quick_check").fetchone()
                if row is None or row[0] != "ok":
                    conn.close()
                    raise self._damaged(RuntimeError(row[0] if row else "quick_check returned nothing"))
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    conn.close()
                    raise ProgressError(f"{self.path} was written by a newer d2l-tutor (schema {version}); "
                                        "upgrade d2l-tutor to read it. Nothing was changed.")
                if version < SCHEMA_VERSION:
                    conn.execute("BEGIN IMMEDIATE")
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    conn.execute("COMMIT")
            except (sqlite3.DatabaseError, OSError) as exc:
                raise self._damaged(exc) from None
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, sql: str, params: tuple) -> int:
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(sql, params)
            conn.execute("COMMIT")
            return int(cur.lastrowid or 0)
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._damaged(exc) from None

    def record(self, result) -> int:
        """Store one GradeResult as an attempt."""
        tests = [{"name": t.name, "passed": t.passed, "earned": t.earned, "points": t.points, "kind": t.kind}
                 for t in result.tests]
        return self._write(
            "INSERT INTO attempts (exercise, finished_at, score, max_score, status, duration, device, file_hash, tests)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.exercise, datetime.now(timezone.utc).isoformat(timespec="seconds"), result.score,
             result.max_score, result.status, result.duration, result.device, result.file_hash, json.dumps(tests)))

    def summaries(self) -> dict[str, Summary]:
        try:
            rows = self.conn.execute(
                "SELECT exercise, COUNT(*), MAX(score), MAX(max_score), MAX(finished_at) FROM attempts GROUP BY exercise"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        return {r[0]: Summary(r[0], r[1], r[2], r[3], r[4]) for r in rows}

    def history(self, exercise: str | None = None, limit: int = 50) -> list[Attempt]:
        sql = "SELECT id, exercise, finished_at, score, max_score, status, duration, device, file_hash, tests FROM attempts"
        params: tuple = ()
        if exercise:
            sql += " WHERE exercise = ?"
            params = (exercise,)
        sql += " ORDER BY id DESC LIMIT ?"
        try:
            rows = self.conn.execute(sql, params + (limit,)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        return [Attempt(*r[:9], json.loads(r[9])) for r in rows]

    def hints_shown(self, exercise: str) -> int:
        try:
            row = self.conn.execute("SELECT shown FROM hints WHERE exercise = ?", (exercise,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        return int(row[0]) if row else 0

    def reveal_hint(self, exercise: str, total: int) -> int:
        """Count one more hint as shown (at most `total`); returns how many are shown now."""
        shown = min(self.hints_shown(exercise) + 1, total)
        self._write("INSERT INTO hints (exercise, shown) VALUES (?, ?) "
                    "ON CONFLICT(exercise) DO UPDATE SET shown = excluded.shown", (exercise, shown))
        return shown

    def reset_hints(self, exercise: str) -> None:
        self._write("DELETE FROM hints WHERE exercise = ?", (exercise,))
