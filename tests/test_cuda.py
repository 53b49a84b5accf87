"""The CUDA path of the graders. Skipped cleanly on machines without a CUDA GPU (like CI)."""

import pytest

from tests.conftest import run_cli

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_instructor_check_on_cuda():
    proc = run_cli("check", "--device", "cuda", timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_code_that_leaves_the_gpu_fails_with_a_device_message(grade_source):
    source = """
    import torch

    def corr2d(X, K):
        h, w = K.shape
        Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype)
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
        return Y
    """
    result = grade_source("corr2d", source, device="cuda")
    assert result.device.startswith("cuda")
    assert result.score < result.max_score
    device_test = next(t for t in result.tests if "device" in t.name)
    assert not device_test.passed and "cuda" in device_test.message


def test_reference_solutions_run_on_the_gpu(course):
    from tutor.engine.runner import grade

    for ex in course.exercises:
        result = grade(ex, ex.solution_path, device="cuda")
        assert result.device.startswith("cuda") and result.full_marks, (ex.id, result.problem)
