"""From the g key in the TUI to the first test result on screen, warm and cold (run: python
benchmarks/bench_tui_grading.py [--runs N]). Numbers, not pass/fail: these machines are noisy.

The app runs headless (App.run_test) on a fresh workspace holding corr2d's reference solution. A run starts when
the pilot presses g and its first result is shown when the results panel has updated itself with its first test
line (a hidden test; every exercise's smoke-check runs last, so an exercise without one would show the same); the
screen draws it on the next frame. The warm app forks
each run from its zygote (started once, in the background, when the app opens); the cold app (`--cold`) starts a
new Python process that imports torch for every run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


async def measure(warm: bool, runs: int) -> tuple[list[float], list[float]]:
    from tutor.manifest import load_course
    from tutor.tui.app import TutorApp
    from tutor.workspace import Workspace, init_workspace

    course = load_course()
    ex = course.exercise("corr2d")
    root = Path(tempfile.mkdtemp(prefix="d2l-bench-")) / "w"
    init_workspace(root, course)
    (root / ex.filename).write_text(ex.solution_path.read_text(encoding="utf-8"), encoding="utf-8")
    app = TutorApp(Workspace(root), device="cpu", warm=warm, start=ex)
    firsts, totals = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        if warm:
            while app.warm_grader is None:
                await pilot.pause(0.05)
            await asyncio.to_thread(app.warm_grader.wait_ready)  # the zygote's start-up is not a key press's cost
        await pilot.press("escape")
        panel = app.query_one("#results")
        shown = []
        draw = panel._show

        def show_and_time():  # the panel updates itself here; the next frame puts it on screen
            draw()
            if panel.finished and not shown:
                shown.append(time.perf_counter())

        panel._show = show_and_time
        for _ in range(runs):
            shown.clear()
            start = time.perf_counter()
            await pilot.press("g")  # returns once the app is idle again, which may be after the whole run
            while not shown:
                await asyncio.sleep(0.002)
            firsts.append(shown[0] - start)
            await app.workers.wait_for_complete()
            totals.append(time.perf_counter() - start)
            assert "12/12" in str(panel.content), str(panel.content)
    return firsts, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    rows = []
    for warm in (True, False):
        firsts, totals = asyncio.run(measure(warm, args.runs))
        rows.append(("warm (forked from the zygote)" if warm else "cold (new process per run)",
                     statistics.median(firsts), min(firsts), max(firsts), statistics.median(totals)))
    print(f"corr2d reference solution, {args.runs} runs each, seconds")
    print(f"{'TUI grading':<32} {'first result (median)':>22} {'min':>7} {'max':>7} {'whole run (median)':>19}")
    for name, med, lo, hi, total in rows:
        print(f"{name:<32} {med:>22.3f} {lo:>7.3f} {hi:>7.3f} {total:>19.2f}")


if __name__ == "__main__":
    main()
