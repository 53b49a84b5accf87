"""Finding the workspace from where the learner is, and creating one without claiming to create what exists."""

from __future__ import annotations

import pytest

from tutor.workspace import DEFAULT_DIR, MARKER, WorkspaceError, find_workspace, init_workspace


@pytest.fixture
def tree(tmp_path, course):
    """The README's first command run in a repository root: <root>/d2l-workspace, a workspace."""
    root = tmp_path / "repo"
    (root / "docs" / "deep").mkdir(parents=True)
    init_workspace(root / DEFAULT_DIR, course)
    return root


def test_inside_the_workspace(tree):
    ws = tree / DEFAULT_DIR
    assert find_workspace(ws).root == ws.resolve()


def test_below_the_workspace(tree):
    ws = tree / DEFAULT_DIR
    below = ws / "notes" / "week1"
    below.mkdir(parents=True)
    assert find_workspace(below).root == ws.resolve()


def test_in_its_parent_finds_the_default_folder(tree):
    """Where `d2l-tutor init d2l-workspace` was run (the README's first command)."""
    assert find_workspace(tree).root == (tree / DEFAULT_DIR).resolve()


def test_below_its_parent_finds_the_default_folder(tree):
    assert find_workspace(tree / "docs" / "deep").root == (tree / DEFAULT_DIR).resolve()


def test_the_cwd_defaults_to_the_current_folder(tree, monkeypatch):
    monkeypatch.chdir(tree / "docs")
    assert find_workspace().root == (tree / DEFAULT_DIR).resolve()


def test_two_levels_above_it_is_not_a_workspace(tree, course):
    """Only ./d2l-workspace of the current folder or of a folder above it: no search downward."""
    with pytest.raises(WorkspaceError, match="no d2l-tutor workspace"):
        find_workspace(tree.parent)
    top = tree.parent / "top"
    init_workspace(top / "projects" / DEFAULT_DIR, course)
    with pytest.raises(WorkspaceError, match="no d2l-tutor workspace"):
        find_workspace(top)


def test_no_workspace_at_all(tmp_path):
    empty = tmp_path / "empty" / "sub"
    empty.mkdir(parents=True)
    (tmp_path / "empty" / DEFAULT_DIR).mkdir()  # a folder by that name without the marker is not a workspace
    with pytest.raises(WorkspaceError) as info:
        find_workspace(empty)
    message = str(info.value)
    assert "no d2l-tutor workspace" in message and "d2l-tutor init" in message and f"./{DEFAULT_DIR}" in message


def test_the_marker_upward_comes_before_the_default_folder(tree, course):
    """In another workspace below a folder that has ./d2l-workspace: the workspace the learner is in wins."""
    other = tree / "docs" / "my-own"
    init_workspace(other, course)
    assert find_workspace(other / "..").root == (tree / DEFAULT_DIR).resolve()
    assert find_workspace(other).root == other.resolve()


def test_an_explicit_folder_must_be_a_workspace(tree):
    assert find_workspace(explicit=tree / DEFAULT_DIR).root == (tree / DEFAULT_DIR).resolve()
    with pytest.raises(WorkspaceError, match="is not a d2l-tutor workspace"):
        find_workspace(explicit=tree)  # --workspace names the folder itself, not its parent


def test_init_says_created_only_for_a_new_workspace(tmp_path, course):
    fresh = init_workspace(tmp_path / DEFAULT_DIR, course)
    assert fresh.status == "created" and not fresh.existed and "corr2d.py" in fresh.created
    (tmp_path / DEFAULT_DIR / "corr2d.py").write_text("# mine\n", encoding="utf-8")
    again = init_workspace(tmp_path / DEFAULT_DIR, course)
    assert again.status == "exists" and again.existed
    assert again.created == [] and "corr2d.py" in again.skipped
    assert (tmp_path / DEFAULT_DIR / "corr2d.py").read_text(encoding="utf-8") == "# mine\n"


def test_init_in_a_folder_that_is_not_yet_a_workspace(tmp_path, course):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "corr2d.py").write_text("# mine\n", encoding="utf-8")
    report = init_workspace(folder, course)
    assert report.status == "created" and (folder / MARKER).is_dir()
    assert "corr2d.py" in report.skipped and (folder / "corr2d.py").read_text(encoding="utf-8") == "# mine\n"


def test_the_readme_flow_from_the_repository_root(tmp_path, monkeypatch):
    """`d2l-tutor init d2l-workspace`, then commands in the same folder use that workspace."""
    from typer.testing import CliRunner

    from tutor.cli import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["init", DEFAULT_DIR]).exit_code == 0
    hint = runner.invoke(app, ["hint", "corr2d"])
    assert hint.exit_code == 0, hint.output
    assert "Hint 1 of" in hint.output and "no d2l-tutor workspace" not in hint.output
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "no workspace here" not in listed.output

