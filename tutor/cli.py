"""The d2l-tutor command line (typer + rich). It never imports torch: grading runs in child processes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console

from tutor.launch import is_interactive, run_tui
from tutor.manifest import Course, Exercise, ManifestError, UnknownExercise, load_course
from tutor.progress import Progress, ProgressError, course_totals
from tutor.workspace import DEFAULT_DIR, Workspace, WorkspaceError, find_workspace

# Exit codes (documented in the README).
EXIT_OK = 0          # success; for grade: full marks on everything graded
EXIT_NOT_FULL = 1    # graded, but not full marks (or the instructor check found a problem)
EXIT_USAGE = 2       # usage error: unknown exercise, bad option, --device cuda without a GPU
EXIT_WORKSPACE = 3   # no workspace, a missing exercise file, or a damaged progress database
EXIT_INTERNAL = 4    # d2l-tutor itself failed (a grader broke, or the grading process could not start)

app = typer.Typer(
    name="d2l-tutor",
    help="A terminal tutor for Dive into Deep Learning (PyTorch edition): read a lesson, implement it, get graded.",
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
    typer.Option("--workspace", "-w", help="The workspace folder (default: found from the current folder upward)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only machine-readable JSON on stdout.")]


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def course() -> Course:
    try:
        return load_course()
    except ManifestError as exc:
        raise fail(str(exc), EXIT_INTERNAL) from None


def exercise_or_exit(c: Course, name: str) -> Exercise:
    try:
        return c.exercise(name)
    except UnknownExercise as exc:
        lessons = {le.id for le in c.lessons}
        if name in lessons:
            ids = ", ".join(ex.id for ex in c.lesson(name).exercises)
            raise fail(f"{name!r} is a lesson, not an exercise; its exercises: {ids}.", EXIT_USAGE) from None
        raise fail(str(exc), EXIT_USAGE) from None


def check_device(device: str) -> None:
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise fail(f"--device must be auto, cpu or cuda, not {device!r}.", EXIT_USAGE)


def workspace_or_exit(explicit: Optional[Path]) -> Workspace:
    try:
        return find_workspace(explicit=explicit)
    except WorkspaceError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None


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


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the workspace.")] = Path(DEFAULT_DIR),
) -> None:
    """Create a workspace: one file per exercise and a README. Existing files are never overwritten."""
    from tutor.workspace import init_workspace

    try:
        report = init_workspace(directory, course())
    except WorkspaceError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None
    out.print(f"Workspace: [bold]{report.root}[/]")
    if report.created:
        out.print(f"  created: {', '.join(report.created)}")
    if report.skipped:
        out.print(f"  [yellow]skipped (already there, left untouched): {', '.join(report.skipped)}[/]")
    first = course().exercises[0].id if course().exercises else "corr2d"
    out.print(f"\nNext: [bold]cd {directory}[/] then [bold]d2l-tutor list[/], "
              f"[bold]d2l-tutor lesson {first}[/] and [bold]d2l-tutor grade {first}[/].")


@app.command("list")
def list_(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List the exercises by chapter, with your status and best score."""
    c = course()
    summaries: dict = {}
    ws = None
    try:
        ws = find_workspace(explicit=workspace)
    except WorkspaceError as exc:
        if workspace is not None:
            raise fail(str(exc), EXIT_WORKSPACE) from None
        err.print(f"[dim]no workspace here, so no scores: run `d2l-tutor init` to start.[/]")
    if ws is not None:
        try:
            with open_progress(ws) as progress:
                summaries = progress.summaries()
        except ProgressError as exc:
            raise fail(str(exc), EXIT_WORKSPACE) from None
    rows = []
    for ch in c.chapters:
        for lesson in ch.lessons:
            for ex in lesson.exercises:
                s = summaries.get(ex.id)
                status = "not started" if s is None else ("full marks" if s.best >= ex.points else "attempted")
                rows.append({"id": ex.id, "title": ex.title, "chapter": ch.number, "chapter_title": ch.title,
                             "lesson": lesson.id, "d2l": ex.d2l, "points": ex.points, "status": status,
                             "best": None if s is None else s.best, "attempts": 0 if s is None else s.attempts})
    if as_json:
        print(json.dumps({"course": c.title, "workspace": str(ws.root) if ws else None, "exercises": rows}, indent=2))
        return
    from rich.table import Table

    table = Table(title=c.title, title_justify="left", header_style="bold")
    for col, kw in (("ch", {"justify": "right"}), ("exercise", {}), ("title", {}), ("d2l", {}),
                    ("status", {}), ("best", {"justify": "right"})):
        table.add_column(col, **kw)
    style = {"not started": "dim", "attempted": "yellow", "full marks": "green"}
    for r in rows:
        best = "-" if r["best"] is None else f"{r['best']:g}/{r['points']}"
        table.add_row(str(r["chapter"]), r["id"], r["title"], r["d2l"], f"[{style[r['status']]}]{r['status']}[/]", best)
    out.print(table)
    done = sum(r["status"] == "full marks" for r in rows)
    out.print(f"{done}/{len(rows)} exercises at full marks.")


@app.command()
def lesson(
    name: Annotated[str, typer.Argument(help="A lesson id or an exercise id.")],
    plain: Annotated[bool, typer.Option("--plain", help="Print the Markdown source instead of rendering it.")] = False,
) -> None:
    """Read a lesson in the terminal."""
    c = course()
    try:
        les = c.lesson(name)
    except UnknownExercise as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    text = les.path.read_text(encoding="utf-8")
    if plain:
        print(text)
        return
    from rich.markdown import Markdown

    out.print(Markdown(text))
    ids = ", ".join(ex.id for ex in les.exercises)
    out.print(f"\n[dim]d2l {les.d2l} · exercises: {ids} · grade with `d2l-tutor grade {les.exercises[0].id if les.exercises else ''}`[/]")


@app.command()
def grade(
    exercises: Annotated[Optional[List[str]], typer.Argument(help="Exercise ids to grade.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Grade every exercise.")] = False,
    device: Annotated[str, typer.Option(help="auto (cuda when available), cpu or cuda.")] = "auto",
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="Grade this file instead of the workspace's (one exercise).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
    gradescope: Annotated[Optional[Path], typer.Option(help="Also write a Gradescope results.json here.")] = None,
    time_limit: Annotated[Optional[float], typer.Option(help="Override the exercise's time limit (seconds).")] = None,
    strict: Annotated[Optional[bool], typer.Option(
        "--strict/--no-strict", help="Hide the course's solutions and your files from the graded code (bubblewrap, "
        "or a user of its own when run as root). Default: on with --file, off for your own workspace.",
        show_default=False)] = None,
) -> None:
    """Run the hidden tests and the smoke-check on your code."""
    from tutor.engine.protocol import Plan, SmokeStep, TestStarted
    from tutor.engine.results import DEVICE_UNAVAILABLE, ENGINE_ERROR
    from tutor.engine.runner import grade as run_grade

    c = course()
    check_device(device)
    if all_ and exercises:
        raise fail("give exercise ids or --all, not both.", EXIT_USAGE)
    if not all_ and not exercises:
        raise fail("name the exercises to grade (for example `d2l-tutor grade corr2d`) or use --all.", EXIT_USAGE)
    chosen = c.exercises if all_ else [exercise_or_exit(c, name) for name in exercises]
    if file is not None and len(chosen) != 1:
        raise fail("--file grades one exercise: name exactly one.", EXIT_USAGE)
    ws = None
    if file is None or workspace is not None:
        ws = workspace_or_exit(workspace)
    elif file is not None:
        try:
            ws = find_workspace()
        except WorkspaceError:
            ws = None
    targets = []
    for ex in chosen:
        path = file if file is not None else ws.file_for(ex)
        if Path(path).is_dir():
            raise fail(f"{path} is a folder, not a file: give the path of the .py file to grade "
                       f"(e.g. {Path(path) / ex.filename}).", EXIT_USAGE if file is not None else EXIT_WORKSPACE)
        if not Path(path).is_file():
            hint = f" Run `d2l-tutor reset {ex.id}` to get the stub back." if file is None else ""
            raise fail(f"{path} does not exist.{hint}", EXIT_WORKSPACE)
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise fail(f"cannot read {path}: {exc.strerror}. Check the file's permissions.", EXIT_WORKSPACE) from None
        targets.append((ex, Path(path)))

    strict_mode = strict if strict is not None else file is not None
    hide = (str(Path(file).resolve().parent),) if file is not None else ()
    if ws is not None:
        hide += (str(ws.state_dir),)  # the progress database and backups: never the graded code's to touch
    if strict_mode:
        from tutor.engine.containment import ISOLATION_NOTES, strict_isolation

        level = strict_isolation()
        if level == "process":
            err.print(f"note: strict mode: {ISOLATION_NOTES[level]} (isolation: process).", highlight=False,
                      soft_wrap=True)
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
        with err.status(f"grading {ex.id}: starting...", spinner="dots") as status:
            def on_event(event, ex=ex, status=status, seen={"n": 0, "total": 0}):
                if isinstance(event, Plan):
                    seen["total"] = len(event.tests)
                elif isinstance(event, TestStarted):
                    seen["n"] += 1
                    status.update(f"grading {ex.id}: {event.name} ({seen['n']}/{seen['total']})")
                elif isinstance(event, SmokeStep):
                    metrics = ", ".join(f"{k} {v:.4g}" for k, v in event.metrics.items())
                    status.update(f"grading {ex.id}: smoke-check step {event.step}: {metrics}")

            result = run_grade(ex, path, device=device, time_limit=time_limit, on_event=on_event,
                               strict=strict_mode, hide=hide)
        if result.status == DEVICE_UNAVAILABLE:
            raise fail(result.problem, EXIT_USAGE)
        results.append((ex, result))
        if not as_json:
            render_result(out, result, ex)
            out.print()
        if progress is not None and result.status != ENGINE_ERROR:
            try:
                progress.record(result)
            except ProgressError as exc:  # the score is on screen already; say why it was not kept
                err.print(f"[bold red]error:[/] {result.exercise}: {result.score:g}/{result.max_score:g} was not "
                          f"recorded: {exc}", highlight=False, markup=True, soft_wrap=True)
                record_failed = True
        if result.status == ENGINE_ERROR:
            code = EXIT_INTERNAL
        elif not result.full_marks and code == EXIT_OK:
            code = EXIT_NOT_FULL
    if progress is not None:
        progress.close()
    total = sum(r.score for _, r in results)
    total_max = sum(r.max_score for _, r in results)
    if gradescope is not None:
        from tutor.gradescope import write_results

        write_results(gradescope, [r for _, r in results])
    if as_json:
        print(json.dumps({"score": total, "max_score": total_max, "results": [r.to_json() for _, r in results]},
                         indent=2))
    elif len(results) > 1:
        out.print(f"[bold]Total: {total:g}/{total_max:g} points[/]")
    raise typer.Exit(EXIT_WORKSPACE if record_failed else code)


@app.command()
def hint(
    exercise: Annotated[str, typer.Argument(help="The exercise id.")],
    reset: Annotated[bool, typer.Option("--reset", help="Hide the hints again and start from the first.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show the next hint for an exercise (each call reveals one more)."""
    ex = exercise_or_exit(course(), exercise)
    ws = workspace_or_exit(workspace)
    try:
        with open_progress(ws) as progress:
            if reset:
                progress.reset_hints(ex.id)
                out.print(f"Hints for {ex.id} hidden again; the next `d2l-tutor hint {ex.id}` shows the first.")
                return
            already = progress.hints_shown(ex.id)
            shown = progress.reveal_hint(ex.id, len(ex.hints))
    except ProgressError as exc:
        raise fail(str(exc), EXIT_WORKSPACE) from None
    for i in range(shown):
        style = "bold" if i == shown - 1 and shown > already else "dim"
        out.print(f"[{style}]Hint {i + 1} of {len(ex.hints)}:[/] {ex.hints[i]}", highlight=False)
    if shown == already:
        out.print(f"[dim]That was the last hint. Re-read the lesson (`d2l-tutor lesson {ex.id}`) or start over with "
                  f"`d2l-tutor hint {ex.id} --reset`.[/]")


@app.command()
def reset(
    exercise: Annotated[str, typer.Argument(help="The exercise id.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Restore an exercise's stub; your current file is backed up first."""
    from tutor.workspace import reset_exercise

    ex = exercise_or_exit(course(), exercise)
    ws = workspace_or_exit(workspace)
    try:
        backup = reset_exercise(ws, ex)
    except OSError as exc:
        raise fail(f"could not reset {ex.filename}: {exc}. Nothing was changed.", EXIT_WORKSPACE) from None
    if backup is None:
        out.print(f"{ws.file_for(ex)} is the untouched stub now (there was nothing to back up).")
    else:
        out.print(f"Restored the stub in {ws.file_for(ex)}.\nYour previous file is kept at [bold]{backup}[/].")


@app.command()
def progress(
    exercise: Annotated[Optional[str], typer.Argument(help="Show the attempt history of this exercise.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Your attempts and best scores (or one exercise's history)."""
    from rich.table import Table

    c = course()
    ex = exercise_or_exit(c, exercise) if exercise else None
    ws = workspace_or_exit(workspace)
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
        table = Table(title="Progress", title_justify="left", header_style="bold")
        for col in ("exercise", "attempts", "best", "last attempt"):
            table.add_column(col)
        for e in c.exercises:
            s = summaries.get(e.id)
            table.add_row(e.id, str(s.attempts if s else 0), f"{s.best:g}/{e.points}" if s else "-",
                          s.last.replace("T", " ")[:16] if s else "-")
        out.print(table)
        totals = course_totals(c.exercises, summaries)
        out.print(f"{totals.done}/{totals.exercises} exercises at full marks ({totals.earned:g}/{totals.total} points); "
                  f"{sum(s.attempts for s in summaries.values())} attempts in all.")
    title = f"Last attempts of {ex.id}" if ex else "Recent attempts"
    table = Table(title=title, title_justify="left", header_style="bold")
    for col in ("when (UTC)", "exercise", "score", "status", "time", "device", "file"):
        table.add_column(col)
    for a in history:
        table.add_row(a.finished_at.replace("T", " ")[:19], a.exercise, f"{a.score:g}/{a.max_score:g}", a.status,
                      f"{a.duration:.1f} s", a.device, a.file_hash[:8])
    if history:
        out.print(table)
    elif ex is not None:
        out.print(f"No attempts at {ex.id} yet: `d2l-tutor grade {ex.id}`.")


@app.command()
def check(
    exercises: Annotated[Optional[List[str]], typer.Argument(help="Only these exercises (default: all).", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto (cuda when available), cpu or cuda.")] = "auto",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Grading processes to run at once.")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Instructor check: every reference solution gets full marks (twice, identically) and every stub zero."""
    from tutor.instructor import run_check

    c = course()
    chosen = [exercise_or_exit(c, n) for n in exercises] if exercises else c.exercises
    report = run_check(chosen, device=device, jobs=jobs,
                       on_line=None if as_json else (lambda line: err.print(line, highlight=False)))
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        report.render(out)
    if report.device_unavailable:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_NOT_FULL)


@app.command()
def tui(
    exercise: Annotated[Optional[str], typer.Argument(help="Open this exercise at once.", show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    device: Annotated[str, typer.Option(help="Where grading runs: auto (cuda when available), cpu or cuda.")] = "auto",
    cold: Annotated[bool, typer.Option("--cold", help="Start a new grading process for every run instead of "
                                       "forking a warm one (slower; for debugging).")] = False,
) -> None:
    """The full-screen tutor: lessons, an editor for your exercise files, and grading with live results."""
    check_device(device)
    start = exercise_or_exit(course(), exercise) if exercise else None
    ws = None
    if workspace is not None or not is_interactive():
        ws = workspace_or_exit(workspace)  # an explicit folder must be a workspace; no terminal: no question to ask
    else:
        try:
            ws = find_workspace()
        except WorkspaceError:
            ws = None  # the app offers to create one
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
        raise fail(f"the full-screen tutor needs textual ({exc}); install it with `pip install textual`. "
                   "Every other command works without it.", EXIT_INTERNAL) from None
    code = run_tui(ws, course=course(), start=start, device=device, warm=warm)
    if code:
        raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - never show a learner our traceback
        err.print(f"[bold red]error:[/] d2l-tutor itself failed ({type(exc).__name__}: {exc}). This is a bug in "
                  "d2l-tutor, not in your code; set D2L_TUTOR_DEBUG=1 to see the traceback and please report it.",
                  soft_wrap=True)
        if os.environ.get("D2L_TUTOR_DEBUG"):
            raise
        sys.exit(EXIT_INTERNAL)
