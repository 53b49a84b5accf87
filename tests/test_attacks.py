"""Grading you can trust: files that try to score without doing the work (tests/attacks/) score no more than
their honest part on every path: the cold engine, the warm (TUI) engine, and the CLI writing a Gradescope file
(strict mode, as an autograder runs it). The daemon test also checks that a run graded afterwards is untouched
and that nothing rewrites the results file once the grader has exited."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.test_engine import CORRECT
from tutor.engine.results import GRADED, INVALID_REPORT, MEMORY
from tutor.engine.runner import grade
from tutor.manifest import load_course

ATTACKS = Path(__file__).parent / "attacks"
FLIPPED = CORRECT.replace("* K).sum()", "* K.flip(0).flip(1)).sum()")  # an honest file that earns some points

# attack -> the points its honest part earns (None: computed from the file without its "# ATTACK" lines)
EXPECTED = {
    "forge_events": 0,
    "reference_in_memory": 0,
    "reference_on_disk": 0,
    "expected_from_frames": 0,
    "patch_the_judge": None,   # zeros of the right shape, dtype and device earn what they earn
    "function_mode": None,
    "bypass_wrapped": 0,
    "bypass_compile": 0,
    "bypass_aten": 0,
    "smoke_in_place": None,
}


def place(tmp_path: Path, source: str, folder: str = "submission") -> Path:
    path = tmp_path / folder / "corr2d.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return path


def via_cli(path: Path, out: Path):
    """`d2l-tutor grade corr2d --file PATH --gradescope OUT --json` (strict by default): (score, results.json)."""
    proc = run_cli("grade", "corr2d", "--file", str(path), "--gradescope", str(out), "--json", "--device", "cpu",
                   cwd=path.parent)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    gradescope = json.loads(out.read_text(encoding="utf-8"))
    assert gradescope["score"] == data["score"]
    return data["score"], data["results"][0], gradescope


def run_path(kind: str, path: Path, warm, tmp_path: Path, **kwargs):
    ex = load_course().exercise("corr2d")
    if kind == "cold":
        return grade(ex, path, device="cpu", **kwargs)
    if kind == "warm":
        return warm.grade(ex, path, device="cpu", **kwargs)
    raise ValueError(kind)


def honest_score(name: str, tmp_path: Path) -> float:
    expected = EXPECTED[name]
    if expected is not None:
        return expected
    source = (ATTACKS / f"{name}.py").read_text(encoding="utf-8")
    honest = "\n".join(line for line in source.splitlines() if "# ATTACK" not in line)
    result = grade(load_course().exercise("corr2d"), place(tmp_path, honest, "honest"), device="cpu")
    return result.score


@pytest.mark.parametrize("kind", ["cold", "warm", "gradescope"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_attack_scores_no_more_than_its_honest_part(name, kind, warm, tmp_path):
    path = place(tmp_path, (ATTACKS / f"{name}.py").read_text(encoding="utf-8"))
    if kind == "gradescope":
        score, result, _ = via_cli(path, tmp_path / "out" / "results.json")
        status = result["status"]
    else:
        result = run_path(kind, path, warm, tmp_path)
        score, status = result.score, result.status
    # Writing into its own channel breaks the protocol: the run is then not trusted at all (and scores 0).
    assert status == GRADED or (name == "forge_events" and status == INVALID_REPORT), (name, kind, status)
    assert score <= honest_score(name, tmp_path), (name, kind, score)


def test_forbidden_bypasses_are_named(tmp_path):
    ex = load_course().exercise("corr2d")
    wrapped = grade(ex, place(tmp_path, (ATTACKS / "bypass_wrapped.py").read_text(), "w"), device="cpu")
    assert wrapped.tests[0].code in ("forbidden_wrapped", "forbidden_static")
    assert {t.code for t in wrapped.tests} == {wrapped.tests[0].code}
    aten = grade(ex, place(tmp_path, (ATTACKS / "bypass_aten.py").read_text(), "a"), device="cpu")
    assert aten.tests[0].code == "forbidden_static" and "conv2d" in aten.tests[0].message
    compiled = grade(ex, place(tmp_path, (ATTACKS / "bypass_compile.py").read_text(), "c"), device="cpu")
    assert compiled.tests[0].code == "forbidden_api" and "conv2d" in compiled.tests[0].message


def test_reading_the_reference_from_disk_finds_nothing(tmp_path, warm):
    """The course (every copy) is covered in the sandbox: the learner file sees empty folders."""
    probe = place(tmp_path, "import os, glob, tutor\n"
                            "ROOT = os.path.dirname(os.path.dirname(tutor.__file__))\n"
                            "print('FOUND', sorted(glob.glob(ROOT + '/**/solution.py', recursive=True)))\n"
                            "def corr2d(X, K):\n    raise NotImplementedError\n")
    for result in (grade(load_course().exercise("corr2d"), probe, device="cpu"),
                   warm.grade(load_course().exercise("corr2d"), probe, device="cpu")):
        assert "FOUND []" in result.output, result.output


@pytest.mark.parametrize("kind", ["cold", "warm"])
def test_memory_of_a_grandchild_counts(kind, warm, tmp_path):
    path = place(tmp_path, (ATTACKS / "memory_grandchild.py").read_text(encoding="utf-8"))
    result = run_path(kind, path, warm, tmp_path, memory_mb=900, time_limit=60)
    assert result.status == MEMORY and result.score == 0
    assert "more than 900 MB" in "\n".join(t.message for t in result.tests)


def heartbeat_stopped(path: Path) -> bool:
    """The daemon touches its heartbeat every 50 ms while alive: it must not move any more."""
    if not path.exists():
        return True
    first = path.stat().st_mtime_ns
    time.sleep(0.6)
    return path.stat().st_mtime_ns == first


@pytest.mark.parametrize("kind", ["cold", "warm"])
def test_a_daemon_dies_with_its_run_and_cannot_touch_the_next(kind, warm, tmp_path):
    honest = place(tmp_path, FLIPPED, "honest")
    before = run_path(kind, honest, warm, tmp_path)
    assert 0 < before.score < before.max_score
    daemon = place(tmp_path, (ATTACKS / "daemon.py").read_text(encoding="utf-8"), "daemon")
    result = run_path(kind, daemon, warm, tmp_path)
    assert result.status == GRADED and result.score == 0
    after = run_path(kind, honest, warm, tmp_path)
    assert after.verdict() == before.verdict()
    assert heartbeat_stopped(daemon.parent / "heartbeat")


def test_a_daemon_cannot_rewrite_the_gradescope_file(tmp_path):
    honest = place(tmp_path, FLIPPED, "honest")
    _, first, _ = via_cli(honest, tmp_path / "o1" / "results.json")
    daemon = place(tmp_path, (ATTACKS / "daemon.py").read_text(encoding="utf-8"), "daemon")
    out = tmp_path / "o2" / "results.json"
    score, _, gradescope = via_cli(daemon, out)
    assert score == 0 and gradescope["score"] == 0
    time.sleep(1.0)
    assert json.loads(out.read_text(encoding="utf-8"))["score"] == 0
    _, again, _ = via_cli(honest, tmp_path / "o3" / "results.json")
    assert [(t["name"], t["passed"], t["message"]) for t in again["tests"]] == \
           [(t["name"], t["passed"], t["message"]) for t in first["tests"]]


def test_strict_mode_hides_the_course_and_other_submissions(tmp_path):
    """grade --file (strict) on the strongest isolation here: the graded code sees neither the course's
    solutions nor a neighbouring student's folder, and the JSON says which isolation it was."""
    other = place(tmp_path, "SECRET = 1\n", "other_student")
    spy = place(tmp_path, "import os\n"
                          f"print('OTHER', os.path.exists({str(other)!r}))\n"
                          "import tutor, glob\n"
                          "ROOT = os.path.dirname(os.path.dirname(tutor.__file__))\n"
                          "print('FOUND', sorted(glob.glob(ROOT + '/**/solution.py', recursive=True)))\n"
                          "def corr2d(X, K):\n    raise NotImplementedError\n", "spy")
    proc = run_cli("grade", "corr2d", "--file", str(spy), "--json", "--device", "cpu", cwd=tmp_path)
    data = json.loads(proc.stdout)["results"][0]
    assert data["strict"] is True
    if data["isolation"] == "process":
        pytest.skip("no bubblewrap and not root: strict mode can only say so (tested in test_strict_notice)")
    assert "OTHER False" in data["output"] and "FOUND []" in data["output"], data["output"]


def test_no_process_of_a_run_outlives_it(tmp_path):
    """A file that starts a background process at import: the process is gone when grade() returns."""
    marker = tmp_path / "alive"
    loop = f"import time\nwhile True:\n    open({str(marker)!r}, 'w').write(str(time.time()))\n    time.sleep(0.05)\n"
    source = (f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {loop!r}])\n"
              "def corr2d(X, K):\n    raise NotImplementedError\n")
    result = grade(load_course().exercise("corr2d"), place(tmp_path, source), device="cpu")
    assert result.status == GRADED
    time.sleep(0.3)
    assert heartbeat_stopped(marker)
    assert os.path.exists(marker)  # it did run
