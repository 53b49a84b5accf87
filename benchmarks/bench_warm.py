"""Warm vs cold grading (run: python benchmarks/bench_warm.py). Numbers, not pass/fail: these machines are noisy.

For corr2d's reference solution, as medians of 5 runs:
  * first result: from the request (the key press) to the first `test_finished` event (a hidden test; every
    exercise's smoke-check runs last, so this is what an exercise without a smoke-check would show too),
  * whole run: from the request to the GradeResult,
for a cold run (tutor.engine.runner.grade: a new `python -m tutor.engine.child` that imports torch) and a warm one
(tutor.engine.warm.WarmGrader: a process forked from a zygote that has imported torch already), plus the wall
time of a cold `d2l-tutor grade corr2d` in a subprocess (the CLI's own start-up included).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPEAT = 5


def timed(grade_fn, exercise) -> tuple[float, float]:
    start = time.perf_counter()
    first: list[float] = []

    def on_event(event):
        if event.event == "test_finished" and not first:
            first.append(time.perf_counter() - start)

    result = grade_fn(exercise, exercise.solution_path, device="cpu", on_event=on_event)
    total = time.perf_counter() - start
    assert result.full_marks, (exercise.id, result.status, [t.message for t in result.tests])
    return first[0], total


def medians(grade_fn, exercise) -> tuple[float, float]:
    runs = [timed(grade_fn, exercise) for _ in range(REPEAT)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tutor.engine.runner import grade
    from tutor.engine.warm import WarmGrader
    from tutor.manifest import load_course

    course = load_course()
    corr2d = course.exercise("corr2d")

    rows = []
    warm = WarmGrader()
    try:
        start = time.perf_counter()
        warm.wait_ready()
        rows.append(("zygote start-up (once per app, in the background)", None, time.perf_counter() - start))
        cold_first, cold_total = medians(grade, corr2d)
        warm_first, warm_total = medians(warm.grade, corr2d)
        rows.append(("corr2d: cold runner.grade (new child imports torch)", cold_first, cold_total))
        rows.append(("corr2d: warm WarmGrader.grade (forked from the zygote)", warm_first, warm_total))
    finally:
        warm.close()

    tmp = Path(tempfile.mkdtemp(prefix="d2l-bench-"))
    try:
        cli = [sys.executable, "-m", "tutor"]
        subprocess.run(cli + ["init", str(tmp / "ws")], check=True, stdout=subprocess.DEVNULL)
        shutil.copy(corr2d.solution_path, tmp / "ws" / "corr2d.py")
        walls = []
        for _ in range(REPEAT):
            start = time.perf_counter()
            subprocess.run(cli + ["grade", "corr2d", "--device", "cpu"], cwd=tmp / "ws", stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            walls.append(time.perf_counter() - start)
        rows.append(("corr2d: cold `d2l-tutor grade corr2d` (subprocess)", None, statistics.median(walls)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    width = max(len(name) for name, _, _ in rows)
    print(f"{'measurement (median of ' + str(REPEAT) + ')':<{width}}  first result  whole run")
    for name, first, total in rows:
        first_text = f"{first:9.3f} s" if first is not None else " " * 11
        print(f"{name:<{width}}  {first_text}  {total:7.3f} s")


if __name__ == "__main__":
    main()
