"""Tests and smoke-check for exercise autograd (d2l 2.5).

Two kinds of f reach the learner's code. numerical_grad gets functions of the grader (callbacks: they run here, in
the verifier, and autograd cannot see through them, which is the point of a numerical gradient; they also record
the points they are evaluated at). autograd_grad needs an f that autograd can differentiate in the sandbox, where
the learner's code runs: those are TorchScript functions compiled there from the sources below (`sandbox_fn`).

Every expected value is a closed form written in the test (4x, sign(x) + 3·[x > 0], 2cx + 1, cos(x)·W) or torch's
own autograd in the grader; no test uses the reference solution.
"""

import math

import torch

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor

grader = Grader("autograd")



def call(name, x, extra=""):
    """How a call is shown: autograd_grad(f, x: float64[4])."""
    return f"{name}(f, x: {describe(x)}{extra})"


def indented(t):
    return "\n".join("    " + line for line in fmt_tensor(t).splitlines())


def sandbox_fn(ctx, name: str, source: str):
    """A TorchScript function compiled in the sandbox: autograd differentiates it where the learner's code runs."""
    unit = ctx.link.import_module("torch.jit").CompilationUnit(source)
    return getattr(unit, name)


class Recorder:
    """A scalar function of the grader (a callback) that remembers every point the learner evaluates it at."""

    def __init__(self, formula):
        self.formula = formula
        self.points = []

    def __call__(self, x):
        if not isinstance(x, torch.Tensor):
            raise TestFailure("f was called with {got}; it takes a tensor shaped like x.", got=describe(x))
        self.points.append(x.detach().clone())
        return self.formula(x.detach().to(torch.float64)).to(x.dtype)


def book_f(x):
    return 2 * torch.dot(x.reshape(-1), x.reshape(-1))


def factor_of_two(got, expected) -> bool:
    """The result is twice the gradient: the difference was divided by h instead of 2h."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or not bool((expected != 0).any()):
        return False
    g, e = got.detach().to("cpu", torch.float64), expected.detach().to("cpu", torch.float64)
    return torch.allclose(g, 2 * e, rtol=1e-4, atol=1e-5)


def check_numerical(got, expected, what, *, atol=1e-5, rtol=1e-5):
    """check_tensor for numerical_grad (the dtype has a test of its own), naming a factor of 2."""
    if factor_of_two(got, expected):
        raise TestFailure("{call} returned\n{got}\n  which is exactly twice the gradient\n{expected}\n  The central "
                          "difference f(x + h·eᵢ) - f(x - h·eᵢ) spans 2h, from x - h to x + h, so divide it by 2h, "
                          "not by h.", call=what, got=indented(got), expected=indented(expected),
                          mistake="autograd.divided_by_h")
    check_tensor(got, expected, what, atol=atol, rtol=rtol, check_dtype=False)


# -- numerical_grad -----------------------------------------------------------------------------------------------

@grader.test("numerical_grad: the book's y = 2·xᵀx has gradient 4x", points=1)  # BOOK, spelled out for the catalog
def numerical_book(ctx):
    """x = [0, 1, 2, 3] in float64 and y = 2·xᵀx give [0, 4, 8, 12] (d2l 2.5)."""
    numerical_grad = ctx.fn("numerical_grad")
    x = torch.arange(4.0, dtype=torch.float64, device=ctx.device)
    got = numerical_grad(Recorder(book_f), x)
    check_numerical(got, 4 * x, call("numerical_grad", x) + ", f(x) = 2·xᵀx")


@grader.test("numerical_grad: central differences (exact for a quadratic, even with h = 0.1)", points=1, hidden=True)
def numerical_central(ctx):
    """For f(x) = Σ cᵢxᵢ² + Σ xᵢ the central difference is exact whatever h is: (f(x + h·eᵢ) - f(x - h·eᵢ)) / 2h =
    2cᵢxᵢ + 1. A one-sided difference (f(x + h·eᵢ) - f(x)) / h is off by cᵢ·h, here 0.1·cᵢ."""
    numerical_grad = ctx.fn("numerical_grad")
    x = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64, device=ctx.device)
    c = torch.tensor([1.0, 2.0, -3.0, 0.5], dtype=torch.float64, device=ctx.device)
    f = Recorder(lambda v: (c.to(v.device) * v * v).sum() + v.sum())
    h = 0.1
    got = numerical_grad(f, x, h=h)
    what = call("numerical_grad", x, ", h=0.1") + ", f(x) = Σ cᵢxᵢ² + Σ xᵢ"
    expected = 2 * c * x + 1
    check_type(got, what)
    if got.shape == expected.shape and not torch.allclose(got.detach().to(expected), expected, rtol=1e-8,
                                                          atol=1e-8) and not factor_of_two(got, expected):
        at_x = any(p.shape == x.shape and torch.equal(p.to(x), x) for p in f.points)
        below = any(p.shape == x.shape and torch.allclose(p.to(x), x - h * torch.eye(4, dtype=x.dtype,
                                                                                         device=x.device)[i])
                    for p in f.points for i in range(4))
        if at_x:
            raise TestFailure("{call} returned\n{got}\n  but the gradient is\n{expected}\n  f was evaluated at x "
                              "itself: that is a one-sided difference, (f(x + h·eᵢ) - f(x)) / h, whose error is about "
                              "h·f''/2 (here 0.1·cᵢ). Use the central difference (f(x + h·eᵢ) - f(x - h·eᵢ)) / (2h): "
                              "its error shrinks like h², and it is exact for a quadratic.", call=what,
                              got=indented(got), expected=indented(expected), mistake="autograd.one_sided_difference")
        if not below:
            raise TestFailure("{call} returned\n{got}\n  but the gradient is\n{expected}\n  f was never evaluated at "
                              "x - h·eᵢ: the central difference needs both sides, (f(x + h·eᵢ) - f(x - h·eᵢ)) / (2h). "
                              "A one-sided difference has an error of about h·f''/2 (here 0.1·cᵢ); the central one's "
                              "shrinks like h², and it is exact for a quadratic.", call=what, got=indented(got),
                              expected=indented(expected), mistake="autograd.one_sided_difference")
    check_numerical(got, expected, what, atol=1e-8, rtol=1e-8)


@grader.test("numerical_grad: any shape: a 0-d scalar, a matrix and a transposed (non-contiguous) matrix",
             points=1, hidden=True)
def numerical_shapes(ctx):
    """f(X) = Σ sin(X)·W has the gradient cos(X)·W, for X of any shape."""
    numerical_grad = ctx.fn("numerical_grad")
    gen = torch.Generator().manual_seed(25)
    matrix = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    for X in (torch.tensor(0.7, dtype=torch.float64), matrix, matrix.T):
        X = X.to(ctx.device)
        W = torch.arange(1.0, X.numel() + 1, dtype=torch.float64, device=ctx.device).reshape(X.shape)
        got = numerical_grad(Recorder(lambda v, W=W: (torch.sin(v) * W.to(v.device)).sum()), X)
        check_numerical(got, torch.cos(X) * W, call("numerical_grad", X) + ", f(x) = Σ sin(x)·W")


@grader.test("numerical_grad leaves x unchanged", points=1)
def numerical_keeps_x(ctx):
    """After the call x holds the values it had before: perturb a copy, or put each element back."""
    numerical_grad = ctx.fn("numerical_grad")
    x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]], dtype=torch.float64, device=ctx.device)
    numerical_grad(Recorder(book_f), x)
    after = numerical_grad.mutated(x)
    if after is not None:
        raise TestFailure("{call} changed x: before the call it was\n{before}\n  after it, it is\n{after}\n  Adding "
                          "and subtracting h in place changes the caller's tensor unless every element is put back "
                          "to its old value. Work on a copy (x.detach().clone()) or restore each element after its "
                          "two evaluations of f.", call=call("numerical_grad", x), before=indented(x),
                          after=indented(after), mistake="autograd.x_modified")


@grader.test("numerical_grad keeps x's dtype and device (float64 in, float64 out)", points=1, hidden=True)
def numerical_dtype(ctx):
    """x in float64 gives a float64 gradient on x's device."""
    numerical_grad = ctx.fn("numerical_grad")
    x = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64, device=ctx.device)
    got = numerical_grad(Recorder(book_f), x)
    what = call("numerical_grad", x)
    check_type(got, what)
    if got.dtype == torch.float32:
        raise TestFailure("{call} returned {got}, but x is float64. A tensor made with PyTorch's defaults "
                          "(torch.zeros(x.shape), say) is float32: each gradient stored in it is rounded to about 7 "
                          "digits, and a computation done in float32 is far worse, because x + 1e-6 rounds to x or "
                          "to x + 1.2e-7 there. Create the result with torch.zeros_like(x) and compute in x's dtype.",
                          call=what, got=describe(got), mistake="autograd.float32")
    if got.dtype != x.dtype:
        raise TestFailure(code="dtype_mismatch", call=what, expected=describe(x), got=describe(got),
                          expected_dtype=str(x.dtype), got_dtype=str(got.dtype))
    if got.device != x.device:
        raise TestFailure("{call} returned a tensor on {got_device}, but x is on {device}: create the result with "
                          "torch.zeros_like(x).", call=what, got_device=str(got.device), device=str(x.device))


# -- autograd_grad ------------------------------------------------------------------------------------------------

BOOK_SOURCE = """
def f(x):
    return 2 * torch.dot(x, x)
"""

KINKS_SOURCE = """
def f(x):
    return torch.abs(x).sum() + 3 * torch.clamp(x, min=0.0).sum()
"""

SMOOTH_SOURCE = """
def f(x):
    return (torch.tanh(x) * x.flip(0)).sum() + torch.logsumexp(x.reshape(-1), 0)
"""


def smooth_f(x):
    return (torch.tanh(x) * x.flip(0)).sum() + torch.logsumexp(x.reshape(-1), 0)


@grader.test("autograd_grad: the book's y = 2·xᵀx has gradient 4x", points=1)
def autograd_book(ctx):
    """x = torch.arange(4.0) and y = 2·xᵀx give [0, 4, 8, 12], as in d2l 2.5."""
    autograd_grad = ctx.fn("autograd_grad")
    x = torch.arange(4.0, device=ctx.device)
    got = autograd_grad(sandbox_fn(ctx, "f", BOOK_SOURCE), x)
    check_tensor(got, 4 * x, call("autograd_grad", x) + ", f(x) = 2·xᵀx")


@grader.test("autograd_grad: |x| and max(x, 0) away from their kinks", points=1, hidden=True)
def autograd_kinks(ctx):
    """f(x) = Σ|xᵢ| + 3·Σ max(xᵢ, 0) at points away from 0 has the gradient sign(x) + 3·[x > 0]."""
    autograd_grad = ctx.fn("autograd_grad")
    x = torch.tensor([-2.0, -0.5, 0.25, 1.5, 3.0], dtype=torch.float64, device=ctx.device)
    got = autograd_grad(sandbox_fn(ctx, "f", KINKS_SOURCE), x)
    check_tensor(got, torch.sign(x) + 3 * (x > 0).to(x.dtype), call("autograd_grad", x)
                 + ", f(x) = Σ|xᵢ| + 3·Σ max(xᵢ, 0)")


@grader.test("autograd_grad: twice on the same x gives the same gradient in a new tensor (nothing accumulates)",
             points=2, hidden=True)
def autograd_twice(ctx):
    """Inside the sandbox, autograd_grad(f, x) runs twice on one and the same tensor x (as a learner's loop would):
    both calls must return 4x, in two different tensors. A gradient left in x.grad doubles on the second call."""
    ctx.fn("autograd_grad")  # exists, with the course's signature
    learner = ctx.learner("autograd_grad")
    tree_map = ctx.link.import_module("torch.utils._pytree").tree_map
    f = sandbox_fn(ctx, "f", BOOK_SOURCE)
    x = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, device=ctx.device)
    what = "autograd_grad(f, x: float64[3]) twice on the same x, f(x) = 2·xᵀx"
    try:
        got = tree_map(learner, [f, f], [x, x])  # calls learner(f, x), then learner(f, x), with one x
    except Exception as exc:  # noqa: BLE001 - the learner's error, described
        raise ctx.explain(exc, what) from None
    first, second = got
    expected = 4 * x
    check_type(first, what)
    check_type(second, what)
    if first is second:
        raise TestFailure("{call}: both calls returned the same tensor, now\n{got}\n  instead of\n{expected}\n  You "
                          "return x.grad itself: the second backward() adds its gradient into that very tensor, so "
                          "the first result changes after you returned it, and the caller's x keeps a .grad. Compute "
                          "on a copy, leaf = x.detach().clone().requires_grad_(True), and return leaf.grad (or use "
                          "torch.autograd.grad).", call=what, got=indented(second), expected=indented(expected),
                          mistake="autograd.returns_x_grad")
    check_tensor(first, expected, what + " (first call)")
    if second.shape == expected.shape and torch.allclose(second.detach().to(expected), 2 * expected):
        raise TestFailure("{call}: the first call returned 4x, the second\n{got}\n  twice as much. backward() adds "
                          "into x.grad, and the first call's gradient was still there: gradients accumulate. Leave "
                          "the caller's x alone: compute on leaf = x.detach().clone().requires_grad_(True) (or zero "
                          "x.grad first and remove it before returning).", call=what, got=indented(second),
                          mistake="autograd.grad_accumulates")
    check_tensor(second, expected, what + " (second call)")


@grader.test("autograd_grad and numerical_grad agree on a smooth function of a matrix", points=1, hidden=True)
def agree(ctx):
    """f(X) = Σ tanh(X)·flip(X) + logsumexp(X) at a 3x4 float64 X: the two gradients agree within 1e-5, and both
    match torch's autograd in the grader."""
    autograd_grad, numerical_grad = ctx.fn("autograd_grad"), ctx.fn("numerical_grad")
    gen = torch.Generator().manual_seed(3)
    X = torch.randn(3, 4, generator=gen, dtype=torch.float64).to(ctx.device)
    f = sandbox_fn(ctx, "f", SMOOTH_SOURCE)
    by_autograd = autograd_grad(f, X)
    by_differences = numerical_grad(f, X)
    check_type(by_autograd, call("autograd_grad", X))
    check_type(by_differences, call("numerical_grad", X))
    leaf = X.clone().requires_grad_(True)
    (truth,) = torch.autograd.grad(smooth_f(leaf), leaf)
    a, n = by_autograd.detach().to(truth), by_differences.detach().to(truth)
    if a.shape == n.shape == truth.shape and torch.allclose(a, n, rtol=1e-4, atol=1e-5):
        return
    for label, got in (("autograd_grad", by_autograd), ("numerical_grad", by_differences)):
        check_tensor(got, truth, f"{label}(f, X: float64[3, 4]), f(X) = Σ tanh(X)·flip(X) + logsumexp(X)",
                     rtol=1e-4, atol=1e-5, check_dtype=False)


# -- smoke-check --------------------------------------------------------------------------------------------------

def least_squares_source(X, y):
    """A TorchScript loss ‖Xw - y‖² / 2n with the data written into it as literals (the data of this grader)."""
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in X.tolist())
    targets = ", ".join(repr(float(v)) for v in y.tolist())
    return ("def f(w):\n"
            f"    X = torch.tensor([{rows}], dtype=torch.float64, device=w.device)\n"
            f"    y = torch.tensor([{targets}], dtype=torch.float64, device=w.device)\n"
            "    r = torch.mv(X, w) - y\n"
            f"    return torch.dot(r, r) / {2 * X.shape[0]}.0\n")


# threshold 1e-3: the reference ends at a relative error of at most 4e-7 over seeds 0 to 9 (1.3e-8 at seed 0); a
# gradient 10 times too small ends at 0.023 or more, a zero gradient stays at 1.0, a gradient of the wrong sign
# diverges (1e17 and more), a gradient twice too large ends at up to 1.5.
@grader.smoke("gradient descent with autograd_grad reaches the least-squares solution", points=2,
              metric="‖w - w*‖ / ‖w*‖", goal="max", threshold=1e-3, budget=15, plot="error", hidden=True)
def least_squares(ctx):
    """Minimise ‖Xw - y‖² / 2n (n = 40 examples, 5 features, noisy targets) by 80 steps of gradient descent with
    step size 0.5, each gradient from your autograd_grad; w must end within 0.1 % of the closed-form solution
    w* = (XᵀX)⁻¹Xᵀy."""
    autograd_grad = ctx.fn("autograd_grad")
    gen = ctx.seed(0)
    n, d = 40, 5
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    w_true = torch.randn(d, generator=gen, dtype=torch.float64)
    y = X @ w_true + 0.3 * torch.randn(n, generator=gen, dtype=torch.float64)
    w_star = torch.linalg.solve(X.T @ X, X.T @ y).to(ctx.device)
    X, y = X.to(ctx.device), y.to(ctx.device)
    f = sandbox_fn(ctx, "f", least_squares_source(X, y))
    w = torch.zeros(d, dtype=torch.float64, device=ctx.device)
    lr = 0.5
    error = 1.0
    for step in range(1, 81):
        grad = autograd_grad(f, w)
        what = call("autograd_grad", w) + ", f(w) = ‖Xw - y‖² / 2n"
        check_type(grad, what)
        if grad.shape != w.shape:
            raise TestFailure("{call} returned shape {shape}, expected {expected}.", call=what,
                              shape=str(tuple(grad.shape)), expected=str(tuple(w.shape)))
        w = w - lr * grad.detach().to(w)
        r = X @ w - y
        loss = float(r @ r) / (2 * n)
        error = float(torch.linalg.vector_norm(w - w_star) / torch.linalg.vector_norm(w_star))
        if not (math.isfinite(loss) and math.isfinite(error)):
            raise TestFailure("gradient descent diverged: at step {step} the loss is {loss}. The reference converges "
                              "with the same data and step size: check the sign and size of your gradients (the "
                              "test \"{test}\").", step=step, loss=str(loss),
                              test="autograd_grad: the book's y = 2·xᵀx has gradient 4x")
        ctx.step(step, loss=loss, error=error)
    return error
