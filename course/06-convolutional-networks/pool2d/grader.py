"""Tests and smoke-check for exercise pool2d (d2l 6.4).

The visible tests (also in the student build) check values written in the test or computed by an oracle,
F.max_pool2d / F.avg_pool2d (forbidden only in the learner's code); the hidden ones use the same oracles, the
reference only where noted.
"""

import ast

import torch
import torch.nn.functional as F

from tutor.grading import N_, Grader, TestFailure, check_type, describe, fmt_tensor, probe_detail
from tutor.grading.data import batches, shape_images

grader = Grader("pool2d")

EXAMPLE = "the book's example: X = 0..8 as 3x3, a 2x2 window"  # the first test's name: it explains in full


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def oracle_pool2d(X, pool_size, mode='max'):
    """The book's pool2d computed by PyTorch: stride 1, no padding."""
    op = F.max_pool2d if mode == 'max' else F.avg_pool2d
    return op(X[None, None], tuple(pool_size), 1)[0, 0]


def oracle_strided(X, pool_size, stride, padding, mode='max'):
    """nn.MaxPool2d / nn.AvgPool2d (count_include_pad=True, their default) on X as one image of one channel."""
    op = F.max_pool2d if mode == 'max' else F.avg_pool2d
    return op(X[None, None], pair(pool_size), pair(stride), pair(padding))[0, 0]


def ints(shape, device, seed, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(-4, 5, shape, generator=gen).to(dtype=dtype, device=device)


def distinct(shape, device, seed, dtype=torch.float32):
    """Distinct small integers (no ties, so each window has one arg-max), negative and positive."""
    gen = torch.Generator().manual_seed(seed)
    n = shape[0] * shape[1]
    return (torch.randperm(n, generator=gen) - n // 2).reshape(shape).to(dtype=dtype, device=device)


def small_cases(device):
    """(X, pool_size) pairs for pool2d, smallest first."""
    shapes = sorted(((h, w, ph, pw) for h in range(1, 5) for w in range(1, 5) for ph in range(1, h + 1)
                     for pw in range(1, w + 1)), key=lambda s: (s[0] * s[1] + s[2] * s[3], s))
    for i, (h, w, ph, pw) in enumerate(shapes):
        yield ints((h, w), device, 100 + i), (ph, pw)


def small_strided_cases(device):
    """(X, pool_size, stride, padding) cases that nn.MaxPool2d accepts (padding at most half the window), smallest
    first, all negative so that a zero from padding shows."""
    cases = []
    for h in range(1, 5):
        for w in range(1, 5):
            for k in range(1, 4):
                for s in range(1, 4):
                    for p in range(0, k // 2 + 1):
                        if h + 2 * p >= k and w + 2 * p >= k:
                            cases.append((h, w, k, s, p))
    cases.sort(key=lambda c: (c[0] * c[1] + c[2] * c[2], c))
    for i, (h, w, k, s, p) in enumerate(cases):
        yield -ints((h, w), device, 200 + i).abs() - 1, k, s, p


def off_by_one(got_shape, expected_shape) -> bool:
    got, expected = tuple(got_shape), tuple(expected_shape)
    return (len(got) == len(expected) == 2 and got != expected
            and all(g in (e - 1, e, e + 1) for g, e in zip(got, expected)))


def size_off_by_one(call, got_shape, expected_shape) -> TestFailure:
    return TestFailure("{call} returned shape {got_shape}, but it should have shape {expected_shape}: the output "
                       "size is off by one. A (p_h, p_w) window fits inside an (h, w) input at h - p_h + 1 rows and "
                       "w - p_w + 1 columns (the window's top-left corner goes from 0 to h - p_h, both included); "
                       "with padding and stride the count is (h + 2 * pad_h - p_h) // s_h + 1. The other tests that "
                       "fail only because of this shape say so in one line.",
                       call=call, got_shape=str(tuple(got_shape)), expected_shape=str(tuple(expected_shape)),
                       mistake="pool2d.output_size_off_by_one")


def shape_off_by_one_again(call, got_shape, expected_shape) -> TestFailure:
    return TestFailure("the output shape is wrong: {got_shape} instead of {expected_shape}, off by one (see the test "
                       "\"{test}\").", call=call, got_shape=str(tuple(got_shape)),
                       expected_shape=str(tuple(expected_shape)), test=EXAMPLE, mistake="pool2d.output_size_off_by_one")


def same(got, expected) -> bool:
    return (isinstance(got, torch.Tensor) and got.shape == expected.shape
            and torch.allclose(got.detach().to("cpu", torch.float64), expected.detach().to("cpu", torch.float64),
                               rtol=1e-4, atol=1e-5))


def diagnose(call, got, X, pool_size, stride, padding, mode):
    """A known mistake that explains a wrong `got`, as a TestFailure, or None."""
    k, s, p = pair(pool_size), pair(stride), pair(padding)
    if mode == 'avg' and same(got, oracle_strided(X, k, s, p, 'max')):
        return TestFailure("{call} returned the MAXIMUM of each window, but mode='avg' asks for the mean: your code "
                           "ignores mode. Compute the mean when mode == 'avg' and the maximum when mode == 'max'.",
                           call=call, mistake="pool2d.mode_ignored")
    if mode == 'max' and same(got, oracle_strided(X, k, s, p, 'avg')):
        return TestFailure("{call} returned the MEAN of each window, but mode='max' asks for the maximum: your code "
                           "ignores mode.", call=call, mistake="pool2d.mode_ignored")
    if mode == 'max' and max(p) > 0:
        zero_padded = F.max_pool2d(F.pad(X, (p[1], p[1], p[0], p[0]))[None, None], k, s)[0, 0]
        if same(got, zero_padded):
            return TestFailure("{call} pads X with zeros before taking the maximum, so a window that overlaps the "
                               "padding and holds only negative numbers returns 0, a value that is not in X. "
                               "nn.MaxPool2d pads with -inf: a padded position never wins the maximum.",
                               call=call, mistake="pool2d.max_padded_with_zero")
    if mode == 'avg':
        if max(p) > 0 and same(got, F.avg_pool2d(X[None, None], k, s, p, count_include_pad=False)[0, 0]):
            return TestFailure("{call} divides each window's sum by the number of elements of X inside it, leaving "
                               "out the padding. nn.AvgPool2d's default (count_include_pad=True) counts the padded "
                               "zeros: every sum is divided by p_h * p_w, even at the borders.",
                               call=call, mistake="pool2d.avg_wrong_count")
        expected = oracle_strided(X, k, s, p, 'avg')
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            g, e = got.detach().to("cpu", torch.float64), expected.to("cpu", torch.float64)
            nonzero = e.abs() > 1e-6
            if bool(nonzero.any()):
                ratio = (e[nonzero] / g[nonzero]) if bool((g[nonzero] != 0).all()) else None
                if ratio is not None and torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-4) \
                        and abs(float(ratio[0]) - 1) > 1e-3 and same(got * float(ratio[0]), expected):
                    return TestFailure("{call} is the right sum of each window divided by the wrong number: every "
                                       "value is {factor:.4g} times too large. The mean of a (p_h, p_w) window "
                                       "divides its sum by p_h * p_w (here {count}), whatever the stride.",
                                       call=call, factor=1 / float(ratio[0]), count=k[0] * k[1],
                                       mistake="pool2d.avg_wrong_count")
    return None


def compare(ctx, name, args, mode, *, first=False, expected=None, oracle=None, shrink=None):
    """ctx.compare on the learner's `name`(*args, mode=mode), naming a known mistake where one explains a failure."""
    try:
        return ctx.compare(name, *args, mode=mode, shrink=shrink, expected=expected, oracle=oracle)
    except TestFailure as failure:
        if failure.code == "shape_mismatch":
            got = ast.literal_eval(failure.params["got_shape"])
            want = ast.literal_eval(failure.params["expected_shape"])
            if off_by_one(got, want):
                explain = size_off_by_one if first else shape_off_by_one_again
                raise explain(failure.params["call"], got, want) from None
            raise
        fn = ctx.fn(name)
        got = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args], mode=mode)
        X = args[0]
        k, s, p = (args[1], 1, 0) if name == "pool2d" else args[1:4]
        known = diagnose(fn.describe(*args, mode=mode), got, X, k, s, p, mode)
        if known is not None:
            raise known from None
        raise


@grader.test("the book's example: X = 0..8 as 3x3, a 2x2 window", points=1)  # EXAMPLE, spelled out for the catalog
def book_example(ctx):
    """X = 0..8 as a 3x3 grid: max pooling gives [[4, 5], [7, 8]], average pooling [[2, 3], [5, 6]]."""
    X = torch.arange(9.0, device=ctx.device).reshape(3, 3)
    for mode, values in (('max', [[4.0, 5.0], [7.0, 8.0]]), ('avg', [[2.0, 3.0], [5.0, 6.0]])):
        compare(ctx, "pool2d", (X, (2, 2)), mode, first=True,
                expected=torch.tensor(values, device=ctx.device), oracle=oracle_pool2d)


@grader.test("non-square windows: (1, 2), (2, 1), (2, 3)", points=1, hidden=True)
def non_square(ctx):
    X = ints((5, 6), ctx.device, 1)
    for window in [(1, 2), (2, 1), (2, 3)]:
        for mode in ('max', 'avg'):
            compare(ctx, "pool2d", (X, window), mode, oracle=oracle_pool2d, shrink=small_cases(ctx.device))


def indented(t):
    return "\n".join("    " + line for line in fmt_tensor(t).splitlines())


@grader.test("gradients: max goes to the arg-max, average spreads evenly", points=2)
def gradients(ctx):
    """The gradient of (Y · G).sum(), Y = pool2d(X, (2, 3), mode), with respect to X, against F.max_pool2d's and
    F.avg_pool2d's. X holds distinct values, so every window has one arg-max: in max mode each window's G goes to its
    largest element; in avg mode each element of a window gets G / 6."""
    fn = ctx.fn("pool2d")
    X0 = distinct((4, 5), ctx.device, 3)
    G = ints((3, 3), ctx.device, 4)
    for mode in ('max', 'avg'):
        X = X0.clone().requires_grad_(True)
        Y = fn(X, (2, 3), mode=mode)
        what = fn.describe(X0, (2, 3), mode=mode)
        check_type(Y, what)
        if not Y.requires_grad:
            raise TestFailure("{call} returned a tensor that autograd cannot differentiate (requires_grad=False). Keep "
                              "every step a tensor operation on X: .item(), .numpy(), torch.tensor(...) or .detach() "
                              "cut the graph.", call=what, mistake="pool2d.not_differentiable")
        if Y.shape != (3, 3):
            raise TestFailure("{call} returned shape {shape}, expected {expected}.", call=what,
                              shape=str(tuple(Y.shape)), expected="(3, 3)")
        (got,) = torch.autograd.grad((Y * G).sum(), X, allow_unused=True)
        Xo = X0.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad((oracle_pool2d(Xo, (2, 3), mode) * G).sum(), Xo)
        if got is None or not torch.allclose(got.detach().cpu(), expected.cpu(), rtol=1e-4, atol=1e-5):
            rule = (N_("Max pooling passes each window's G to the window's largest element only.") if mode == 'max'
                    else N_("Average pooling gives each element of a window that window's G divided by 6."))
            raise TestFailure("the gradient of (Y · G).sum() with respect to X, where Y = {call}, is wrong: autograd "
                              "gives\n{got}\n  but it should be\n{expected}\n  Compute Y from X with "
                              "differentiable tensor operations only.", call=what,
                              got=indented(got) if got is not None else "    None", expected=indented(expected)
                              ).with_part(TestFailure(rule))


@grader.test("both functions keep X's dtype and device (float64 in, float64 out)", points=1)
def keeps_dtype_and_device(ctx):
    """float64 inputs give float64 results on X's device, for pool2d and pool2d_strided. On a CPU run the device is
    also checked with tensors on PyTorch's "meta" device (a stand-in for a GPU)."""
    X = ints((4, 5), ctx.device, 5).double() + 0.5
    for name, args in (("pool2d", (X, (2, 2))), ("pool2d_strided", (X, 2, 2, 1))):
        fn = ctx.fn(name)
        got = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args], mode='avg')
        what = fn.describe(*args, mode='avg')
        check_type(got, what)
        probe = None
        if got.device == X.device:
            try:
                ctx.device_probe(name, lambda dev, args=args: (torch.ones(4, 5, device=dev),) + args[1:], mode='avg')
            except TestFailure as failure:
                if failure.code not in ("device_probe_mixed", "device_probe_wrong"):
                    raise
                probe = failure
        if name == "pool2d" and got.dtype == torch.get_default_dtype() and (got.device != X.device or probe):
            book = TestFailure("{call} returned {got}: your result is made as float32 on the CPU whatever X is. The "
                               "book's pool2d does this too: it creates Y with torch.zeros(shape), which takes "
                               "PyTorch's defaults. float64 inputs then come back rounded to float32, and on a GPU "
                               "the result lands on the CPU. Create Y with torch.zeros(shape, dtype=X.dtype, "
                               "device=X.device).", call=what, got=describe(got),
                               mistake="pool2d.book_default_dtype_device")
            if probe is not None:
                book.with_part(probe_detail(probe))
            raise book
        if got.dtype != X.dtype:
            raise TestFailure("{call} returned {got}, but X is float64: the result must keep X's dtype (create new "
                              "tensors with dtype=X.dtype).", call=what, got=describe(got))
        if got.device != X.device:
            raise TestFailure("{call} returned a tensor on {got_device}, but X is on {device}. Create new tensors "
                              "with device=X.device and avoid .cpu() or .numpy().", call=what,
                              got_device=str(got.device), device=str(X.device))
        if probe is not None:
            raise probe


@grader.test("pool2d_strided max mode matches nn.MaxPool2d (stride, padding with -inf)", points=1, hidden=True)
def strided_max(ctx):
    """Negative inputs, so a window that overlaps the padding shows whether padding can win the maximum."""
    X = -ints((6, 7), ctx.device, 6).abs() - 1
    for k, s, p in [(2, 2, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 1)), ((3, 2), (3, 1), (1, 0))]:
        compare(ctx, "pool2d_strided", (X, k, s, p), 'max', oracle=oracle_strided,
                shrink=small_strided_cases(ctx.device))


@grader.test("pool2d_strided avg mode matches nn.AvgPool2d (padded zeros counted)", points=1, hidden=True)
def strided_avg(ctx):
    X = ints((6, 7), ctx.device, 7) + 10
    for k, s, p in [(3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), (1, 1)), ((3, 2), (3, 1), (1, 0))]:
        compare(ctx, "pool2d_strided", (X, k, s, p), 'avg', oracle=oracle_strided,
                shrink=small_strided_cases(ctx.device))


@grader.test("pool2d_strided edge cases: a window as large as the padded input, a stride larger than the window",
             points=1, hidden=True)
def strided_edges(ctx):
    X = ints((7, 7), ctx.device, 8) - 9
    for k, s, p in [(3, 5, 1), ((4, 4), 1, 2), (2, 3, 0), (1, 2, 0), ((7, 7), 7, 0)]:
        args = (X[:3, :4], k, s, p) if k == (4, 4) else ((X[:3, :3], k, s, p) if k == 3 else (X, k, s, p))
        for mode in ('max', 'avg'):
            compare(ctx, "pool2d_strided", args, mode, oracle=oracle_strided)


@grader.test("X is left unchanged", points=1, hidden=True)
def no_in_place(ctx):
    X = ints((5, 6), ctx.device, 9)
    for name, args in (("pool2d", (X, (2, 3))), ("pool2d_strided", (X, 3, 2, 1))):
        fn = ctx.fn(name)
        for mode in ('max', 'avg'):
            fn(*args, mode=mode)
            after = fn.mutated(X)
            if after is not None:
                raise TestFailure("{call} changed its input X: after the call X is\n{after}\n  Pooling returns a new "
                                  "tensor and leaves X as it was: write X = X / n instead of X /= n, and never assign "
                                  "into X or a slice of it (a slice is a view that shares X's memory).",
                                  call=fn.describe(*args, mode=mode), after=indented(after),
                                  mistake="pool2d.in_place_write")


class PoolNet(torch.nn.Module):
    """Conv(1→8, 5x5, pad 2)-ReLU-pool-Conv(8→16, 5x5, pad 2)-ReLU-pool-Linear(16·4·4→10) on 16x16 images, every pool the learner's
    2x2 max pooling with stride 2. All the feature maps of a minibatch are stacked into one tall 2-D tensor
    (N·C·H, W) and pooled in one call: 2x2 windows with stride 2 never cross from one map into the next (H is even),
    so this is exactly per-map pooling."""

    def __init__(self, pool):
        super().__init__()
        self.pool = pool
        self.conv1 = torch.nn.Conv2d(1, 8, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(8, 16, 5, padding=2)
        self.fc = torch.nn.Linear(16 * 4 * 4, 10)

    def pooled(self, H):
        n, c, h, w = H.shape
        return self.pool(H.reshape(n * c * h, w)).reshape(n, c, h // 2, w // 2)

    def forward(self, X):
        H = self.pooled(torch.relu(self.conv1(X)))
        H = self.pooled(torch.relu(self.conv2(H)))
        return self.fc(H.flatten(1))


# Threshold 0.75, measured over seeds 0..9 (2 epochs of 2000 images, batch 50, Adam lr 0.01; ~3 s on this CPU):
# the reference reaches 0.884 to 0.994 (seed 0: 0.942); a pooling that cuts the gradient (pool2d.not_differentiable,
# also named before training) leaves only the last layer learning: 0.31 to 0.43; one that mixes up which rows belong
# to which window scores chance (0.09, seeds 0..2). A pooling that ignores mode and averages instead still learns
# (0.58 to 0.90): the value tests, not this smoke-check, catch pool2d.mode_ignored.
@grader.smoke("a small CNN pooling with your pool2d_strided learns the shape images", points=3,
              metric="test accuracy", goal="min", threshold=0.75, budget=20, plot="accuracy", hidden=True)
def cnn_learns(ctx):
    """Two convolutions, each followed by your 2x2 max pooling with stride 2, trained with Adam on the generated shape
    images (a shape at a random position), evaluated on fresh images."""
    fn = ctx.fn("pool2d_strided")
    checked = []

    def pool(H):
        Y = fn(H, 2, 2, 0, mode='max')
        if not checked:
            what = fn.describe(H, 2, 2, 0, mode='max')
            check_type(Y, what)
            expected = F.max_pool2d(H.detach()[None, None], 2, 2)[0, 0]
            if tuple(Y.shape) != tuple(expected.shape):
                if off_by_one(Y.shape, expected.shape):
                    raise shape_off_by_one_again(what, Y.shape, expected.shape)
                raise TestFailure("{call} returned shape {shape}, expected {expected}.", call=what,
                                  shape=str(tuple(Y.shape)), expected=str(tuple(expected.shape)))
            if not Y.requires_grad:
                raise TestFailure("the convolutions cannot learn: {call} returned a tensor that autograd cannot "
                                  "differentiate, so no gradient reaches the layers below the pooling.", call=what,
                                  mistake="pool2d.not_differentiable")
            checked.append(True)
        return Y

    gen = ctx.seed(0)
    X_train, y_train = shape_images(2000, size=16, seed=1, device=ctx.device)
    X_test, y_test = shape_images(500, size=16, seed=2, device=ctx.device)
    net = PoolNet(pool).to(ctx.device)
    del gen
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    step = 0
    accuracy = 0.0
    for epoch in range(2):
        for X, y in batches(X_train, y_train, 50, seed=epoch):
            loss = F.cross_entropy(net(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 20 == 0:
                with torch.no_grad():
                    accuracy = (net(X_test).argmax(1) == y_test).float().mean().item()
                ctx.step(step, loss=loss.item(), accuracy=accuracy)
            else:
                ctx.step(step, loss=loss.item())
    with torch.no_grad():
        accuracy = (net(X_test).argmax(1) == y_test).float().mean().item()
    ctx.step(step, accuracy=accuracy)
    return accuracy
