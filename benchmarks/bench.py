"""Benchmarks for the README (run: python benchmarks/bench.py). Numbers, not pass/fail: these machines are noisy.

Measures, as wall-clock medians:
  * `d2l-tutor --help` and `d2l-tutor list` (must stay well under 0.3 s: no torch import),
  * `python -c "import torch"`,
  * `d2l-tutor grade corr2d` on a correct file, split into torch's import, the smoke-check's own training time
    and the rest (the engine's overhead plus the hidden tests),
  * the smoke-checks of every exercise's reference solution, and their sum,
  * `d2l-tutor check` (every reference twice and every stub once, then reference and stub in the student build;
    -j 2).
The grading figures include both processes of a run: the verifier and the sandbox import torch side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "tutor"]


def wall(cmd: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, COLUMNS="120"))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    sys.path.insert(0, str(REPO))
    from tutor.manifest import load_course

    course = load_course()
    tmp = Path(tempfile.mkdtemp(prefix="d2l-bench-"))
    try:
        subprocess.run(CLI + ["init", str(tmp / "ws")], check=True, stdout=subprocess.DEVNULL)
        ws = tmp / "ws"
        shutil.copy(course.exercise("corr2d").solution_path, ws / "corr2d.py")
        rows = []
        rows.append(("d2l-tutor --help", wall(CLI + ["--help"], ws, 7)))
        rows.append(("d2l-tutor list", wall(CLI + ["list"], ws, 7)))
        torch_import = wall([sys.executable, "-c", "import torch"], ws, 5)
        rows.append(('python -c "import torch"', torch_import))

        grades, smokes = [], []
        for _ in range(3):
            start = time.perf_counter()
            proc = subprocess.run(CLI + ["grade", "corr2d", "--json", "--device", "cpu"], cwd=ws,
                                  capture_output=True, text=True)
            grades.append(time.perf_counter() - start)
            result = json.loads(proc.stdout)["results"][0]
            smokes.append(sum(t["duration"] for t in result["tests"] if t["kind"] == "smoke"))
        grade_wall, smoke = statistics.median(grades), statistics.median(smokes)
        rows.append(("d2l-tutor grade corr2d (total)", grade_wall))
        rows.append(("  of which the smoke-check's training", smoke))
        rows.append(("  of which the rest: engine + hidden tests (total - import torch - smoke)",
                     grade_wall - torch_import - smoke))
        rows.append(("  ratio: grade corr2d / import torch", grade_wall / torch_import))
        start = time.perf_counter()
        subprocess.run(CLI + ["check", "--device", "cpu", "-j", "2"], cwd=ws, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        rows.append((f"d2l-tutor check ({len(course.exercises)} exercises x 5 gradings, -j 2)",
                     time.perf_counter() - start))

        from tutor.engine.runner import grade

        total_smoke = 0.0
        for ex in course.exercises:
            result = grade(ex, ex.solution_path, device="cpu")
            seconds = sum(t.duration for t in result.tests if t.kind == "smoke")
            total_smoke += seconds
            rows.append((f"smoke-check {ex.id}", seconds))
        rows.append(("all smoke-checks together", total_smoke))

        width = max(len(name) for name, _ in rows)
        print(f"{'measurement':<{width}}  seconds")
        for name, seconds in rows:
            print(f"{name:<{width}}  {seconds:7.3f}")
        print(f"\n(cpus: {os.cpu_count()}, python {sys.version.split()[0]})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
