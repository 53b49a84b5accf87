"""Load the course manifest (tutor/course.toml) and locate course files.

This module is deliberately light (no torch, no rich, no textual): the CLI, the
TUI, the grading child and the instructor check all start here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = PACKAGE_DIR / "course.toml"
LESSONS_DIR = PACKAGE_DIR / "lessons"


def course_root() -> Path:
    """The folder that holds exercises/, solutions/ and graders/.

    In a built wheel they travel inside the package as tutor/_course/; in a
    source checkout (or an editable install) they sit at the repository root.
    """
    bundled = PACKAGE_DIR / "_course"
    if (bundled / "graders").is_dir():
        return bundled
    return PACKAGE_DIR.parent


def course_copies() -> list[Path]:
    """Every folder that holds a copy of the course's solutions/ and graders/ where Python could find it: the one
    in use, a wheel's tutor/_course in any sys.path entry (an editable install leaves one in site-packages), and
    a source checkout on sys.path. The sandbox covers all of them."""
    roots = [course_root()]
    for entry in sys.path:
        if not entry:
            continue
        base = Path(entry)
        for candidate in (base / "tutor" / "_course", base):
            if (candidate / "solutions").is_dir() and (candidate / "graders").is_dir():
                roots.append(candidate)
    seen, found = set(), []
    for root in roots:
        for name in ("solutions", "graders"):
            folder = (root / name).resolve()
            if folder.is_dir() and folder not in seen:
                seen.add(folder)
                found.append(folder)
    return found


class ManifestError(Exception):
    """The course manifest is malformed (a bug in the course, not the learner's)."""


class UnknownExercise(LookupError):
    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"No exercise or lesson called {name!r}.{hint} Run `d2l-tutor list` to see them all.")


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    d2l: str
    points: int
    time_limit: float
    memory_mb: int
    requires: tuple[str, ...]
    forbidden: tuple[str, ...]
    hints: tuple[str, ...]
    lesson_id: str
    chapter: int

    @property
    def filename(self) -> str:
        return f"{self.id}.py"

    @property
    def stub_path(self) -> Path:
        return course_root() / "exercises" / self.filename

    @property
    def solution_path(self) -> Path:
        return course_root() / "solutions" / self.filename

    @property
    def grader_path(self) -> Path:
        return course_root() / "graders" / self.filename

    def to_json(self) -> dict:
        return {
            "id": self.id, "title": self.title, "d2l": self.d2l, "points": self.points,
            "time_limit": self.time_limit, "memory_mb": self.memory_mb,
            "requires": list(self.requires), "forbidden": list(self.forbidden),
            "lesson": self.lesson_id, "chapter": self.chapter, "hints": len(self.hints),
        }


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    d2l: str
    file: str
    chapter: int
    exercises: tuple[Exercise, ...] = field(default_factory=tuple)

    @property
    def path(self) -> Path:
        return LESSONS_DIR / self.file


@dataclass(frozen=True)
class Chapter:
    number: int
    title: str
    lessons: tuple[Lesson, ...]


@dataclass(frozen=True)
class Course:
    title: str
    chapters: tuple[Chapter, ...]

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for ch in self.chapters for lesson in ch.lessons]

    @property
    def exercises(self) -> list[Exercise]:
        return [ex for lesson in self.lessons for ex in lesson.exercises]

    def exercise(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == name:
                return ex
        raise UnknownExercise(name, self.suggest(name))

    def lesson(self, name: str) -> Lesson:
        """A lesson by its own id, or the lesson that holds exercise `name`."""
        for lesson in self.lessons:
            if lesson.id == name or any(ex.id == name for ex in lesson.exercises):
                return lesson
        raise UnknownExercise(name, self.suggest(name))

    def suggest(self, name: str) -> list[str]:
        names = sorted({ex.id for ex in self.exercises} | {le.id for le in self.lessons})
        import difflib  # only for a mistyped name

        close = difflib.get_close_matches(name, names, n=2, cutoff=0.5)
        if not close:
            close = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()][:2]
        return close


def _require(table: dict, key: str, where: str, kind: type | tuple[type, ...]):
    if key not in table:
        raise ManifestError(f"{MANIFEST_PATH}: {where} is missing '{key}'")
    value = table[key]
    if not isinstance(value, kind):
        raise ManifestError(f"{MANIFEST_PATH}: {where}.{key} has the wrong type ({type(value).__name__})")
    return value


def parse_course(data: dict) -> Course:
    chapters = []
    seen: set[str] = set()
    for ch in _require(data, "chapters", "the manifest", list):
        number = _require(ch, "number", "a chapter", int)
        lessons = []
        for le in _require(ch, "lessons", f"chapter {number}", list):
            lid = _require(le, "id", f"a lesson of chapter {number}", str)
            exercises = []
            for ex in le.get("exercises", []):
                where = f"an exercise of lesson {lid}"
                eid = _require(ex, "id", where, str)
                where = f"exercise {eid}"
                if eid in seen:
                    raise ManifestError(f"{MANIFEST_PATH}: exercise id {eid!r} appears twice")
                seen.add(eid)
                hints = tuple(_require(ex, "hints", where, list))
                if len(hints) < 3:
                    raise ManifestError(f"{MANIFEST_PATH}: {where} needs at least three hints")
                exercises.append(Exercise(
                    id=eid,
                    title=_require(ex, "title", where, str),
                    d2l=_require(ex, "d2l", where, str),
                    points=_require(ex, "points", where, int),
                    time_limit=float(_require(ex, "time_limit", where, (int, float))),
                    memory_mb=int(ex.get("memory_mb", 3072)),
                    requires=tuple(_require(ex, "requires", where, list)),
                    forbidden=tuple(ex.get("forbidden", [])),
                    hints=hints,
                    lesson_id=lid,
                    chapter=number,
                ))
            lessons.append(Lesson(
                id=lid,
                title=_require(le, "title", f"lesson {lid}", str),
                d2l=_require(le, "d2l", f"lesson {lid}", str),
                file=_require(le, "file", f"lesson {lid}", str),
                chapter=number,
                exercises=tuple(exercises),
            ))
        chapters.append(Chapter(number=number, title=_require(ch, "title", f"chapter {number}", str),
                                lessons=tuple(lessons)))
    title = data.get("course", {}).get("title", "d2l-tutor")
    return Course(title=title, chapters=tuple(chapters))


@lru_cache(maxsize=1)
def load_course(path: Path = MANIFEST_PATH) -> Course:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"cannot read the course manifest {path}: {exc}") from exc
    return parse_course(data)
