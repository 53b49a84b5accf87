"""A student build of the course: `d2l-tutor course export --student DIR` (no torch).

The student build is a course folder with the same layout and the same course.toml, made for learners who must not
see the answers. Each exercise keeps its exercise.toml, stub, task and lesson, but has no solution.py, and its
grader.py keeps only the visible tests: the export parses the grader (ast), removes every test declared with
`hidden=True` and whatever only those tests used (helpers, tables, imports), and records what it removed with
`grader.withheld(tests=N, points=P)`, so that a result says "N more tests (P points) run when your instructor
grades". Its exercise.toml's `points` become the visible points. Visible tests check values written in the test
(or an oracle such as torch.nn), never the reference solution: the verifier enforces that in both builds.

Use it with D2L_TUTOR_COURSE=DIR (every command then reads that course), or build a wheel of the tutor that
carries it (`--wheel DIST`). `d2l-tutor check` exports a student build too and grades in it.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from tutor.i18n import _

COPIED_PARTS = ("stub.py", "task.zh.md")  # copied as they are; exercise.toml, grader.py and messages.zh.po rewritten


class ExportError(Exception):
    """The course cannot be exported (a grader the export cannot strip, or a folder it must not write)."""


# -- the grader: keep the visible tests ----------------------------------------------------------------------------


@dataclass
class Declared:
    name: str
    points: float
    hidden: bool
    node: ast.FunctionDef


@dataclass
class StrippedGrader:
    source: str
    visible: list[tuple[str, float]]
    hidden: list[tuple[str, float]]

    @property
    def hidden_points(self) -> float:
        return sum(points for _, points in self.hidden)

    @property
    def visible_points(self) -> float:
        return sum(points for _, points in self.visible)


def _literal(node, what: str, where: str):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ExportError(f"{where}: {what} must be written out as a literal") from None


def declared_tests(tree: ast.Module, where: str = "grader.py") -> list[Declared]:
    """The module's tests, `@grader.test(name, points, ..., hidden=...)` and `@grader.smoke(...)`, in order."""
    found = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)
                    and deco.func.attr in ("test", "smoke") and isinstance(deco.func.value, ast.Name)
                    and deco.func.value.id == "grader"):
                continue
            keywords = {k.arg: k.value for k in deco.keywords}
            name = _literal(deco.args[0], "a test's name", where) if deco.args else None
            points = deco.args[1] if len(deco.args) > 1 else keywords.get("points")
            if not isinstance(name, str) or points is None:
                raise ExportError(f"{where} line {deco.lineno}: a test needs a name and points")
            hidden = _literal(keywords["hidden"], "hidden=", where) if "hidden" in keywords else False
            if not isinstance(hidden, bool):
                raise ExportError(f"{where} line {deco.lineno}: hidden= is True or False")
            found.append(Declared(name, float(_literal(points, "points=", where)), hidden, node))
    return found


def _bound_names(node) -> set[str]:
    """The module-level names a top-level statement defines."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _used_names(nodes) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _first_line(node) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [d.lineno for d in decorators])


def strip_grader(source: str, exercise_id: str, where: str = "grader.py") -> StrippedGrader:
    """The grader with only its visible tests: hidden tests removed, then (until nothing changes) every top-level
    function, class, assignment or imported name that nothing left uses; a new module docstring; and
    `grader.withheld(tests=N, points=P)` after `grader = Grader(...)`."""
    tree = ast.parse(source, filename=where)
    tests = declared_tests(tree, where)
    visible = [(t.name, t.points) for t in tests if not t.hidden]
    hidden = [(t.name, t.points) for t in tests if t.hidden]
    if not visible:
        raise ExportError(f"{where}: no visible test (a student build would have nothing to grade)")
    test_nodes = {id(t.node) for t in tests}
    removed = {id(t.node) for t in tests if t.hidden}
    grader_stmt = next((node for node in tree.body if isinstance(node, ast.Assign)
                        and _bound_names(node) == {"grader"}), None)
    if grader_stmt is None:
        raise ExportError(f"{where}: no `grader = Grader(...)` statement")
    trimmed: dict[int, list[ast.alias]] = {}  # import statement -> the aliases it keeps
    uses = {id(node): _used_names([node]) for node in tree.body}  # the names each statement refers to
    changed = True
    while changed:
        changed = False
        kept = [node for node in tree.body if id(node) not in removed]
        for node in kept:
            if id(node) in test_nodes or node is grader_stmt or id(node) in removed:
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            names = _bound_names(node)
            if not names:
                continue  # a docstring, a call, an `if`: kept
            used = set().union(*(uses[id(other)] for other in kept if other is not node and id(other) not in removed))
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                aliases = trimmed.get(id(node), list(node.names))
                keep = [a for a in aliases if (a.asname or a.name).split(".")[0] in used]
                if not keep:
                    removed.add(id(node))
                    changed = True
                elif len(keep) != len(aliases):
                    trimmed[id(node)] = keep
                    changed = True
            elif not names & used:
                removed.add(id(node))
                changed = True

    lines = source.splitlines()
    drop: set[int] = set()          # 0-based line numbers
    replace: dict[int, str] = {}    # first line of a trimmed import -> its new text
    for node in tree.body:
        first, last = _first_line(node) - 1, node.end_lineno - 1
        if id(node) in removed:
            while first > 0 and lines[first - 1].lstrip().startswith("#"):
                first -= 1  # the comment right above it is about it
            drop.update(range(first, last + 1))
        elif id(node) in trimmed:
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in trimmed[id(node)])
            text = (f"from {'.' * node.level}{node.module or ''} import {names}" if isinstance(node, ast.ImportFrom)
                    else f"import {names}")
            drop.update(range(first, last + 1))
            replace[first] = text
    doc = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(
        getattr(tree.body[0], "value", None), ast.Constant) and isinstance(tree.body[0].value.value, str) else None
    if doc is not None:
        drop.update(range(doc.lineno - 1, doc.end_lineno))
    n_hidden, p_hidden = len(hidden), sum(p for _, p in hidden)
    out: list[str] = [f'"""The visible tests of exercise {exercise_id}: a student build of its grader, made by '
                      f'`d2l-tutor course export --student`.', "",
                      f"When your instructor grades, the full grader runs {n_hidden} more tests ({p_hidden:g} points).",
                      '"""']
    for i, line in enumerate(lines):
        if i in replace:
            out.append(replace[i])
        if i in drop:
            continue
        out.append(line)
        if i == grader_stmt.end_lineno - 1:
            out.append(f"grader.withheld(tests={n_hidden}, points={p_hidden:g})  # only in the instructor's build")
    text = "\n".join(out)
    text = re.sub(r"\n{4,}", "\n\n\n", text).strip("\n") + "\n"
    compile(text, where, "exec")  # what the export writes must at least be Python
    return StrippedGrader(text, visible, hidden)


# -- the whole course ----------------------------------------------------------------------------------------------


@dataclass
class ExportedExercise:
    id: str
    visible: list[tuple[str, float]]
    hidden: list[tuple[str, float]]

    def to_json(self) -> dict:
        return {"id": self.id, "visible_tests": len(self.visible), "visible_points": sum(p for _, p in self.visible),
                "hidden_tests": len(self.hidden), "hidden_points": sum(p for _, p in self.hidden)}


@dataclass
class ExportReport:
    root: Path
    exercises: list[ExportedExercise] = field(default_factory=list)
    wheel: Path | None = None

    def to_json(self) -> dict:
        return {"course": str(self.root), "exercises": [e.to_json() for e in self.exercises],
                "wheel": str(self.wheel) if self.wheel else None}


def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def prepare_folder(dest: Path, source_root: Path, *, force: bool) -> Path:
    """The folder to write the build into: new or empty; a non-empty one only with `force`, and then only its own
    contents are removed (links are unlinked, never followed). Never the course itself, or a folder around it."""
    dest = Path(dest).expanduser().absolute()
    real = dest.resolve()
    source = Path(source_root).resolve()
    if _is_inside(real, source) or _is_inside(source, real):
        raise ExportError(_("{dest} is the course itself, inside it or around it: choose another folder.").format(
            dest=dest))
    if real == Path(real.anchor) or real == Path.home().resolve():
        raise ExportError(_("{dest} is not a folder to fill with a course: choose a new one.").format(dest=dest))
    if dest.exists() and not dest.is_dir():
        raise ExportError(_("{dest} is a file, not a folder.").format(dest=dest))
    if dest.is_dir() and any(dest.iterdir()):
        if not force:
            raise ExportError(_("{dest} is not empty: choose a new folder, or add --force to replace what is in "
                                "it.").format(dest=dest))
        for entry in dest.iterdir():
            if entry.is_symlink() or not entry.is_dir():
                entry.unlink()
            else:
                shutil.rmtree(entry)
    dest.mkdir(parents=True, exist_ok=True)
    return dest


def _rewrite_points(text: str, visible: float, full: int, where: str) -> str:
    pattern = re.compile(r"^points\s*=\s*\d+[^\n]*$", re.M)
    if len(pattern.findall(text)) != 1:
        raise ExportError(f"{where}: expected one `points = N` line")
    line = f"points = {visible:g}  # the visible tests' points (the instructor's build: {full})"
    return pattern.sub(lambda _m: line, text)


def export_student(dest: Path, *, course=None, force: bool = False, verify: bool = True) -> ExportReport:
    """Write the student build of `course` (default: the course in use) into `dest`; see the module's docstring.
    With `verify`, an ExportError when the build holds what it must not (solution_leaks; `check` reports that as
    a finding of its own instead)."""
    from tutor.catalog import grader_messages, sync
    from tutor.manifest import load_course

    course = course or load_course()
    root = Path(course.root)
    stripped = {}
    for ex in course.exercises:  # everything is checked before anything is written
        where = f"{ex.folder.relative_to(root)}/grader.py"
        stripped[ex.id] = strip_grader(ex.grader_path.read_text(encoding="utf-8"), ex.id, where)
    dest = prepare_folder(dest, root, force=force)
    report = ExportReport(root=dest)
    shutil.copy2(root / "course.toml", dest / "course.toml")
    for chapter in course.chapters:
        folder = dest / chapter.folder.name
        folder.mkdir(exist_ok=True)
        for lesson in chapter.lessons:
            for path in (lesson.path, lesson.path_zh):
                if path.is_file():
                    shutil.copy2(path, folder / path.name)
            for ex in lesson.exercises:
                out = folder / ex.id
                out.mkdir()
                for part in COPIED_PARTS:
                    if (ex.folder / part).is_file():
                        shutil.copy2(ex.folder / part, out / part)
                grader = stripped[ex.id]
                (out / "grader.py").write_text(grader.source, encoding="utf-8")
                meta = (ex.folder / "exercise.toml").read_text(encoding="utf-8")
                (out / "exercise.toml").write_text(
                    _rewrite_points(meta, grader.visible_points, ex.points, f"{ex.id}/exercise.toml"),
                    encoding="utf-8")
                if (ex.folder / "messages.zh.po").is_file():
                    shutil.copy2(ex.folder / "messages.zh.po", out / "messages.zh.po")
                    # only what the visible tests say: the hidden tests' names and messages go
                    sync(out / "messages.zh.po", grader_messages(out / "grader.py"), write=True)
                report.exercises.append(ExportedExercise(ex.id, grader.visible, grader.hidden))
    leaks = solution_leaks(dest, course) if verify else []
    if leaks:
        raise ExportError("the student build would hold what it must not: " + "; ".join(leaks[:5]))
    return report


# -- what a student build must not hold ---------------------------------------------------------------------------


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _body_text(lines: list[str], node) -> str:
    """The compacted source of a function's body, without its docstring ("" for a body that is only that)."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    if not body:
        return ""
    first, last = body[0], body[-1]
    text = "\n".join(lines[first.lineno - 1:last.end_lineno])
    # from the first statement's column to the last one's end (the lines hold nothing else)
    return _compact(text[first.col_offset:len(text) - (len(lines[last.end_lineno - 1]) - last.end_col_offset)])


def _bodies(source: str) -> list[tuple[str, str]]:
    """(name, the compacted body without its docstring) of every function and method in `source`."""
    lines = source.splitlines()
    return [(node.name, text) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (text := _body_text(lines, node))]


def solution_leaks(root: Path, course) -> list[str]:
    """What the student build in `root` holds that it must not (empty when it is clean): a solution.py, a function
    body of a reference solution (one the stub gives away does not count), or a hidden test (its declaration or
    its body) of `course`, the full course."""
    root = Path(root)
    found = [f"{p.relative_to(root)} exists" for p in sorted(root.rglob("solution.py"))]
    files = {p: _compact(p.read_text(encoding="utf-8", errors="replace")) for p in sorted(root.rglob("*"))
             if p.is_file()}
    everything = "\0".join(files.values())
    for ex in course.exercises:
        stub = _compact(ex.stub_path.read_text(encoding="utf-8")) if ex.stub_path.is_file() else ""
        secrets = [(f"the body of {name} in {ex.id}'s reference solution", body)
                   for name, body in _bodies(ex.solution_path.read_text(encoding="utf-8")) if body not in stub]
        grader_source = ex.grader_path.read_text(encoding="utf-8")
        tree = ast.parse(grader_source)
        lines = grader_source.splitlines()
        secrets += [(f"the body of {ex.id}'s hidden test {test.name!r}", _body_text(lines, test.node))
                    for test in declared_tests(tree) if test.hidden]
        for what, body in secrets:
            if body and body in everything:
                found += [f"{path.relative_to(root)} holds {what}" for path, text in files.items() if body in text]
        exported = root / ex.folder.relative_to(course.root) / "grader.py"
        if exported.is_file():
            names = {t.name for t in declared_tests(ast.parse(exported.read_text(encoding="utf-8")))}
            for test in declared_tests(tree):
                if test.hidden and test.name in names:
                    found.append(f"{exported.relative_to(root)} declares the hidden test {test.name!r}")
    return found


# -- a wheel that carries the student build ------------------------------------------------------------------------


def build_wheel(course_dir: Path, dist: Path) -> Path:
    """Build a wheel of this tutor with `course_dir` as its course (tutor/_course), version <version>+student, into
    `dist`. Needs a source checkout (pyproject.toml beside the tutor package) and hatchling."""
    import subprocess
    import tempfile

    from tutor.manifest import PACKAGE_DIR

    project = PACKAGE_DIR.parent
    if not (project / "pyproject.toml").is_file():
        raise ExportError(_("--wheel needs a source checkout of d2l-tutor (this one is installed without its "
                            "pyproject.toml): point D2L_TUTOR_COURSE at the exported folder instead."))
    dist = Path(dist).expanduser().absolute()
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="d2l-student-wheel-") as tmp:
        stage = Path(tmp)
        shutil.copytree(PACKAGE_DIR, stage / "tutor",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_course"))
        shutil.copytree(course_dir, stage / "course")
        for name in ("README.md", "README.zh.md"):
            if (project / name).is_file():
                shutil.copy2(project / name, stage / name)
        pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
        pyproject, n = re.subn(r'^version = "([^"+]+)"', r'version = "\1+student"', pyproject, count=1, flags=re.M)
        if not n:
            raise ExportError("pyproject.toml has no version line")
        (stage / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                               "-w", str(dist), str(stage)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ExportError(_("building the wheel failed (is hatchling installed?): {error}").format(
                error=(proc.stderr.strip().splitlines() or ["?"])[-1]))
    wheels = sorted(dist.glob("d2l_tutor-*+student-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise ExportError("the wheel was not written")
    return wheels[-1]


# -- the command line ------------------------------------------------------------------------------------------------

course_app = typer.Typer(name="course", help=_("Build the course for learners: a student build without the reference "
                                               "solutions or the hidden tests."),
                         no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@course_app.command("export", help=_("Write a student build of the course into DIR: no reference solutions, only the "
                                     "visible tests (the hidden ones run when the instructor grades with the full "
                                     "course). Use it with D2L_TUTOR_COURSE=DIR, or build a wheel with --wheel."))
def export_command(
    student: Annotated[Path, typer.Option("--student", help=_("The folder to write the student build into (new or "
                                                              "empty)."), show_default=False)],
    force: Annotated[bool, typer.Option("--force", help=_("Write into a folder that is not empty, replacing what is "
                                                          "in it (only inside it)."))] = False,
    wheel: Annotated[Optional[Path], typer.Option("--wheel", help=_("Also build a wheel of d2l-tutor that carries the "
                                                                    "student build, into this folder."),
                                                  show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print only machine-readable JSON on stdout."))] = False,
) -> None:
    import json

    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    try:
        report = export_student(student, force=force)
        if wheel is not None:
            report.wheel = build_wheel(report.root, wheel)
    except ExportError as exc:
        err.print(_("error:") + " " + str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    table = Table(title=_("Student build in {dest}").format(dest=report.root), title_justify="left",
                  header_style="bold")
    for col in (_("exercise"), _("visible tests"), _("hidden tests (instructor only)")):
        table.add_column(col)
    for ex in report.exercises:
        data = ex.to_json()
        table.add_row(ex.id, _("{n} tests, {points} points").format(n=data["visible_tests"],
                                                                     points=f"{data['visible_points']:g}"),
                      _("{n} tests, {points} points").format(n=data["hidden_tests"],
                                                             points=f"{data['hidden_points']:g}"))
    out.print(table)
    out.print(_("No reference solution and no hidden test is in it. Learners use it with "
                "D2L_TUTOR_COURSE={dest} (e.g. D2L_TUTOR_COURSE={dest} d2l-tutor init), or install the wheel.").format(
        dest=report.root), markup=False, highlight=False)
    if report.wheel is not None:
        out.print(_("Wheel: {path}").format(path=report.wheel), markup=False, highlight=False)
