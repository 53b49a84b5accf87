"""The student build (`d2l-tutor course export --student`): no reference solution, only the visible tests, and a
learner who grades in it is told what the instructor's grading adds."""

import json
import shutil
import textwrap

import pytest

from tests.conftest import run_cli
from tutor.coursecheck import problems
from tutor.export import ExportError, declared_tests, export_student, solution_leaks, strip_grader
from tutor.manifest import load_course

GRADER = textwrap.dedent('''\
    """A grader with one visible and two hidden tests."""

    import math
    import torch
    from tutor.grading import Grader
    from tutor.grading.checks import check_tensor, check_true

    grader = Grader("demo")

    # only the hidden tests use this table
    SECRET_CASES = [(1, 2), (3, 4)]


    def helper_for_hidden(ctx):
        return [ctx.ref("demo")(a, b) for a, b in SECRET_CASES]


    def shared(x):
        return math.sqrt(x)


    @grader.test("visible: the book's example", points=2)
    def example(ctx):
        check_true(shared(4.0) == 2.0, "sqrt")


    @grader.test("hidden: secret cases", points=3, hidden=True)
    def secret(ctx):
        helper_for_hidden(ctx)


    @grader.smoke("hidden: trains", points=1, metric="loss", goal="min", threshold=0.1, budget=5, hidden=True)
    def trains(ctx):
        check_tensor(torch.zeros(1), torch.zeros(1), "x")
''')


def test_strip_grader_keeps_the_visible_tests_and_only_what_they_use():
    out = strip_grader(GRADER, "demo")
    assert out.visible == [("visible: the book's example", 2.0)]
    assert [name for name, _ in out.hidden] == ["hidden: secret cases", "hidden: trains"]
    assert out.hidden_points == 4.0
    text = out.source
    compile(text, "grader.py", "exec")
    assert "SECRET_CASES" not in text and "helper_for_hidden" not in text and "only the hidden tests" not in text
    assert "hidden: secret cases" not in text and "def trains" not in text
    assert "def shared" in text and "import math" in text and "def example" in text
    # imports that only the hidden tests used go; a `from` import keeps the names still used
    assert "import torch" not in text and "check_tensor" not in text and "check_true" in text
    assert "grader.withheld(tests=2, points=4)" in text
    assert [t.name for t in declared_tests(__import__("ast").parse(text))] == ["visible: the book's example"]


def test_strip_grader_refuses_a_grader_whose_tests_are_all_hidden():
    source = GRADER.replace('points=2)', 'points=2, hidden=True)')
    with pytest.raises(ExportError, match="no visible test"):
        strip_grader(source, "demo")
    with pytest.raises(ExportError, match="literal"):
        strip_grader(GRADER.replace("hidden=True)\ndef secret", "hidden=HIDE)\ndef secret"), "demo")


@pytest.fixture(scope="module")
def student_build(tmp_path_factory):
    course = load_course()
    dest = tmp_path_factory.mktemp("student") / "course"
    report = export_student(dest, course=course)
    return course, dest, report


def test_the_student_build_of_the_course_holds_no_answer_and_follows_the_layout(student_build):
    course, dest, report = student_build
    assert not list(dest.rglob("solution.py"))
    assert solution_leaks(dest, course) == []
    built = load_course(dest)
    assert [ex.id for ex in built.exercises] == [ex.id for ex in course.exercises]
    assert problems(built) == []
    for ex, exported in zip(course.exercises, report.exercises):
        assert exported.hidden, f"{ex.id} has no hidden test: the instructor's grading would add nothing"
        assert exported.visible
        assert built.exercise(ex.id).points == sum(p for _, p in exported.visible)
        assert sum(p for _, p in exported.visible) + sum(p for _, p in exported.hidden) == ex.points
        text = (dest / ex.folder.relative_to(course.root) / "grader.py").read_text(encoding="utf-8")
        assert "hidden=True" not in text
        assert f"grader.withheld(tests={len(exported.hidden)}," in text


def test_solution_leaks_names_a_reference_body_copied_into_the_build(student_build, tmp_path):
    course, dest, _report = student_build
    copy = tmp_path / "course"
    shutil.copytree(dest, copy)
    ex = course.exercise("corr2d")
    task = copy / ex.folder.relative_to(course.root) / "task.zh.md"
    task.write_text(task.read_text(encoding="utf-8") + "\n```python\n" + ex.solution_path.read_text("utf-8")
                    + "\n```\n", encoding="utf-8")
    leaks = solution_leaks(copy, course)
    assert leaks and all("task.zh.md holds the body of" in leak for leak in leaks), leaks


def test_export_cli_writes_a_build_and_refuses_what_it_must_not_touch(tmp_path):
    dest = tmp_path / "student"
    proc = run_cli("course", "export", "--student", str(dest), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {e["id"] for e in data["exercises"]} == {ex.id for ex in load_course().exercises}
    assert all(e["hidden_tests"] > 0 and e["visible_tests"] > 0 for e in data["exercises"])

    keep = tmp_path / "keep.txt"
    keep.write_text("a learner's notes")
    (dest / "link").symlink_to(keep)
    again = run_cli("course", "export", "--student", str(dest))
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert "--force" in again.stderr and (dest / "link").is_symlink()
    forced = run_cli("course", "export", "--student", str(dest), "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (dest / "link").exists() and keep.read_text() == "a learner's notes"  # unlinked, never followed

    inside = run_cli("course", "export", "--student", str(load_course().root / "out"))
    assert inside.returncode == 2 and "course itself" in inside.stderr
    assert not (load_course().root / "out").exists()


def test_a_learner_grades_the_visible_tests_and_is_told_about_the_rest(student_build, tmp_path):
    course, dest, report = student_build
    ex = course.exercise("corr2d")
    exported = next(e for e in report.exercises if e.id == "corr2d")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy2(ex.solution_path, work / "corr2d.py")
    env = {"D2L_TUTOR_COURSE": str(dest)}
    proc = run_cli("grade", "corr2d", "--file", str(work / "corr2d.py"), "--device", "cpu", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["results"][0]
    assert [t["name"] for t in result["tests"]] == [name for name, _ in exported.visible]
    assert result["score"] == result["max_score"] == sum(p for _, p in exported.visible)
    assert result["withheld"] == {"tests": len(exported.hidden), "points": sum(p for _, p in exported.hidden)}
    assert f"{len(exported.hidden)} more tests" in result["notice"]

    text = run_cli("grade", "corr2d", "--file", str(work / "corr2d.py"), "--device", "cpu", "--lang", "zh",
                   env=env)
    assert text.returncode == 0, text.stderr
    assert "可见测试" in text.stdout and "老师" in text.stdout, text.stdout
