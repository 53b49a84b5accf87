"""The manifest is the one source of truth: every entry has its lesson, stub, solution and grader, and they agree."""

import ast
import importlib.util

import pytest

from tutor.engine.guard import resolve
from tutor.manifest import ManifestError, UnknownExercise, parse_course


def load_grader(ex):
    spec = importlib.util.spec_from_file_location(f"grader_under_test_{ex.id}", ex.grader_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.grader


def test_every_exercise_has_all_its_parts(course):
    assert len(course.exercises) >= 3
    for ex in course.exercises:
        for path in (ex.stub_path, ex.solution_path, ex.grader_path, course.lesson(ex.id).path):
            assert path.is_file(), f"{ex.id}: {path} is missing"
        assert len(ex.hints) >= 3
        assert ex.points > 0 and ex.time_limit > 0


def test_grader_points_add_up_to_the_manifest(course):
    for ex in course.exercises:
        grader = load_grader(ex)
        assert grader.exercise == ex.id
        assert sum(t.points for t in grader.tests) == ex.points, ex.id
        assert any(t.kind == "smoke" for t in grader.tests), f"{ex.id} has no smoke-check"


def test_stubs_declare_every_required_name_and_raise_not_implemented(course):
    for ex in course.exercises:
        tree = ast.parse(ex.stub_path.read_text())
        defined = {node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        solution = ast.parse(ex.solution_path.read_text())
        solved = {node.name for node in ast.walk(solution) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
        for name in ex.requires:
            assert name in defined, f"stub {ex.id} lacks {name}"
            assert name in solved, f"solution {ex.id} lacks {name}"
            doc = ast.get_docstring(defined[name]) or ""
            assert len(doc.splitlines()) >= 5, f"{ex.id}.{name}: the docstring is the learner's spec"
            raises = [n for n in ast.walk(defined[name]) if isinstance(n, ast.Raise)]
            assert raises, f"{ex.id}.{name} must raise NotImplementedError in the stub"


def test_forbidden_apis_exist_in_this_torch(course):
    for ex in course.exercises:
        for api in ex.forbidden:
            resolve(api)


def test_lessons_are_markdown_without_latex(course):
    for lesson in course.lessons:
        text = lesson.path.read_text()
        assert text.startswith("#"), lesson.id
        assert "\\frac" not in text and "$$" not in text, f"{lesson.id}: the terminal has no LaTeX"


def test_unknown_ids_get_suggestions(course):
    with pytest.raises(UnknownExercise) as info:
        course.exercise("sequencemask")
    assert "sequence_mask" in str(info.value)
    assert course.lesson("corr2d").id == "cross-correlation"


def test_malformed_manifest_is_rejected():
    with pytest.raises(ManifestError, match="at least three hints"):
        parse_course({"chapters": [{"number": 1, "title": "t", "lessons": [{"id": "l", "title": "t", "d2l": "1",
                      "file": "x.md", "exercises": [{"id": "e", "title": "t", "d2l": "1", "points": 1,
                                                     "time_limit": 5, "requires": [], "hints": ["a"]}]}]}]})
    with pytest.raises(ManifestError, match="missing 'points'"):
        parse_course({"chapters": [{"number": 1, "title": "t", "lessons": [{"id": "l", "title": "t", "d2l": "1",
                      "file": "x.md", "exercises": [{"id": "e", "title": "t", "d2l": "1",
                                                     "time_limit": 5, "requires": [], "hints": ["a", "b", "c"]}]}]}]})
