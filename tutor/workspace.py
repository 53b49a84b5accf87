"""The learner's workspace: one file per exercise, plus .d2l-tutor/ (progress and backups)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tutor.manifest import Course, Exercise

MARKER = ".d2l-tutor"
DEFAULT_DIR = "d2l-workspace"

README = """# My d2l-tutor workspace

Each `.py` file here is one exercise from *Dive into Deep Learning* (PyTorch
edition). Open one in your editor, replace the `raise NotImplementedError` with
your implementation, and grade it:

    d2l-tutor list              # exercises, status and best scores
    d2l-tutor lesson corr2d     # read the lesson for an exercise
    d2l-tutor grade corr2d      # run the hidden tests and the smoke-check
    d2l-tutor hint corr2d       # the next hint, one at a time
    d2l-tutor reset corr2d      # start over (your file is backed up first)
    d2l-tutor progress          # your attempts and best scores

Run `d2l-tutor` with no arguments for the full-screen tutor. Your progress is
kept in `.d2l-tutor/progress.db`; backups made by `reset` go to
`.d2l-tutor/backups/`.
"""


class WorkspaceError(Exception):
    """No workspace, or a workspace we cannot use; the message says what to do."""


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / MARKER

    @property
    def db_path(self) -> Path:
        return self.state_dir / "progress.db"

    @property
    def backup_dir(self) -> Path:
        return self.state_dir / "backups"

    def file_for(self, exercise: Exercise) -> Path:
        return self.root / exercise.filename


def find_workspace(start: Path | None = None, explicit: Path | None = None) -> Workspace:
    """The workspace named by --workspace, or else the one found from `start` (the cwd):

    1. the nearest folder from `start` upward that holds the marker folder (the cwd is in a workspace, or below
       one), else
    2. the nearest ./d2l-workspace (DEFAULT_DIR, what `d2l-tutor init` makes) that is a workspace, as a child of
       `start` or of any folder above it (the cwd is where `d2l-tutor init` was run, or below it).
    """
    if explicit is not None:
        root = Path(explicit).expanduser().resolve()
        if not is_workspace(root):
            raise WorkspaceError(f"{root} is not a d2l-tutor workspace (it has no {MARKER}/ folder). "
                                 f"Create one with `d2l-tutor init {explicit}`.")
        return Workspace(root)
    here = Path(start or Path.cwd()).resolve()
    folders = (here, *here.parents)
    for folder in folders:
        if is_workspace(folder):
            return Workspace(folder)
    for folder in folders:
        if is_workspace(folder / DEFAULT_DIR):
            return Workspace((folder / DEFAULT_DIR).resolve())
    raise WorkspaceError(f"no d2l-tutor workspace in {here}, in any folder above it, or in a ./{DEFAULT_DIR} inside "
                         f"one of them. Create one with `d2l-tutor init` (it makes ./{DEFAULT_DIR}), or pass "
                         f"--workspace DIR.")


def is_workspace(folder: Path) -> bool:
    """`folder` is a workspace: it holds the marker folder."""
    try:
        return (Path(folder) / MARKER).is_dir()
    except OSError:  # a folder we may not look into is not a workspace we can use
        return False


@dataclass
class InitReport:
    root: Path
    created: list[str]
    skipped: list[str]
    existed: bool = False  # `root` was a workspace already: only missing files (if any) were added

    @property
    def status(self) -> str:
        """"exists" (the workspace was there before; see `created` for files added to it) or "created"."""
        return "exists" if self.existed else "created"


def init_workspace(root: Path, course: Course) -> InitReport:
    """Create the workspace, or complete an existing one; never overwrite an existing file (those are reported as
    skipped). The report's `existed`/`status` says whether the workspace was there before: say "created" only when
    it was not."""
    root = Path(root).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is not a folder; choose another path for the workspace.")
    existed = is_workspace(root)
    try:
        (root / MARKER / "backups").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create the workspace at {root}: {exc.strerror}. Choose a folder you can write to.") from None
    created, skipped = [], []
    files = [(root / "README.md", README)]
    files += [(root / ex.filename, ex.stub_path.read_text(encoding="utf-8")) for ex in course.exercises]
    for path, text in files:
        try:
            with open(path, "x", encoding="utf-8") as fh:  # "x": fails if the file exists, never overwrites
                fh.write(text)
            created.append(path.name)
        except FileExistsError:
            skipped.append(path.name)
    return InitReport(root=root, created=created, skipped=skipped, existed=existed)


def reset_exercise(ws: Workspace, exercise: Exercise) -> Path | None:
    """Restore the stub; the learner's file is copied to a timestamped backup first.

    Returns the backup's path, or None when there was nothing to back up (no file,
    or the file is already the untouched stub).
    """
    target = ws.file_for(exercise)
    stub = exercise.stub_path.read_bytes()
    backup = None
    if target.exists():
        if target.read_bytes() == stub:
            return None
        ws.backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        backup = ws.backup_dir / f"{exercise.id}-{stamp}.py"
        shutil.copy2(target, backup)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(stub)
    os.replace(tmp, target)  # atomic: the file is either the old one or the stub, never half-written
    return backup
