"""Grading from a Jupyter notebook (or Colab): the same sandboxed engine as `d2l-tutor grade`, without a terminal.

    import tutor.notebook as d2l_tutor
    d2l_tutor.grade("corr2d")        # or, after %load_ext tutor.notebook:  %d2l grade corr2d
    d2l_tutor.lesson("corr2d"); d2l_tutor.hint("corr2d"); d2l_tutor.progress()

`grade` takes the definitions the exercise requires from the notebook: their source comes from the cell history
(the newest cell that defines each name, with the cells' imports and the helper functions the definitions use),
and from `inspect` outside IPython. It writes them as the workspace's file for the exercise (the previous file is
backed up first, as `reset` does), grades that file in the sandbox, records the attempt in the workspace's progress
database, and returns an object that Jupyter shows as HTML: the CLI's own report (the same messages, rendered by
tutor.render) and the smoke-check's curve. The workspace is found as the CLI finds it, from the notebook's folder;
when there is none, one is created there (./d2l-workspace) and the result says so.
"""

from __future__ import annotations

import ast
import html
import inspect
import io
import os
import shutil
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tutor.i18n import _

__all__ = ["grade", "lesson", "hint", "progress", "NotebookError", "load_ipython_extension"]


class NotebookError(Exception):
    """Something the learner can fix in the notebook; the message says what."""


# -- what the notebook defined ---------------------------------------------------------------------------------


def _user_namespace() -> tuple[dict, list[str]]:
    """The notebook's namespace and its cell history (oldest first); outside IPython, __main__'s and none."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        ns = shell.user_ns
        return ns, [str(cell) for cell in ns.get("_ih", ns.get("In", []))]
    import __main__

    return vars(__main__), []


def _parse_cell(text: str) -> ast.Module | None:
    """A cell as Python: IPython's magics and shell escapes become blank lines; a cell that is not Python is None."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


@dataclass
class _History:
    defs: dict[str, str] = field(default_factory=dict)      # name -> the newest top-level def/class source
    order: dict[str, int] = field(default_factory=dict)     # name -> where that definition came (for the file)
    imports: list[str] = field(default_factory=list)        # every top-level import, first seen first


def _read_history(cells: list[str]) -> _History:
    found = _History()
    position = 0
    for cell in cells:
        tree = _parse_cell(cell)
        if tree is None:
            continue
        text = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.splitlines())
        for node in tree.body:
            segment = ast.get_source_segment(text, node, padded=False)
            if segment is None:
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                decorators = "".join(f"@{ast.get_source_segment(text, d)}\n" for d in node.decorator_list)
                found.defs[node.name] = decorators + segment
                position += 1
                found.order[node.name] = position
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if (module or "").split(".")[0] == "tutor" and not (module or "").startswith("tutor.given"):
                    continue  # the notebook helper itself: the graded file has no use for it
                if segment not in found.imports:
                    found.imports.append(segment)
    return found


def _names_used(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _source_of(name: str, ns: dict, history: _History) -> str:
    if name not in ns and name not in history.defs:
        raise NotebookError(_("{name} is not defined in this notebook: write it in a cell (def {name}(...) or class "
                              "{name}) and run that cell, then grade again.").format(name=name))
    obj = ns.get(name)
    if getattr(obj, "__name__", None) == "<lambda>":
        raise NotebookError(_("{name} is a lambda, which has no source the grader can copy: write it as def {name}(...) "
                              "in a cell, run it, and grade again.").format(name=name))
    if name in history.defs:
        return history.defs[name]
    if inspect.isfunction(obj) or inspect.isclass(obj):
        try:
            return textwrap.dedent(inspect.getsource(obj))
        except (OSError, TypeError):
            pass
    raise NotebookError(_("{name} was not written in a cell of this notebook (it was built at run time or imported), "
                          "so there is no source to grade: define it with def or class in a cell and run that cell.")
                        .format(name=name))


def notebook_source(exercise, ns: dict | None = None, cells: list[str] | None = None) -> str:
    """The text of the exercise's file, made from the notebook's definitions (see the module's docstring)."""
    if ns is None or cells is None:
        found_ns, found_cells = _user_namespace()
        ns = found_ns if ns is None else ns
        cells = found_cells if cells is None else cells
    history = _read_history(cells)
    chosen: dict[str, str] = {}
    todo = list(exercise.requires)
    while todo:
        name = todo.pop(0)
        if name in chosen:
            continue
        if name in exercise.requires:
            chosen[name] = _source_of(name, ns, history)
        elif name in history.defs:
            chosen[name] = history.defs[name]
        else:
            continue
        todo.extend(sorted(n for n in _names_used(chosen[name]) if n in history.defs and n not in chosen))
    ordered = sorted(chosen, key=lambda n: history.order.get(n, 0))
    head = (f'"""{exercise.id}: written from a notebook by tutor.notebook.grade on '
            f'{datetime.now():%Y-%m-%d %H:%M}."""\n')
    parts = [head, "\n".join(history.imports)] if history.imports else [head]
    parts += [chosen[n] for n in ordered]
    return "\n\n\n".join(p.rstrip() for p in parts if p.strip()) + "\n"


# -- the workspace ---------------------------------------------------------------------------------------------


def _workspace(folder: str | os.PathLike | None, course):
    """The workspace (found as the CLI finds it, from `folder` or the current folder) and a note when it was created
    just now."""
    from tutor.workspace import DEFAULT_DIR, WorkspaceError, find_workspace, init_workspace

    start = Path(folder) if folder is not None else Path.cwd()
    try:
        return find_workspace(start=start), ""
    except WorkspaceError:
        report = init_workspace(start / DEFAULT_DIR, course)
        ws = find_workspace(explicit=report.root)
        return ws, _("No workspace was found here, so one was created at {path}.").format(path=ws.root)


def _apply_language(ws, lang: str | None) -> None:
    from tutor import settings
    from tutor.i18n import LanguageError, normalize, resolve, set_lang

    if lang is not None:
        chosen = normalize(lang)
        if chosen is None:
            raise NotebookError(f"lang must be 'en' or 'zh', not {lang!r}")
        set_lang(chosen)
        return
    try:
        set_lang(resolve(None, settings.load(ws.state_dir).get("lang")))
    except LanguageError:
        pass


def _write_with_backup(ws, exercise, text: str) -> Path | None:
    """Write the exercise's file; the previous one (when it differs) is copied to the backups first."""
    target = ws.file_for(exercise)
    backup = None
    previous = target.read_text(encoding="utf-8", errors="replace") if target.exists() else None
    if previous is not None and previous != text and previous != exercise.stub_path.read_text(encoding="utf-8"):
        ws.backup_dir.mkdir(parents=True, exist_ok=True)
        backup = ws.backup_dir / f"{exercise.id}-{datetime.now():%Y%m%d-%H%M%S-%f}.py"
        shutil.copy2(target, backup)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return backup


# -- showing results -------------------------------------------------------------------------------------------


def _console_html(draw) -> str:
    """What `draw(console)` prints in the terminal, as HTML with inline styles."""
    from rich.console import Console

    console = Console(record=True, width=100, file=io.StringIO(), color_system="truecolor", force_terminal=True,
                      soft_wrap=False)
    draw(console)
    return console.export_html(inline_styles=True, code_format=(
        '<pre style="font-family: Menlo, Consolas, \'DejaVu Sans Mono\', monospace; font-size: 13px; '
        'line-height: 1.3; white-space: pre-wrap">{code}</pre>'))


def _curve_svg(steps: list[dict], metric: str, width: int = 420, height: int = 160) -> str:
    """One smoke-check metric against the step, as a small inline SVG line."""
    points = [(float(s["step"]), float(s[metric])) for s in steps
              if isinstance(s.get(metric), (int, float)) and isinstance(s.get("step"), (int, float))]
    if len(points) < 2:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y1 == y0:
        y1 = y0 + 1
    pad = 28
    coords = " ".join(f"{pad + (x - x0) / (x1 - x0 or 1) * (width - 2 * pad):.1f},"
                      f"{height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad):.1f}" for x, y in points)
    label = html.escape(_("smoke-check: {metric} by step").format(metric=metric))
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="{label}" '
            f'style="background:#fafafa;border:1px solid #ddd">'
            f'<text x="{pad}" y="16" font-size="12" fill="#333">{label}</text>'
            f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{coords}"/>'
            f'<text x="{pad}" y="{height - 8}" font-size="11" fill="#666">{x0:g}</text>'
            f'<text x="{width - pad}" y="{height - 8}" font-size="11" fill="#666" text-anchor="end">{x1:g}</text>'
            f'<text x="2" y="{pad + 4}" font-size="11" fill="#666">{y1:.3g}</text>'
            f'<text x="2" y="{height - pad}" font-size="11" fill="#666">{y0:.3g}</text></svg>')


@dataclass
class NotebookGrade:
    """What grade() returns: the GradeResult, the file graded, and how Jupyter shows it (HTML; text elsewhere)."""

    result: object
    file: Path
    notes: list[str]
    html: str
    text: str

    @property
    def score(self) -> float:
        return self.result.score

    @property
    def max_score(self) -> float:
        return self.result.max_score

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


@dataclass
class _Shown:
    """A lesson, a hint or a table: HTML in Jupyter, text elsewhere."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def _both(draw) -> _Shown:
    from rich.console import Console

    buf = io.StringIO()
    draw(Console(file=buf, width=100, color_system=None, soft_wrap=False))
    return _Shown(html=_console_html(draw), text=buf.getvalue().rstrip("\n"))


# -- the calls -------------------------------------------------------------------------------------------------


def grade(exercise: str, *, lang: str | None = None, device: str = "auto", workspace: str | os.PathLike | None = None,
          namespace: dict | None = None, cells: list[str] | None = None) -> NotebookGrade:
    """Grade the notebook's definitions for `exercise` (an id or a section number) and show the result."""
    from tutor.engine.results import DEVICE_UNAVAILABLE, ENGINE_ERROR
    from tutor.engine.runner import grade as run_grade
    from tutor.manifest import UnknownExercise, load_course
    from tutor.progress import Progress, ProgressError
    from tutor.render import render_result

    course = load_course()
    try:
        ex = course.exercise(exercise)
    except UnknownExercise as exc:
        raise NotebookError(str(exc)) from None
    ws, created = _workspace(workspace, course)
    _apply_language(ws, lang)
    source = notebook_source(ex, namespace, cells)
    notes = [created] if created else []
    backup = _write_with_backup(ws, ex, source)
    notes.append(_("Graded {path}, written from this notebook.").format(path=ws.file_for(ex)))
    if backup is not None:
        notes.append(_("The previous file was kept at {path}.").format(path=backup))
    from tutor.engine.protocol import Plan

    plots: dict[str, str] = {}  # smoke-check name -> the metric its grader plots

    def on_event(event) -> None:
        if isinstance(event, Plan):
            plots.update({t.name: t.plot for t in event.tests if t.kind == "smoke" and t.plot})

    result = run_grade(ex, ws.file_for(ex), device=device, hide=(str(ws.state_dir),), on_event=on_event)
    if result.status == DEVICE_UNAVAILABLE:
        raise NotebookError(str(result.problem))
    if result.status != ENGINE_ERROR:
        try:
            with Progress(ws.db_path) as db:
                db.record(result)
        except ProgressError as exc:
            notes.append(_("This attempt was not recorded: {reason}").format(reason=exc))

    def draw(console):
        render_result(console, result, ex)

    shown = _both(draw)
    curves = "".join(_curve_svg(steps, plots.get(name) or _first_metric(steps))
                     for name, steps in result.smoke_steps.items())
    notes_html = "".join(f'<p style="color:#666;margin:2px 0">{html.escape(n)}</p>' for n in notes)
    return NotebookGrade(result=result, file=ws.file_for(ex), notes=notes,
                         html=f"<div>{notes_html}{shown.html}{curves}</div>",
                         text="\n".join(notes + [shown.text]))


def _first_metric(steps: list[dict]) -> str:
    """The first numeric metric of a smoke-check's steps, for a grader that names none to plot."""
    first = steps[0] if steps else {}
    return next((k for k, v in first.items() if k != "step" and isinstance(v, (int, float))), "")


def lesson(name: str, *, lang: str | None = None, workspace: str | os.PathLike | None = None) -> _Shown:
    """The lesson (by lesson id, exercise id or section number), rendered as the CLI renders it."""
    from rich.markdown import Markdown

    from tutor.i18n import get_lang
    from tutor.manifest import UnknownExercise, load_course

    course = load_course()
    ws, _created = _workspace(workspace, course)
    _apply_language(ws, lang)
    try:
        les = course.lesson(name)
    except UnknownExercise as exc:
        raise NotebookError(str(exc)) from None
    text = les.path_in(get_lang()).read_text(encoding="utf-8")
    return _both(lambda console: console.print(Markdown(text)))


def hint(name: str, *, lang: str | None = None, workspace: str | os.PathLike | None = None) -> _Shown:
    """The next hint for an exercise (each call reveals one more, as `d2l-tutor hint` does)."""
    from tutor.i18n import get_lang
    from tutor.manifest import UnknownExercise, load_course
    from tutor.progress import Progress

    course = load_course()
    try:
        ex = course.exercise(name)
    except UnknownExercise as exc:
        raise NotebookError(str(exc)) from None
    ws, _created = _workspace(workspace, course)
    _apply_language(ws, lang)
    hints = ex.hints_in(get_lang())
    with Progress(ws.db_path) as db:
        shown = db.reveal_hint(ex.id, len(hints))
    lines = [_("Hint {n} of {total}:").format(n=i + 1, total=len(hints)) + " " + hints[i] for i in range(shown)]
    return _both(lambda console: [console.print(line, markup=False, highlight=False) for line in lines[-1:]])


def progress(*, lang: str | None = None, workspace: str | os.PathLike | None = None) -> _Shown:
    """Every exercise with its best score and attempts, as `d2l-tutor progress` shows them."""
    from rich.table import Table

    from tutor.manifest import load_course
    from tutor.progress import Progress

    course = load_course()
    ws, _created = _workspace(workspace, course)
    _apply_language(ws, lang)
    with Progress(ws.db_path) as db:
        summaries = db.summaries()
    table = Table(_("exercise"), _("best"), _("attempts"))
    for ex in course.exercises:
        s = summaries.get(ex.id)
        table.add_row(ex.id, f"{s.best:g}/{ex.points}" if s else "-", str(s.attempts) if s else "0")
    return _both(lambda console: console.print(table))


# -- %d2l ------------------------------------------------------------------------------------------------------


def load_ipython_extension(ipython) -> None:
    """`%load_ext tutor.notebook` adds the line magic `%d2l grade|lesson|hint|progress [name]`."""

    def d2l(line: str):
        words = line.split()
        calls = {"grade": grade, "lesson": lesson, "hint": hint}
        if words[:1] == ["progress"]:
            return progress()
        if len(words) == 2 and words[0] in calls:
            return calls[words[0]](words[1])
        raise NotebookError(_("usage: %d2l grade NAME, %d2l lesson NAME, %d2l hint NAME or %d2l progress"))

    ipython.register_magic_function(d2l, "line", "d2l")
