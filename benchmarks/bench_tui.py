"""Time to the TUI's first screen in a real terminal (run: python benchmarks/bench_tui.py [--runs N] [--json]).
Numbers, not pass/fail: these machines are noisy.

Measures, over N runs each (min / median / max, wall-clock seconds):
  * `d2l-tutor` typed inside a workspace (what a learner runs; it skips the CLI framework), in a fresh session of a
    private tmux server: from the new-session command to the first `capture-pane` that shows the course tree (the
    first chapter's title),
  * the same for `d2l-tutor tui --workspace W` (through the typer CLI),
  * `d2l-tutor --help` to the end of its process, as a reference for the CLI's own start-up.
And, from one more run, whether the UI process imported torch at any time from its start until it quit, a few
seconds after its first screen. It must not: grading (and the warm zygote) import torch in processes of their own,
and that import costs seconds. An audit hook (sys.addaudithook, "import" events) writes every module the UI process
imports to a file. Not `-X importtime 2>file`: Textual draws the screen on stderr, so that redirect hides the app.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZE = ("120", "40")
POLL = 0.005          # seconds between two capture-panes while waiting for the first screen
TIMEOUT = 60.0        # give up on a run after this long
IDLE_AFTER_SCREEN = 3.0  # the importtime run stays open this long after its first screen: late imports count too
TRACER = """\
import sys, time
_log = open(sys.argv.pop(1), "w", buffering=1)
sys.addaudithook(lambda event, args: _log.write(f"{time.time():.3f} {args[0]}\\n") if event == "import" else None)
sys.argv[0] = "d2l-tutor"
from tutor.launch import main
main()
"""


def cli() -> list[str]:
    """The console script a learner runs, or `python -m tutor` when it is not installed next to this Python."""
    script = Path(sys.executable).with_name("d2l-tutor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tutor"]


class Tmux:
    """A private tmux server (own socket, no user config) that outlives its sessions, so its start is not timed."""

    def __init__(self, tmp: Path):
        self.socket = f"d2l-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.config = tmp / "tmux.conf"
        self.config.write_text("set -g default-shell /bin/sh\nset -g exit-empty off\n", encoding="utf-8")
        self.env = {k: v for k, v in os.environ.items() if k not in {"TMUX", "TMUX_PANE", "COLUMNS", "LINES"}}
        self.run("start-server")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.config), *args], env=self.env,
                              capture_output=True, text=True, timeout=30, check=check)

    def capture(self, session: str) -> str:
        return self.run("capture-pane", "-p", "-t", session, check=False).stdout

    def alive(self, session: str) -> bool:
        return self.run("has-session", "-t", session, check=False).returncode == 0

    def close(self) -> None:
        self.run("kill-server", check=False)


def first_screen(tmux: Tmux, command: str, cwd: Path, marker: str) -> tuple[float, str]:
    """Start command in a new session; seconds until the screen shows marker. Returns (seconds, session)."""
    session = f"run-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    tmux.run("new-session", "-d", "-s", session, "-x", SIZE[0], "-y", SIZE[1], "-c", str(cwd), command)
    while marker not in (screen := tmux.capture(session)):
        if time.perf_counter() - start > TIMEOUT:
            raise SystemExit(f"no course tree after {TIMEOUT:.0f} s; the screen was:\n{screen}")
        time.sleep(POLL)
    return time.perf_counter() - start, session


def quit_app(tmux: Tmux, session: str) -> None:
    """q, as a learner quits; the session is killed if the app has not gone within 10 s."""
    tmux.run("send-keys", "-t", session, "q", check=False)
    deadline = time.monotonic() + 10
    while tmux.alive(session) and time.monotonic() < deadline:
        time.sleep(0.05)
    if tmux.alive(session):
        print("warning: q did not end the app within 10 s; killing its session", file=sys.stderr)
        tmux.run("kill-session", "-t", session, check=False)
    time.sleep(0.3)  # let the app's helpers (the warm zygote) go before the next run starts


def summary(samples: list[float]) -> dict[str, float]:
    return {"min": min(samples), "median": statistics.median(samples), "max": max(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print only machine-readable JSON")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench_tui.py needs tmux")
    sys.path.insert(0, str(REPO))
    from tutor.manifest import load_course

    chapter = load_course().chapters[0]
    marker = f"{chapter.number}. {chapter.title}"[:30]  # the tree is narrow: a long title is cut
    tmp = Path(tempfile.mkdtemp(prefix="d2l-bench-tui-"))
    tmux = Tmux(tmp)
    try:
        ws = tmp / "w"
        subprocess.run(cli() + ["init", str(ws)], check=True, stdout=subprocess.DEVNULL)
        app = " ".join(shlex.quote(a) for a in cli() + ["tui", "--workspace", str(ws)])

        bare = " ".join(shlex.quote(a) for a in cli())
        screens, via_cli = [], []
        for _ in range(args.runs):
            seconds, session = first_screen(tmux, f"exec env TERM=xterm-256color {bare}", ws, marker)
            screens.append(seconds)
            quit_app(tmux, session)
            seconds, session = first_screen(tmux, f"exec env TERM=xterm-256color {app}", tmp, marker)
            via_cli.append(seconds)
            quit_app(tmux, session)

        helps = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cli() + ["--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                           env=dict(os.environ, COLUMNS="120"))
            helps.append(time.perf_counter() - start)

        # The UI process with an import hook (the grading processes and the zygote are other processes).
        log, tracer = tmp / "imports.log", tmp / "trace_imports.py"
        tracer.write_text(TRACER, encoding="utf-8")
        traced = " ".join(shlex.quote(a) for a in [sys.executable, str(tracer), str(log)])
        _, session = first_screen(tmux, f"exec env TERM=xterm-256color {traced}", ws, marker)
        shown_at = time.time()
        time.sleep(IDLE_AFTER_SCREEN)
        quit_app(tmux, session)
        imports = [line.split(" ", 1) for line in log.read_text(encoding="utf-8").splitlines() if " " in line]
        modules = [name for _, name in imports]
        torch_modules = [name for _, name in imports if name == "torch" or name.startswith("torch.")]
        torch_after_screen = any(float(t) >= shown_at for t, name in imports if name == "torch")
        if not modules:
            raise SystemExit(f"the import hook wrote nothing to {log}: cannot tell whether torch was imported")
    finally:
        tmux.close()
        shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "runs": args.runs,
        "tui_first_screen": summary(screens),
        "tui_first_screen_via_cli": summary(via_cli),
        "help": summary(helps),
        "tui_first_screen_samples": screens,
        "help_samples": helps,
        "ui_modules_imported": len(modules),
        "ui_imported_torch": bool(torch_modules),
        "ui_imported_torch_after_first_screen": torch_after_screen,
        "ui_torch_modules": torch_modules[:20],
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rows = [("d2l-tutor (in a workspace): launch to the course tree on screen", result["tui_first_screen"]),
            ("d2l-tutor tui --workspace W: the same, through the CLI", result["tui_first_screen_via_cli"]),
            ("d2l-tutor --help: launch to exit", result["help"])]
    width = max(len(name) for name, _ in rows)
    print(f"{'measurement (' + str(args.runs) + ' runs, seconds)':<{width}}  {'min':>7}  {'median':>7}  {'max':>7}")
    for name, s in rows:
        print(f"{name:<{width}}  {s['min']:7.3f}  {s['median']:7.3f}  {s['max']:7.3f}")
    when = "after" if torch_after_screen else "before"
    verdict = f"YES ({when} the first screen): {', '.join(torch_modules[:3])}" if torch_modules else "no"
    print(f"\nthe UI process imported torch (start to quit, {IDLE_AFTER_SCREEN:g} s after the first screen): {verdict}"
          f"  ({len(modules)} modules imported in all)")
    print(f"(cpus: {os.cpu_count()}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
