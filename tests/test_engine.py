"""The grading engine against every kind of bad learner file: each ends in a clear verdict, never a pass it
did not earn and never a traceback of this tool."""

import time

import pytest

from tutor.engine.results import CRASHED, GRADED, MEMORY, TIMEOUT

CORRECT = """
import torch

def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
"""


def messages(result):
    return "\n".join(t.message for t in result.tests)


def assert_zero_with(result, *needles):
    assert result.score == 0, [(t.name, t.passed) for t in result.tests]
    assert all(not t.passed for t in result.tests)
    text = messages(result)
    for needle in needles:
        assert needle in text, text[:2000]
    assert "Traceback (most recent call last)" not in text


def test_correct_file_gets_full_marks_and_same_verdict_twice(grade_source):
    first = grade_source("corr2d", CORRECT)
    second = grade_source("corr2d", CORRECT)
    assert first.status == GRADED and first.full_marks, messages(first)
    assert first.score == first.max_score == 12
    assert first.verdict() == second.verdict()
    smoke = [t for t in first.tests if t.kind == "smoke"][0]
    assert smoke.metric["value"] <= smoke.metric["threshold"]
    assert len(first.smoke_steps[smoke.name]) == smoke.metric["steps"] > 0


def test_syntax_error_names_file_and_line(grade_source):
    result = grade_source("corr2d", "import torch\n\ndef corr2d(X, K)\n    return X\n")
    assert result.status == GRADED
    assert_zero_with(result, "syntax error", "corr2d.py line 3")


def test_import_error_is_a_verdict(grade_source):
    result = grade_source("corr2d", "import not_a_real_module_xyz\n")
    assert_zero_with(result, "ModuleNotFoundError", "not_a_real_module_xyz", "line 1")


def test_missing_function(grade_source):
    result = grade_source("corr2d", "import torch\n\ndef corr2D(X, K):\n    return X\n")
    assert_zero_with(result, "does not define the function `corr2d(X, K)`")


def test_wrong_signature(grade_source):
    result = grade_source("corr2d", "import torch\n\ndef corr2d(X):\n    return X\n")
    assert_zero_with(result, "has the signature corr2d(X)", "corr2d(X, K)")


@pytest.mark.parametrize("body,needle", [
    ("return None", "returned None"),
    ("return [[0.0]]", "returned [[0.0]]"),
    ("return X.numpy()", "numpy.ndarray"),
    ("raise ValueError('boom')", "raised ValueError: boom"),
])
def test_wrong_return_types_and_exceptions(grade_source, body, needle):
    result = grade_source("corr2d", f"import torch\n\ndef corr2d(X, K):\n    {body}\n")
    assert_zero_with(result, needle)
    if "raise" in body:
        assert "corr2d.py line 4" in messages(result)


def test_stub_scores_zero_with_not_implemented_message(course):
    from tutor.engine.runner import grade

    for ex in course.exercises:
        result = grade(ex, ex.stub_path, device="cpu")
        assert result.status == GRADED
        assert_zero_with(result, "not written yet")


def test_value_mismatch_shows_expected_got_tolerance_and_smallest_input(grade_source):
    flipped = CORRECT.replace("* K).sum()", "* K.flip(0).flip(1)).sum()")
    result = grade_source("corr2d", flipped)
    example = next(t for t in result.tests if t.name == "the course's 3x3 example")
    assert not example.passed
    msg = example.message
    for needle in ("corr2d(X: float32[3, 3], K: float32[2, 2])", "expected: float32[2, 2]", "max abs difference",
                   "tolerance atol=", "smallest failing input:", "X = [[", "expected = ", "got      = "):
        assert needle in msg, msg
    flip_test = next(t for t in result.tests if "not flipped" in t.name)
    assert "flipped" in flip_test.message and not flip_test.passed
    # The smallest failing input is small: a 1x2 kernel is the first that can show a flip.
    smallest = msg.split("smallest failing input:")[1]
    assert smallest.count("\n") < 10


def test_dtype_and_gradient_mistakes_are_named(grade_source):
    no_dtype = CORRECT.replace(", dtype=X.dtype, device=X.device", ", device=X.device")
    result = grade_source("corr2d", no_dtype)
    failed = {t.name: t.message for t in result.tests if not t.passed}
    assert list(failed) == ["the result keeps X's dtype and device (float64 in, float64 out)"]
    assert "dtypes differ: expected torch.float64, got torch.float32" in failed["the result keeps X's dtype and device (float64 in, float64 out)"]

    detached = CORRECT.replace("Y[i, j] = (X[i:i + h, j:j + w] * K).sum()",
                               "Y[i, j] = (X[i:i + h, j:j + w] * K).sum().item()")
    result = grade_source("corr2d", detached)
    failed = {t.name: t.message for t in result.tests if not t.passed}
    assert "requires_grad=False" in failed["gradients flow back to X and K"]
    assert any("not differentiable" in m for m in failed.values())


def test_wrong_device_caught_without_a_gpu(grade_source):
    cpu_only = CORRECT.replace(", dtype=X.dtype, device=X.device", ", dtype=X.dtype")
    result = grade_source("corr2d", cpu_only)
    failed = {t.name: t.message for t in result.tests if not t.passed}
    assert list(failed) == ["the result keeps X's dtype and device (float64 in, float64 out)"]
    assert "device=X.device" in failed["the result keeps X's dtype and device (float64 in, float64 out)"]


def test_forbidden_api_is_detected_at_run_time(grade_source):
    cheat = """
    import torch
    from torch.nn.functional import conv2d

    def corr2d(X, K):
        return conv2d(X[None, None], K[None, None])[0, 0]
    """
    result = grade_source("corr2d", cheat)
    assert_zero_with(result, "torch.nn.functional.conv2d", "forbids")
    layer = """
    import torch

    def corr2d(X, K):
        conv = torch.nn.Conv2d(1, 1, K.shape, bias=False)
        try:
            return conv(X[None, None])[0, 0]
        except Exception:
            return torch.zeros(1)
    """
    result = grade_source("corr2d", layer)
    assert_zero_with(result, "torch.nn.Conv2d")


def test_infinite_loop_times_out_within_budget(grade_source):
    started = time.perf_counter()
    result = grade_source("corr2d", "import torch\n\ndef corr2d(X, K):\n    while True:\n        pass\n",
                          time_limit=8)
    elapsed = time.perf_counter() - started
    assert result.status == TIMEOUT
    assert elapsed < 8 + 4
    assert_zero_with(result, "longer than its 8 s limit", "not run")


def test_memory_hog_gets_a_memory_verdict(grade_source):
    hog = """
    import torch

    def corr2d(X, K):
        keep = []
        while True:
            keep.append(b"x" * (64 * 1024 * 1024))
    """
    result = grade_source("corr2d", hog, memory_mb=1200)
    assert result.status == MEMORY
    assert_zero_with(result, "more than 1200 MB of memory")


def test_megabytes_of_output_are_capped_and_grading_goes_on(grade_source):
    noisy = CORRECT.replace("    return Y", "    print('x' * 100_000)\n    return Y")
    result = grade_source("corr2d", noisy)
    assert result.status == GRADED and result.full_marks
    assert result.output_truncated_bytes > 1_000_000
    assert len(result.output) < 80_000


@pytest.mark.parametrize("call", ["sys.exit(0)", "os._exit(0)"])
def test_exit_before_tests_finish_never_passes(grade_source, call):
    source = f"import os, sys\nimport torch\n\ndef corr2d(X, K):\n    {call}\n"
    result = grade_source("corr2d", source)
    assert_zero_with(result)
    if call.startswith("os"):
        assert result.status == CRASHED
        assert "ended (exit code 0) before this test reported a result" in messages(result)
    else:
        assert result.status == GRADED
        assert "called sys.exit(0)" in messages(result)


def test_exit_at_import_time_never_passes(grade_source):
    result = grade_source("corr2d", "import os\nos._exit(0)\n")
    assert result.status == CRASHED
    assert_zero_with(result, "exit code 0")


def test_segfault_is_a_crash_verdict(grade_source):
    source = "import ctypes\nimport torch\n\ndef corr2d(X, K):\n    ctypes.string_at(0)\n"
    result = grade_source("corr2d", source)
    assert result.status == CRASHED
    assert_zero_with(result, "SIGSEGV (segmentation fault)")


def test_object_whose_eq_is_always_true_fails(grade_source):
    source = """
    import torch

    class Liar:
        shape = (2, 2)
        def __eq__(self, other):
            return True

    def corr2d(X, K):
        return Liar()
    """
    result = grade_source("corr2d", source)
    assert_zero_with(result, "expected a torch.Tensor")
    subclass = """
    import torch

    class Liar(torch.Tensor):
        def __eq__(self, other):
            return torch.ones_like(other, dtype=torch.bool)

    def corr2d(X, K):
        return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1).as_subclass(Liar)
    """
    result = grade_source("corr2d", subclass)
    assert_zero_with(result, "expected a torch.Tensor")


@pytest.mark.parametrize("patch", [
    "torch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None",
    "torch.Tensor.__sub__ = lambda self, other: torch.zeros_like(self)\ntorch.equal = lambda *a: True",
])
def test_monkeypatching_torch_cannot_turn_a_failure_into_a_pass(grade_source, patch):
    """The comparisons run in the verifier: patching torch in the learner's process changes nothing there."""
    at_import = f"import torch\n{patch}\n\ndef corr2d(X, K):\n    return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)\n"
    result = grade_source("corr2d", at_import)
    assert_zero_with(result, "the values differ")
    during = f"""
import torch

def corr2d(X, K):
    {patch.replace(chr(10), chr(10) + '    ')}
    return torch.zeros(X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1, dtype=X.dtype)
"""
    result = grade_source("corr2d", during)
    assert result.score == 0, [(t.name, t.message) for t in result.tests if t.passed]
    assert "the values differ" in messages(result)


def test_background_process_left_running_does_not_hang_grading(grade_source):
    source = CORRECT.replace("import torch\n", "import subprocess\nimport torch\n", 1) + (
        "\n_straggler = subprocess.Popen(['sleep', '120'])\n")
    started = time.perf_counter()
    result = grade_source("corr2d", source, time_limit=30)
    assert result.status == GRADED and result.full_marks, messages(result)
    assert time.perf_counter() - started < 20


def test_smallest_failing_input_can_be_an_exception(grade_source):
    fragile = CORRECT.replace("    h, w = K.shape\n", "    h, w = K.shape\n    if X.shape[0] == 1:\n        raise IndexError('one row')\n").replace(
        "* K).sum()", "* K.flip(0).flip(1)).sum()")
    result = grade_source("corr2d", fragile)
    example = next(t for t in result.tests if t.name == "the course's 3x3 example")
    smallest = example.message.split("smallest failing input:")[1]
    assert "got      = an exception:" in smallest and "IndexError: one row" in smallest
    assert "X = [[" in smallest
