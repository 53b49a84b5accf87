"""Grading from a notebook against the CLI, for the README (run: python benchmarks/bench_notebook.py).

Both grade a correct corr2d in the same workspace, five times each, and the medians are printed:
  * `tutor.notebook.grade("corr2d")` called in this process, which has imported torch already, as a Jupyter
    kernel has: the time from the call to the rendered result (HTML and text);
  * `d2l-tutor grade corr2d` as a subprocess, which starts Python and the CLI first.
Both run the same sandboxed engine; the notebook also reads the cell history and writes the workspace's file.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    sys.path.insert(0, str(REPO))
    import torch  # noqa: F401 - a notebook's kernel has torch loaded before it grades

    import tutor.notebook as d2l_tutor
    from tutor.manifest import load_course

    reference = load_course().exercise("corr2d").solution_path.read_text(encoding="utf-8")
    ns: dict = {}
    exec(reference, ns)  # noqa: S102 - the course's own reference, standing in for the notebook's cells
    with tempfile.TemporaryDirectory(prefix="d2l-bench-nb-") as tmp:
        notebook, cli = [], []
        for _ in range(5):
            start = time.perf_counter()
            shown = d2l_tutor.grade("corr2d", device="cpu", workspace=tmp, namespace=ns, cells=[reference])
            shown._repr_html_()
            notebook.append(time.perf_counter() - start)
            assert shown.score == shown.max_score, shown.text
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tutor", "grade", "corr2d", "--device", "cpu"],
                           cwd=Path(tmp) / "d2l-workspace", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, COLUMNS="120"), check=False)
            cli.append(time.perf_counter() - start)
    print(f"{'measurement':<60}{'seconds':>10}")
    label = 'tutor.notebook.grade("corr2d") to the rendered result'
    print(f"{label:<60}{statistics.median(notebook):>10.3f}")
    print(f"{'d2l-tutor grade corr2d (subprocess)':<60}{statistics.median(cli):>10.3f}")
    print(f"\n(cpus: {os.cpu_count()}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
