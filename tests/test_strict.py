"""Strict mode, on each isolation this machine can give: bubblewrap, a user of its own (as root), or a separate
process only (said plainly). Each keeps the reference solution's full marks; the first two hide the course and
the caller's files from the graded code."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.conftest import run_cli
from tutor.engine import containment
from tutor.manifest import load_course

SPY = """import os, glob
import tutor
ROOT = os.path.dirname(os.path.dirname(tutor.__file__))
print('UID', os.getuid())
print('OTHER', os.path.exists({other!r}))
print('FOUND', sorted(glob.glob(ROOT + '/**/solution.py', recursive=True)))
print('HOME', sorted(os.listdir(os.path.expanduser('~'))) if os.path.isdir(os.path.expanduser('~')) else None)

def corr2d(X, K):
    raise NotImplementedError
"""


def available(tier: str) -> bool:
    if tier == "bwrap":
        return containment.bwrap_works()
    if tier == "user":
        return containment.can_switch_user()
    return True


@pytest.fixture(params=["bwrap", "user", "process"])
def tier(request, monkeypatch):
    if not available(request.param):
        pytest.skip({"bwrap": "bubblewrap is not installed or cannot create namespaces here",
                     "user": "switching to a user of its own needs root"}[request.param])
    if request.param != "bwrap":
        monkeypatch.setenv("D2L_TUTOR_ISOLATION", request.param)
    elif "D2L_TUTOR_ISOLATION" in os.environ:
        monkeypatch.delenv("D2L_TUTOR_ISOLATION")
    return request.param


def grade_file(path, *extra):
    proc = run_cli("grade", "corr2d", "--file", str(path), "--json", "--device", "cpu", *extra, cwd=path.parent)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return json.loads(proc.stdout)["results"][0], proc.stderr


def test_strict_keeps_the_reference_whole_and_hides_the_rest(tier, tmp_path):
    ref = tmp_path / "ref" / "corr2d.py"
    ref.parent.mkdir()
    shutil.copy(load_course().exercise("corr2d").solution_path, ref)
    result, notice = grade_file(ref)
    assert result["strict"] and result["isolation"] == tier
    assert result["score"] == result["max_score"] == 12, [t["message"] for t in result["tests"] if not t["passed"]]
    if tier == "process":
        assert "isolation: process" in notice
        return
    assert notice == ""
    other = tmp_path / "other" / "corr2d.py"
    other.parent.mkdir()
    other.write_text("SECRET = 1\n", encoding="utf-8")
    spy = tmp_path / "spy" / "corr2d.py"
    spy.parent.mkdir()
    spy.write_text(SPY.format(other=str(other)), encoding="utf-8")
    result, _ = grade_file(spy)
    out = result["output"]
    assert "OTHER False" in out and "FOUND []" in out, out
    uid = int(out.split("UID ")[1].split()[0])
    assert uid != os.getuid()


def test_no_strict_grades_as_the_caller(tmp_path):
    spy = tmp_path / "spy" / "corr2d.py"
    spy.parent.mkdir()
    spy.write_text(SPY.format(other="/nonexistent"), encoding="utf-8")
    result, _ = grade_file(spy, "--no-strict")
    assert result["strict"] is False and result["isolation"] == "process"
    assert f"UID {os.getuid()}" in result["output"]
