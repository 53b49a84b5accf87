"""The `d2l-tutor` console script.

`d2l-tutor` and `d2l-tutor tui` with nothing else, typed in a terminal, open the full-screen tutor straight away:
this path never imports the CLI framework (typer and click, about 0.1 s), so the first screen comes sooner.
Everything else, and every case where the fast path cannot open the tutor cleanly (a damaged progress database,
textual missing), goes through tutor.cli, which reports the problem with its usual message and exit code.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path


def is_interactive() -> bool:
    """True when a person is at a terminal: both stdin and stdout are TTYs."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def run_tui(workspace, *, course=None, start=None, device: str = "auto", warm: bool = True) -> int:
    """Run the tutor until the learner quits; its exit code (0, or 3 when a workspace could not be created)."""
    gc.disable()  # start-up allocates a lot and frees little: collecting meanwhile costs ~0.05 s (on_ready enables)
    from tutor.engine.containment import harden
    from tutor.tui.app import TutorApp

    harden()  # the tutor holds the grading pipes: no other process of this user may open them or read its memory

    try:
        app = TutorApp(workspace, course=course, device=device, warm=warm, start=start)
        app.run()
    finally:
        gc.enable()  # whatever happened before the first frame
    return app.return_code or 0


def _fast_workspace():
    """The workspace found from here (None: the tutor offers to create one), or raise to leave it to the CLI."""
    from tutor.progress import Progress
    from tutor.workspace import WorkspaceError, find_workspace

    try:
        ws = find_workspace(Path.cwd())
    except WorkspaceError:
        return None
    with Progress(ws.db_path) as progress:
        progress.summaries()  # a damaged database raises: the CLI explains it before any screen opens
    return ws


def early_language(argv: list[str]) -> None:
    """Settle the language before any text is built (typer's help texts are made when tutor.cli is imported):
    --lang on the command line, D2L_TUTOR_LANG, the workspace's remembered choice, then the locale."""
    from tutor.i18n import LanguageError, resolve, set_lang

    explicit = folder = None
    for i, arg in enumerate(argv):
        following = argv[i + 1] if i + 1 < len(argv) else None
        if arg == "--lang" and following is not None:
            explicit = following
        elif arg.startswith("--lang="):
            explicit = arg.split("=", 1)[1]
        elif arg in ("--workspace", "-w") and following is not None:
            folder = following  # the workspace named on the command line remembers the language, not the cwd's
        elif arg.startswith("--workspace="):
            folder = arg.split("=", 1)[1]
    remembered = None
    try:
        from tutor import settings
        from tutor.workspace import find_workspace

        ws = find_workspace(explicit=Path(folder)) if folder else find_workspace(Path.cwd())
        remembered = settings.load(ws.state_dir).get("lang")
    except Exception:  # noqa: BLE001 - no workspace here: nothing remembered
        pass
    try:
        set_lang(resolve(explicit, remembered))
    except LanguageError:
        pass  # the command line is checked again by the CLI, which explains


def main() -> None:
    gc.disable()  # while importing (as in run_tui): imports allocate a lot and free little
    early_language(sys.argv[1:])
    if sys.argv[1:] in ([], ["tui"]) and is_interactive():
        try:
            ws = _fast_workspace()
            import tutor.tui.app  # noqa: F401 - fails here, not inside the app, when textual is missing
        except Exception:  # noqa: BLE001 - the CLI path below says what is wrong, properly
            pass
        else:
            try:
                code = run_tui(ws)
            finally:
                gc.enable()
            sys.exit(code)
    from tutor.cli import main as cli_main

    gc.enable()
    cli_main()
