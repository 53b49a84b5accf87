"""Load the course (course/course.toml and the chapter folders it names) and find things in it.

The layout, read by the CLI, the TUI, the grading engine, the instructor check and the tests alike:

    course/course.toml                 the ordered manifest: chapters, their lessons, each lesson's exercises
    course/<NN-chapter>/<lesson>.md     a lesson, and <lesson>.zh.md beside it
    course/<NN-chapter>/<exercise>/     exercise.toml (title, limits, forbidden APIs, hints), stub.py,
                                        solution.py, grader.py

Every lesson and exercise has its place in three numberings: the course's syllabus ("course"), the Chinese
edition of the book (d2l-zh, "zh") and the English one (d2l-en, "en"); `Course.find` accepts any of them.

This module is deliberately light (no torch, no rich, no textual): every process starts here.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

PACKAGE_DIR = Path(__file__).resolve().parent
BOOKS = ("course", "zh", "en")
BOOK_NAMES = {"course": "this course", "zh": "d2l-zh (zh.d2l.ai)", "en": "d2l-en (d2l.ai)"}
COURSE_ENV = "D2L_TUTOR_COURSE"  # another course folder (the tests' small fixture course)
_SECTION = re.compile(r"^\d+(\.\d+)*$")


def course_root() -> Path:
    """The course folder: $D2L_TUTOR_COURSE, else the one a built wheel carries (tutor/_course/), else the
    repository's course/ (a source checkout or an editable install)."""
    if os.environ.get(COURSE_ENV):
        return Path(os.environ[COURSE_ENV]).resolve()
    bundled = PACKAGE_DIR / "_course"
    if (bundled / "course.toml").is_file():
        return bundled
    return PACKAGE_DIR.parent / "course"


def course_copies() -> list[Path]:
    """Every copy of the course where Python could find it: the one in use, a wheel's tutor/_course in any
    sys.path entry (an editable install leaves one in site-packages), and a source checkout's course/ on
    sys.path. The sandbox covers all of them (they hold the reference solutions and the graders)."""
    roots = [course_root()]
    for entry in sys.path:
        if entry:
            roots += [Path(entry) / "tutor" / "_course", Path(entry) / "course"]
    seen, found = set(), []
    for root in roots:
        try:
            if not (root / "course.toml").is_file():
                continue
            folder = root.resolve()
        except OSError:
            continue
        if folder not in seen:
            seen.add(folder)
            found.append(folder)
    return found


class ManifestError(Exception):
    """The course manifest or a course folder is malformed (a bug in the course, not the learner's)."""


class UnknownExercise(LookupError):
    def __init__(self, name: str, suggestions: list[str], message: str | None = None):
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(message or f"No exercise or lesson called {name!r}.{hint} Run `d2l-tutor list` to see them "
                                    "all.")


class Numbered:
    """A lesson's or an exercise's place in the three numberings, and its title in either language."""

    sections: dict
    title: str
    title_zh: str

    @property
    def d2l(self) -> str:
        """The course's section number (the syllabus used throughout the tutor)."""
        return self.sections.get("course", "")

    def section(self, book: str = "course") -> str:
        return self.sections.get(book) or self.d2l

    def title_in(self, lang: str = "en") -> str:
        return self.title_zh if lang == "zh" and self.title_zh else self.title


@dataclass(frozen=True)
class Exercise(Numbered):
    id: str
    title: str
    points: int
    time_limit: float
    memory_mb: int
    requires: tuple[str, ...]
    forbidden: tuple[str, ...]
    hints: tuple[str, ...]
    lesson_id: str
    chapter: int
    folder: Path
    sections: dict = field(default_factory=dict, compare=False, hash=False)  # {"course": "6.1", "zh": ..., "en": ...}
    title_zh: str = ""
    hints_zh: tuple[str, ...] = ()
    given: tuple[str, ...] = ()  # names from earlier exercises' references that the stub imports from tutor.given

    def hints_in(self, lang: str = "en") -> tuple[str, ...]:
        return self.hints_zh if lang == "zh" and self.hints_zh else self.hints

    @property
    def filename(self) -> str:
        return f"{self.id}.py"

    @property
    def stub_path(self) -> Path:
        return self.folder / "stub.py"

    @property
    def solution_path(self) -> Path:
        return self.folder / "solution.py"

    @property
    def grader_path(self) -> Path:
        return self.folder / "grader.py"

    def to_json(self) -> dict:
        return {
            "id": self.id, "title": self.title, "title_zh": self.title_zh, "d2l": self.d2l,
            "sections": dict(self.sections), "points": self.points, "time_limit": self.time_limit,
            "memory_mb": self.memory_mb, "requires": list(self.requires), "forbidden": list(self.forbidden),
            "lesson": self.lesson_id, "chapter": self.chapter, "hints": len(self.hints), "given": list(self.given),
        }


@dataclass(frozen=True)
class Lesson(Numbered):
    id: str
    title: str
    chapter: int
    folder: Path
    exercises: tuple[Exercise, ...] = field(default_factory=tuple)
    sections: dict = field(default_factory=dict, compare=False, hash=False)
    pages: dict = field(default_factory=dict, compare=False, hash=False)   # {"zh": url, "en": url}
    title_zh: str = ""
    practice: tuple[str, ...] = ()  # ids of exercises of other lessons that also practise this one (NiN: cnn_blocks)

    @property
    def path(self) -> Path:
        return self.folder / f"{self.id}.md"

    @property
    def path_zh(self) -> Path:
        return self.folder / f"{self.id}.zh.md"

    def path_in(self, lang: str = "en") -> Path:
        """The lesson in `lang` (Chinese: <lesson>.zh.md, where it exists)."""
        return self.path_zh if lang == "zh" and self.path_zh.is_file() else self.path


@dataclass(frozen=True)
class Chapter:
    number: int
    title: str
    lessons: tuple[Lesson, ...]
    folder: Path | None = None
    title_zh: str = ""

    def title_in(self, lang: str = "en") -> str:
        return self.title_zh if lang == "zh" and self.title_zh else self.title


@dataclass(frozen=True)
class Course:
    title: str
    chapters: tuple[Chapter, ...]
    root: Path | None = None
    title_zh: str = ""

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for ch in self.chapters for lesson in ch.lessons]

    @property
    def exercises(self) -> list[Exercise]:
        return [ex for lesson in self.lessons for ex in lesson.exercises]

    def provider(self, name: str) -> Exercise | None:
        """The exercise whose learner writes `name` (it is in its `requires`): the one whose reference gives it."""
        for ex in self.exercises:
            if name in ex.requires:
                return ex
        return None

    def given_chain(self, exercise: Exercise) -> list[Exercise]:
        """The exercises whose references `exercise`'s given names come from, with the ones those references
        import from tutor.given in turn, in course order (each one's own givens come before it)."""
        needed: set[str] = set()
        todo = list(exercise.given)
        while todo:
            provider = self.provider(todo.pop())
            if provider is not None and provider.id not in needed:
                needed.add(provider.id)
                todo.extend(provider.given)
        return [ex for ex in self.exercises if ex.id in needed]

    def practice(self, lesson: Lesson) -> list[Exercise]:
        """The exercises of other lessons that `lesson`'s `practice` names (they also ask for this section's code)."""
        return [ex for ex in self.exercises if ex.id in lesson.practice]

    def exercise(self, name: str, book: str | None = None) -> Exercise:
        """An exercise by id, or by its section number in any of the three numberings (`book` narrows it)."""
        for ex in self.exercises:
            if ex.id == name:
                return ex
        if _SECTION.match(name):
            found = self._by_section(self.exercises, name, book)
            if len(found) == 1:
                return found[0]
            if found:
                raise UnknownExercise(name, [ex.id for ex in found], self._ambiguous(name, [ex.id for ex in found]))
        raise UnknownExercise(name, self.suggest(name))

    def lesson(self, name: str, book: str | None = None) -> Lesson:
        """A lesson by its own id, the lesson that holds exercise `name`, or a lesson by section number."""
        for lesson in self.lessons:
            if lesson.id == name or any(ex.id == name for ex in lesson.exercises):
                return lesson
        if _SECTION.match(name):
            found = self._by_section(self.lessons, name, book)
            if len(found) == 1:
                return found[0]
            if found:
                raise UnknownExercise(name, [le.id for le in found], self._ambiguous(name, [le.id for le in found]))
        raise UnknownExercise(name, self.suggest(name))

    @staticmethod
    def _by_section(items, number: str, book: str | None):
        """Items whose section is `number`: in `book` when given, else in the course's numbering first, then
        d2l-zh's, then d2l-en's (the first numbering that knows the number wins)."""
        for b in ([book] if book else list(BOOKS)):
            found = [item for item in items if item.sections.get(b) == number]
            if found:
                return found
        return []

    @staticmethod
    def _ambiguous(number: str, ids: list[str]) -> str:
        return (f"Section {number} has more than one: {', '.join(ids)}. Name the one you mean (e.g. "
                f"`{ids[0]}`).")

    def suggest(self, name: str) -> list[str]:
        names = sorted({ex.id for ex in self.exercises} | {le.id for le in self.lessons})
        import difflib  # only for a mistyped name

        close = difflib.get_close_matches(name, names, n=2, cutoff=0.5)
        if not close:
            close = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()][:2]
        return close


# -- reading the files -----------------------------------------------------------------------------------------------


def _require(table: dict, key: str, where: str, kind: type | tuple[type, ...], path: Path):
    if key not in table:
        raise ManifestError(f"{path}: {where} is missing '{key}'")
    value = table[key]
    if not isinstance(value, kind):
        raise ManifestError(f"{path}: {where}.{key} has the wrong type ({type(value).__name__})")
    return value


def _toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc


def _strings(value, where: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{path}: {where} must be a list of strings")
    return tuple(value)


def load_exercise(folder: Path, *, eid: str, lesson: str, chapter: int, sections: dict) -> Exercise:
    meta_path = folder / "exercise.toml"
    meta = _toml(meta_path)
    where = f"exercise {eid}"
    hints = _strings(_require(meta, "hints", where, list, meta_path), f"{where}.hints", meta_path)
    if len(hints) < 3:
        raise ManifestError(f"{meta_path}: {where} needs at least three hints")
    hints_zh = _strings(meta.get("hints_zh", []), f"{where}.hints_zh", meta_path)
    own = {b: str(meta[b]) for b in BOOKS if b in meta}
    return Exercise(
        id=eid,
        title=_require(meta, "title", where, str, meta_path),
        title_zh=str(meta.get("title_zh", "")),
        points=_require(meta, "points", where, int, meta_path),
        time_limit=float(_require(meta, "time_limit", where, (int, float), meta_path)),
        memory_mb=int(meta.get("memory_mb", 3072)),
        requires=_strings(_require(meta, "requires", where, list, meta_path), f"{where}.requires", meta_path),
        forbidden=_strings(meta.get("forbidden", []), f"{where}.forbidden", meta_path),
        hints=hints,
        hints_zh=hints_zh,
        given=_strings(meta.get("given", []), f"{where}.given", meta_path),
        lesson_id=lesson,
        chapter=chapter,
        folder=folder,
        sections={**sections, **own},
    )


def parse_course(data: dict, root: Path) -> Course:
    manifest = root / "course.toml"
    books = data.get("books", {})
    chapters = []
    seen: set[str] = set()
    for ch in _require(data, "chapters", "the manifest", list, manifest):
        number = _require(ch, "number", "a chapter", int, manifest)
        folder = root / _require(ch, "folder", f"chapter {number}", str, manifest)
        lessons = []
        for le in _require(ch, "lessons", f"chapter {number}", list, manifest):
            lid = _require(le, "id", f"a lesson of chapter {number}", str, manifest)
            where = f"lesson {lid}"
            if lid in seen:
                raise ManifestError(f"{manifest}: the id {lid!r} appears twice")
            seen.add(lid)
            sections = {b: str(_require(le, b, where, str, manifest)) for b in BOOKS}
            for b, number_text in sections.items():
                if not _SECTION.match(number_text):
                    raise ManifestError(f"{manifest}: {where}.{b} = {number_text!r} is not a section number")
            pages = {b: books[b].rstrip("/") + "/" + str(le[f"page_{b}"]).strip("/") + ".html"
                     for b in ("zh", "en") if b in books and le.get(f"page_{b}")}
            exercises = []
            for eid in _strings(le.get("exercises", []), f"{where}.exercises", manifest):
                if eid in seen and eid != lid:
                    raise ManifestError(f"{manifest}: the id {eid!r} appears twice")
                seen.add(eid)
                exercises.append(load_exercise(folder / eid, eid=eid, lesson=lid, chapter=number,
                                               sections=sections))
            lessons.append(Lesson(id=lid, title=_require(le, "title", where, str, manifest),
                                  title_zh=str(le.get("title_zh", "")), chapter=number, folder=folder,
                                  exercises=tuple(exercises), sections=sections, pages=pages,
                                  practice=tuple(_strings(le.get("practice", []), f"{where}.practice", manifest))))
        chapters.append(Chapter(number=number, title=_require(ch, "title", f"chapter {number}", str, manifest),
                                title_zh=str(ch.get("title_zh", "")), lessons=tuple(lessons), folder=folder))
    info = data.get("course", {})
    course = Course(title=info.get("title", "d2l-tutor"), title_zh=info.get("title_zh", ""),
                    chapters=tuple(chapters), root=root)
    _check_given(course, manifest)
    ids = {ex.id for ex in course.exercises}
    for lesson in course.lessons:
        for eid in lesson.practice:
            if eid not in ids or eid in {ex.id for ex in lesson.exercises}:
                raise ManifestError(f"{manifest}: lesson {lesson.id}.practice names {eid!r}, which is not an exercise "
                                    "of another lesson: list there only ids from other lessons' exercises")
    return course


def _check_given(course: Course, manifest: Path) -> None:
    """Every given name comes from the reference of an exercise earlier in the course, never the exercise's own."""
    order = {ex.id: i for i, ex in enumerate(course.exercises)}
    for ex in course.exercises:
        for name in ex.given:
            provider = course.provider(name)
            if provider is None:
                raise ManifestError(f"{ex.folder / 'exercise.toml'}: given name {name!r} is not written in any "
                                    "exercise (no exercise lists it in `requires`)")
            if name in ex.requires or provider.id == ex.id:
                raise ManifestError(f"{ex.folder / 'exercise.toml'}: {name!r} cannot be both given and asked for")
            if order[provider.id] > order[ex.id]:
                raise ManifestError(f"{ex.folder / 'exercise.toml'}: {name!r} comes from {provider.id}, which "
                                    f"comes after {ex.id} in the course: a given name must come from an earlier "
                                    "exercise")


@lru_cache(maxsize=4)
def _load(root: Path) -> Course:
    return parse_course(_toml(root / "course.toml"), root)


def load_course(root: Path | None = None) -> Course:
    """The course in `root` (default: course_root())."""
    return _load(Path(root) if root is not None else course_root())


load_course.cache_clear = _load.cache_clear  # type: ignore[attr-defined]
