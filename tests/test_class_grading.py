"""grade-class end to end: a small class graded for real (strict mode), locally, on a Dask LocalCluster and on a
cluster in miniature (a `dask scheduler` and two `dask worker` processes), with identical results; --resume,
Ctrl-C, a hostile student that cannot touch anyone else, and the errors that write nothing."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tutor.classroom.grade import grade_class
from tutor.classroom.report import latest, md, read_results_jsonl
from tutor.classroom.run import ClusterError, comparable
from tutor.cli import EXIT_OK, EXIT_USAGE, app
from tutor.manifest import load_course

runner = CliRunner()
COURSE = REPO / "course"
DROPOUT = COURSE / "04-multilayer-perceptrons" / "dropout"
CORR2D = COURSE / "06-convolutional-networks" / "corr2d"

pytestmark = pytest.mark.slow


def hostile(out: Path, victim: Path) -> str:
    """A corr2d.py that, at import, tries to forge the gradebook and to overwrite another student's file."""
    return f'''
import json, os
for path, text in (({str(out / "results.jsonl")!r}, json.dumps({{"student": "ana", "exercise": "corr2d",
                                                                   "score": 0}}) + "\\n"),
                   ({str(victim)!r}, "def corr2d(X, K):\\n    raise ValueError('sabotaged')\\n")):
    try:
        with open(path, "a") as fh:
            fh.write(text)
    except OSError:
        pass
def corr2d(X, K):
    raise NotImplementedError
'''


def make_class(root: Path, out: Path) -> Path:
    subs = root / "submissions"
    for student in ("ana", "ben", "cai", "dan"):
        (subs / student).mkdir(parents=True)
    shutil.copy(CORR2D / "solution.py", subs / "ana" / "corr2d.py")
    shutil.copy(DROPOUT / "solution.py", subs / "ana" / "dropout.py")
    shutil.copy(CORR2D / "stub.py", subs / "ben" / "corr2d.py")
    ref = (DROPOUT / "solution.py").read_text(encoding="utf-8")
    assert "/ (1.0 - dropout)" in ref or "/ (1 - dropout)" in ref
    (subs / "ben" / "dropout.py").write_text(ref.replace("/ (1.0 - dropout)", "").replace("/ (1 - dropout)", ""),
                                             encoding="utf-8")  # forgets the 1/(1 - p) scale
    (subs / "cai" / "corr2d.py").write_text(hostile(out, subs / "ana" / "corr2d.py"), encoding="utf-8")
    return subs


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded once locally (the reference every other run is compared with)."""
    root = tmp_path_factory.mktemp("class")
    out = root / "grades"
    subs = make_class(root, out)
    ana_before = (subs / "ana" / "corr2d.py").read_bytes()
    result = runner.invoke(app, ["grade-class", str(subs), "--out", str(out), "-j", "2", "--json", "--lang", "en"])
    return root, subs, out, result, ana_before


def rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        return {r["student"]: r for r in csv.DictReader(fh)}


def records(out: Path) -> dict:
    return {(r["student"], r["exercise"]): comparable(r) for r in latest(read_results_jsonl(out / "results.jsonl"))}


def test_a_class_gives_grades_feedback_and_a_summary(graded):
    _root, subs, out, result, ana_before = graded
    assert result.exit_code == EXIT_OK, result.output
    summary = json.loads(result.stdout)
    assert summary["students"] == 4 and summary["exercises"] == ["dropout", "corr2d"]
    assert summary["graded_now"] == 5 and summary["missing"] == 3 and summary["failed_to_grade"] == 0
    grades = rows(out)
    assert grades["ana"]["total"] == "24" and grades["ana"]["maximum"] == "24"
    assert grades["ben"]["corr2d"] == "0" and 0 < float(grades["ben"]["dropout"]) < 12
    assert grades["cai"]["total"] == "0" and grades["dan"]["total"] == "0"
    assert "not submitted" in grades["dan"]["notes"]
    ben = (out / "feedback" / "ben.md").read_text(encoding="utf-8")
    assert "### ✗ survivors are scaled by 1 / (1 - dropout)" in ben
    assert "The survivors are not scaled at all" in ben  # the known mistake, named in the student's feedback
    summary_md = (out / "summary.md").read_text(encoding="utf-8")
    assert "score-histogram.svg" in summary_md and (out / "score-histogram.svg").is_file()


def test_thirty_students_in_one_command(tmp_path):
    """The issue's class size: 30 students' corr2d (references, stubs, each named mistake, students without the
    file), one command, one row and one feedback file per student; a mistake costs the same whoever makes it."""
    from tests.mistakes.corr2d import VARIANTS

    subs = tmp_path / "submissions"
    kinds = {}
    for i in range(30):
        student = f"s{i:02d}"
        (subs / student).mkdir(parents=True)
        kind = ["reference", "stub", "missing", *(v.name for v in VARIANTS)][i % (3 + len(VARIANTS))]
        kinds[student] = kind
        if kind == "reference":
            shutil.copy(CORR2D / "solution.py", subs / student / "corr2d.py")
        elif kind == "stub":
            shutil.copy(CORR2D / "stub.py", subs / student / "corr2d.py")
        elif kind != "missing":
            source = next(v.source for v in VARIANTS if v.name == kind)
            (subs / student / "corr2d.py").write_text(source, encoding="utf-8")
    out = tmp_path / "grades"
    result = runner.invoke(app, ["grade-class", str(subs), "--out", str(out), "--exercises", "corr2d", "-j", "2",
                                 "--json"])
    assert result.exit_code == EXIT_OK, result.output
    summary = json.loads(result.stdout)
    missing = sum(kind == "missing" for kind in kinds.values())
    assert missing >= 2 and summary["students"] == 30 and summary["missing"] == missing
    assert summary["graded_now"] == 30 - missing and summary["failed_to_grade"] == 0
    grades = rows(out)
    assert sorted(grades) == sorted(kinds)
    assert len(list((out / "feedback").glob("*.md"))) == 30
    by_kind: dict[str, set] = {}
    for student, kind in kinds.items():
        by_kind.setdefault(kind, set()).add(grades[student]["corr2d"])
    assert by_kind["reference"] == {"12"} and by_kind["stub"] == {"0"} and by_kind["missing"] == {"0"}
    for v in VARIANTS:
        assert len(by_kind[v.name]) == 1, (v.name, by_kind[v.name])
        assert 0 < float(next(iter(by_kind[v.name]))) < 12, v.name
    summary_md = (out / "summary.md").read_text(encoding="utf-8")
    assert all(md(v.mistake) in summary_md for v in VARIANTS if v.mistake)  # each named mistake, in its table


def test_a_hostile_student_touches_no_one_else(graded):
    _root, subs, out, _result, ana_before = graded
    assert (subs / "ana" / "corr2d.py").read_bytes() == ana_before
    lines = read_results_jsonl(out / "results.jsonl")
    assert len(lines) == 8, [(r["student"], r["exercise"]) for r in lines]  # 5 gradings + 3 missing, nothing forged
    ana = [r for r in lines if r["student"] == "ana" and r["exercise"] == "corr2d"]
    assert len(ana) == 1 and ana[0]["score"] == 12 and ana[0]["strict"] is True


def test_resume_grades_only_what_changed(graded, tmp_path):
    root, subs, out, _result, _ = graded
    copy_out = tmp_path / "grades"
    shutil.copytree(out, copy_out)
    again = runner.invoke(app, ["grade-class", str(subs), "--out", str(copy_out), "--resume", "--json"])
    assert again.exit_code == EXIT_OK, again.output
    summary = json.loads(again.stdout)
    assert summary["graded_now"] == 0 and summary["resumed"] == 8
    assert rows(copy_out) == rows(out)
    refused = runner.invoke(app, ["grade-class", str(subs), "--out", str(copy_out)])
    assert refused.exit_code == EXIT_USAGE and "--resume" in refused.output
    changed = tmp_path / "submissions"
    shutil.copytree(subs, changed)
    shutil.copy(CORR2D / "solution.py", changed / "ben" / "corr2d.py")
    third = runner.invoke(app, ["grade-class", str(changed), "--out", str(copy_out), "--resume", "--json"])
    summary = json.loads(third.stdout)
    assert summary["graded_now"] == 1 and summary["resumed"] == 7
    assert rows(copy_out)["ben"]["corr2d"] == "12"


def test_ctrl_c_keeps_what_is_graded_and_resume_finishes(graded, tmp_path):
    _root, subs, out, _result, _ = graded
    cancel = threading.Event()
    course = load_course()
    first = grade_class(subs, tmp_path / "g", course, jobs=1, cancel=cancel, on_record=lambda r: cancel.set())
    assert first.interrupted and first.graded_now == 1
    assert not (tmp_path / "g" / "grades.csv").exists()
    second = grade_class(subs, tmp_path / "g", course, jobs=2, resume=True)
    assert not second.interrupted and second.resumed == 1 + 3 and second.graded_now == 4
    assert records(tmp_path / "g") == records(out)


def test_dask_local_cluster_gives_identical_results(graded, tmp_path):
    _root, subs, out, _result, _ = graded
    result = runner.invoke(app, ["grade-class", str(subs), "--out", str(tmp_path / "d"), "--executor", "dask",
                                 "-j", "2", "--json"])
    assert result.exit_code == EXIT_OK, result.output
    assert json.loads(result.stdout)["executor"] == "dask"
    assert records(tmp_path / "d") == records(out)
    assert rows(tmp_path / "d") == rows(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_cluster_in_miniature_gives_identical_results(graded, tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on localhost, as an instructor would start them."""
    _root, subs, out, _result, _ = graded
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              cwd=tmp_path)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nthreads", "1",
                                           "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env=env, cwd=tmp_path))
        from distributed import Client

        deadline = time.time() + 60
        with Client(address, timeout="30s") as client:
            while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:
                time.sleep(0.2)
            assert len(client.scheduler_info()["workers"]) == 2
        result = runner.invoke(app, ["grade-class", str(subs), "--out", str(tmp_path / "c"), "--executor", "dask",
                                     "--scheduler", address, "--json"])
        assert result.exit_code == EXIT_OK, result.output
        assert records(tmp_path / "c") == records(out)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_an_unreachable_scheduler_is_one_line_and_writes_nothing(graded, tmp_path):
    _root, subs, _out, _result, _ = graded
    target = tmp_path / "never"
    result = runner.invoke(app, ["grade-class", str(subs), "--out", str(target), "--scheduler",
                                 f"tcp://127.0.0.1:{free_port()}"])
    assert result.exit_code == EXIT_USAGE
    assert "cannot reach the Dask scheduler" in result.output and len(result.output.strip().splitlines()) == 1
    assert not target.exists()
    with pytest.raises(ClusterError):
        grade_class(subs, target, load_course(), executor="dask", scheduler=f"tcp://127.0.0.1:{free_port()}")
    assert not target.exists()


def test_workers_that_cannot_grade_are_one_line_and_write_nothing(graded, tmp_path, monkeypatch):
    """Against a running scheduler: --device cuda with no worker offering a GPU (its tasks would wait forever), and
    workers whose grader differs from this one (their verdicts would not be this course's)."""
    from distributed import LocalCluster

    import tutor.classroom.grade as grade_module

    _root, subs, _out, _result, _ = graded
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                      silence_logs=50) as cluster:
        target = tmp_path / "gpu"
        result = runner.invoke(app, ["grade-class", str(subs), "--out", str(target), "--executor", "dask",
                                     "--scheduler", cluster.scheduler_address, "--device", "cuda"])
        assert result.exit_code == EXIT_USAGE, result.output
        assert "--resources GPU=1" in result.output and len(result.output.strip().splitlines()) == 1
        assert not target.exists()

        # the worker computes its versions with tutor.classroom.run; here, another grader
        monkeypatch.setattr(grade_module, "grader_version", lambda ex: "0" * 16)
        with pytest.raises(ClusterError, match="another version of exercise"):
            grade_class(subs, tmp_path / "versions", load_course(), executor="dask",
                        scheduler=cluster.scheduler_address)
        assert not (tmp_path / "versions").exists()
