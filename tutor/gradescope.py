"""Write grading results in Gradescope's autograder results.json format."""

from __future__ import annotations

import json
import os
from pathlib import Path


def to_gradescope(results) -> dict:
    tests = []
    for r in results:
        for t in r.tests:
            tests.append({
                "name": f"{r.exercise}: {t.name}",
                "score": t.earned,
                "max_score": t.points,
                "status": "passed" if t.passed else "failed",
                "output": t.message,
                "visibility": "visible",
            })
    return {
        "score": sum(r.score for r in results),
        "execution_time": round(sum(r.duration for r in results), 3),
        "output": "; ".join(f"{r.exercise}: {r.score:g}/{r.max_score:g} ({r.status})" for r in results),
        "tests": tests,
    }


def write_results(path: Path, results) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_gradescope(results), indent=2), encoding="utf-8")
    os.replace(tmp, path)
