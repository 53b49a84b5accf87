"""The course's folders against the manifest (part of `d2l-tutor check`, as rustlings' `dev check`): every part
present, nothing stray or orphaned, every text in both languages, every name by the rules. No torch."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CHAPTER_NAME = re.compile(r"^(\d\d)-[a-z0-9]+(-[a-z0-9]+)*$")
LESSON_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
EXERCISE_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
EXERCISE_PARTS = ("exercise.toml", "stub.py", "solution.py", "grader.py", "task.zh.md", "messages.zh.po")
STUDENT_PARTS = tuple(p for p in EXERCISE_PARTS if p != "solution.py")  # a student build (tutor.export)
IGNORED = {"__pycache__", ".DS_Store"}


def is_student_build(course) -> bool:
    """A student build (tutor.export) holds no reference solution at all; a course with some is a full one."""
    return bool(course.exercises) and not any(ex.solution_path.is_file() for ex in course.exercises)


def problems(course) -> list[tuple[str, str]]:
    """(where, what is wrong) for everything in the course's folders that breaks the layout."""
    from tutor.catalog import grader_messages, lost_placeholders, sync
    from tutor.i18n import exercise_po

    root = course.root
    parts = STUDENT_PARTS if is_student_build(course) else EXERCISE_PARTS
    found: list[tuple[str, str]] = []
    chapter_folders = set()
    for ch in course.chapters:
        folder = ch.folder
        name = folder.name
        chapter_folders.add(name)
        match = CHAPTER_NAME.match(name)
        if not match:
            found.append((name, "a chapter folder is named NN-words-with-dashes (e.g. 06-convolutional-networks)"))
        elif int(match.group(1)) != ch.number:
            found.append((name, f"the folder's number {match.group(1)} is not the chapter's number {ch.number}"))
        if not folder.is_dir():
            found.append((name, "the chapter's folder is missing"))
            continue
        expected_files, expected_dirs = set(), set()
        for lesson in ch.lessons:
            if not LESSON_ID.match(lesson.id):
                found.append((lesson.id, "a lesson id is lowercase words joined by dashes"))
            expected_files |= {lesson.path.name, lesson.path_zh.name}
            for path, what in ((lesson.path, "its English text"), (lesson.path_zh, "its Chinese text")):
                if not path.is_file():
                    found.append((f"{name}/{path.name}", f"lesson {lesson.id} lacks {what}"))
            for ex in lesson.exercises:
                expected_dirs.add(ex.folder.name)
                if not EXERCISE_ID.match(ex.id):
                    found.append((ex.id, "an exercise id is lowercase words joined by underscores (a Python "
                                         "module name: the learner's file is <id>.py)"))
                found += exercise_problems(ex, f"{name}/{ex.id}", parts)
        for entry in sorted(folder.iterdir()):
            if entry.name in IGNORED:
                continue
            if entry.is_dir() and entry.name not in expected_dirs:
                found.append((f"{name}/{entry.name}", "a folder no lesson of the manifest lists (an orphan "
                                                      "exercise?)"))
            elif entry.is_file() and entry.name not in expected_files:
                found.append((f"{name}/{entry.name}", "a stray file: lessons are <lesson>.md and <lesson>.zh.md"))
    for entry in sorted(root.iterdir()):
        if entry.name in IGNORED or entry.name == "course.toml":
            continue
        if entry.name not in chapter_folders:
            found.append((entry.name, "not a chapter of the manifest (a stray or orphan)"))
    found += given_problems(course)
    found += interface_problems(course)
    for ch in course.chapters:
        if not ch.title_zh:
            found.append((ch.folder.name, "the chapter has no title_zh in course.toml"))
        for lesson in ch.lessons:
            if not lesson.title_zh:
                found.append((f"{ch.folder.name}/{lesson.id}", "the lesson has no title_zh in course.toml"))
    for ex in course.exercises:
        po = exercise_po(ex.folder, "zh")
        where = f"{ex.folder.parent.name}/{ex.id}/messages.zh.po"
        _, _, untranslated = sync(po, grader_messages(ex.grader_path), write=False)
        if untranslated:
            found.append((where, f"{len(untranslated)} messages have no Chinese yet (python -m tutor.catalog adds "
                                 "new ones; translate their msgstr)"))
        found += [(where, f"the translation of {msgid[:50]!r} lacks {', '.join('{%s}' % m for m in missing)}")
                  for msgid, missing in lost_placeholders(po)]
    return found


def exercise_problems(ex, where: str, parts: tuple[str, ...] = EXERCISE_PARTS) -> list[tuple[str, str]]:
    found = []
    folder = ex.folder
    if not folder.is_dir():
        return [(where, "the exercise's folder is missing")]
    for part in parts:
        if not (folder / part).is_file():
            found.append((f"{where}/{part}", "missing"))
    for entry in sorted(folder.iterdir()):
        if entry.name not in parts and entry.name not in IGNORED:
            kind = "folder" if entry.is_dir() else "file"
            found.append((f"{where}/{entry.name}", f"a stray {kind}: an exercise folder holds "
                                                   f"{', '.join(parts)}"))
    for text in ("task.zh.md",):
        path = folder / text
        if path.is_file() and not path.read_text(encoding="utf-8").strip():
            found.append((f"{where}/{text}", "empty"))
    try:
        with open(folder / "exercise.toml", "rb") as fh:
            meta = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return found
    if not meta.get("title_zh"):
        found.append((f"{where}/exercise.toml", "title_zh is missing"))
    if len(meta.get("hints_zh", [])) != len(meta.get("hints", [])):
        found.append((f"{where}/exercise.toml", f"{len(meta.get('hints', []))} hints but "
                                                f"{len(meta.get('hints_zh', []))} hints_zh"))
    grader = folder / "grader.py"
    if grader.is_file() and f'Grader("{ex.id}")' not in grader.read_text(encoding="utf-8"):
        found.append((f"{where}/grader.py", f'the grader must be Grader("{ex.id}")'))
    if grader.is_file():
        found += visibility_problems(grader, f"{where}/grader.py")
    return found


def visibility_problems(grader: Path, where: str) -> list[tuple[str, str]]:
    """Every grader has a visible test (what the student build grades) and declares its tests so that the export
    can read them: names, points and hidden= written out."""
    import ast

    from tutor.export import ExportError, declared_tests

    try:
        tests = declared_tests(ast.parse(grader.read_text(encoding="utf-8")), where)
    except (SyntaxError, ExportError) as exc:
        return [(where, str(exc))]
    if tests and all(t.hidden for t in tests):
        return [(where, "every test is hidden=True: the student build needs at least one visible test")]
    return []


def _signature_text(node) -> str | None:
    """The parameters a stub's or a reference's function (or a class's __init__) declares, as text."""
    import ast

    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        return None if init is None else _signature_text(init)
    args = node.args
    for arg in args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]:
        arg.annotation = None
    node.returns = None
    return ast.unparse(args)


def interface_problems(course) -> list[tuple[str, str]]:
    """The stub and the reference declare every name the learner writes alike (a function's parameters, a class's
    __init__): the verifier reads the course's signatures from the stub, in both builds."""
    import ast

    found = []
    for ex in course.exercises:
        if not (ex.stub_path.is_file() and ex.solution_path.is_file()):
            continue
        trees = []
        for path in (ex.stub_path, ex.solution_path):
            try:
                trees.append({n.name: n for n in ast.parse(path.read_text(encoding="utf-8")).body
                              if isinstance(n, (ast.FunctionDef, ast.ClassDef))})
            except SyntaxError as exc:
                found.append((f"{ex.folder.parent.name}/{ex.id}/{path.name}", f"a syntax error: {exc}"))
        if len(trees) != 2:
            continue
        stub, solution = trees
        for name in ex.requires:
            where = f"{ex.folder.parent.name}/{ex.id}/stub.py"
            if name not in stub or name not in solution:
                found.append((where, f"{name} is not defined in both the stub and the reference solution"))
            elif type(stub[name]) is not type(solution[name]) or \
                    _signature_text(stub[name]) != _signature_text(solution[name]):
                found.append((where, f"{name} is declared differently in the stub and the reference solution "
                                     f"({_signature_text(stub[name])} vs {_signature_text(solution[name])})"))
    return found


def given_problems(course) -> list[tuple[str, str]]:
    """An exercise's given helpers (tutor/given.py): its stub imports each of them, and the references they come
    from use none of the APIs the exercise forbids (in the sandbox, they run under the exercise's guard). The
    manifest itself refuses a given name that is the exercise's own or comes from a later exercise."""
    from tutor.engine.scan import scan

    found = []
    for ex in course.exercises:
        if not ex.given:
            continue
        where = f"{ex.folder.parent.name}/{ex.id}"
        stub = ex.stub_path.read_text(encoding="utf-8") if ex.stub_path.is_file() else ""
        for name in ex.given:
            if not re.search(rf"^from tutor\.given import .*\b{re.escape(name)}\b", stub, re.M):
                found.append((f"{where}/stub.py", f"the given {name} is not imported (from tutor.given import "
                                                  f"{name})"))
        for source in course.given_chain(ex):
            if not source.solution_path.is_file():
                continue  # a student build: the given names are the learner's own (tutor.given)
            for api, line in scan(source.solution_path.read_text(encoding="utf-8"), ex.forbidden):
                found.append((f"{where}/exercise.toml", f"the given reference of {source.id} calls {api} (its "
                                                        f"line {line}), which {ex.id} forbids"))
    return found


def ui_problems() -> list[tuple[str, str]]:
    """The tool's own catalog: every message of the CLI, the TUI and the reason codes has its Chinese."""
    from tutor.catalog import lost_placeholders, sync, ui_messages
    from tutor.i18n import tutor_po

    where = str(Path("tutor/locale/zh/LC_MESSAGES/tutor.po"))
    _, _, untranslated = sync(tutor_po("zh"), ui_messages(), write=False)
    found = [(where, f"{len(untranslated)} messages have no Chinese yet")] if untranslated else []
    return found + [(where, f"the translation of {msgid[:50]!r} lacks {', '.join('{%s}' % m for m in missing)}")
                    for msgid, missing in lost_placeholders(tutor_po("zh"))]
