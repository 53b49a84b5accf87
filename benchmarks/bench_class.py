"""Grading a class (run: python benchmarks/bench_class.py [--students 30]). Numbers, not pass/fail.

A synthetic class of N students x every exercise, generated at a fixed seed: about half the files are the
reference, a third a single-mistake variant (tests/mistakes), a tenth the untouched stub, and a tenth hostile
(exits at import, allocates past the memory limit, prints a flood, writes where it may not). No file loops forever:
a time-limit run costs its whole limit (60 to 90 s) and would measure the limit, not the tutor.

Measured, each from the same class:
  * one warm grader, sequentially (the per-grading baseline: WarmGrader.grade on every job, nothing else),
  * `grade-class` with the local executor at -j 1, 2 and 4: gradings per minute, the overhead per grading over
    the baseline at -j 1, and the memory peak (the sum of the resident sizes of every process under this one,
    sampled every 0.2 s),
  * `grade-class --executor dask -j 2` (a LocalCluster of two single-threaded workers, its start-up included).

Strict mode uses the strongest isolation the machine has (printed first); D2L_TUTOR_ISOLATION=user measures the
next one (as root), e.g. `D2L_TUTOR_ISOLATION=user python benchmarks/bench_class.py --jobs 2 --no-dask`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HOSTILE = {
    "exit": "import os\nos._exit(3)\n",
    "memory": "import torch\nhog = [torch.ones(256, 1024, 1024) for _ in range(64)]\n",
    "flood": "print('x' * 10_000_000)\nraise SystemExit(0)\n",
    "escape": "import os\nfor p in ('/etc/shadow', os.path.expanduser('~/.bashrc')):\n    try:\n        open(p, 'a').write('#')\n"
              "    except OSError:\n        pass\n",
}


def variants_by_exercise() -> dict[str, list]:
    import importlib
    import pkgutil

    import tests.mistakes as mistakes

    found: dict[str, list] = {}
    for info in pkgutil.iter_modules(mistakes.__path__):
        for v in importlib.import_module(f"tests.mistakes.{info.name}").VARIANTS:
            found.setdefault(v.exercise, []).append(v)
    return found


def make_class(root: Path, students: int, seed: int = 0) -> Path:
    from tutor.manifest import load_course

    rng = random.Random(seed)
    variants = variants_by_exercise()
    subs = root / "submissions"
    for i in range(students):
        folder = subs / f"student{i:02d}"
        folder.mkdir(parents=True)
        for ex in load_course().exercises:
            roll = rng.random()
            if roll < 0.5:
                text = ex.solution_path.read_text(encoding="utf-8")
            elif roll < 0.8 and variants.get(ex.id):
                text = rng.choice(variants[ex.id]).source
            elif roll < 0.9:
                text = ex.stub_path.read_text(encoding="utf-8")
            else:
                text = HOSTILE[rng.choice(sorted(HOSTILE))]
            (folder / ex.filename).write_text(text, encoding="utf-8")
    return subs


def tree_rss_mb() -> float:
    """The resident memory of this process and all its descendants (Linux /proc), in MiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            with open(f"/proc/{entry}/statm") as fh:
                rss[int(entry)] = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / 2 ** 20


class Peak:
    def __init__(self):
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, tree_rss_mb())
            self.stop.wait(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def baseline(subs: Path) -> tuple[float, int]:
    """Seconds for every job graded one after another by one warm grader (no class machinery)."""
    from tutor.engine.warm import WarmGrader
    from tutor.manifest import load_course

    course = load_course()
    files = sorted(subs.glob("*/*.py"))
    with WarmGrader() as grader:
        grader.wait_ready()
        start = time.perf_counter()
        for path in files:
            grader.grade(course.exercise(path.stem), path, device="cpu", strict=True)
        return time.perf_counter() - start, len(files)


def class_run(subs: Path, out: Path, **options) -> tuple[float, int, float]:
    from tutor.classroom.grade import grade_class
    from tutor.manifest import load_course

    with Peak() as peak:
        start = time.perf_counter()
        run = grade_class(subs, out, load_course(), device="cpu", **options)
        seconds = time.perf_counter() - start
    return seconds, run.graded_now, peak.peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", default="1,2,4", help="the -j values of the local runs (comma-separated)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask run")
    args = parser.parse_args()
    from tutor.engine.containment import strict_isolation
    root = Path(tempfile.mkdtemp(prefix="d2l-bench-class-"))
    try:
        subs = make_class(root, args.students)
        base, n = baseline(subs)
        print(f"class: {args.students} students x 7 exercises = {n} files (cpu count {os.cpu_count()}, strict "
              f"isolation: {strict_isolation()})")
        print(f"one warm grader, sequential: {base:.1f} s, {base / n:.2f} s per grading, {60 * n / base:.0f}/min")
        local = {}
        for jobs in [int(j) for j in args.jobs.split(",")]:
            seconds, graded, peak = class_run(subs, root / f"local{jobs}", jobs=jobs)
            local[jobs] = seconds
            extra = f", overhead per grading over the baseline {100 * (seconds - base) / base:+.1f} %" if jobs == 1 else ""
            print(f"grade-class local -j {jobs}: {seconds:.1f} s, {60 * graded / seconds:.0f} gradings/min, "
                  f"memory peak {peak:.0f} MiB{extra}")
        if args.no_dask:
            return
        seconds, graded, peak = class_run(subs, root / "dask2", jobs=2, executor="dask")
        print(f"grade-class dask (LocalCluster, 2 workers): {seconds:.1f} s, {60 * graded / seconds:.0f} gradings/min,"
              f" memory peak {peak:.0f} MiB (this process tree)"
              + (f", {100 * (seconds - local[2]) / local[2]:+.1f} % time vs local -j 2" if 2 in local else ""))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
