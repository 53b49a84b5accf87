"""Tests and smoke-check for exercise corr2d (d2l 6.1).

The visible tests (also in the student build) check values written in the test or computed by an oracle,
torch.nn.functional.conv2d (forbidden only in the learner's code); the hidden ones compare with the reference.
"""

import ast
import math

import torch
import torch.nn.functional as F

from tutor.grading import Grader, TestFailure, check_type, describe, fmt_tensor, probe_detail

grader = Grader("corr2d")


def small_cases(device, dtype=torch.float32):
    """Every small (X, K) pair, smallest first, with small integer values so a failure prints readably."""
    gen = torch.Generator().manual_seed(6)
    shapes = sorted(
        ((h, w, kh, kw) for h in range(1, 5) for w in range(1, 5) for kh in range(1, h + 1) for kw in range(1, w + 1)),
        key=lambda s: (s[0] * s[1] + s[2] * s[3], s),
    )
    for h, w, kh, kw in shapes:
        X = torch.randint(-2, 4, (h, w), generator=gen).to(dtype=dtype, device=device)
        K = torch.randint(-2, 3, (kh, kw), generator=gen).to(dtype=dtype, device=device)
        yield X, K


def ints(shape, device, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(-3, 4, shape, generator=gen).to(dtype=torch.float32, device=device)


EXAMPLE = "the course's 3x3 example"  # the first test's name: it explains an off-by-one output size in full


def off_by_one(got_shape, expected_shape) -> bool:
    """The result is one row and/or one column short: (h - kh, w - kw) for (h - kh + 1, w - kw + 1)."""
    got, expected = tuple(got_shape), tuple(expected_shape)
    return (len(got) == len(expected) == 2 and got != expected
            and all(g in (e, e - 1) for g, e in zip(got, expected)))


def size_off_by_one(call, got_shape, expected_shape) -> TestFailure:
    """The full explanation, given by the first test (EXAMPLE)."""
    return TestFailure("{call} returned shape {got_shape}, but it should have shape {expected_shape}: the output "
                       "size is off by one. A (kh, kw) kernel fits inside an (h, w) input at h - kh + 1 rows and "
                       "w - kw + 1 columns (the window's top-left corner goes from 0 to h - kh, both included), so "
                       "the output has shape (h - kh + 1, w - kw + 1): the +1 is missing. The other tests that fail "
                       "only because of this shape say so in one line.",
                       call=call, got_shape=str(tuple(got_shape)), expected_shape=str(tuple(expected_shape)),
                       mistake="corr2d.output_size_off_by_one")


def shape_off_by_one_again(call, got_shape, expected_shape) -> TestFailure:
    """What the other tests say about the same mistake: one line that points at the first test."""
    return TestFailure("the output shape is wrong: {got_shape} instead of {expected_shape}, off by one (see the test "
                       "\"{test}\").", call=call, got_shape=str(tuple(got_shape)),
                       expected_shape=str(tuple(expected_shape)), test=EXAMPLE)


def conv_oracle(X, K):
    """corr2d computed by PyTorch: what deep-learning libraries call a convolution is this cross-correlation."""
    return F.conv2d(X[None, None], K[None, None])[0, 0]


def compare(ctx, X, K, *, first: bool = False, expected=None, oracle=None):
    """ctx.compare on corr2d(X, K) (against `expected` or `oracle` where given, else the reference), except that an
    output one row or column short gets the known-mistake verdict: in full in the first test (`first`), in one line
    elsewhere."""
    try:
        return ctx.compare("corr2d", X, K, shrink=small_cases(ctx.device), expected=expected, oracle=oracle)
    except TestFailure as failure:
        if failure.code == "shape_mismatch":
            got = ast.literal_eval(failure.params["got_shape"])
            expected = ast.literal_eval(failure.params["expected_shape"])
            if off_by_one(got, expected):
                explain = size_off_by_one if first else shape_off_by_one_again
                raise explain(failure.params["call"], got, expected) from None
        raise


@grader.test("the course's 3x3 example", points=1)  # EXAMPLE, spelled out for the catalog
def course_example(ctx):
    """X = 0..8 as a 3x3 grid and K = [[0, 1], [2, 3]] give [[19, 25], [37, 43]]."""
    X = torch.arange(9.0, device=ctx.device).reshape(3, 3)
    K = torch.arange(4.0, device=ctx.device).reshape(2, 2)
    expected = torch.tensor([[19.0, 25.0], [37.0, 43.0]], device=ctx.device)
    compare(ctx, X, K, first=True, expected=expected, oracle=conv_oracle)


@grader.test("non-square inputs and kernels: (1, 2), (2, 1), (2, 3)", points=2, hidden=True)
def non_square(ctx):
    X = ints((5, 7), ctx.device, 1)
    for kh, kw in [(1, 2), (2, 1), (2, 3)]:
        K = ints((kh, kw), ctx.device, 10 + kh * 3 + kw)
        compare(ctx, X, K)


@grader.test("a 1x1 kernel and a kernel as large as the input", points=2, hidden=True)
def extreme_kernels(ctx):
    X = ints((4, 3), ctx.device, 2)
    compare(ctx, X, torch.tensor([[2.5]], device=ctx.device))
    compare(ctx, X, ints((4, 3), ctx.device, 3))


@grader.test("cross-correlation, not convolution: the kernel is not flipped", points=1, hidden=True)
def not_flipped(ctx):
    corr2d = ctx.fn("corr2d")
    X = torch.arange(12.0, device=ctx.device).reshape(3, 4)
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=ctx.device)
    got = corr2d(X.clone(), K.clone())
    check_type(got, corr2d.describe(X, K))
    if got.shape == (2, 3):
        flipped = ctx.ref("corr2d")(X, torch.flip(K, (0, 1)))
        if torch.equal(got.detach(), flipped):
            raise TestFailure("{call} returned the convolution with the kernel flipped in both directions. "
                              "Cross-correlation uses K as it is: Y[i, j] = Σ X[i + a, j + b] · K[a, b].",
                              call=corr2d.describe(X, K), mistake="corr2d.flipped_kernel")
    compare(ctx, X, K)


def indented(t):
    return "\n".join("    " + line for line in fmt_tensor(t).splitlines())


def weighted_sum(corr2d, X, K, G):
    """(corr2d(X, K) · G).sum() in float64, from the learner's own corr2d."""
    Y = corr2d(X, K)
    check_type(Y, corr2d.describe(X, K))
    return float((Y.detach().to(torch.float64) * G.to(torch.float64)).sum())


@grader.test("gradients flow back to X and K", points=2)
def gradients(ctx):
    """Autograd's gradients of (Y · G).sum(), Y = your corr2d(X, K), with respect to X and K must equal what your own
    corr2d gives when each element of X (or K) grows by 1. corr2d is linear in X and in K and the inputs are small
    integers (float32), so these finite differences are exact: this test checks the gradients of your function,
    whatever its values."""
    corr2d = ctx.fn("corr2d")
    X0 = ints((4, 5), ctx.device, 7)
    K0 = ints((2, 3), ctx.device, 17)
    X, K = X0.clone().requires_grad_(True), K0.clone().requires_grad_(True)
    Y = corr2d(X, K)
    what = corr2d.describe(X, K)
    check_type(Y, what)
    if not Y.requires_grad:
        raise TestFailure("{call} returned a tensor that autograd cannot differentiate (requires_grad=False). Keep "
                          "every step a tensor operation on X and K: .item(), .numpy(), torch.tensor(...) or "
                          ".detach() cut the graph.", call=what, mistake="corr2d.not_differentiable")
    G = ints(tuple(Y.shape), ctx.device, 27).to(Y.dtype)
    grads = torch.autograd.grad((Y * G).sum(), (X, K), allow_unused=True)  # a scalar: no grad_outputs to check
    base = weighted_sum(corr2d, X0, K0, G)
    for label, got, inputs, index in (("X", grads[0], X0, 0), ("K", grads[1], K0, 1)):
        if got is None or not bool((got != 0).any()):
            raise TestFailure("no gradient reaches {label}: your result does not depend on {label} through "
                              "differentiable tensor operations.", label=label, mistake="corr2d.not_differentiable")
        expected = torch.zeros(inputs.shape, dtype=torch.float64)
        for i in range(inputs.numel()):
            bumped = inputs.clone().reshape(-1)
            bumped[i] += 1
            args = [X0, K0]
            args[index] = bumped.reshape(inputs.shape)
            expected.view(-1)[i] = weighted_sum(corr2d, *args, G) - base
        if not torch.allclose(got.detach().to("cpu", torch.float64), expected, rtol=1e-4, atol=1e-3):
            raise TestFailure("the gradient of (Y · G).sum() with respect to {label}, where Y = {call}, does not "
                              "match your own corr2d: autograd gives\n{got}\n  but adding 1 to each element of {label} "
                              "changes (Y · G).sum() by\n{expected}\n  Compute the result from X and K with "
                              "differentiable tensor operations only (no .detach(), .data or custom backward).",
                              label=label, call=what, got=indented(got), expected=indented(expected))


@grader.test("the result keeps X's dtype and device (float64 in, float64 out)", points=1)
def keeps_dtype_and_device(ctx):
    """float64 inputs give a float64 result on X's device. On a CPU run, the device is also checked with tensors on
    PyTorch's "meta" device (a stand-in for a GPU). Only the dtype and the device count here, of a result that is not
    all zeros (a placeholder torch.zeros(...) earns nothing); the other tests check the values. A result created with
    PyTorch's defaults (float32, on the CPU), as the book's corr2d creates it, is one mistake: named once, here."""
    corr2d = ctx.fn("corr2d")
    X = ints((4, 5), ctx.device, 4).double()
    K = ints((2, 2), ctx.device, 5).double()
    got = corr2d(X.clone(), K.clone())
    what = corr2d.describe(X, K)
    check_type(got, what)
    wrong_dtype = got.dtype != X.dtype
    wrong_device = got.device != X.device  # only a GPU run can show this directly
    probe = None
    if not wrong_device:
        try:
            ctx.device_probe("corr2d", lambda dev: (torch.ones(3, 4, device=dev), torch.ones(2, 2, device=dev)))
        except TestFailure as failure:
            if failure.code not in ("device_probe_mixed", "device_probe_wrong"):
                raise
            probe = failure
    if wrong_dtype and got.dtype == torch.get_default_dtype() and (wrong_device or probe is not None):
        book = TestFailure("{call} returned {got}: your result is made as float32 on the CPU whatever X is. The "
                           "book's corr2d does this too: it creates Y with torch.zeros(shape), which takes PyTorch's "
                           "defaults. That works for float32 inputs on the CPU, but float64 inputs come back rounded "
                           "to float32, and on a GPU each Y[i, j] = ... copies one number from the GPU into a CPU "
                           "tensor: slow, and the result lands on the CPU, where the next operation with GPU tensors "
                           "fails. Create Y with torch.zeros(shape, dtype=X.dtype, device=X.device).", call=what,
                           got=describe(got), mistake="corr2d.book_default_dtype_device")
        if probe is not None:
            book.with_part(probe_detail(probe))
        raise book
    if wrong_dtype:
        expected = torch.zeros((3, 4), dtype=X.dtype, device=X.device)  # what corr2d(X, K) is: float64[3, 4]
        raise TestFailure(code="dtype_mismatch", call=what, expected=describe(expected), got=describe(got),
                          expected_dtype=str(expected.dtype), got_dtype=str(got.dtype))
    if wrong_device:
        raise TestFailure("{call} returned a tensor on {got_device}, but the inputs are on {device}. Create new "
                          "tensors with device=X.device and avoid .cpu() or .numpy().", call=what,
                          got_device=str(got.device), device=str(X.device))
    if probe is not None:
        raise probe
    if not bool((got.detach() != 0).any()):
        raise TestFailure("{call} returned all zeros, though neither X nor K is zero: compute the result's elements "
                          "first; this test then checks that they keep X's dtype and device.", call=what)


@grader.smoke("learns the edge-detection kernel [1, -1] by gradient descent", points=3,
              metric="max |K - [1, -1]|", goal="max", threshold=0.05, budget=15, plot="error", hidden=True)
def learn_edge_kernel(ctx):
    """The course's experiment: recover K = [[1, -1]] from X and Y = corr2d(X, K) with your corr2d."""
    corr2d = ctx.fn("corr2d")
    X = torch.ones((6, 8), device=ctx.device)
    X[:, 2:6] = 0
    target_K = torch.tensor([[1.0, -1.0]], device=ctx.device)
    Y = ctx.ref("corr2d")(X, target_K)
    gen = torch.Generator().manual_seed(0)
    K = torch.randn((1, 2), generator=gen).to(ctx.device).requires_grad_(True)
    lr = 0.03
    for step in range(1, 61):
        Y_hat = corr2d(X, K)
        if step == 1:
            check_type(Y_hat, corr2d.describe(X, K))
            if off_by_one(Y_hat.shape, Y.shape):
                raise shape_off_by_one_again(corr2d.describe(X, K), Y_hat.shape, Y.shape)
            if Y_hat.shape != Y.shape:
                raise TestFailure("{call} returned shape {shape}, expected {expected}.", call=corr2d.describe(X, K),
                                  shape=str(tuple(Y_hat.shape)), expected=str(tuple(Y.shape)))
            if not Y_hat.requires_grad:
                raise TestFailure("the kernel cannot be learned: your corr2d's result is not differentiable with "
                                  "respect to K.", mistake="corr2d.not_differentiable")
        loss = ((Y_hat - Y) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, K)
        with torch.no_grad():
            K -= lr * grad
        error = (K.detach() - target_K).abs().max().item()
        if not (math.isfinite(loss.item()) and math.isfinite(error)):
            raise TestFailure("the training diverged: at step {step} the loss is {loss}. The reference solution "
                              "learns with the same data, seed and step size, so look at the gradients of your corr2d "
                              "(the test 'gradients flow back to X and K').", step=step, loss=str(loss.item()))
        ctx.step(step, loss=loss.item(), error=error)
    return (K.detach() - target_K).abs().max().item()
