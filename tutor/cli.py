"""The d2l-tutor command line (typer + rich). It never imports torch: grading runs in child processes.

Every text a learner reads goes through `_()` (tutor.i18n): English, or Chinese from the gettext catalog. The
language is settled before this module is imported (tutor.launch), so the help texts are in it too.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tutor.i18n import LANGS, LanguageError, _, get_lang, numbering_label, set_lang
from tutor.launch import is_interactive, run_tui
from tutor.manifest import BOOKS, Course, Exercise, Lesson, ManifestError, UnknownExercise, load_course
from tutor.progress import Progress, ProgressError, course_totals
from tutor.workspace import DEFAULT_DIR, Workspace, WorkspaceError, find_workspace

# Exit codes (documented in the README).
EXIT_OK = 0          # success; for grade: full marks on everything graded
EXIT_NOT_FULL = 1    # graded, but not full marks (or the instructor check found a problem)
EXIT_USAGE = 2       # usage error: unknown exercise, bad option, --device cuda without a GPU
EXIT_WORKSPACE = 3   # no workspace, a missing exercise file, or a damaged progress database
EXIT_INTERNAL = 4    # d2l-tutor itself failed (a grader broke, or the grading process could not start)

SECTION = re.compile(r"^\d+(\.\d+)*$")  # a section number, as course.toml writes them

app = typer.Typer(
    name="d2l-tutor",
    help=_("A terminal tutor for Dive into Deep Learning (PyTorch edition): read a lesson, implement it, get graded."),
    invoke_without_command=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

WorkspaceOpt = Annotated[
    Optional[Path],
    typer.Option("--workspace", "-w", help=_("The workspace folder (default: found from the current folder upward).")),
]
JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print only machine-readable JSON on stdout."))]
LangOpt = Annotated[Optional[str], typer.Option("--lang", help=_("The language: en or zh (remembered in the workspace)."),
                                                show_default=False)]
BookOpt = Annotated[Optional[str], typer.Option(
    "--book", help=_("Section numbers of: course (this course), zh (d2l-zh) or en (d2l-en); remembered in the "
                     "workspace."), show_default=False)]
def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]{escape(_('error:'))}[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def course() -> Course:
    try:
        return load_course()
    except ManifestError as exc:
        raise fail(str(exc), EXIT_INTERNAL) from None


def prefs(ws: Optional[Workspace], lang: Optional[str], book: Optional[str]) -> str:
    """Apply --lang and --book (remembering them in the workspace); the book numbering to show.

    Without --lang, the language is settled again from D2L_TUTOR_LANG, this workspace's choice and the locale
    (tutor.launch did it from the current folder's workspace before this module was imported; --workspace may name
    another one, and in-process callers such as the tests start from whatever the last command left)."""
    from tutor import settings
    from tutor.i18n import normalize, resolve

    remembered = settings.load(ws.state_dir) if ws is not None else {}
    if lang is not None:
        chosen = normalize(lang)
        if chosen is None:
            raise fail(_("--lang must be one of {langs}, not {value!r}.").format(langs=", ".join(LANGS), value=lang),
                       EXIT_USAGE)
        set_lang(chosen)
    else:
        try:
            set_lang(resolve(None, remembered.get("lang")))
        except LanguageError:
            pass  # an unreadable D2L_TUTOR_LANG: keep the language settled at start-up (English)
    if book is not None and book not in BOOKS:
        raise fail(_("--book must be one of {books}, not {value!r}.").format(books=", ".join(BOOKS), value=book),
                   EXIT_USAGE)
    if ws is not None and (lang is not None or book is not None):
        try:
            settings.save(ws.state_dir, **({"lang": get_lang()} if lang is not None else {}),
                          **({"book": book} if book is not None else {}))
        except OSError:
            pass  # remembering is a convenience: never a reason to fail
    return book or remembered.get("book") or "course"


def numbering(ws: Optional[Workspace], book: Optional[str]) -> Optional[str]:
    """The numbering a section number on the command line is read in: --book, else the one the workspace remembers;
    None (any numbering, the course's first) when neither says."""
    if book is not None or ws is None:
        return book
    from tutor import settings

    return settings.load(ws.state_dir).get("book")


def not_found(c: Course, name: str, book: Optional[str], *, lessons: bool) -> str:
    """Why `name` names no exercise (or lesson), in the learner's language, and what to type instead."""
    items = c.lessons if lessons else c.exercises
    if SECTION.match(name):
        here = [item.id for item in items if item.sections.get(book) == name] if book else []
        if not book:
            for b in BOOKS:  # the order Course.find tries them in
                here = [item.id for item in items if item.sections.get(b) == name]
                if here:
                    break
        if len(here) > 1:
            return _("Section {number} has more than one: {ids}. Name the one you mean (e.g. `{first}`).").format(
                number=name, ids=", ".join(here), first=here[0])
        says = {"course": _("{number} is this course's numbering ({ids}): add --book course."),
                "zh": _("{number} is d2l-zh's numbering ({ids}): add --book zh."),
                "en": _("{number} is d2l-en's numbering ({ids}): add --book en.")}
        elsewhere = []
        for b in BOOKS:
            ids = [item.id for item in items if item.sections.get(b) == name]
            if b != book and ids:
                elsewhere.append(says[b].format(number=name, ids=", ".join(ids)))
        if book and elsewhere:
            return sentences(*elsewhere)
    if not lessons and name in {le.id for le in c.lessons}:
        ids = ", ".join(ex.id for ex in c.lesson(name).exercises)
        if not ids:
            return _("{name!r} is a lesson without an exercise: read it with `d2l-tutor lesson {name}`.").format(
                name=name)
        return _("{name!r} is a lesson, not an exercise; its exercises: {ids}.").format(name=name, ids=ids)
    suggestions = c.suggest(name)
    return sentences(_("No exercise or lesson called {name!r}.").format(name=name),
                     _("Did you mean {names}?").format(names=_(" or ").join(repr(s) for s in suggestions))
                     if suggestions else "",
                     _("Run `d2l-tutor list` to see them all."))


def sentences(*parts: str) -> str:
    """Sentences one after the other: a space between them in English, none after Chinese punctuation."""
    return ("" if get_lang() == "zh" else " ").join(p for p in parts if p)


def exercise_or_exit(c: Course, name: str, book: str | None = None) -> Exercise:
    """The exercise `name` names (an id, or a section number in `book`'s numbering; any numbering when None)."""
    try:
        return c.exercise(name, book)
    except UnknownExercise:
        raise fail(not_found(c, name, book, lessons=False), EXIT_USAGE) from None


def lesson_or_exit(c: Course, name: str, book: str | None = None) -> Lesson:
    try:
        return c.lesson(name, book)
    except UnknownExercise:
        raise fail(not_found(c, name, book, lessons=True), EXIT_USAGE) from None


def check_device(device: str) -> None:
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise fail(_("--device must be auto, cpu or cuda, not {value!r}.").format(value=device), EXIT_USAGE)


def workspace_or_exit(explicit: Optional[Path]) -> Workspace:
    try:
        return find_workspace(explicit=explicit)
    except WorkspaceError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None


def optional_workspace(explicit: Optional[Path]) -> Optional[Workspace]:
    try:
        return find_workspace(explicit=explicit)
    except WorkspaceError:
        return None


def open_progress(ws: Workspace) -> Progress:
    return Progress(ws.db_path)


@app.callback()
def main_callback(ctx: typer.Context) -> None:
    """With no command: open the full-screen tutor in a terminal (it offers to create a workspace if there is none
    here), else print this help."""
    if ctx.invoked_subcommand is not None or ctx.resilient_parsing:
        return
    if is_interactive():
        try:
            ws = find_workspace()
        except WorkspaceError:
            ws = None
        launch_tui(ws)
        raise typer.Exit(EXIT_OK)
    typer.echo(ctx.get_help())
    raise typer.Exit(EXIT_OK)


@app.command(help=_("Create a workspace: one file per exercise and a README. Existing files are never overwritten."))
def init(
    directory: Annotated[Path, typer.Argument(help=_("Where to create the workspace."))] = Path(DEFAULT_DIR),
    lang: LangOpt = None,
    book: BookOpt = None,
) -> None:
    from tutor.workspace import init_workspace

    prefs(None, lang, book)
    try:
        report = init_workspace(directory, course())
    except WorkspaceError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None
    prefs(optional_workspace(directory), lang, book)
    if report.existed:  # never "created": the learner's work was there before and is untouched
        out.print(_("{root} is already a d2l-tutor workspace; nothing in it was overwritten.").format(
            root=report.root), markup=False, soft_wrap=True)
        if report.created:
            out.print(_("  added what it lacked: {files}").format(files=", ".join(report.created)), markup=False,
                      soft_wrap=True)
    else:
        out.print(_("Workspace: {root}").format(root=report.root), markup=False, soft_wrap=True)
        if report.created:
            out.print(_("  created: {files}").format(files=", ".join(report.created)), markup=False,
                      soft_wrap=True)
    if report.skipped:
        out.print(_("  skipped (already there, left untouched): {files}").format(files=", ".join(report.skipped)),
                  style="yellow", markup=False, soft_wrap=True)
    first = course().exercises[0].id if course().exercises else "corr2d"
    out.print("\n" + _("Next: cd {dir} then d2l-tutor list, d2l-tutor lesson {first} and d2l-tutor grade {first}.")
              .format(dir=directory, first=first), markup=False, soft_wrap=True)


@app.command("list", help=_("List the exercises by chapter, with your status and best score."))
def list_(workspace: WorkspaceOpt = None, as_json: JsonOpt = False, lang: LangOpt = None,
          book: BookOpt = None) -> None:
    c = course()
    summaries: dict = {}
    ws = None
    try:
        ws = find_workspace(explicit=workspace)
    except WorkspaceError as exc:
        if workspace is not None:
            raise fail(str(exc), EXIT_WORKSPACE) from None
        err.print(_("no workspace here, so no scores: run `d2l-tutor init` to start."), style="dim", markup=False)
    shown_book = prefs(ws, lang, book)
    language = get_lang()
    if ws is not None:
        try:
            with open_progress(ws) as progress:
                summaries = progress.summaries()
        except ProgressError as exc:
            raise fail(str(exc), EXIT_WORKSPACE) from None
    rows = []
    status_words = {"not started": _("not started"), "attempted": _("attempted"), "full marks": _("full marks")}
    for ch in c.chapters:
        for lesson in ch.lessons:
            for ex in lesson.exercises:
                s = summaries.get(ex.id)
                status = "not started" if s is None else ("full marks" if s.best >= ex.points else "attempted")
                rows.append({"id": ex.id, "title": ex.title_in(language), "chapter": ch.number,
                             "chapter_title": ch.title_in(language), "lesson": lesson.id, "d2l": ex.d2l,
                             "sections": dict(ex.sections), "section": ex.section(shown_book), "book": shown_book,
                             "points": ex.points, "status": status,
                             "best": None if s is None else s.best, "attempts": 0 if s is None else s.attempts})
    if as_json:
        print(json.dumps({"course": c.title_zh if language == "zh" and c.title_zh else c.title,
                          "workspace": str(ws.root) if ws else None, "lang": language, "book": shown_book,
                          "exercises": rows}, indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=escape(c.title_zh if language == "zh" and c.title_zh else c.title), title_justify="left",
                  header_style="bold")
    for col, kw in ((_("ch"), {"justify": "right"}), (_("exercise"), {}), (_("title"), {}),
                    (numbering_label(shown_book), {}), (_("status"), {}), (_("best"), {"justify": "right"})):
        table.add_column(col, **kw)
    style = {"not started": "dim", "attempted": "yellow", "full marks": "green"}
    for r in rows:
        best = "-" if r["best"] is None else f"{r['best']:g}/{r['points']}"
        table.add_row(str(r["chapter"]), r["id"], escape(r["title"]), r["section"],
                      f"[{style[r['status']]}]{escape(status_words[r['status']])}[/]", best)
    out.print(table)
    done = sum(r["status"] == "full marks" for r in rows)
    out.print(_("{done}/{total} exercises at full marks.").format(done=done, total=len(rows)))


@app.command(help=_("Read a lesson in the terminal (by lesson id, exercise id or section number)."))
def lesson(
    name: Annotated[str, typer.Argument(help=_("A lesson id, an exercise id, or a section number (see --book)."))],
    plain: Annotated[bool, typer.Option("--plain", help=_("Print the Markdown source (and the lesson's section "
                                                          "numbers) instead of rendering it; never paged."))] = False,
    lang: LangOpt = None,
    book: BookOpt = None,
) -> None:
    c = course()
    ws = optional_workspace(None)
    prefs(ws, lang, book)
    language = get_lang()
    les = lesson_or_exit(c, name, numbering(ws, book))
    text = les.path_in(language).read_text(encoding="utf-8")
    if plain:
        print(text.rstrip("\n") + "\n\n" + "\n".join(lesson_footer(les, language)))
        return
    show_paged(lambda console: render_lesson(console, text, les, language),
               lambda: lesson_height(out, text, les, language))


def show_paged(render, height) -> None:
    """render(out), through the pager when the terminal is interactive and height() is more than it shows."""
    if is_interactive() and height() > (out.size.height or 24):
        if not os.environ.get("LESS"):
            # As git does: without R, less shows the colours as ESC[1m...; X leaves the page on the screen.
            os.environ["LESS"] = "FRX"
        with out.pager(styles=True):  # $PAGER, else less (pydoc's choice), like git for long output
            render(out)
    else:
        render(out)


@app.command(help=_("Show an exercise's task: what to write and what the hidden tests check (in Chinese, its "
                    "translation of the stub's docstrings)."))
def task(
    name: Annotated[str, typer.Argument(help=_("An exercise id or a section number (see --book)."))],
    plain: Annotated[bool, typer.Option("--plain", help=_("Print the Markdown source instead of rendering it; never "
                                                          "paged."))] = False,
    lang: LangOpt = None,
    book: BookOpt = None,
) -> None:
    from tutor.task import task_markdown

    c = course()
    ws = optional_workspace(None)
    prefs(ws, lang, book)
    ex = exercise_or_exit(c, name, numbering(ws, book))
    text = task_markdown(ex, keys=False)
    if plain:
        print(text.rstrip("\n"))
        return
    show_paged(lambda console: console.print(lesson_markdown(text)),
               lambda: len(out.render_lines(lesson_markdown(text), out.options, pad=False)))


def lesson_footer(les: Lesson, language: str) -> list[str]:
    """The lines under a lesson: its section in all three numberings, its exercises, and its page in the book."""
    numbers = " · ".join(f"{numbering_label(b)} {les.section(b)}" for b in BOOKS)
    ids = ", ".join(ex.id for ex in les.exercises)
    if les.exercises:
        first = les.exercises[0].id
        lines = [_("{numbers} · exercises: {ids} · the task: `d2l-tutor task {first}` · grade with `d2l-tutor grade "
                   "{first}`").format(numbers=numbers, ids=ids, first=first)]
    elif les.practice:  # practised by the exercise of another lesson (NiN's nin_block is in VGG's cnn_blocks)
        first = les.practice[0]
        lines = [_("{numbers} · practised in the exercise {ids} of another section · the task: `d2l-tutor task "
                   "{first}`").format(numbers=numbers, ids=", ".join(les.practice), first=first)]
    else:  # a lesson to read: its exercise, if any, comes with a later section
        lines = [_("{numbers} · no exercise in this section").format(numbers=numbers)]
    page = les.pages.get("zh" if language == "zh" else "en", "")
    if page:
        lines.append(_("the book: {url}").format(url=page))
    return lines


def lesson_markdown(text: str):
    from rich.markdown import Markdown

    # Markdown never reads rich markup, so "[1, -1]" stays; code blocks wrap (word_wrap) instead of being cut.
    return Markdown(text, code_theme="monokai")


def render_lesson(console: Console, text: str, les: Lesson, language: str) -> None:
    """A lesson as `d2l-tutor lesson` shows it: the Markdown, then its numbers and page (links and paths whole)."""
    console.print(lesson_markdown(text))
    console.print()
    numbers, *page = lesson_footer(les, language)
    console.print(numbers, style="dim", markup=False, highlight=False)
    for line in page:  # a URL is never broken, so that the terminal still sees one link
        console.print(line, style="dim", markup=False, highlight=False, soft_wrap=True)


def lesson_height(console: Console, text: str, les: Lesson, language: str) -> int:
    """How many terminal lines the rendered lesson takes at the console's width (the pager decision)."""
    height = 1  # the blank line before the footer
    for part in (lesson_markdown(text), *lesson_footer(les, language)):
        height += len(console.render_lines(part, console.options, pad=False))
    return height


@app.command(help=_("Run the hidden tests and the smoke-check on your code."))
def grade(
    exercises: Annotated[Optional[List[str]], typer.Argument(
        help=_("Exercise ids (or section numbers) to grade."), show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help=_("Grade every exercise."))] = False,
    device: Annotated[str, typer.Option(help=_("auto (cuda when available), cpu or cuda."))] = "auto",
    file: Annotated[Optional[List[Path]], typer.Option(
        "--file", "-f", help=_("Grade this file instead of the workspace's (one exercise)."))] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    gradescope: Annotated[Optional[Path], typer.Option(help=_("Also write a Gradescope results.json here."))] = None,
    time_limit: Annotated[Optional[float], typer.Option(help=_("Override the exercise's time limit (seconds)."))] = None,
    strict: Annotated[Optional[bool], typer.Option(
        "--strict/--no-strict", help=_("Hide the course and your files from the graded code (bubblewrap, or a user "
                                       "of its own when run as root). Default: on with --file, off for your own "
                                       "workspace."), show_default=False)] = None,
    lang: LangOpt = None,
    book: BookOpt = None,
) -> None:
    from tutor.engine.protocol import Plan, SmokeStep, TestStarted
    from tutor.engine.results import DEVICE_UNAVAILABLE, ENGINE_ERROR
    from tutor.engine.runner import grade as run_grade

    c = course()
    check_device(device)
    if file and len(file) > 1:
        raise fail(_("--file grades one file; {count} were given ({files}). Grade them one at a time (a whole class "
                     "is its own command).").format(count=len(file), files=", ".join(map(str, file))), EXIT_USAGE)
    file = file[0] if file else None
    if all_ and exercises:
        raise fail(_("give exercise ids or --all, not both."), EXIT_USAGE)
    if not all_ and not exercises:
        raise fail(_("name the exercises to grade (for example `d2l-tutor grade corr2d`) or use --all."), EXIT_USAGE)
    ws = None
    if file is None or workspace is not None:
        ws = workspace_or_exit(workspace)
    elif file is not None:
        ws = optional_workspace(None)
    shown_book = prefs(ws, lang, book)
    chosen = c.exercises if all_ else [exercise_or_exit(c, name, numbering(ws, book)) for name in exercises]
    if file is not None and len(chosen) != 1:
        raise fail(_("--file grades one exercise: name exactly one."), EXIT_USAGE)
    targets = []
    for ex in chosen:
        path = file if file is not None else ws.file_for(ex)
        if Path(path).is_dir():
            raise fail(_("{path} is a folder, not a file: give the path of the .py file to grade (e.g. {example}).")
                       .format(path=path, example=Path(path) / ex.filename),
                       EXIT_USAGE if file is not None else EXIT_WORKSPACE)
        if not Path(path).is_file():
            hint = (" " + _("Run `d2l-tutor reset {id}` to get the stub back.").format(id=ex.id)) if file is None else ""
            raise fail(_("{path} does not exist.").format(path=path) + hint, EXIT_WORKSPACE)
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise fail(_("cannot read {path}: {reason}. Check the file's permissions.").format(
                path=path, reason=exc.strerror), EXIT_WORKSPACE) from None
        targets.append((ex, Path(path)))

    strict_mode = strict if strict is not None else file is not None
    hide = (str(Path(file).resolve().parent),) if file is not None else ()
    if ws is not None:
        hide += (str(ws.state_dir),)  # the progress database and backups: never the graded code's to touch
    if strict_mode:
        from tutor.engine.containment import strict_isolation

        if strict_isolation() == "process":
            err.print(_("note: strict mode: the learner's code runs as you, in a separate process only (install "
                        "bubblewrap, or run as root, to keep it from reading your files) (isolation: process)."),
                      highlight=False, markup=False, soft_wrap=True)
    progress = open_progress(ws) if ws is not None and file is None else None
    if progress is not None:
        try:
            progress.summaries()  # fail early, before grading, on a damaged database
        except ProgressError as exc:
            raise fail(str(exc), EXIT_WORKSPACE) from None
    from tutor.render import render_result

    results = []
    code = EXIT_OK
    record_failed = False
    for ex, path in targets:
        with err.status(_("grading {id}: starting...").format(id=ex.id), spinner="dots") as status:
            def on_event(event, ex=ex, status=status, seen={"n": 0, "total": 0}):
                if isinstance(event, Plan):
                    seen["total"] = len(event.tests)
                elif isinstance(event, TestStarted):
                    seen["n"] += 1
                    status.update(escape(_("grading {id}: {test} ({n}/{total})").format(
                        id=ex.id, test=event.name, n=seen["n"], total=seen["total"])))
                elif isinstance(event, SmokeStep):
                    metrics = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
                    status.update(escape(_("grading {id}: smoke-check step {step}: {metrics}").format(
                        id=ex.id, step=event.step, metrics=metrics)))

            result = run_grade(ex, path, device=device, time_limit=time_limit, on_event=on_event,
                               strict=strict_mode, hide=hide)
        if result.status == DEVICE_UNAVAILABLE:
            raise fail(result.problem, EXIT_USAGE)
        results.append((ex, result))
        if not as_json:
            render_result(out, result, ex, book=shown_book)
            out.print()
        if progress is not None and result.status != ENGINE_ERROR:
            try:
                progress.record(result)
            except ProgressError as exc:  # the score is on screen already; say why it was not kept
                err.print(f"[bold red]{escape(_('error:'))}[/] " + escape(
                    _("{id}: {score}/{max} was not recorded: {reason}").format(
                        id=result.exercise, score=f"{result.score:g}", max=f"{result.max_score:g}", reason=exc)),
                          highlight=False, markup=True, soft_wrap=True)
                record_failed = True
        if result.status == ENGINE_ERROR:
            code = EXIT_INTERNAL
        elif not result.full_marks and code == EXIT_OK:
            code = EXIT_NOT_FULL
    if progress is not None:
        progress.close()
    total = sum(r.score for _r, r in results)
    total_max = sum(r.max_score for _r, r in results)
    if gradescope is not None:
        from tutor.gradescope import write_results

        write_results(gradescope, [r for _r, r in results])
    if as_json:
        print(json.dumps({"score": total, "max_score": total_max, "lang": get_lang(),
                          "results": [r.to_json() for _r, r in results]}, indent=2, ensure_ascii=False))
    elif len(results) > 1:
        out.print(_("Total: {score}/{max} points").format(score=f"{total:g}", max=f"{total_max:g}"), style="bold")
    raise typer.Exit(EXIT_WORKSPACE if record_failed else code)


@app.command(help=_("Show the next hint for an exercise (each call reveals one more)."))
def hint(
    exercise: Annotated[str, typer.Argument(help=_("The exercise id (or its section number)."))],
    reset: Annotated[bool, typer.Option("--reset", help=_("Hide the hints again and start from the first."))] = False,
    workspace: WorkspaceOpt = None,
    lang: LangOpt = None,
    book: BookOpt = None,
) -> None:
    ws = workspace_or_exit(workspace)
    prefs(ws, lang, book)
    ex = exercise_or_exit(course(), exercise, numbering(ws, book))
    hints = ex.hints_in(get_lang())
    try:
        with open_progress(ws) as progress:
            if reset:
                progress.reset_hints(ex.id)
                out.print(_("Hints for {id} hidden again; the next `d2l-tutor hint {id}` shows the first.")
                          .format(id=ex.id), markup=False)
                return
            already = progress.hints_shown(ex.id)
            shown = progress.reveal_hint(ex.id, len(hints))
    except ProgressError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None
    for i in range(shown):
        style = "bold" if i == shown - 1 and shown > already else "dim"
        label = _("Hint {n} of {total}:").format(n=i + 1, total=len(hints))
        out.print(f"[{style}]{escape(label)}[/] {escape(hints[i])}", highlight=False, soft_wrap=True)
    if shown == already:
        out.print(_("That was the last hint. Re-read the lesson (`d2l-tutor lesson {id}`) or start over with "
                    "`d2l-tutor hint {id} --reset`.").format(id=ex.id), style="dim", markup=False, soft_wrap=True)


@app.command(help=_("Restore an exercise's stub; your current file is backed up first."))
def reset(
    exercise: Annotated[str, typer.Argument(help=_("The exercise id."))],
    workspace: WorkspaceOpt = None,
    lang: LangOpt = None,
) -> None:
    from tutor.workspace import reset_exercise

    ws = workspace_or_exit(workspace)
    prefs(ws, lang, None)
    ex = exercise_or_exit(course(), exercise, numbering(ws, None))
    try:
        backup = reset_exercise(ws, ex)
    except OSError as exc:
        raise fail(_("could not reset {file}: {reason}. Nothing was changed.").format(file=ex.filename, reason=exc),
                   EXIT_WORKSPACE) from None
    if backup is None:  # paths are printed whole, never wrapped in the middle of a name
        out.print(_("{path} is the untouched stub now (there was nothing to back up).").format(path=ws.file_for(ex)),
                  markup=False, soft_wrap=True)
    else:
        out.print(_("Restored the stub in {path}.").format(path=ws.file_for(ex)), markup=False, soft_wrap=True)
        out.print(_("Your previous file is kept at {backup}.").format(backup=backup), markup=False, soft_wrap=True)


@app.command(help=_("Your attempts and best scores (or one exercise's history)."))
def progress(
    exercise: Annotated[Optional[str], typer.Argument(help=_("Show the attempt history of this exercise."))] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    from rich.table import Table

    c = course()
    ws = workspace_or_exit(workspace)
    prefs(ws, lang, None)
    ex = exercise_or_exit(c, exercise, numbering(ws, None)) if exercise else None
    try:
        with open_progress(ws) as db:
            summaries = db.summaries()
            history = db.history(ex.id if ex else None, limit=20 if ex else 10)
    except ProgressError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None
    if as_json:
        print(json.dumps({"summaries": {k: vars(v) for k, v in summaries.items()},
                          "history": [vars(a) for a in history]}, indent=2))
        return
    if ex is None:
        table = Table(title=_("Progress"), title_justify="left", header_style="bold")
        for col in (_("exercise"), _("attempts"), _("best"), _("last attempt")):
            table.add_column(col)
        for e in c.exercises:
            s = summaries.get(e.id)
            table.add_row(e.id, str(s.attempts if s else 0), f"{s.best:g}/{e.points}" if s else "-",
                          s.last.replace("T", " ")[:16] if s else "-")
        out.print(table)
        totals = course_totals(c.exercises, summaries)
        out.print(_("{done}/{total} exercises at full marks ({earned}/{points} points); {attempts} attempts in all.")
                  .format(done=totals.done, total=totals.exercises, earned=f"{totals.earned:g}", points=totals.total,
                          attempts=sum(s.attempts for s in summaries.values())))
    title = _("Last attempts of {id}").format(id=ex.id) if ex else _("Recent attempts")
    table = Table(title=title, title_justify="left", header_style="bold")
    for col in (_("when (UTC)"), _("exercise"), _("score"), _("status"), _("time"), _("device"), _("file")):
        table.add_column(col)
    for a in history:
        table.add_row(a.finished_at.replace("T", " ")[:19], a.exercise, f"{a.score:g}/{a.max_score:g}", a.status,
                      f"{a.duration:.1f} s", a.device, a.file_hash[:8])
    if history:
        out.print(table)
    elif ex is not None:
        out.print(_("No attempts at {id} yet: `d2l-tutor grade {id}`.").format(id=ex.id), markup=False)


@app.command(help=_("Instructor check: every reference solution gets full marks (twice, identically) and every stub "
                    "zero; the course's folders are complete, translated and named by the rules."))
def check(
    exercises: Annotated[Optional[List[str]], typer.Argument(
        help=_("Only these exercises (default: all)."), show_default=False)] = None,
    device: Annotated[str, typer.Option(help=_("auto (cuda when available), cpu or cuda."))] = "auto",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help=_("Grading processes to run at once."))] = 2,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    from tutor.instructor import run_check

    prefs(None, lang, None)
    c = course()
    chosen = [exercise_or_exit(c, n) for n in exercises] if exercises else c.exercises
    report = run_check(chosen, device=device, jobs=jobs, course=c,
                       on_line=None if as_json else (lambda line: err.print(line, highlight=False, markup=False)))
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        report.render(out)
    if report.device_unavailable:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_NOT_FULL)


@app.command("grade-class", help=_("Grade a whole class: a folder of student folders (or a zip of one, or a "
                                    "Gradescope export), in strict mode, here or on a Dask cluster; writes "
                                    "grades.csv, results.jsonl, feedback/ and summary.md into --out."))
def grade_class(
    submissions: Annotated[Path, typer.Argument(help=_("SUBMISSIONS/<student>/<exercise>.py, a zip of it, or a "
                                                       "Gradescope export archive."))],
    out_dir: Annotated[Path, typer.Option("--out", help=_("Where the gradebook goes."))],
    exercises: Annotated[Optional[List[str]], typer.Option(
        "--exercises", help=_("Only these exercises (repeat the option or separate ids with commas; default: every "
                              "exercise someone submitted)."), show_default=False)] = None,
    device: Annotated[str, typer.Option(help=_("cpu, cuda or auto (on a cluster, cuda asks for a GPU resource per "
                                               "grading)."))] = "cpu",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help=_("Gradings to run at once on this machine (or "
                                                                    "the workers of a new local Dask cluster)."))] = 2,
    executor: Annotated[str, typer.Option(help=_("local or dask."))] = "local",
    scheduler: Annotated[Optional[str], typer.Option(help=_("A running Dask scheduler (tcp://host:8786); without "
                                                            "it, --executor dask starts a local cluster."))] = None,
    time_limit: Annotated[Optional[float], typer.Option(help=_("Override every exercise's time limit (seconds)."))]
    = None,
    resume: Annotated[bool, typer.Option("--resume", help=_("Continue a run in --out: what was graded with the same "
                                                            "file and grader is not graded again."))] = False,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    from tutor.classroom.grade import grade_class as run_class
    from tutor.classroom.report import ReportError
    from tutor.classroom.run import ClusterError
    from tutor.classroom.submissions import ClassError

    prefs(None, lang, None)
    if executor not in ("local", "dask"):
        raise fail(_("--executor must be local or dask, not {value!r}.").format(value=executor), EXIT_USAGE)
    if scheduler and executor != "dask":
        executor = "dask"  # a scheduler address means the cluster
    check_device(device)
    ids = [i.strip() for item in (exercises or []) for i in item.split(",") if i.strip()] or None
    progress = ClassProgress(as_json)
    try:
        run = run_class(submissions, out_dir, course(), exercises=ids, executor=executor, jobs=jobs,
                        scheduler=scheduler, device=device, time_limit=time_limit, resume=resume, lang=get_lang(),
                        on_start=progress.start, on_record=progress.advance)
    except (ClassError, ClusterError, ReportError) as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    finally:
        progress.stop()
    summary = run.to_json()
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    elif run.interrupted:
        err.print(_("Stopped: {done} of {total} gradings are saved in {path}. Run the same command with --resume "
                    "to go on.").format(done=run.graded_now + run.resumed, total=run.jobs,
                                        path=out_dir / "results.jsonl"), markup=False, highlight=False)
    else:
        out.print(_("{students} students × {exercises} exercises: {now} graded now, {resumed} already graded, "
                    "{missing} files missing, {failed} failed to grade, in {seconds:.0f} s.").format(
            students=run.students, exercises=len(run.exercises), now=run.graded_now, resumed=run.resumed,
            missing=run.missing, failed=run.failed_to_grade, seconds=run.seconds), markup=False, highlight=False,
            soft_wrap=True)
        for label, path in ((_("grades"), run.files["grades"]), (_("feedback"), run.files["feedback"]),
                            (_("summary"), run.files["summary"])):
            out.print(f"  {label}: {path}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(130 if run.interrupted else EXIT_OK)


class ClassProgress:
    """A rich progress bar (counts, rate, ETA) on a terminal; a plain line per grading in a pipe (on stderr with
    --json, so that stdout holds only the JSON)."""

    def __init__(self, as_json: bool):
        self.console = err if as_json else out
        self.bar = None
        self.task = None
        self.done = 0
        self.total = 0

    def start(self, total: int) -> None:
        self.total = total
        if self.console.is_terminal and total:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = Progress(TextColumn(_("grading")), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.task = self.bar.add_task("class", total=total, rate="")
            self.started = time.perf_counter()
            self.bar.start()

    def advance(self, record: dict) -> None:
        self.done += 1
        if self.bar is not None:
            rate = 60 * self.done / max(time.perf_counter() - self.started, 1e-6)
            self.bar.update(self.task, advance=1, rate=_("{rate:.0f}/min").format(rate=rate))
            return
        self.console.print(f"[{self.done}/{self.total}] {record.get('file')}: {record.get('score', 0):g}/"
                           f"{record.get('max_score', 0):g} ({record.get('status')})", markup=False,
                           highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@app.command(help=_("The full-screen tutor: lessons, an editor for your exercise files, and grading with live "
                    "results."))
def tui(
    exercise: Annotated[Optional[str], typer.Argument(help=_("Open this exercise at once."), show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    device: Annotated[str, typer.Option(help=_("Where grading runs: auto (cuda when available), cpu or cuda."))] = "auto",
    cold: Annotated[bool, typer.Option("--cold", help=_("Start a new grading process for every run instead of "
                                                        "forking a warm one (slower; for debugging)."))] = False,
    lang: LangOpt = None,
    book: BookOpt = None,
) -> None:
    check_device(device)
    ws = None
    if workspace is not None or not is_interactive():
        ws = workspace_or_exit(workspace)  # an explicit folder must be a workspace; no terminal: no question to ask
    else:
        ws = optional_workspace(None)  # None: the app offers to create one
    prefs(ws, lang, book)
    start = exercise_or_exit(course(), exercise, numbering(ws, book)) if exercise else None
    launch_tui(ws, start=start, device=device, warm=not cold)


def launch_tui(ws: Optional[Workspace], *, start: Optional[Exercise] = None, device: str = "auto",
               warm: bool = True) -> None:
    """Open the full-screen tutor on a workspace, or on an offer to create one (imports textual only now)."""
    if ws is not None:
        try:
            with open_progress(ws) as db:
                db.summaries()  # fail early, before the screen opens, on a damaged database
        except ProgressError as exc:
            raise fail(str(exc), EXIT_WORKSPACE) from None
    try:
        import tutor.tui.app  # noqa: F401
    except ImportError as exc:
        raise fail(_("the full-screen tutor needs textual ({reason}); install it with `pip install textual`. Every "
                     "other command works without it.").format(reason=exc), EXIT_INTERNAL) from None
    code = run_tui(ws, course=course(), start=start, device=device, warm=warm)
    if code:
        raise typer.Exit(code)


@app.command(help=_("Serve the full-screen tutor in a browser (textual-serve): each browser tab gets its own tutor on "
                    "this workspace. Local-only unless --public."))
def serve(
    host: Annotated[str, typer.Option(help=_("The address to listen on (127.0.0.1, localhost or ::1 unless "
                                             "--public)."))] = "127.0.0.1",
    port: Annotated[int, typer.Option(help=_("The port to listen on."))] = 8000,
    public: Annotated[bool, typer.Option("--public", help=_("Allow listening on an address other machines can "
                                                            "reach (anyone who reaches it can run code here)."))] = False,
    workspace: WorkspaceOpt = None,
    device: Annotated[str, typer.Option(help=_("Where grading runs: auto (cuda when available), cpu or cuda."))] = "auto",
    cold: Annotated[bool, typer.Option("--cold", help=_("Start a new grading process for every run instead of "
                                                        "forking a warm one (slower; for debugging)."))] = False,
    lang: LangOpt = None,
    book: BookOpt = None,
) -> None:
    local = host.strip().strip("[]").lower() in ("127.0.0.1", "localhost", "::1")
    if not local and not public:
        raise fail(_("{host} is not a local address: anyone who can reach it could run code on this machine as you; "
                     "add --public to serve on it anyway.").format(host=host), EXIT_USAGE)
    if not 0 < port < 65536:
        raise fail(_("--port must be between 1 and 65535, not {value}.").format(value=port), EXIT_USAGE)
    check_device(device)
    ws = workspace_or_exit(workspace)
    prefs(ws, lang, book)  # remembered in the workspace: every tab's tutor reads them from there
    try:
        with open_progress(ws) as db:
            db.summaries()  # fail now, not in every browser tab, on a damaged database
    except ProgressError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None
    try:
        from tutor.serve import port_problem, serve as run_server
    except ImportError as exc:
        raise fail(_("serving in a browser needs textual-serve ({reason}); install it with `pip install "
                     "textual-serve`.").format(reason=exc), EXIT_INTERNAL) from None
    problem = port_problem(host, port)
    if problem is not None:
        raise fail(_("cannot listen on {host}:{port}: {reason}. Choose another port with --port (or stop what uses "
                     "it).").format(host=host, port=port, reason=problem), EXIT_USAGE)
    if not local:
        err.print(f"[bold yellow]{escape(_('warning:'))}[/] " + escape(
            _("serving on {host}: anyone who can reach this address can run code on this machine as this user.")
            .format(host=host)), soft_wrap=True)
    run_server(ws.root, host=host, port=port, device=device, cold=cold)


def _subcommands() -> None:
    """Command groups that live in their own modules (light at import: no torch)."""
    from tutor.autograder import autograder_app
    from tutor.export import course_app

    app.add_typer(autograder_app, name="autograder")
    app.add_typer(course_app, name="course")


_subcommands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print(_("interrupted"))
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - never show a learner our traceback
        err.print(f"[bold red]{escape(_('error:'))}[/] " + escape(
            _("d2l-tutor itself failed ({error}). This is a bug in d2l-tutor, not in your code; set "
              "D2L_TUTOR_DEBUG=1 to see the traceback and please report it.").format(
                error=f"{type(exc).__name__}: {exc}")), soft_wrap=True)
        if os.environ.get("D2L_TUTOR_DEBUG"):
            raise
        sys.exit(EXIT_INTERNAL)
