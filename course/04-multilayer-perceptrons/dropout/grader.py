"""Tests and smoke-check for exercise dropout (d2l 4.5); none of them needs the reference solution.

Dropout is random, so most tests are statistical: they run on ~100,000
elements and accept anything within 5 standard deviations of the expected
value. The engine seeds torch before every test, so each verdict is
reproducible.
"""

import math

import torch

from tutor.grading import N_, Grader, TestFailure, check_tensor, check_type, describe, probe_detail
from tutor.grading.harness import LearnerError
from tutor.grading.train import Adam

grader = Grader("dropout")


def positive_values(shape, device, seed, dtype=torch.float32):
    """Values in [0.5, 1.5): never zero, so a zero in the result can only come from dropping."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5).to(dtype=dtype, device=device)


def check_like(got, X, what):
    """The result must be a tensor with X's shape, dtype and device."""
    check_type(got, what)
    if tuple(got.shape) != tuple(X.shape):
        raise TestFailure("{call} returned shape {shape}; expected X's shape {expected}. Dropout zeroes elements, it "
                          "never changes the shape: build the mask with X.shape.", call=what,
                          shape=str(tuple(got.shape)), expected=str(tuple(X.shape)))
    if got.dtype != X.dtype:
        raise TestFailure("{call} returned dtype {dtype}; expected X's dtype {expected}. Turn the boolean mask into "
                          "X's dtype with .to(X.dtype) (or .type_as(X)) before multiplying.", call=what,
                          dtype=str(got.dtype), expected=str(X.dtype))
    if got.device != X.device:
        raise TestFailure("{call} returned a tensor on {device}, but X is on {expected}. Create the mask with "
                          "device=X.device (or torch.rand_like(X)).", call=what, device=str(got.device),
                          expected=str(X.device))


def run(ctx, X, p):
    """Call the learner's dropout_layer on a copy of X and check the result's type, shape, dtype and device."""
    fn = ctx.fn("dropout_layer")
    got = fn(X.clone(), p)
    check_like(got, X, fn.describe(X, p))
    return got.detach()


def enough_of_both(got, what, p):
    """Independence can only be judged when some elements are kept and some dropped; any fraction in between will
    do (a wrong fraction is the business of the test 'drops about a fraction `dropout` of the elements')."""
    frac = float((got == 0).double().mean())
    if not 0.05 <= frac <= 0.95:
        raise TestFailure("{call} zeroed a fraction {frac:.4f} of the elements, far from {p}. Fix the test 'drops "
                          "about a fraction `dropout` of the elements' first; this test needs it.", call=what,
                          frac=frac, p=p)


def normal_cdf(x):
    """The probability that a standard normal number is below x: the fraction a torch.randn mask drops."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def correlation(a, b):
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    a, b = a - a.mean(), b - b.mean()
    denom = float(a.norm() * b.norm())
    return float((a * b).sum()) / denom if denom > 0 else 1.0


BOOK_MASK = N_("{call} makes a tensor on the CPU whatever X's device is, most likely its mask. The book's "
              "dropout_layer does this too: its mask is torch.rand(X.shape), drawn on the CPU. That works while X is "
              "on the CPU, but on a GPU mask * X multiplies a CPU tensor by a GPU tensor, and PyTorch stops with "
              "'Expected all tensors to be on the same device'. Draw the mask on X's device: torch.rand(X.shape, "
              "device=X.device), or torch.rand_like(X).")


@grader.test("same shape, dtype and device as X", points=1)
def same_shape_dtype_device(ctx):
    """float32 and float64 inputs, 2-D and 3-D, keep their shape, dtype and device. On a CPU run the device is also
    checked with X on PyTorch's "meta" device (a stand-in for a GPU): a mask made on the CPU, as the book's
    dropout_layer makes it, fails here and only here."""
    fn = ctx.fn("dropout_layer")
    cases = [((4, 5), torch.float32, 0.5), ((2, 3, 4), torch.float64, 0.3),
             ((6, 1, 3), torch.float32, 0.7), ((3, 8), torch.float64, 0.5)]
    for i, (shape, dtype, p) in enumerate(cases):
        X = positive_values(shape, ctx.device, 10 + i, dtype)
        try:
            run(ctx, X, p)
        except LearnerError as err:  # a GPU run: the CPU mask meets X on the GPU
            text = err.remote.message if err.remote is not None else ""
            if "same device" in text or "Expected all tensors to be on" in text:
                raise TestFailure(BOOK_MASK, call=fn.describe(X, p), mistake="dropout.book_mask_on_cpu",
                                  parts=[err.failure]) from None
            raise
    try:
        ctx.device_probe("dropout_layer", lambda dev: (torch.ones(3, 4, device=dev), 0.5))
    except TestFailure as failure:
        if failure.code not in ("device_probe_mixed", "device_probe_wrong"):
            raise
        raise TestFailure(BOOK_MASK, call=fn.describe(torch.ones(3, 4), 0.5), mistake="dropout.book_mask_on_cpu",
                          parts=[probe_detail(failure)]) from None


@grader.test("drops about a fraction `dropout` of the elements", points=2)
def drop_fraction(ctx):
    """On 100,000 elements the zeroed fraction lies within 5 binomial standard deviations of p."""
    fn = ctx.fn("dropout_layer")
    X = positive_values((200, 500), ctx.device, 1)
    n = X.numel()
    for p in (0.2, 0.5, 0.8):
        got = run(ctx, X, p)
        frac = float((got == 0).double().mean())
        bound = 5 * math.sqrt(p * (1 - p) / n)
        if abs(frac - p) <= bound:
            continue
        params = dict(call=fn.describe(X, p), frac=frac, p=p, bound=bound)
        if abs(frac - (1 - p)) <= bound:
            raise TestFailure("{call} (X has no zeros) zeroed a fraction {frac:.4f} of the elements; expected {p} ± "
                              "{bound:.4f} (5 binomial standard deviations). That is about 1 - {p}: your mask keeps "
                              "an element with probability `dropout` instead of dropping it with that probability. "
                              "Flip the comparison: an element survives when its uniform random number is >= dropout "
                              "(or > dropout).", mistake="dropout.keep_probability_swapped", **params)
        if abs(frac - normal_cdf(p)) <= bound:
            raise TestFailure("{call} (X has no zeros) zeroed a fraction {frac:.4f} of the elements; expected {p} ± "
                              "{bound:.4f} (5 binomial standard deviations). That is about Φ({p}) = {phi:.3f}, the "
                              "probability that a standard NORMAL number is below {p}: your mask is drawn with "
                              "torch.randn. Draw it with torch.rand (uniform in [0, 1)), whose numbers are below "
                              "`dropout` with probability exactly `dropout`.", mistake="dropout.normal_mask",
                              phi=normal_cdf(p), **params)
        if frac == 0.0:
            raise TestFailure("{call} (X has no zeros) zeroed a fraction {frac:.4f} of the elements; expected {p} ± "
                              "{bound:.4f} (5 binomial standard deviations). Nothing was zeroed: multiply X by a "
                              "mask of zeros and ones.", **params)
        if frac == 1.0:
            raise TestFailure("{call} (X has no zeros) zeroed a fraction {frac:.4f} of the elements; expected {p} ± "
                              "{bound:.4f} (5 binomial standard deviations). Everything was zeroed: only "
                              "dropout == 1 should do that.", **params)
        raise TestFailure("{call} (X has no zeros) zeroed a fraction {frac:.4f} of the elements; expected {p} ± "
                          "{bound:.4f} (5 binomial standard deviations). Compare torch.rand(X.shape, "
                          "device=X.device), uniform in [0, 1), with `dropout`: each number is below `dropout` with "
                          "probability exactly `dropout`. A mask with fewer random numbers than X has elements (one "
                          "per row or per column) also makes the fraction stray: give the mask X's full shape.",
                          **params)


@grader.test("survivors are scaled by 1 / (1 - dropout) and the mean is preserved", points=2, hidden=True)
def survivors_scaled(ctx):
    """Every nonzero output equals X / (1 - p), and which elements survive does not depend on their values: the
    output's mean stays within 5 standard errors of what the kept fraction gives (X's mean when that fraction is
    1 - p; the fraction itself is the business of the test 'drops about a fraction `dropout` of the elements')."""
    fn = ctx.fn("dropout_layer")
    X = positive_values((200, 500), ctx.device, 2)
    n = X.numel()
    for p in (0.2, 0.5, 0.8):
        got = run(ctx, X, p)
        what = fn.describe(X, p)
        kept = got != 0
        if not bool(kept.any()):
            raise TestFailure("{call} returned all zeros; about {keep:.0%} of the elements should survive.",
                              call=what, keep=1 - p)
        g, x = got[kept].double(), X[kept].double()
        expected = x / (1 - p)
        if not torch.allclose(g, expected, rtol=1e-5, atol=1e-6):
            i = int(torch.nonzero(~torch.isclose(g, expected, rtol=1e-5, atol=1e-6))[0, 0])
            params = dict(call=what, x=float(x[i]), got=float(g[i]), p=p, expected=float(expected[i]))
            if torch.allclose(g, x, rtol=1e-5, atol=1e-6):
                raise TestFailure("{call} kept an element whose value in X is {x:.6g} as {got:.6g}; expected {x:.6g} / "
                                  "(1 - {p}) = {expected:.6g}. The survivors are not scaled at all: divide them by "
                                  "1 - dropout = {keep:g} so the expected value of every element stays X's value.",
                                  keep=1 - p, mistake="dropout.not_scaled", **params)
            if torch.allclose(g, x * (1 - p), rtol=1e-5, atol=1e-6):
                raise TestFailure("{call} kept an element whose value in X is {x:.6g} as {got:.6g}; expected {x:.6g} / "
                                  "(1 - {p}) = {expected:.6g}. The survivors are multiplied by 1 - dropout; they must "
                                  "be divided by it.", mistake="dropout.multiplied_not_divided", **params)
            if torch.allclose(g, x / p, rtol=1e-5, atol=1e-6):
                raise TestFailure("{call} kept an element whose value in X is {x:.6g} as {got:.6g}; expected {x:.6g} / "
                                  "(1 - {p}) = {expected:.6g}. The survivors are divided by dropout; divide them by "
                                  "1 - dropout instead.", mistake="dropout.divided_by_dropout", **params)
            raise TestFailure("{call} kept an element whose value in X is {x:.6g} as {got:.6g}; expected {x:.6g} / "
                              "(1 - {p}) = {expected:.6g}. Each survivor must be exactly X[i] / (1 - dropout).",
                              **params)
        kept_frac = float(kept.double().mean())
        mean_x = float(X.double().mean())
        mean_got = float(got.double().mean())
        unbiased = mean_x * kept_frac / (1 - p)
        se = math.sqrt(float((X.double() ** 2).mean()) * p / (1 - p) / n)
        if abs(mean_got - unbiased) > 5 * se:
            raise TestFailure("{call}: the mean of the result is {mean:.4f}, but a mask that keeps {kept:.1%} of the "
                              "elements regardless of their values gives {expected:.4f} ± {bound:.4f} (5 standard "
                              "errors; X's mean is {mean_x:.4f}). Whether an element survives must not depend on its "
                              "value: compare a uniform random number with `dropout`, never X itself.", call=what,
                              mean=mean_got, kept=kept_frac, expected=unbiased, bound=5 * se, mean_x=mean_x,
                              mistake="dropout.mask_depends_on_x")


@grader.test("each element is dropped independently", points=1, hidden=True)
def independent(ctx):
    """The mask has X's full shape, neighbours are uncorrelated, and two calls draw different masks."""
    fn = ctx.fn("dropout_layer")
    p = 0.5
    X = torch.ones(400, 250, device=ctx.device)
    what = fn.describe(X, p)
    got = run(ctx, X, p)
    enough_of_both(got, what, p)
    keep = got != 0
    whole_rows = float((keep.all(dim=1) | (~keep).all(dim=1)).double().mean())
    if whole_rows > 0.5:
        raise TestFailure("{call} kept or dropped whole rows at once ({share:.0%} of the rows are all kept or all "
                          "zero). That drops entire examples instead of individual units: draw one random number per "
                          "element, with a mask of X's full shape (torch.rand(X.shape, ...)), not of shape (batch, 1).",
                          call=what, share=whole_rows, mistake="dropout.mask_per_row")
    same_as_first = float((keep == keep[:1]).all(dim=1).double().mean())
    if same_as_first > 0.5:
        raise TestFailure("{call} used the same mask for every row ({share:.0%} of the rows match row 0): the mask "
                          "must have X's full shape, not (1, features) shared across the batch.", call=what,
                          share=same_as_first, mistake="dropout.mask_shared_across_rows")
    for X in (torch.ones(400, 250, device=ctx.device), torch.ones(40, 50, 50, device=ctx.device)):
        what = fn.describe(X, p)
        keep = run(ctx, X, p) != 0
        for dim in range(X.dim()):
            size = X.shape[dim]
            r = correlation(keep.narrow(dim, 0, size - 1), keep.narrow(dim, 1, size - 1))
            if abs(r) >= 0.05:
                raise TestFailure("{call}: whether an element is kept is correlated with whether its neighbour along "
                                  "dimension {dim} is kept (correlation {r:.3f}; independent coin flips give about 0, "
                                  "we accept |correlation| < 0.05). Draw one independent random number per element: "
                                  "the mask must have X's full shape.", call=what, dim=dim, r=r,
                                  mistake="dropout.mask_not_full_shape")
    X = torch.ones(200, 500, device=ctx.device)
    first = run(ctx, X, p) != 0
    second = run(ctx, X, p) != 0
    if torch.equal(first, second):
        raise TestFailure("two consecutive calls {call} dropped exactly the same elements. Every call must draw a "
                          "fresh mask: do not call torch.manual_seed (or build a fixed generator) inside your "
                          "function.", call=fn.describe(X, p), mistake="dropout.fixed_seed")
    r = correlation(first, second)
    if abs(r) >= 0.05:
        raise TestFailure("two consecutive calls {call} drop nearly the same elements (correlation {r:.3f} between "
                          "their masks). Every call must draw a fresh, independent mask.", call=fn.describe(X, p), r=r)


@grader.test("dropout = 0 keeps X and dropout = 1 gives zeros without NaN", points=1)
def edge_probabilities(ctx):
    fn = ctx.fn("dropout_layer")
    gen = torch.Generator().manual_seed(5)
    for shape, dtype in (((5, 7), torch.float32), ((3, 4, 2), torch.float64)):
        X = torch.randn(shape, generator=gen, dtype=dtype).to(ctx.device)
        got = fn(X.clone(), 0.0)
        what = fn.describe(X, 0.0)
        check_type(got, what)
        if got.shape == X.shape and got.numel() and bool((got == 0).all()):
            raise TestFailure("{call} returned all zeros; with dropout = 0 nothing may be dropped, so the result is X "
                              "itself. Does your mask keep an element with probability `dropout` instead of "
                              "1 - dropout? An element survives when its uniform random number is >= dropout.",
                              call=what)
        try:
            check_tensor(got, X, what)
        except TestFailure as failure:
            raise failure.with_part(TestFailure("  With dropout = 0 nothing is dropped: the result must be X's "
                                                "values unchanged.")) from None
        got = fn(X.clone(), 1.0)
        what = fn.describe(X, 1.0)
        check_type(got, what)
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise TestFailure("{call} returned NaN or inf values: dividing by 1 - dropout = 0 does that. Handle "
                              "dropout == 1 before dividing: return torch.zeros_like(X).", call=what,
                              mistake="dropout.divide_by_zero")
        try:
            check_tensor(got, torch.zeros_like(X), what)
        except TestFailure as failure:
            raise failure.with_part(TestFailure("  With dropout = 1 everything is dropped: the result must be all "
                                                "zeros.")) from None


@grader.test("a probability outside [0, 1] raises an error", points=1, hidden=True)
def out_of_range(ctx):
    """dropout = -0.1 and dropout = 1.5 must raise (a ValueError or a failing assert)."""
    fn = ctx.fn("dropout_layer")
    X = torch.ones(3, 4, device=ctx.device)
    run(ctx, X, 0.5)  # a valid probability must work first
    for p in (-0.1, 1.5):
        try:
            got = fn.__wrapped__(X.clone(), p)
        except Exception:  # noqa: BLE001 - any exception is the expected outcome
            continue
        raise TestFailure("{call} returned {got} instead of raising an error: {p} is not a probability. Check it "
                          "first, e.g. `if not 0 <= dropout <= 1: raise ValueError(...)` (or "
                          "`assert 0 <= dropout <= 1`).", call=fn.describe(X, p), got=describe(got), p=p,
                          mistake="dropout.no_range_check")


@grader.test("X itself is left unchanged", points=1, hidden=True)
def input_unchanged(ctx):
    fn = ctx.fn("dropout_layer")
    gen = torch.Generator().manual_seed(7)
    for p in (0.5, 1.0):
        X = torch.randn(50, 60, generator=gen).to(ctx.device)
        before = X.clone()
        got = fn(X, p)
        what = fn.describe(before, p)
        check_type(got, what)
        after = fn.mutated(X)  # X's value in your process after the call, if your code changed it
        if after is not None:
            changed = int((after != before).sum()) if after.shape == before.shape else X.numel()
            raise TestFailure("{call} changed X itself: {changed} of {numel} elements of X differ after the call. "
                              "The caller's tensor must stay as it was (and autograd needs it): build a new tensor, "
                              "e.g. mask * X / (1 - dropout), instead of X *= ..., X[...] = 0 or X.mul_(...).",
                              call=what, changed=changed, numel=X.numel(), mistake="dropout.in_place")


# -- smoke-check --------------------------------------------------------------------------------------------------

def rings(n, gen):
    """2-D points from a standard normal, labelled by radius band: three equally likely classes."""
    X = torch.randn(n, 2, generator=gen)
    r = X.norm(dim=1)
    inner, outer = math.sqrt(-2 * math.log(2 / 3)), math.sqrt(-2 * math.log(1 / 3))
    y = (r > inner).long() + (r > outer).long()
    return X, y


class DropoutMLP(torch.nn.Module):
    """Linear-ReLU-dropout-Linear-ReLU-dropout-Linear; dropout (the learner's) only in training mode."""

    def __init__(self, dropout_fn, hidden=128, p1=0.2, p2=0.5):
        super().__init__()
        self.dropout_fn, self.p1, self.p2 = dropout_fn, p1, p2
        self.lin1 = torch.nn.Linear(2, hidden)
        self.lin2 = torch.nn.Linear(hidden, hidden)
        self.lin3 = torch.nn.Linear(hidden, 3)

    def forward(self, X):
        H = torch.relu(self.lin1(X))
        if self.training:
            H = self.dropout_fn(H, self.p1)
        H = torch.relu(self.lin2(H))
        if self.training:
            H = self.dropout_fn(H, self.p2)
        return self.lin3(H)


@grader.smoke("an MLP with your dropout learns a synthetic classification task", points=3,
              metric="test accuracy", goal="min", threshold=0.85, budget=15, plot="accuracy", hidden=True)
def mlp_learns(ctx):
    """The course's MLP (dropout 0.2 after the first hidden layer, 0.5 after the second), trained with Adam on
    points labelled by which of three rings they fall in, evaluated without dropout on fresh points."""
    fn = ctx.fn("dropout_layer")
    gen = ctx.seed(0)
    X_train, y_train = rings(2000, gen)
    X_test, y_test = rings(2000, gen)
    X_train, y_train = X_train.to(ctx.device), y_train.to(ctx.device)
    X_test, y_test = X_test.to(ctx.device), y_test.to(ctx.device)

    def checked_dropout(H, p):
        out = fn(H, p)
        if not checked:
            check_like(out, H, fn.describe(H, p))
            if bool((out == 0).all()):
                raise TestFailure("{call} returned all zeros during training, so the network cannot learn: with "
                                  "dropout = {p} about {keep:.0%} of the units must survive.", call=fn.describe(H, p),
                                  p=p, keep=1 - p)
            if H.requires_grad and not out.requires_grad:
                raise TestFailure("{call} returned a tensor that autograd cannot differentiate: the layers below the "
                                  "dropout could not learn. Keep it a tensor expression in X (no .detach(), .numpy() "
                                  "or torch.tensor(...) on X).", call=fn.describe(H, p),
                                  mistake="dropout.not_differentiable")
        return out

    checked = False
    net = DropoutMLP(checked_dropout).to(ctx.device)
    optimizer = Adam(net.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()

    def test_accuracy():
        net.eval()
        with torch.no_grad():
            acc = (net(X_test).argmax(dim=1) == y_test).double().mean().item()
        net.train()
        return acc

    accuracy = test_accuracy()
    for step in range(1, 401):
        idx = torch.randint(0, X_train.shape[0], (128,), generator=gen).to(ctx.device)
        loss = loss_fn(net(X_train[idx]), y_train[idx])
        checked = True
        optimizer.zero_grad()
        try:
            loss.backward()
        except RuntimeError as exc:
            raise TestFailure("backpropagating through the MLP failed: {error}. This happens when dropout_layer "
                              "modifies its input in place (autograd still needs it): return a new tensor instead.",
                              error=(str(exc).splitlines() or [""])[0][:300], mistake="dropout.in_place") from None
        optimizer.step()
        if step % 25 == 0:
            accuracy = test_accuracy()
        ctx.step(step, loss=loss.item(), accuracy=accuracy)
    return accuracy
