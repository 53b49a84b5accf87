"""Hidden tests and smoke-check for exercise corr2d (d2l 6.1)."""

import torch

from tutor.grading import Grader, TestFailure, check_tensor, check_type

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


@grader.test("the course's 3x3 example", points=1)
def course_example(ctx):
    """X = 0..8 as a 3x3 grid and K = [[0, 1], [2, 3]] give [[19, 25], [37, 43]]."""
    X = torch.arange(9.0, device=ctx.device).reshape(3, 3)
    K = torch.arange(4.0, device=ctx.device).reshape(2, 2)
    ctx.compare("corr2d", X, K, shrink=small_cases(ctx.device))


@grader.test("non-square inputs and kernels: (1, 2), (2, 1), (2, 3)", points=2)
def non_square(ctx):
    X = ints((5, 7), ctx.device, 1)
    for kh, kw in [(1, 2), (2, 1), (2, 3)]:
        K = ints((kh, kw), ctx.device, 10 + kh * 3 + kw)
        ctx.compare("corr2d", X, K, shrink=small_cases(ctx.device))


@grader.test("a 1x1 kernel and a kernel as large as the input", points=1)
def extreme_kernels(ctx):
    X = ints((4, 3), ctx.device, 2)
    ctx.compare("corr2d", X, torch.tensor([[2.5]], device=ctx.device), shrink=small_cases(ctx.device))
    ctx.compare("corr2d", X, ints((4, 3), ctx.device, 3), shrink=small_cases(ctx.device))


@grader.test("cross-correlation, not convolution: the kernel is not flipped", points=1)
def not_flipped(ctx):
    corr2d = ctx.fn("corr2d")
    X = torch.arange(12.0, device=ctx.device).reshape(3, 4)
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=ctx.device)
    got = corr2d(X.clone(), K.clone())
    check_type(got, corr2d.describe(X, K))
    if got.shape == (2, 3):
        flipped = ctx.ref("corr2d")(X, torch.flip(K, (0, 1)))
        if torch.equal(got.detach(), flipped):
            raise TestFailure(f"{corr2d.describe(X, K)} returned the convolution with the kernel flipped in both "
                              "directions. Cross-correlation uses K as it is: Y[i, j] = Σ X[i + a, j + b] · K[a, b].")
    ctx.compare("corr2d", X, K, shrink=small_cases(ctx.device))


@grader.test("keeps the input's dtype (float64 in, float64 out)", points=1)
def keeps_dtype(ctx):
    X = ints((4, 5), ctx.device, 4).double()
    K = ints((2, 2), ctx.device, 5).double()
    ctx.compare("corr2d", X, K, shrink=small_cases(ctx.device, torch.float64))


@grader.test("gradients flow back to X and K", points=2)
def gradients(ctx):
    corr2d = ctx.fn("corr2d")
    gen = torch.Generator().manual_seed(7)
    X0 = torch.randn(4, 5, generator=gen, dtype=torch.float64).to(ctx.device)
    K0 = torch.randn(2, 3, generator=gen, dtype=torch.float64).to(ctx.device)
    X, K = X0.clone().requires_grad_(True), K0.clone().requires_grad_(True)
    Y = corr2d(X, K)
    what = corr2d.describe(X, K)
    check_type(Y, what)
    if not Y.requires_grad:
        raise TestFailure(f"{what} returned a tensor that autograd cannot differentiate (requires_grad=False). "
                          "Keep every step a tensor operation on X and K: .item(), .numpy(), torch.tensor(...) or "
                          ".detach() cut the graph.")
    Xr, Kr = X0.clone().requires_grad_(True), K0.clone().requires_grad_(True)
    Yr = ctx.ref("corr2d")(Xr, Kr)
    check_tensor(Y, Yr, what)
    G = torch.randn(Yr.shape, generator=gen, dtype=torch.float64).to(ctx.device)
    gX, gK = torch.autograd.grad(Y, (X, K), G, allow_unused=True)
    rX, rK = torch.autograd.grad(Yr, (Xr, Kr), G)
    for label, got, expected in (("X", gX, rX), ("K", gK, rK)):
        if got is None:
            raise TestFailure(f"no gradient reaches {label}: your result does not depend on {label} through "
                              "differentiable tensor operations.")
        check_tensor(got, expected, f"the gradient of (Y · G).sum() with respect to {label}, where Y = {what}")


@grader.test("the result lives on the input's device", points=1)
def device(ctx):
    corr2d = ctx.fn("corr2d")
    X = ints((3, 4), ctx.device, 8)
    K = ints((2, 2), ctx.device, 9)
    got = corr2d(X, K)
    check_type(got, corr2d.describe(X, K))
    if got.device != X.device:
        raise TestFailure(f"{corr2d.describe(X, K)} returned a tensor on {got.device}, but the inputs are on "
                          f"{X.device}. Create new tensors with device=X.device and avoid .cpu() or .numpy().")
    ctx.device_probe("corr2d", lambda dev: (torch.ones(3, 4, device=dev), torch.ones(2, 2, device=dev)))


@grader.smoke("learns the edge-detection kernel [1, -1] by gradient descent", points=3,
              metric="max |K - [1, -1]|", goal="max", threshold=0.05, budget=15, plot="error")
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
            if Y_hat.shape != Y.shape:
                raise TestFailure(f"{corr2d.describe(X, K)} returned shape {tuple(Y_hat.shape)}, expected {tuple(Y.shape)}.")
            if not Y_hat.requires_grad:
                raise TestFailure("the kernel cannot be learned: your corr2d's result is not differentiable with "
                                  "respect to K.")
        loss = ((Y_hat - Y) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, K)
        with torch.no_grad():
            K -= lr * grad
        ctx.step(step, loss=loss.item(), error=(K.detach() - target_K).abs().max().item())
    return (K.detach() - target_K).abs().max().item()
