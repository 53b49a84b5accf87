"""The CLI as a learner uses it: typer's CliRunner in-process, and the real entry point for a few paths."""

import json
import sqlite3
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO, run_cli
from tutor.manifest import load_course
from tutor.cli import EXIT_NOT_FULL, EXIT_OK, EXIT_USAGE, EXIT_WORKSPACE, app

runner = CliRunner()
CORRECT = (REPO / "course" / "06-convolutional-networks" / "corr2d" / "solution.py").read_text()
POINTS = load_course().exercise("corr2d").points  # the manifest's, so a grader that grows keeps these tests true


@pytest.fixture
def ws(tmp_path, monkeypatch):
    result = runner.invoke(app, ["init", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "ws")
    return tmp_path / "ws"


def test_help_and_list_never_import_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tutor.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(app, ['list'])\n"
        "assert r.exit_code == 0, r.output\n"
        "r = CliRunner().invoke(app, ['lesson', 'corr2d'])\n"
        "assert r.exit_code == 0, r.output\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'textual'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_init_never_overwrites_and_reports_skips(tmp_path):
    target = tmp_path / "ws"
    first = runner.invoke(app, ["init", str(target)])
    assert first.exit_code == 0
    assert "created:" in first.output and "corr2d.py" in first.output
    assert (target / ".d2l-tutor").is_dir() and (target / "README.md").is_file()
    (target / "corr2d.py").write_text("# my work\n")
    second = runner.invoke(app, ["init", str(target)])
    assert second.exit_code == 0
    assert "skipped" in second.output and "corr2d.py" in second.output
    assert (target / "corr2d.py").read_text() == "# my work\n"


def test_list_json_is_machine_readable(ws):
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    ids = [e["id"] for e in data["exercises"]]
    assert {"corr2d", "dropout", "sequence_mask"} <= set(ids)
    assert all(e["status"] == "not started" for e in data["exercises"])


def test_unknown_exercise_suggests_and_exits_2(ws):
    result = runner.invoke(app, ["grade", "cor2d"])
    assert result.exit_code == EXIT_USAGE
    assert "did you mean 'corr2d'" in result.output.lower()
    assert "Traceback" not in result.output


def test_no_workspace_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["grade", "corr2d"], ["hint", "corr2d"], ["reset", "corr2d"], ["progress"]):
        result = runner.invoke(app, args)
        assert result.exit_code == EXIT_WORKSPACE, args
        assert "no d2l-tutor workspace" in result.output and "d2l-tutor init" in result.output


def test_lesson_renders_and_hint_reveals_one_more_each_time(ws):
    lesson = runner.invoke(app, ["lesson", "corr2d"])
    assert lesson.exit_code == 0 and "cross-correlation" in lesson.output.lower()
    outputs = [runner.invoke(app, ["hint", "corr2d"]).output for _ in range(5)]
    assert "Hint 1 of 4" in outputs[0] and "Hint 2 of 4" not in outputs[0]
    assert "Hint 2 of 4" in outputs[1]
    assert "Hint 4 of 4" in outputs[3] and "last hint" not in outputs[3]
    assert "last hint" in outputs[4]
    assert "hidden again" in runner.invoke(app, ["hint", "corr2d", "--reset"]).output
    after_reset = runner.invoke(app, ["hint", "corr2d"]).output
    assert "Hint 1 of 4" in after_reset and "Hint 2 of 4" not in after_reset


def test_task_shows_the_stubs_spec_in_english_and_its_translation_in_chinese(ws):
    ex = load_course().exercise("corr2d")
    english = runner.invoke(app, ["task", "7.2", "--book", "en", "--lang", "en", "--plain"])
    assert english.exit_code == 0, english.output
    assert "## `def corr2d(X, K)`" in english.output
    assert "Return the 2-D cross-correlation of X with the kernel K." in english.output
    assert "(course 6.1, d2l-zh 6.2, d2l-en 7.2)" in english.output
    chinese = runner.invoke(app, ["task", "corr2d", "--lang", "zh", "--plain"])
    assert chinese.exit_code == 0, chinese.output
    assert chinese.output.strip() == (ex.folder / "task.zh.md").read_text(encoding="utf-8").strip()
    rendered = runner.invoke(app, ["task", "corr2d", "--lang", "zh"])
    assert "返回 X 与卷积核 K 的二维互相关运算结果" in rendered.output
    lesson = runner.invoke(app, ["lesson", "corr2d", "--lang", "en", "--plain"])
    assert "the task: `d2l-tutor task corr2d`" in lesson.output


def test_reset_backs_up_then_restores_the_stub(ws):
    (ws / "corr2d.py").write_text("def corr2d(X, K):\n    return 42\n")
    result = runner.invoke(app, ["reset", "corr2d"])
    assert result.exit_code == 0
    backups = list((ws / ".d2l-tutor" / "backups").glob("corr2d-*.py"))
    assert len(backups) == 1 and backups[0].read_text() == "def corr2d(X, K):\n    return 42\n"
    assert str(backups[0].name) in result.output.replace("\n", "")
    assert (ws / "corr2d.py").read_text() == load_course().exercise("corr2d").stub_path.read_text()
    again = runner.invoke(app, ["reset", "corr2d"])
    assert "nothing to back up" in again.output
    assert len(list((ws / ".d2l-tutor" / "backups").glob("corr2d-*.py"))) == 1


def test_grade_stub_then_correct_file_records_progress(ws, tmp_path):
    stub = runner.invoke(app, ["grade", "corr2d"])
    assert stub.exit_code == EXIT_NOT_FULL
    assert f"0/{POINTS}" in stub.output and "not written yet" in stub.output
    (ws / "corr2d.py").write_text(CORRECT)
    out_json = tmp_path / "gs" / "results.json"
    good = runner.invoke(app, ["grade", "corr2d", "--json", "--gradescope", str(out_json)])
    assert good.exit_code == EXIT_OK, good.output
    data = json.loads(good.stdout)
    assert data["score"] == data["max_score"] == POINTS
    assert data["results"][0]["full_marks"] is True
    gs = json.loads(out_json.read_text())
    names = [f"corr2d: {t['name']}" for t in data["results"][0]["tests"]]
    assert gs["score"] == POINTS and [t["name"] for t in gs["tests"]] == names and len(names) >= 5
    assert all(t["status"] == "passed" for t in gs["tests"])
    listing = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    corr = next(e for e in listing["exercises"] if e["id"] == "corr2d")
    assert corr["status"] == "full marks" and corr["attempts"] == 2 and corr["best"] == POINTS
    history = runner.invoke(app, ["progress", "corr2d"])
    assert history.exit_code == 0 and f"{POINTS}/{POINTS}" in history.output and f"0/{POINTS}" in history.output


def test_damaged_progress_database_is_never_replaced(ws):
    db = ws / ".d2l-tutor" / "progress.db"
    db.write_bytes(b"garbage" * 500)
    for args in (["list"], ["progress"], ["grade", "corr2d"], ["hint", "corr2d"]):
        result = runner.invoke(app, args)
        assert result.exit_code == EXIT_WORKSPACE, (args, result.output)
        assert "damaged" in result.output
    assert db.read_bytes() == b"garbage" * 500


def test_real_entry_point_and_cuda_without_gpu(tmp_path):
    import torch

    proc = run_cli("init", str(tmp_path / "w"))
    assert proc.returncode == 0
    proc = run_cli("grade", "corr2d", "--device", "cuda", cwd=tmp_path / "w")
    if torch.cuda.is_available():
        assert proc.returncode == EXIT_NOT_FULL
    else:
        assert proc.returncode == EXIT_USAGE
        assert "no CUDA GPU" in proc.stderr
    proc = run_cli("grade", "--all", "--json", cwd=tmp_path / "w")
    assert proc.returncode == EXIT_NOT_FULL
    data = json.loads(proc.stdout)
    assert data["score"] == 0 and {r["exercise"] for r in data["results"]} >= {"corr2d", "dropout", "sequence_mask"}
    conn = sqlite3.connect(tmp_path / "w" / ".d2l-tutor" / "progress.db")
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == len(data["results"])
    conn.close()


def test_an_untouched_stub_is_reported_once_per_unwritten_function(ws):
    result = runner.invoke(app, ["grade", "gru"], env={"COLUMNS": "120"})
    assert result.exit_code == EXIT_NOT_FULL
    assert "gru is not written yet (" in result.output and "more tests stop at gru too" in result.output
    assert result.output.count("still raises the stub's NotImplementedError") <= 3


def test_no_arguments_without_a_terminal_prints_the_help(ws):
    result = runner.invoke(app, [])  # CliRunner's streams are not TTYs
    assert result.exit_code == EXIT_OK, result.output
    assert "Commands" in result.output and "init" in result.output
    assert "d2l-tutor init" not in result.output


def test_no_arguments_in_a_terminal_opens_the_tui_inside_a_workspace(ws, monkeypatch):
    import tutor.cli as cli

    opened = []
    monkeypatch.setattr(cli, "is_interactive", lambda: True)
    monkeypatch.setattr(cli, "launch_tui", lambda w, **kw: opened.append(w.root))
    result = runner.invoke(app, [])
    assert result.exit_code == EXIT_OK, result.output
    assert opened == [ws.resolve()]


def test_no_arguments_in_a_terminal_without_a_workspace_opens_the_offer_to_create_one(tmp_path, monkeypatch):
    import tutor.cli as cli

    opened = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "is_interactive", lambda: True)
    monkeypatch.setattr(cli, "launch_tui", lambda w, **kw: opened.append(w))
    result = runner.invoke(app, [])
    assert result.exit_code == EXIT_OK, result.output
    assert opened == [None]  # the app asks whether to create ./d2l-workspace


def test_tui_command_checks_its_arguments_before_opening(ws, tmp_path, monkeypatch):
    import tutor.cli as cli

    opened = []
    monkeypatch.setattr(cli, "launch_tui", lambda w, **kw: opened.append((w, kw)))
    result = runner.invoke(app, ["tui", "corr2", "--workspace", str(ws)])
    assert result.exit_code == EXIT_USAGE and "corr2d" in result.output  # a suggestion
    result = runner.invoke(app, ["tui", "--device", "tpu", "--workspace", str(ws)])
    assert result.exit_code == EXIT_USAGE and "--device must be auto, cpu or cuda" in result.output
    result = runner.invoke(app, ["tui", "--workspace", str(tmp_path / "nowhere")])
    assert result.exit_code == EXIT_WORKSPACE and "is not a d2l-tutor workspace" in result.output
    assert opened == []
    result = runner.invoke(app, ["tui", "corr2d", "--workspace", str(ws), "--cold", "--device", "cpu"])
    assert result.exit_code == EXIT_OK, result.output
    (w, kw), = opened
    assert w.root == ws.resolve() and kw["start"].id == "corr2d" and kw["warm"] is False and kw["device"] == "cpu"

def test_console_script_fast_path_opens_the_tui_and_leaves_problems_to_the_cli(ws, monkeypatch):
    """`d2l-tutor` in a terminal opens the TUI without typer; a damaged database goes to the CLI, which explains."""
    import tutor.cli as cli
    import tutor.launch as launch

    opened, cli_runs = [], []
    monkeypatch.setattr(launch, "is_interactive", lambda: True)
    monkeypatch.setattr(launch, "run_tui", lambda w, **kw: opened.append(w) or 0)
    monkeypatch.setattr(cli, "main", lambda: cli_runs.append(sys.argv[1:]))
    monkeypatch.setattr(sys, "argv", ["d2l-tutor"])
    with pytest.raises(SystemExit) as exit_info:
        launch.main()
    assert exit_info.value.code == 0 and [w.root for w in opened] == [ws.resolve()] and cli_runs == []

    (ws / ".d2l-tutor" / "progress.db").write_bytes(b"this is not a database" * 100)
    launch.main()
    assert cli_runs == [[]] and len(opened) == 1

    monkeypatch.setattr(sys, "argv", ["d2l-tutor", "list"])  # anything else: the CLI
    launch.main()
    assert cli_runs == [[], ["list"]] and len(opened) == 1
    import gc

    assert gc.isenabled()  # the start-up pause never outlives the launch


def test_console_script_without_a_terminal_prints_the_help(tmp_path):
    proc = run_cli(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Commands" in proc.stdout and "grade" in proc.stdout


def test_file_naming_a_folder_says_so(ws):
    result = runner.invoke(app, ["grade", "corr2d", "--file", str(ws)])
    assert result.exit_code == EXIT_USAGE
    assert "is a folder, not a file" in result.output and "corr2d.py" in result.output


def test_a_read_only_progress_database_still_shows_the_score(ws):
    """The score comes first; then one line says the attempt was not recorded, and why (not "damaged")."""
    db = ws / ".d2l-tutor" / "progress.db"
    runner.invoke(app, ["list"])  # creates the database
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a file immutable here (chattr)")
    try:
        result = runner.invoke(app, ["grade", "corr2d"])
    finally:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)
    assert result.exit_code == EXIT_WORKSPACE, result.output
    assert f"0/{POINTS}" in result.output and "was not recorded" in result.output
    assert "read-only" in result.output and "damaged" not in result.output


def test_a_second_file_is_refused_in_one_line(ws, tmp_path):
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text(CORRECT)
    second.write_text(CORRECT)
    result = runner.invoke(app, ["grade", "corr2d", "--file", str(first), "--file", str(second)])
    assert result.exit_code == EXIT_USAGE
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: --file grades one file; 2 were given") and str(second) in lines[0]


def test_reset_prints_whole_paths_in_a_narrow_terminal(tmp_path, course):
    """COLUMNS=40 and paths far longer: each path stays on one line, so it can be copied."""
    from tutor.workspace import init_workspace

    root = tmp_path / "a-workspace-folder-with-a-rather-long-name"
    init_workspace(root, course)
    (root / "corr2d.py").write_text("def corr2d(X, K):\n    return X\n")
    proc = run_cli("reset", "corr2d", cwd=root, env={"COLUMNS": "40"})
    assert proc.returncode == EXIT_OK, proc.stderr
    backup, = (root / ".d2l-tutor" / "backups").glob("corr2d-*.py")
    lines = proc.stdout.splitlines()
    assert len(str(backup)) > 80
    assert any(str(root / "corr2d.py") in line for line in lines), proc.stdout
    assert any(str(backup) in line for line in lines), proc.stdout


def test_init_in_an_existing_workspace_never_says_created(tmp_path):
    target = tmp_path / "ws"
    assert "created:" in runner.invoke(app, ["init", str(target)]).output
    (target / "corr2d.py").unlink()  # something to add back
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == EXIT_OK
    assert "is already a d2l-tutor workspace" in again.output and "created" not in again.output.lower()
    assert "added what it lacked: corr2d.py" in again.output
    chinese = runner.invoke(app, ["init", str(target), "--lang", "zh"])
    assert "已经是 d2l-tutor 工作区" in chinese.output and "已创建" not in chinese.output
    runner.invoke(app, ["init", str(target), "--lang", "en"])  # the next tests read English
