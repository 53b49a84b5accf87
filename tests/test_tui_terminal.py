"""The real `d2l-tutor tui` in a real terminal: tmux runs it, send-keys types, capture-pane reads the screen.

The pilot tests (test_tui.py) drive the app inside its own event loop; this one catches what only a terminal
shows: key decoding (escape, arrows), keys arriving in one burst, the process start-up, the file watcher against
a real editor-style write, and a clean exit on q.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest

from tutor.manifest import load_course

WIDTH, HEIGHT = 120, 40
TIMEOUT = 60.0  # seconds; generous: CI machines are slow and every grading run imports torch
POLL = 0.05
SGR = re.compile(r"\x1b\[([0-9;:]*)m")
TREE_ROW = re.compile("[▼▶]|[└├]─")  # what precedes a label in the course tree: a fold arrow or a branch
OTHER_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9]|[=>])")


class Terminal:
    """One tmux server of our own (its own socket, no user config): it never sees a user's sessions."""

    def __init__(self, tmp_path: Path):
        self.socket = f"d2l-tutor-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.config = tmp_path / "tmux.conf"
        # /bin/sh runs the command whatever the user's shell; a pane whose app ended stays, so its last screen
        # can still be captured for a failure message.
        self.config.write_text("set -g default-shell /bin/sh\nset -g remain-on-exit on\n", encoding="utf-8")
        # The server copies the environment of the client that starts it: drop what would leak into the app.
        self.env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE", "COLUMNS", "LINES"}}
        self.status_file = tmp_path / "app-exit-status"
        self.screen = ""

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.config), *args], env=self.env,
                              capture_output=True, text=True, timeout=30, check=check)

    def start(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
              size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
        """Run argv in a new session; a wrapper shell writes its exit status to a file when it ends.

        The status comes from the shell, not from tmux: tmux 3.3a sometimes leaves the exited app an unreaped
        zombie, and then #{pane_dead_status} stays empty for good.
        """
        app = " ".join(shlex.quote(a) for a in argv)
        extra = " ".join(shlex.quote(f"{k}={v}") for k, v in (env or {}).items())
        status = shlex.quote(str(self.status_file))
        command = f"env TERM=xterm-256color {extra} {app}; echo $? > {status}.tmp && mv {status}.tmp {status}"
        self.tmux("new-session", "-d", "-s", "app", "-x", str(size[0]), "-y", str(size[1]), "-c", str(cwd), command)

    def kill(self) -> None:
        self.tmux("kill-server", check=False)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def capture(self, *, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", "app"] + (["-e"] if escapes else [])
        text = self.tmux(*args).stdout
        if not escapes:
            self.screen = text
        return text

    def pane(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", "app", fmt).stdout.strip()

    def exit_status(self) -> str | None:
        """The app's exit status ('0', '1', '137' for SIGKILL), or None while it runs."""
        try:
            return self.status_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def processes(self) -> str:
        """The processes of the pane's session (tmux makes its shell a session leader), for a failure message."""
        pid = self.pane("#{pane_pid}")
        ps = subprocess.run(["ps", "-o", "pid,ppid,stat,etime,args", "-s", pid], capture_output=True, text=True)
        return ps.stdout or ps.stderr

    def wait_for(self, what: str, predicate: Callable[[str], bool] | str, timeout: float = TIMEOUT) -> str:
        """Poll the screen until the predicate (or regex) holds; on timeout fail with the last screen."""
        test = (lambda s: re.search(predicate, s) is not None) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if test(screen):
                return screen
            if (status := self.exit_status()) is not None:
                self.fail(f"the app exited (status {status}) while waiting for {what}")
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(POLL)

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}; the last screen was:\n{self.screen}", pytrace=False)


def cells(line: str) -> list[tuple[str, str | None]]:
    """The characters of one `capture-pane -e` line, each with the background colour it is drawn on."""
    out: list[tuple[str, str | None]] = []
    background: str | None = None
    pos = 0
    while pos < len(line):
        sgr = SGR.match(line, pos)
        if sgr:
            params = [p for p in re.split("[;:]", sgr.group(1))] or ["0"]
            i = 0
            while i < len(params):
                p = params[i] or "0"
                if p in ("38", "48", "58"):  # 38;5;n or 38;2;r;g;b: skip (or keep, for 48) the colour's arguments
                    n = 3 if params[i + 1 : i + 2] == ["5"] else 5
                    if p == "48":
                        background = ";".join(params[i : i + n])
                    i += n
                    continue
                if p == "0" or p == "49":
                    background = None
                elif p == "7" or re.fullmatch("4[0-7]|10[0-7]", p):
                    background = p
                i += 1
            pos = sgr.end()
            continue
        other = OTHER_ESCAPE.match(line, pos)
        if other:
            pos = other.end()
            continue
        out.append((line[pos], background))
        pos += 1
    return out


def tree_cursor(terminal: Terminal) -> str:
    """The text of the tree row that has the cursor: the one row whose label has a background of its own."""
    plain = terminal.capture().splitlines()
    styled = [cells(line) for line in terminal.capture(escapes=True).splitlines()]
    # The tree's right border: the column that holds '│' on the most rows.
    counts: dict[int, int] = {}
    for line in plain:
        for col, ch in enumerate(line):
            if ch == "│":
                counts[col] = counts.get(col, 0) + 1
    if not counts:
        terminal.fail("no tree border on the screen")
    border = max(counts, key=counts.__getitem__)
    rows: list[tuple[str, str | None]] = []
    for row in styled:
        text = "".join(ch for ch, _ in row)
        if len(text) <= border or text[border] != "│":
            continue
        label = next((i for i, ch in enumerate(text[:border]) if ch.isalnum()), None)
        if label is not None and TREE_ROW.search(text[:label]):  # not the progress lines under the tree
            rows.append((text[:border].strip(), row[label][1]))
    backgrounds = [bg for _, bg in rows]
    lone = [text for text, bg in rows if backgrounds.count(bg) == 1]
    if len(lone) != 1:
        terminal.fail(f"cannot tell which tree row has the cursor (backgrounds {backgrounds})")
    return lone[0]


def verdict(screen: str, ex) -> str | None:
    """The score the results panel shows ("0", "12") once a grading run has ended; None before that."""
    found = re.search(re.escape(f"{ex.id} · {ex.title}") + rf"\s+([\d.]+)/{ex.points}\b", screen)
    return found.group(1) if found else None


def grade_key_shown(screen: str) -> bool:
    """Whether the footer (the last line) offers a plain g to grade: it does not while the editor has the focus."""
    lines = screen.rstrip("\n").splitlines()
    return bool(lines) and re.search(r"(?<![\w^])g Grade", lines[-1]) is not None


def wait_for_exit(terminal: Terminal) -> str:
    deadline = time.monotonic() + 10
    while (status := terminal.exit_status()) is None:
        if time.monotonic() > deadline:
            terminal.capture()
            terminal.fail(f"q did not end the app within 10 s; its processes:\n{terminal.processes()}")
        time.sleep(POLL)
    return status


@pytest.fixture
def terminal(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    pytest.importorskip("textual", reason="the TUI needs textual")
    term = Terminal(tmp_path)
    yield term
    term.kill()  # also after a failure: no stray server or app is left behind


def test_grade_corr2d_in_a_real_terminal(terminal, tmp_path):
    """Keys only: open corr2d, grade the stub (0/12), then an outside edit is picked up and regraded (12/12)."""
    ex = load_course().exercise("corr2d")
    ws = tmp_path / "w"
    subprocess.run([sys.executable, "-m", "tutor", "init", str(ws)], check=True, capture_output=True, timeout=120)
    terminal.start([sys.executable, "-m", "tutor", "tui", "--workspace", str(ws)], cwd=tmp_path)
    terminal.wait_for("the course tree", rf"(?m)^\W*{re.escape(ex.id)}\b")

    # The tree has the focus and its cursor on the first row: move down until it is on corr2d.
    rows_seen = [tree_cursor(terminal)]
    while not re.search(rf"\b{re.escape(ex.id)}\b", rows_seen[-1]):
        if len(rows_seen) > HEIGHT:
            terminal.fail(f"the cursor never reached {ex.id}; it visited {rows_seen}")
        terminal.keys("Down")
        before = rows_seen[-1]
        terminal.wait_for("the cursor to move", lambda s: tree_cursor(terminal) != before, timeout=10)
        rows_seen.append(tree_cursor(terminal))
    terminal.keys("Enter")
    terminal.wait_for("the exercise in the editor", re.escape(f"{ex.id} · {ex.title}"))
    terminal.wait_for("the editor to take the focus (no plain 'g Grade' in the footer)",
                      lambda s: not grade_key_shown(s), timeout=10)

    # Escape leaves the editor; g must come as its own key, or the terminal reads escape+g as alt+g.
    terminal.keys("Escape")
    terminal.wait_for("the focus to leave the editor ('g Grade' in the footer)", grade_key_shown, timeout=10)
    terminal.keys("g")
    terminal.wait_for("the results of grading the stub", lambda s: verdict(s, ex) is not None)
    assert verdict(terminal.screen, ex) == "0", terminal.screen

    # An editor elsewhere saves the reference solution (temp file + rename): the app reloads and regrades.
    tmp = ws / f".{ex.filename}.new"
    tmp.write_text(ex.solution_path.read_text(encoding="utf-8"), encoding="utf-8")
    os.replace(tmp, ws / ex.filename)
    terminal.wait_for("full marks after the outside edit", lambda s: verdict(s, ex) == str(ex.points))
    terminal.wait_for("the tree's full-marks mark", rf"✓ {re.escape(ex.id)} {ex.points}/{ex.points}", timeout=10)

    terminal.keys("q")
    status = wait_for_exit(terminal)
    assert status == "0", f"the app ended with status {status}:\n{terminal.capture()}"

    proc = subprocess.run([sys.executable, "-m", "tutor", "progress", "--workspace", str(ws), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summaries"][ex.id]
    assert summary["best"] == ex.points
    assert summary["attempts"] == 2  # the stub, then the one regrade the outside edit triggered


def test_first_run_creates_a_workspace_and_o_edits_in_the_learners_editor(terminal, tmp_path):
    """`d2l-tutor` with no workspace offers one (y creates it); ctrl+p finds corr2d; o runs $EDITOR with the app
    suspended, and the file it wrote is reloaded and graded."""
    ex = load_course().exercise("corr2d")
    editor = tmp_path / "fake-editor"
    editor.write_text(f"#!/bin/sh\ncat {shlex.quote(str(ex.solution_path))} > \"$1\"\n", encoding="utf-8")
    editor.chmod(0o755)
    terminal.start([sys.executable, "-m", "tutor"], cwd=tmp_path, env={"EDITOR": str(editor)})
    offer = terminal.wait_for("the offer to create a workspace", "Create one at")
    flat = re.sub(r"[\s█▀▄]+", "", offer)  # the dialog wraps the long path
    assert re.sub(r"\s+", "", f"Create one at {tmp_path / 'd2l-workspace'}?") in flat, offer
    terminal.keys("y")
    terminal.wait_for("the course tree", rf"(?m)^\W*{re.escape(ex.id)}\b")
    assert (tmp_path / "d2l-workspace" / ex.filename).is_file()

    terminal.keys("C-p")
    terminal.wait_for("the command palette", "Search for commands")
    terminal.keys("-l", ex.id)
    terminal.wait_for("corr2d among the commands", re.escape(f"exercise: {ex.id} · {ex.title}"), timeout=10)
    terminal.keys("Enter")
    terminal.wait_for("the exercise in the editor", re.escape(f"{ex.id} · {ex.title} (course"))
    terminal.wait_for("the editor to take the focus", lambda s: not grade_key_shown(s), timeout=10)
    terminal.keys("Escape")
    terminal.wait_for("the focus to leave the editor", grade_key_shown, timeout=10)

    terminal.keys("o")
    terminal.wait_for("the reference solution loaded and graded", lambda s: verdict(s, ex) == str(ex.points))
    assert (tmp_path / "d2l-workspace" / ex.filename).read_text(encoding="utf-8") == \
        ex.solution_path.read_text(encoding="utf-8")
    terminal.keys("q")
    assert wait_for_exit(terminal) == "0", terminal.capture()


def test_a_burst_of_keys_reaches_the_editor_at_80x24(terminal, tmp_path):
    """Keys sent in one write, as a paste or a fast typist sends them, right after a key that moves the focus into
    the editor (e; enter on the exercise in the tree's drawer): all of them are typed, none is taken as a command.
    The text holds every letter the app binds (and q, which would quit)."""
    ex = load_course().exercise("corr2d")
    ws = tmp_path / "w"
    subprocess.run([sys.executable, "-m", "tutor", "init", str(ws)], check=True, capture_output=True, timeout=120)
    path = ws / ex.filename
    stub = path.read_text(encoding="utf-8")
    terminal.start([sys.executable, "-m", "tutor", "tui", "--cold", "--workspace", str(ws), ex.id], cwd=tmp_path,
                   size=(80, 24))
    terminal.wait_for("the editor to take the focus", lambda s: "esc Leave editor" in s)
    terminal.keys("Escape")
    terminal.wait_for("the focus to leave the editor", grade_key_shown, timeout=10)
    first = "return Y  # gchtlepoSrzvbLq?"
    terminal.keys("e", first)  # e opens the editor; the text follows in the same write
    terminal.wait_for("the text in the editor", re.escape(first))
    terminal.keys("Escape")
    terminal.wait_for("the focus to leave the editor", grade_key_shown, timeout=10)
    terminal.keys("b")
    terminal.wait_for("the tree's drawer", rf"[└├]── · {re.escape(ex.id)}", timeout=10)
    second = "Z = 1  # bvLq"
    terminal.keys("Enter", second, "C-s")  # the cursor is on corr2d: enter opens it
    deadline = time.monotonic() + 10
    while path.read_text(encoding="utf-8") == stub and time.monotonic() < deadline:
        time.sleep(POLL)
    assert path.read_text(encoding="utf-8") == first + second + stub, terminal.capture()
    terminal.keys("Escape")
    terminal.wait_for("the focus to leave the editor", grade_key_shown, timeout=10)
    terminal.keys("q")
    assert wait_for_exit(terminal) == "0", terminal.capture()
