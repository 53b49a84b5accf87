"""The course layout (issue 9): an exercise is one folder plus one id in course.toml, and nothing else.

A throwaway exercise, `relu`, is added to a copy of the course; with D2L_TUTOR_COURSE pointing at the copy it is
listed, graded (its solution gets full marks, its stub zero) and passes the instructor check with no other change.
And the layout check (tutor.coursecheck, part of `d2l-tutor check`) refuses a stray file, an orphan exercise folder
and a lesson without its Chinese text.
"""

from __future__ import annotations

import json
import shutil

import polib
import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tutor.cli import EXIT_NOT_FULL, EXIT_OK, app
from tutor.instructor import run_check
from tutor.manifest import load_course
from tutor.workspace import init_workspace

runner = CliRunner()
CHAPTER = "04-multilayer-perceptrons"

EXERCISE_TOML = '''\
# Exercise relu: a throwaway exercise that only the layout test knows.
title = "ReLU from scratch"
title_zh = "从零实现 ReLU"
points = 4
time_limit = 60
memory_mb = 3072
requires = ["relu"]
forbidden = ["torch.relu", "torch.nn.functional.relu"]
hints = [
    "ReLU keeps the positive entries of X and replaces the others with zero.",
    "Compare X with 0 to get a boolean mask of the positive entries.",
    "torch.where(X > 0, X, torch.zeros_like(X)) keeps X's shape, dtype and device.",
]
hints_zh = [
    "ReLU 保留 X 中的正元素，其余元素都替换为零。",
    "把 X 与 0 比较，得到一个标出正元素的布尔掩码。",
    "torch.where(X > 0, X, torch.zeros_like(X)) 保持 X 的形状、数据类型和设备不变。",
]
'''

STUB = '''\
"""Exercise relu: the rectified linear unit (a throwaway exercise of the layout test)."""

import torch


def relu(X):
    """The rectified linear unit, elementwise: max(x, 0) for every element x of X.

    Arguments:
        X: a tensor of any shape, float32 or float64, on any device.

    Returns:
        A new tensor with X's shape, dtype and device: X where X > 0, else 0.
        Do not use torch.relu or torch.nn.functional.relu.
    """
    raise NotImplementedError("relu is not written yet: replace this line with your implementation")
'''

SOLUTION = '''\
import torch


def relu(X):
    return torch.where(X > 0, X, torch.zeros_like(X))
'''

GRADER = '''\
"""Hidden tests and smoke-check for the throwaway exercise relu."""

import torch

from tutor.grading import Grader, TestFailure

grader = Grader("relu")


@grader.test("the values of a small matrix", points=2)
def small_matrix(ctx):
    X = torch.tensor([[-1.0, 0.0, 2.0], [3.0, -4.5, 0.5]], device=ctx.device)
    ctx.compare("relu", X, expected=torch.tensor([[0.0, 0.0, 2.0], [3.0, 0.0, 0.5]], device=ctx.device))


@grader.test("keeps the input's dtype (float64 in, float64 out)", points=1, hidden=True)
def keeps_dtype(ctx):
    ctx.compare("relu", torch.linspace(-1.0, 1.0, 9, dtype=torch.float64, device=ctx.device))


@grader.smoke("a batch of random activations, step by step", points=1, metric="max error", goal="max",
              threshold=1e-6, budget=20)
def random_batches(ctx):
    relu = ctx.fn("relu")
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    for step in range(1, 4):
        X = torch.randn((16, 32), generator=gen).to(ctx.device)
        got = relu(X)
        if not isinstance(got, torch.Tensor) or got.shape != X.shape:
            raise TestFailure("{call} did not return a tensor of X's shape.", call=relu.describe(X))
        worst = max(worst, float((got - X.clamp(min=0)).abs().max()))
        ctx.step(step, error=worst)
    return worst
'''

CHINESE = {
    "the values of a small matrix": "一个小矩阵的值",
    "keeps the input's dtype (float64 in, float64 out)": "保持输入的数据类型（输入 float64，输出也是 float64）",
    "a batch of random activations, step by step": "逐步检查一批随机激活值",
    "max error": "最大误差",
    "{call} did not return a tensor of X's shape.": "{call} 返回的不是与 X 形状相同的张量。",
}


def copy_course(tmp_path):
    target = tmp_path / "course"
    shutil.copytree(REPO / "course", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def add_relu(root):
    """The new exercise's folder, and its id in its lesson's `exercises`: the only two changes."""
    folder = root / CHAPTER / "relu"
    folder.mkdir()
    (folder / "exercise.toml").write_text(EXERCISE_TOML, encoding="utf-8")
    (folder / "stub.py").write_text(STUB, encoding="utf-8")
    (folder / "solution.py").write_text(SOLUTION, encoding="utf-8")
    (folder / "grader.py").write_text(GRADER, encoding="utf-8")
    (folder / "task.zh.md").write_text("# 从零实现 ReLU\n\n实现 `relu(X)`：逐元素计算 max(x, 0)。\n", encoding="utf-8")
    po = polib.POFile(wrapwidth=0)
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": "zh_CN"}
    po.extend(polib.POEntry(msgid=english, msgstr=chinese) for english, chinese in CHINESE.items())
    po.save(str(folder / "messages.zh.po"))
    manifest = root / "course.toml"
    text = manifest.read_text(encoding="utf-8")
    assert text.count('exercises = ["dropout"]') == 1
    manifest.write_text(text.replace('exercises = ["dropout"]', 'exercises = ["dropout", "relu"]'), encoding="utf-8")
    return folder


def never(*args, **kwargs):
    raise AssertionError("the layout check grades nothing")


def layout_problems(root) -> set[str]:
    """What `d2l-tutor check` says about the course's folders (no grading)."""
    load_course.cache_clear()
    report = run_check([], course=load_course(root), grade=never)
    return {f"{f.check}: {f.detail}" for f in report.findings if not f.ok}


def test_a_new_exercise_is_a_folder_and_one_line_of_the_manifest(tmp_path, monkeypatch):
    root = copy_course(tmp_path)
    folder = add_relu(root)
    monkeypatch.setenv("D2L_TUTOR_COURSE", str(root))
    course = load_course()
    assert course.root == root.resolve() and course.exercise("relu").folder == folder

    listed = runner.invoke(app, ["list", "--json", "--lang", "en"])
    assert listed.exit_code == EXIT_OK, listed.output
    relu = next(e for e in json.loads(listed.stdout)["exercises"] if e["id"] == "relu")
    assert relu["title"] == "ReLU from scratch" and relu["points"] == 4 and relu["section"] == "4.5"

    init_workspace(tmp_path / "ws", course)
    monkeypatch.chdir(tmp_path / "ws")
    assert (tmp_path / "ws" / "relu.py").read_text(encoding="utf-8") == STUB
    stub = runner.invoke(app, ["grade", "relu", "--device", "cpu"])
    assert stub.exit_code == EXIT_NOT_FULL, stub.output
    assert "0/4" in stub.output and "relu is not written yet" in stub.output
    shutil.copy(folder / "solution.py", tmp_path / "ws" / "relu.py")
    solved = runner.invoke(app, ["grade", "relu", "--device", "cpu", "--json"])
    assert solved.exit_code == EXIT_OK, solved.output
    data = json.loads(solved.stdout)
    assert data["score"] == data["max_score"] == 4
    assert [t["name"] for t in data["results"][0]["tests"]] == list(CHINESE)[:3]

    checked = runner.invoke(app, ["check", "relu", "--device", "cpu", "-j", "1"])
    assert checked.exit_code == EXIT_OK, checked.output
    last = checked.stdout.strip().splitlines()[-1]
    assert last.startswith("check: ") and last.endswith(" 0 failed"), checked.stdout


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The layout check's findings on an untouched copy (none, unless the course is mid-edit): each test below
    looks at what its change adds."""
    return layout_problems(copy_course(tmp_path_factory.mktemp("untouched")))


def test_a_new_exercise_adds_nothing_to_the_layout_check(tmp_path, baseline):
    root = copy_course(tmp_path)
    add_relu(root)
    assert layout_problems(root) == baseline


BROKEN = {
    "stray-lesson-file": (lambda root: (root / CHAPTER / "notes.txt").write_text("todo\n"),
                          f"{CHAPTER}/notes.txt", "a stray file"),
    "stray-exercise-file": (lambda root: (root / CHAPTER / "dropout" / "scratch.py").write_text("x = 1\n"),
                            f"{CHAPTER}/dropout/scratch.py", "a stray file"),
    "stray-root-file": (lambda root: (root / "README.md").write_text("# course\n"),
                        "README.md", "not a chapter of the manifest"),
    "orphan-exercise": (lambda root: shutil.copytree(root / CHAPTER / "dropout", root / CHAPTER / "leaky_relu"),
                        f"{CHAPTER}/leaky_relu", "a folder no lesson of the manifest lists"),
    "no-zh-lesson": (lambda root: (root / CHAPTER / "dropout.zh.md").unlink(),
                     f"{CHAPTER}/dropout.zh.md", "lacks its Chinese text"),
    "no-zh-task": (lambda root: (root / CHAPTER / "dropout" / "task.zh.md").unlink(),
                   f"{CHAPTER}/dropout/task.zh.md", "missing"),
    "empty-zh-task": (lambda root: (root / CHAPTER / "dropout" / "task.zh.md").write_text("\n"),
                      f"{CHAPTER}/dropout/task.zh.md", "empty"),
    "stray-exercise-folder": (lambda root: (root / CHAPTER / "dropout" / "old").mkdir(),
                              f"{CHAPTER}/dropout/old", "a stray folder"),
    "no-lesson-title-zh": (lambda root: edit(root / "course.toml", 'title_zh = "暂退法"\n', ""),
                           f"{CHAPTER}/dropout", "no title_zh"),
    "translation-drops-a-placeholder": (lambda root: drop_placeholder(root / CHAPTER / "dropout" / "messages.zh.po"),
                                        f"{CHAPTER}/dropout/messages.zh.po", "lacks {"),
}


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def drop_placeholder(path) -> None:
    """Take one {placeholder} out of the first translation that has one."""
    import re

    po = polib.pofile(str(path))
    entry = next(e for e in po if re.search(r"{[a-z_]+}", e.msgstr))
    entry.msgstr = re.sub(r"{[a-z_]+}", "", entry.msgstr, count=1)
    po.save()


@pytest.mark.parametrize("case", BROKEN)
def test_the_layout_check_refuses(tmp_path, baseline, case):
    change, where, says = BROKEN[case]
    root = copy_course(tmp_path)
    change(root)
    found = layout_problems(root) - baseline
    assert len(found) == 1, found  # that problem alone
    line, = found
    assert where in line and says in line, line


def test_an_untranslated_grader_message_fails_the_layout_check(tmp_path, baseline):
    root = copy_course(tmp_path)
    folder = add_relu(root)
    po = polib.pofile(str(folder / "messages.zh.po"))
    po.find("max error").msgstr = ""
    po.save()
    found = layout_problems(root) - baseline
    assert len(found) == 1 and f"{CHAPTER}/relu/messages.zh.po" in "".join(found), found
    assert "1 messages have no Chinese" in "".join(found)


def test_the_chinese_of_relu_is_what_the_catalog_asks_for(tmp_path):
    """The catalog above covers exactly what `python -m tutor.catalog` extracts from the grader: no more, no less."""
    from tutor.catalog import grader_messages

    grader = tmp_path / "grader.py"
    grader.write_text(GRADER, encoding="utf-8")
    assert [msgid for _ctx, msgid, _where in grader_messages(grader)] == list(CHINESE)
