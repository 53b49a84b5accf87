"""A built wheel carries the course (exercises, solutions, graders, lessons) and works from any folder."""

import json
import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(REPO)], capture_output=True, text=True)
    if proc.returncode != 0 and "No module named" in proc.stderr and "hatchling" in proc.stderr:
        pytest.skip("hatchling is not installed in this environment")
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("d2l_tutor-*.whl")
    return path


def test_wheel_contents(wheel, course):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tutor/course.toml" in names
    for ex in course.exercises:
        for folder in ("exercises", "solutions", "graders"):
            assert f"tutor/_course/{folder}/{ex.id}.py" in names
        assert f"tutor/lessons/{course.lesson(ex.id).file}" in names
    assert not any(n.startswith(("tests/", "exercises/", "graders/")) for n in names)


def test_wheel_grades_from_any_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), COLUMNS="120")
    probe = subprocess.run([sys.executable, "-c", "import tutor.manifest as m; print(m.course_root())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert probe.stdout.strip() == str(site / "tutor" / "_course"), probe.stderr
    solution = site / "tutor" / "_course" / "solutions" / "corr2d.py"
    proc = subprocess.run([sys.executable, "-m", "tutor", "grade", "corr2d", "--file", str(solution), "--json",
                           "--device", "cpu"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["score"] == 12
    proc = subprocess.run([sys.executable, "-m", "tutor", "init", "ws"], cwd=elsewhere, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and (elsewhere / "ws" / "sequence_mask.py").is_file()
