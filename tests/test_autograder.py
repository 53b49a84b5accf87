"""The Gradescope autograder bundle (issue 10): `d2l-tutor autograder build` writes a zip with setup.sh,
run_autograder, the exercise list and a wheel of this d2l-tutor; run_autograder, run in a temporary AUTOGRADER_ROOT
with this Python, grades a submission in strict mode and always leaves a results.json in Gradescope's format
(gradescope-autograders.readthedocs.io/en/latest/specs/): for a correct file, a stub, a missing file, a broken
bundle, a Python that cannot start and a run stopped half-way. setup.sh is never run here (it installs system
packages)."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tutor import autograder, i18n
from tutor.autograder import CONFIG_NAME, autograder_app
from tutor.manifest import load_course

runner = CliRunner()
EXERCISES = ("corr2d", "dropout")
SCRIPTS = ("setup.sh", "run_autograder")
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}
CJK = re.compile(r"[\u4e00-\u9fff]")


# -- Gradescope's results.json, checked here on its own (not with the code that writes it) ------------------------


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def load_results(path: Path) -> dict:
    """results.json as Gradescope reads it: strict JSON (no NaN or Infinity), checked against the specification."""
    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    check_results(data)
    return data


def check_results(data: dict) -> None:
    assert isinstance(data, dict)
    assert set(data) <= TOP_KEYS, set(data) - TOP_KEYS
    tests = data.get("tests")
    assert isinstance(tests, list)
    assert "score" in data and is_number(data["score"])  # this bundle always gives the total
    assert is_number(data["execution_time"]) and data["execution_time"] >= 0
    assert isinstance(data["output"], str) and data["output"].strip()
    for key in ("output_format", "test_output_format", "test_name_format"):
        assert data.get(key, "text") in FORMATS
    assert data.get("visibility", "visible") in VISIBILITY
    assert data.get("stdout_visibility", "hidden") in VISIBILITY
    assert isinstance(data.get("extra_data", {}), dict)
    numbers = []
    for t in tests:
        assert isinstance(t, dict) and set(t) <= TEST_KEYS, t
        assert isinstance(t["name"], str) and t["name"]
        assert is_number(t["score"]) and is_number(t["max_score"]) and 0 <= t["score"] <= t["max_score"], t
        assert t["status"] in ("passed", "failed")
        assert (t["status"] == "passed") == (t["score"] == t["max_score"] > 0), t
        assert isinstance(t.get("output", ""), str)
        assert t.get("visibility", "visible") in VISIBILITY
        numbers.append(t.get("number"))
    assert all(isinstance(n, str) for n in numbers) and len(set(numbers)) == len(numbers)
    assert math.isclose(data["score"], sum(t["score"] for t in tests), abs_tol=1e-9)


def by_exercise(data: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for t in data["tests"]:
        out.setdefault(t["name"].split(": ", 1)[0], []).append(t)
    return out


# -- building, unpacking and running a bundle ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def english(monkeypatch):
    before = i18n.get_lang()
    monkeypatch.delenv("D2L_TUTOR_LANG", raising=False)
    i18n.set_lang("en")
    yield
    i18n.set_lang(before)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The bundle for corr2d and dropout, its wheel built from this source tree (once for the module)."""
    if autograder.source_tree() is None:
        pytest.skip("no d2l-tutor source tree to build the wheel from")
    before = i18n.get_lang()
    i18n.set_lang("en")
    try:
        out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
        result = runner.invoke(autograder_app, ["build", *EXERCISES, "--out", str(out), "--lang", "en"])
    finally:
        i18n.set_lang(before)
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    return out


@pytest.fixture(scope="module")
def wheel(bundle, tmp_path_factory) -> Path:
    """The wheel inside the bundle, to build more bundles without building it again."""
    folder = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(bundle) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".whl")]
        zf.extract(name, folder)
    return folder / name


def unpack(bundle: Path, root: Path) -> Path:
    """What Gradescope does: the zip's contents in ROOT/source, with the modes the zip records (as unzip does)."""
    source = root / "source"
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            zf.extract(info, source)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(source / info.filename, mode)
    (root / "submission").mkdir(parents=True, exist_ok=True)
    return root


def env_for(root: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("D2L_TUTOR_COURSE", "D2L_TUTOR_LANG")}
    env.update(AUTOGRADER_ROOT=str(root), D2L_TUTOR_PYTHON=sys.executable,
               PYTHONPATH=str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""))
    env.update(extra)
    return env


def run_autograder(root: Path, **extra) -> subprocess.CompletedProcess:
    """./run_autograder, as Gradescope starts it (from ROOT, the script executed directly)."""
    proc = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env_for(root, **extra),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def reference(exercise_id: str, part: str) -> str:
    ex = load_course().exercise(exercise_id)
    return (ex.solution_path if part == "solution" else ex.stub_path).read_text(encoding="utf-8")


# -- the bundle --------------------------------------------------------------------------------------------------


def test_the_bundle_holds_the_scripts_the_exercises_and_the_wheel(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        infos = {i.filename: i for i in zf.infolist()}
        wheel_names = [n for n in names if n.endswith(".whl")]
        assert len(wheel_names) == 1 and re.match(r"^d2l_tutor-[^-]+-py3-none-any\.whl$", wheel_names[0])
        assert sorted(names) == sorted([*SCRIPTS, CONFIG_NAME, wheel_names[0]])  # all at the root of the zip
        for name in SCRIPTS:
            assert stat.S_IMODE(infos[name].external_attr >> 16) & 0o111 == 0o111, name
        wheel_files = set(zipfile.ZipFile(zf.open(wheel_names[0])).namelist())
    assert {"tutor/autograder.py", "tutor/gradescope.py", "tutor/_course/course.toml"} <= wheel_files
    root = unpack(bundle, tmp_path)
    for name in SCRIPTS:
        path = root / "source" / name
        assert os.access(path, os.X_OK), name
        assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
        assert "@@" not in path.read_text(encoding="utf-8")
        check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
    config = json.loads((root / "source" / CONFIG_NAME).read_text(encoding="utf-8"))
    course = load_course()
    assert config["exercises"] == [{"id": e, "file": f"{e}.py", "points": course.exercise(e).points} for e in EXERCISES]
    assert config["lang"] == "en" and config["device"] == "cpu" and config["wheel"] == wheel_names[0]
    setup = (root / "source" / "setup.sh").read_text(encoding="utf-8")
    for needed in ("apt-get install", "python3-venv", "bubblewrap", "https://download.pytorch.org/whl/cpu",
                   wheel_names[0], "torch"):
        assert needed in setup, needed
    assert re.search(r'^TORCH_REQUIREMENT="torch[<>=!~][^"]+"$', setup, re.M)  # the wheel's own range


def test_setup_checks_that_this_python_can_grade_the_bundle(bundle, tmp_path):
    """setup.sh's last step, `python -m tutor.autograder check`: torch imports and every exercise is known."""
    root = unpack(bundle, tmp_path)
    setup = (root / "source" / "setup.sh").read_text(encoding="utf-8")
    assert setup.rstrip().endswith('-m tutor.autograder check --source "$HERE"')
    command = [sys.executable, "-m", "tutor.autograder", "check", "--source", str(root / "source")]
    ok = subprocess.run(command, env=env_for(root), capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "torch" in ok.stdout, ok.stdout + ok.stderr
    config = root / "source" / CONFIG_NAME
    data = json.loads(config.read_text(encoding="utf-8"))
    config.write_text(json.dumps({**data, "exercises": [{"id": "conv9", "file": "conv9.py", "points": 5}]}),
                      encoding="utf-8")
    bad = subprocess.run(command, env=env_for(root), capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "conv9" in bad.stderr


def test_the_fallback_results_are_valid_before_anything_runs(bundle, tmp_path):
    """The results.json run_autograder writes when Python cannot start is made at build time: valid as it stands."""
    script = (unpack(bundle, tmp_path) / "source" / "run_autograder").read_text(encoding="utf-8")
    body = re.search(r"<<'END_OF_RESULTS'\n(.*?)\nEND_OF_RESULTS\n", script, re.S).group(1)
    path = tmp_path / "fallback.json"
    path.write_text(body, encoding="utf-8")
    data = load_results(path)
    assert data["score"] == 0 and sorted(by_exercise(data)) == sorted(EXERCISES)


# -- run_autograder --------------------------------------------------------------------------------------------


def test_run_autograder_grades_a_submission(bundle, tmp_path):
    root = unpack(bundle, tmp_path / "autograder")
    (root / "submission" / "hw").mkdir()
    (root / "submission" / "hw" / "corr2d.py").write_text(reference("corr2d", "solution"), encoding="utf-8")
    (root / "submission" / "dropout.py").write_text(reference("dropout", "stub"), encoding="utf-8")
    proc = run_autograder(root)
    data = load_results(root / "results" / "results.json")
    tests = by_exercise(data)
    assert sorted(tests) == sorted(EXERCISES), proc.stdout
    corr2d, dropout = tests["corr2d"], tests["dropout"]
    course = load_course()
    assert sum(t["max_score"] for t in corr2d) == course.exercise("corr2d").points
    assert sum(t["max_score"] for t in dropout) == course.exercise("dropout").points
    assert len(corr2d) >= 5 and all(t["status"] == "passed" for t in corr2d), corr2d
    assert dropout and all(t["status"] == "failed" and t["score"] == 0 for t in dropout)
    assert any("not written yet" in t["output"] for t in dropout)
    assert data["score"] == course.exercise("corr2d").points
    assert "corr2d: 12/12" in data["output"] and "dropout: 0/12" in data["output"]
    assert data["visibility"] == "visible" and data["stdout_visibility"] == "hidden"
    info = data["extra_data"]["exercises"]
    assert info["corr2d"]["file"] == "hw/corr2d.py" and info["corr2d"]["status"] == "graded"
    assert "grading hw/corr2d.py" in proc.stdout  # the instructor's log (Gradescope's results/stdout)


def test_missing_files_and_links_score_zero_and_say_why(bundle, tmp_path):
    root = unpack(bundle, tmp_path / "autograder")
    solution = tmp_path / "elsewhere" / "corr2d.py"
    solution.parent.mkdir()
    solution.write_text(reference("corr2d", "solution"), encoding="utf-8")
    (root / "submission" / "Corr2d.py").write_text(reference("corr2d", "solution"), encoding="utf-8")
    (root / "submission" / "sub").mkdir()
    (root / "submission" / "sub" / "corr2d.py").symlink_to(solution)  # a link is not the student's file
    (root / "submission" / "notes.txt").write_text("hello", encoding="utf-8")
    run_autograder(root)
    data = load_results(root / "results" / "results.json")
    tests = by_exercise(data)
    assert data["score"] == 0
    assert [t["max_score"] for t in tests["corr2d"]] == [12] and [t["max_score"] for t in tests["dropout"]] == [12]
    corr2d, dropout = tests["corr2d"][0]["output"], tests["dropout"][0]["output"]
    assert "corr2d.py" in corr2d and "Corr2d.py" in corr2d and "sub/corr2d.py" in corr2d
    assert "dropout.py" in dropout and "notes.txt" in dropout


def test_a_broken_bundle_still_writes_results(bundle, tmp_path):
    root = unpack(bundle, tmp_path / "autograder")
    (root / "submission" / "corr2d.py").write_text(reference("corr2d", "solution"), encoding="utf-8")
    config = root / "source" / CONFIG_NAME
    data = json.loads(config.read_text(encoding="utf-8"))
    config.write_text(json.dumps({**data, "device": "tpu"}), encoding="utf-8")
    proc = run_autograder(root)
    results = load_results(root / "results" / "results.json")
    assert results["score"] == 0 and "failed" in results["output"] and "instructor" in results["output"]
    assert sorted(by_exercise(results)) == sorted(EXERCISES)  # every exercise still shows its points
    assert "Traceback" in proc.stdout  # the instructor's log says where
    config.write_text(json.dumps({**data, "exercises": [{"id": "conv9", "file": "conv9.py", "points": 5},
                                                        *data["exercises"]]}), encoding="utf-8")
    run_autograder(root)  # a bundle that names an exercise this d2l-tutor lacks: that one scores 0, the rest grade
    results = load_results(root / "results" / "results.json")
    tests = by_exercise(results)
    assert [(t["score"], t["max_score"]) for t in tests["conv9"]] == [(0, 5)] and "conv9" in tests["conv9"][0]["output"]
    assert "instructor" in tests["conv9"][0]["output"] and "dropout.py" in tests["dropout"][0]["output"]
    assert results["score"] == sum(t["score"] for t in tests["corr2d"]) > 0
    config.write_text("{ not json", encoding="utf-8")
    run_autograder(root)
    results = load_results(root / "results" / "results.json")
    assert results["score"] == 0 and results["tests"] == [] and "failed" in results["output"]


def test_a_python_that_cannot_start_gets_the_fallback(bundle, tmp_path):
    root = unpack(bundle, tmp_path / "autograder")
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 99}', encoding="utf-8")  # a stale file is not kept
    proc = run_autograder(root, D2L_TUTOR_PYTHON=str(tmp_path / "no-such-python"))
    data = load_results(root / "results" / "results.json")
    assert data["score"] == 0 and "could not start" in data["output"]
    assert sorted(by_exercise(data)) == sorted(EXERCISES)
    assert "fallback" in proc.stdout


def test_a_run_stopped_half_way_leaves_results(bundle, tmp_path):
    """SIGTERM (a time limit) while grading: the results say what was stopped; results.json is never absent."""
    root = unpack(bundle, tmp_path / "autograder")
    (root / "submission" / "corr2d.py").write_text("import time\ntime.sleep(60)\n", encoding="utf-8")
    results = root / "results" / "results.json"
    proc = subprocess.Popen([sys.executable, "-m", "tutor.autograder", "run", "--root", str(root)], cwd=root,
                            env=env_for(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (results.is_file() and "not finished" in results.read_text(encoding="utf-8")):
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it was stopped"
            time.sleep(0.05)
        early = load_results(results)
        assert early["score"] == 0 and "not finished" in early["output"]
        time.sleep(1.0)  # into the grading of corr2d (its import sleeps for a minute)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    data = load_results(results)
    assert data["score"] == 0 and "stopped (SIGTERM)" in data["output"]
    assert sorted(by_exercise(data)) == sorted(EXERCISES)


# -- building: refusals and options --------------------------------------------------------------------------------


def test_an_unknown_exercise_is_refused_in_one_line(tmp_path):
    out = tmp_path / "autograder.zip"
    out.write_bytes(b"an older bundle")
    result = runner.invoke(autograder_app, ["build", "corr2d", "corr2dd", "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "corr2dd" in lines[0], result.output
    for ex in load_course().exercises:
        assert ex.id in lines[0]
    assert out.read_bytes() == b"an older bundle"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autograder.zip"]  # no temporary file left behind


def test_without_a_source_tree_it_asks_for_a_wheel(wheel, tmp_path):
    """d2l-tutor installed from its wheel (no source tree to build one from): a one-line error that says to give
    --wheel; with it, the bundle carries that very wheel and the scripts the installed package holds."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("D2L_TUTOR_COURSE", "D2L_TUTOR_LANG")}
    env.update(PYTHONPATH=str(site), COLUMNS="200", D2L_TUTOR_LANG="en")
    build = "import sys; from tutor.autograder import autograder_app; autograder_app(sys.argv[1:])"
    out = elsewhere / "autograder.zip"

    def cli(*args):
        return subprocess.run([sys.executable, "-c", build, "build", *args], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=120)

    refused = cli("corr2d", "--out", str(out))
    assert refused.returncode == 2 and "--wheel" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not out.exists()
    built = cli("6.1", "--out", str(out), "--wheel", str(wheel))  # a section number names corr2d
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(out) as zf:
        assert zf.read(wheel.name) == wheel.read_bytes()
        assert json.loads(zf.read(CONFIG_NAME))["exercises"][0]["id"] == "corr2d"
        assert zf.read("run_autograder").startswith(b"#!/usr/bin/env bash")
    not_a_wheel = tmp_path / "d2l_tutor-0.1.0-py3-none-any.whl"
    not_a_wheel.write_bytes(b"not a zip")
    result = runner.invoke(autograder_app, ["build", "corr2d", "--out", str(out), "--wheel", str(not_a_wheel)])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_a_chinese_bundle_answers_in_chinese(wheel, tmp_path):
    out = tmp_path / "autograder.zip"
    result = runner.invoke(autograder_app, ["build", "dropout", "--out", str(out), "--wheel", str(wheel),
                                            "--lang", "zh", "--device", "auto"])
    assert result.exit_code == 0, result.output
    root = unpack(out, tmp_path / "autograder")
    config = json.loads((root / "source" / CONFIG_NAME).read_text(encoding="utf-8"))
    assert config["lang"] == "zh" and config["device"] == "auto"
    assert 'TORCH_INDEX_URL=""' in (root / "source" / "setup.sh").read_text(encoding="utf-8")  # the CUDA build
    run_autograder(root)
    data = load_results(root / "results" / "results.json")
    (entry,) = data["tests"]
    assert CJK.search(entry["output"]) and "dropout.py" in entry["output"] and CJK.search(data["output"])


def test_hidden_tests_are_shown_after_publishing():
    from tutor.engine.results import GradeResult, TestResult
    from tutor.gradescope import to_gradescope

    shown = TestResult(name="the course's example", points=2, earned=2, passed=True, finished=True)
    hidden = TestResult(name="a hidden case", points=3, earned=0, passed=False, finished=True,
                        failure={"code": "wrong_type", "params": {"call": "f()", "got": "1", "got_type": "int"}})
    hidden.hidden = True
    data = to_gradescope([GradeResult(exercise="corr2d", file="corr2d.py", status="graded", tests=[shown, hidden])])
    check_results(data)
    assert [(t["name"], t["visibility"], t["status"], t["score"], t["max_score"]) for t in data["tests"]] == [
        ("corr2d: the course's example", "visible", "passed", 2, 2),
        ("corr2d: a hidden case", "after_published", "failed", 0, 3)]
    assert "f() returned 1 (int)" in data["tests"][1]["output"] and data["score"] == 2
