"""Given helpers (tutor.given): a later exercise imports an earlier exercise's reference instead of pasting the
learner's old answer; it gets exactly the names its exercise.toml lists, never its own answer."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tutor.engine.results import GRADED
from tutor.manifest import ManifestError, load_course

from .conftest import REPO

ADDITIVE = "additive_attention"  # given sequence_mask (11.7); multihead_attention is in turn given its masked_softmax


def solution_with(course, exercise_id: str, old: str, new: str) -> str:
    source = course.exercise(exercise_id).solution_path.read_text(encoding="utf-8")
    assert old in source
    return source.replace(old, new, 1)


def test_the_manifest_resolves_given_names_to_the_exercise_that_asks_for_them(course):
    additive = course.exercise(ADDITIVE)
    assert additive.given == ("sequence_mask",)
    assert course.provider("sequence_mask").id == "sequence_mask"
    assert [ex.id for ex in course.given_chain(additive)] == ["sequence_mask"]
    assert course.given_chain(course.exercise("corr2d")) == []
    assert 'from tutor.given import sequence_mask' in additive.stub_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("given, says", [
    ('["corr2d"]', "comes after"),                      # corr2d (chapter 6) comes after dropout (chapter 4)
    ('["dropout_layer"]', "cannot be both given and asked for"),
    ('["no_such_function"]', "not written in any exercise"),
])
def test_a_given_name_must_come_from_an_earlier_exercise_and_never_be_the_exercises_own(tmp_path, given, says):
    copy = tmp_path / "course"
    shutil.copytree(REPO / "course", copy)
    toml = copy / "04-multilayer-perceptrons" / "dropout" / "exercise.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f"given = {given}\n", encoding="utf-8")
    load_course.cache_clear()
    try:
        with pytest.raises(ManifestError, match=says):
            load_course(copy)
    finally:
        load_course.cache_clear()


def test_a_file_built_on_the_given_helper_gets_full_marks(grade_source, course):
    # masked_softmax written with the given sequence_mask instead of its own arange mask
    source = solution_with(
        course, ADDITIVE,
        "    keep = torch.arange(num_keys, device=X.device)[None, :] < lens.to(X.device)[:, None]  "
        "# (batch * queries, keys)\n"
        "    scores = X.reshape(-1, num_keys).masked_fill(~keep, -1e6)  # a new tensor: X itself is left alone\n",
        "    scores = sequence_mask(X.reshape(-1, num_keys), lens, value=-1e6)\n")
    source = "from tutor.given import sequence_mask\n" + source
    result = grade_source(ADDITIVE, source)
    assert result.status == GRADED, result.problem
    assert result.score == result.max_score == course.exercise(ADDITIVE).points, [
        (t.name, t.failure) for t in result.tests if not t.passed]


def test_a_name_that_is_not_given_is_a_clear_import_error_when_graded(grade_source, course):
    source = "from tutor.given import masked_softmax\n" + course.exercise(ADDITIVE).stub_path.read_text(encoding="utf-8")
    result = grade_source(ADDITIVE, source)
    assert result.score == 0
    text = str(result.problem)
    assert "does not give 'masked_softmax' to exercise additive_attention" in text, text
    assert "it gives: sequence_mask" in text


def run_file(tmp_path, name: str, code: str) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_in_the_learners_own_python_an_exercise_file_gets_its_given_names_only(tmp_path):
    ok = run_file(tmp_path, f"{ADDITIVE}.py", "import torch\nfrom tutor.given import sequence_mask\n"
                  "print(sequence_mask(torch.ones(2, 3), torch.tensor([1, 2])).tolist())\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]"
    # the exercise's own answer is never given, not even outside the grader
    (tmp_path / "other").mkdir()
    own = run_file(tmp_path / "other", "sequence_mask.py", "from tutor.given import sequence_mask\n")
    assert own.returncode != 0
    assert "does not give 'sequence_mask' to exercise sequence_mask" in own.stderr


def test_check_finds_a_given_name_the_stub_does_not_import_and_a_reference_that_calls_a_forbidden_api(tmp_path):
    from tutor.coursecheck import given_problems

    copy = tmp_path / "course"
    shutil.copytree(REPO / "course", copy)
    folder = copy / "12-attention" / ADDITIVE
    stub = folder / "stub.py"
    stub.write_text(stub.read_text(encoding="utf-8").replace("from tutor.given import sequence_mask\n", ""),
                    encoding="utf-8")
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('forbidden = ["', 'forbidden = ["torch.arange", "', 1),
                    encoding="utf-8")
    load_course.cache_clear()
    try:
        found = given_problems(load_course(copy))
    finally:
        load_course.cache_clear()
    assert (f"12-attention/{ADDITIVE}/stub.py", "the given sequence_mask is not imported (from tutor.given import "
                                             "sequence_mask)") in found
    assert any(where.endswith("exercise.toml") and "sequence_mask calls torch.arange" in what
               for where, what in found), found
    assert given_problems(load_course()) == []
