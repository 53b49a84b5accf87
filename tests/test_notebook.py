"""Grading from a real Jupyter notebook: nbclient runs the cells in an ipykernel, as Jupyter or Colab would."""

from __future__ import annotations

import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

WRONG = '''def corr2d(X, K):
    """A convolution, not the cross-correlation the book calls a convolution: the kernel is flipped."""
    K = K.flip(0).flip(1)
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
'''
RIGHT = WRONG.replace("    K = K.flip(0).flip(1)\n", "").replace(
    "A convolution, not the cross-correlation the book calls a convolution: the kernel is flipped.",
    "The book's cross-correlation, keeping X's dtype and device.")


def outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        parts.append(data.get("text/html", "") + data.get("text/plain", "") + out.get("text", "")
                     + "\n".join(out.get("traceback", [])))
    return "\n".join(parts)


def test_a_notebook_grades_a_wrong_then_a_right_corr2d_and_both_attempts_are_recorded(tmp_path):
    from tutor.progress import Progress
    from tutor.workspace import DEFAULT_DIR, MARKER

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (
        "import torch\nimport tutor.notebook as d2l_tutor",
        WRONG,
        'd2l_tutor.grade("corr2d", device="cpu", lang="en")',
        RIGHT,
        "%load_ext tutor.notebook\n%d2l grade corr2d",
        "f = lambda X, K: X\ncorr2d = f",
        'd2l_tutor.grade("corr2d", device="cpu")',
    )]
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    wrong, right, lam = outputs(nb.cells[2]), outputs(nb.cells[4]), outputs(nb.cells[6])

    assert f"one was created at {tmp_path / DEFAULT_DIR}" in wrong, wrong[:2000]
    assert re.search(r"\b(\d+)/12 points", wrong) and "12/12 points" not in wrong, wrong[:2000]
    assert "cross-correlation, not convolution" in wrong and "<svg" in wrong  # the failing test, and the curve
    assert "12/12 points" in right, right[:3000]
    assert "The previous file was kept at" in right  # the wrong answer was backed up, not lost
    assert "corr2d is a lambda" in lam, lam[-2000:]

    ws = tmp_path / DEFAULT_DIR
    assert "def corr2d" in (ws / "corr2d.py").read_text(encoding="utf-8")
    assert "flip" not in (ws / "corr2d.py").read_text(encoding="utf-8")
    assert any("flip" in p.read_text(encoding="utf-8") for p in (ws / MARKER / "backups").glob("corr2d-*.py"))
    with Progress(ws / MARKER / "progress.db") as db:
        summary = db.summaries()["corr2d"]
    assert summary.attempts == 2 and summary.best == 12
