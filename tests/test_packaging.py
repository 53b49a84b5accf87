"""A built wheel carries the course (the manifest, lessons, stubs, solutions, graders) and works from any folder."""

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
    assert "tutor/_course/course.toml" in names
    root = course.root
    for ex in course.exercises:
        for part in ("exercise.toml", "stub.py", "solution.py", "grader.py"):
            assert f"tutor/_course/{(ex.folder / part).relative_to(root)}" in names
        lesson = course.lesson(ex.id)
        assert f"tutor/_course/{lesson.path.relative_to(root)}" in names
    assert not any(n.startswith(("tests/", "course/")) for n in names)


def test_wheel_grades_from_any_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), COLUMNS="120")
    probe = subprocess.run([sys.executable, "-c", "import tutor.manifest as m; print(m.course_root())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert probe.stdout.strip() == str(site / "tutor" / "_course"), probe.stderr
    solution = site / "tutor" / "_course" / "06-convolutional-networks" / "corr2d" / "solution.py"
    proc = subprocess.run([sys.executable, "-m", "tutor", "grade", "corr2d", "--file", str(solution), "--json",
                           "--device", "cpu"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["score"] == 12
    proc = subprocess.run([sys.executable, "-m", "tutor", "init", "ws"], cwd=elsewhere, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and (elsewhere / "ws" / "sequence_mask.py").is_file()
