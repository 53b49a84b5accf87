"""Tests and smoke-check for exercise softmax_regression (d2l 3.2).

The visible tests (also in the student build) check values written in the test or computed by an oracle:
torch.softmax (forbidden only in the learner's code) and the closed-form gradient softmax(O) − one_hot(y). The
hidden ones may compare with the reference.
"""

import math

import torch

from tutor.grading import N_, Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.harness import LearnerError

grader = Grader("softmax_regression")

SOFTMAX_VALUES = "softmax normalises each row: exp(X) divided by its row's sum"  # the first test's name
CE_EXAMPLE = "cross_entropy of the book's example is [2.3026, 0.6931]"


def close(a, b, tol=1e-5):
    a, b = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
    return a.shape == b.shape and bool(torch.isfinite(a).all()) and torch.allclose(a, b, rtol=tol, atol=tol)


def indented(t):
    return "\n".join("    " + line for line in fmt_tensor(t).splitlines())


def size_mismatch(err: LearnerError) -> bool:
    text = err.remote.message if err.remote is not None else ""
    return "must match the size" in text


# -- softmax ------------------------------------------------------------------------------------------------------

KEEPDIM = N_("{call} failed: the row sums could not be lined up with the rows of exp(X). exp(X) has shape (n, q); "
             "E.sum(dim=1) has shape (n,), which broadcasting lines up with the q COLUMNS, not the n rows. Keep the "
             "summed dimension: E.sum(dim=1, keepdim=True) has shape (n, 1) and divides each row by its own sum.")


def call_softmax(ctx, X):
    """The learner's softmax(X) on a copy of X, a tensor checked to be one; a failed broadcast of the row sums is
    named as the missing keepdim."""
    fn = ctx.fn("softmax")
    what = fn.describe(X)
    try:
        got = fn(X.clone())
    except LearnerError as err:
        if size_mismatch(err):
            raise TestFailure(KEEPDIM, call=what, mistake="softmax_regression.softmax_sum_without_keepdim",
                              parts=[err.failure]) from None
        raise
    check_type(got, what)
    return got, what


def diagnose_softmax(X, got, what):
    """A known-mistake verdict when the learner's softmax(X) is one of the typical wrong normalisations."""
    X = X.double()
    g = got.detach()
    # a learner may shift X before exponentiating (by each row's, each column's or the overall maximum): the
    # wrong normalisations are tried on each of these
    for shift in (X.max(dim=1, keepdim=True).values, X.max(dim=0, keepdim=True).values, X.max()):
        known = wrong_normalisation(X, torch.exp(X - shift), g, what)
        if known is not None:
            return known
    return None


def wrong_normalisation(X, E, g, what):
    if close(g, E / E.sum(dim=0, keepdim=True)):
        return TestFailure("{call} normalised each COLUMN: its columns sum to 1, its rows do not. A row of X holds "
                           "the q scores of one example, and softmax turns them into that example's q "
                           "probabilities: sum over the classes, dim=1 (E.sum(dim=1, keepdim=True)).",
                           call=what, mistake="softmax_regression.softmax_wrong_dim")
    if close(g, E / E.sum()):
        return TestFailure("{call} divided exp(X) by the sum over the WHOLE tensor: all n·q values sum to 1 "
                           "together, so each row sums to less than 1. Each example needs its own normaliser: "
                           "divide by E.sum(dim=1, keepdim=True), one sum per row.",
                           call=what, mistake="softmax_regression.softmax_whole_tensor")
    if X.shape[0] == X.shape[1] and close(g, E / E.sum(dim=1)[None, :]):
        return TestFailure("{call} divided column j of exp(X) by the sum of ROW j. exp(X) has shape (n, q); "
                           "E.sum(dim=1) has shape (n,), which broadcasting lines up with the q COLUMNS, not the n "
                           "rows (with n = q nothing complains). Keep the summed dimension: "
                           "E.sum(dim=1, keepdim=True) has shape (n, 1) and divides each row by its own sum.",
                           call=what, mistake="softmax_regression.softmax_sum_without_keepdim")
    return None


@grader.test("softmax normalises each row: exp(X) divided by its row's sum", points=1)  # SOFTMAX_VALUES
def softmax_values(ctx):
    """Three batches of small logits ((2, 5), (4, 4), (5, 3)) against torch.softmax(X, dim=1): every row sums to 1."""
    gen = torch.Generator().manual_seed(31)
    for shape in ((2, 5), (4, 4), (5, 3)):
        X = torch.randn(shape, generator=gen).to(ctx.device)
        got, what = call_softmax(ctx, X)
        if got.shape == X.shape and got.is_floating_point():
            known = diagnose_softmax(X, got, what)
            if known is not None:
                raise known
        check_tensor(got, torch.softmax(X, dim=1), what)


@grader.test("softmax keeps X's shape, dtype and device and leaves X unchanged", points=1, hidden=True)
def softmax_keeps(ctx):
    """float64 in, float64 out, on X's device (on a CPU run also checked on PyTorch's "meta" device), and X is not
    modified (no X -= ..., X.exp_())."""
    fn = ctx.fn("softmax")
    gen = torch.Generator().manual_seed(32)
    X = torch.randn((3, 4), generator=gen, dtype=torch.float64).to(ctx.device)
    before = X.clone()
    got = fn(X)
    what = fn.describe(before)
    check_type(got, what)
    if tuple(got.shape) != tuple(X.shape) or got.dtype != X.dtype or got.device != X.device:
        raise TestFailure("{call} returned {got}; expected {expected}: softmax keeps X's shape, dtype and device.",
                          call=what, got=describe(got), expected=describe(X))
    after = fn.mutated(X)
    if after is not None:
        raise TestFailure("{call} changed X itself: after the call X is\n{after}\n  instead of\n{before}\n  The "
                          "caller's logits must stay as they were (autograd needs them too): write "
                          "X - X.max(dim=1, keepdim=True).values and torch.exp(...) into new tensors instead of "
                          "X -= ... or X.exp_().", call=what, after=indented(after), before=indented(before),
                          mistake="softmax_regression.softmax_in_place")
    ctx.device_probe("softmax", lambda dev: (torch.ones(3, 4, device=dev),))


LARGE = torch.tensor([[1000.0, 1001.0], [-1000.0, -1001.0], [0.0, 100.0], [1.0, 2.0]])


@grader.test("softmax of large logits such as [1000, 1001] has no NaN or inf", points=2)
def softmax_large(ctx):
    """In float32, rows [1000, 1001], [-1000, -1001], [0, 100] and [1, 2] against torch.softmax (which is stable):
    [0.2689, 0.7311], [0.7311, 0.2689], [3.7e-44, 1] and [0.2689, 0.7311]."""
    X = LARGE.to(ctx.device)
    got, what = call_softmax(ctx, X)
    expected = torch.softmax(X, dim=1)
    if got.shape == X.shape and got.is_floating_point() and not bool(torch.isfinite(got.detach()).all()):
        small = X - X.max(dim=1, keepdim=True).values  # the same rows, each shifted to a maximum of 0
        on_small, _ = call_softmax(ctx, small)
        if close(on_small, expected):
            raise TestFailure("{call} returned NaN or inf:\n{got}\n  expected\n{expected}\n  exp(1000) overflows "
                              "to inf (float32 holds at most about 3.4e38, that is exp(88.7)) and exp(-1000) "
                              "underflows to 0, so exp(X) / sum becomes inf / inf or 0 / 0 = NaN. The book's "
                              "softmax (d2l-zh 3.6, d2l-en 4.4) computes exp(X) as it is, which is fine for the "
                              "small logits of its examples (your softmax is right on these same rows shifted to "
                              "a maximum of 0); the book then leaves stability to the built-in loss of its concise "
                              "implementation. Here softmax must be stable itself: softmax(X) = softmax(X - c) for "
                              "any c per row, so subtract each row's OWN maximum first, "
                              "X - X.max(dim=1, keepdim=True).values: the largest exponent becomes exp(0) = 1. The "
                              "maximum of the whole tensor is not enough when rows are far apart.",
                              call=what, got=indented(got), expected=indented(expected),
                              mistake="softmax_regression.book_no_max_subtraction")
    check_tensor(got, expected, what)


# -- cross_entropy -------------------------------------------------------------------------------------------------

def check_cross_entropy(ctx, y_hat, y, expected):
    """The learner's cross_entropy(y_hat, y) against `expected` (shape (n,)), with the typical mistakes named."""
    fn = ctx.fn("cross_entropy")
    what = fn.describe(y_hat, y)
    got = fn(y_hat.clone(), y.clone())
    check_type(got, what)
    n = y_hat.shape[0]
    if got.dim() == 0 or (got.numel() == 1 and n > 1):
        raise TestFailure("{call} returned a single number, {got}, instead of one loss per example: expected the "
                          "vector\n{expected}\n  of shape ({n},). Return -log(y_hat[i, y[i]]) for every i and leave "
                          "the mean (or the sum) to the training loop, as the book does: it calls l.sum() or "
                          "l.mean() on your vector, and evaluation code needs the losses one by one.",
                          call=what, got=fmt_tensor(got), expected=indented(expected), n=n,
                          mistake="softmax_regression.cross_entropy_mean")
    if tuple(got.shape) == (n, n) and close(got, -torch.log(y_hat[:, y])):
        raise TestFailure("{call} returned shape {shape}, expected ({n},): y_hat[:, y] picks, for EVERY row, the "
                          "columns of all n labels, an (n, n) table. Pair row i with its own label y[i]: "
                          "y_hat[range(len(y_hat)), y] (or torch.arange(n) as the row index) gives the n values "
                          "y_hat[i, y[i]].", call=what, shape=str(tuple(got.shape)), n=n,
                          mistake="softmax_regression.cross_entropy_wrong_indexing")
    if got.shape == expected.shape and close(got, -expected):
        raise TestFailure("{call} returned\n{got}\n  which is minus the expected\n{expected}\n  A probability is at "
                          "most 1, so its log is at most 0: the loss is -log(y_hat[i, y[i]]), with the minus sign, "
                          "and it is never negative.", call=what, got=indented(got), expected=indented(expected),
                          mistake="softmax_regression.cross_entropy_sign")
    check_tensor(got, expected, what)
    return got


BOOK_Y_HAT = [[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]


@grader.test("cross_entropy of the book's example is [2.3026, 0.6931]", points=1)  # CE_EXAMPLE
def cross_entropy_example(ctx):
    """ŷ = [[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]] and y = [0, 2]: -log 0.1 = 2.3026 and -log 0.5 = 0.6931."""
    y_hat = torch.tensor(BOOK_Y_HAT, device=ctx.device)
    y = torch.tensor([0, 2], device=ctx.device)
    expected = torch.tensor([-math.log(0.1), -math.log(0.5)], device=ctx.device)
    check_cross_entropy(ctx, y_hat, y, expected)


@grader.test("cross_entropy gives one loss per example for a float64 batch of 6", points=1, hidden=True)
def cross_entropy_batch(ctx):
    """Six examples of four classes in float64: the values, the shape (6,), the dtype and the device."""
    gen = torch.Generator().manual_seed(33)
    logits = torch.randn((6, 4), generator=gen, dtype=torch.float64)
    y_hat = (logits.exp() / logits.exp().sum(dim=1, keepdim=True)).to(ctx.device)
    y = torch.tensor([3, 0, 0, 2, 1, 3], device=ctx.device)
    check_cross_entropy(ctx, y_hat, y, ctx.ref("cross_entropy")(y_hat, y))


# -- accuracy ------------------------------------------------------------------------------------------------------

WRONG_AXIS = N_("{call}: the predicted class of example i is the column of the largest value in ROW i, "
                "y_hat.argmax(dim=1), one prediction per example (shape (n,)). argmax(dim=0) gives one index per "
                "class (shape (q,)) and argmax() with no dim one index into the flattened tensor.")


def call_accuracy(ctx, y_hat, y):
    """The learner's accuracy as a Python float (a Python number or a one-element tensor is accepted)."""
    fn = ctx.fn("accuracy")
    what = fn.describe(y_hat, y)
    try:
        got = fn(y_hat.clone(), y.clone())
    except LearnerError as err:
        if size_mismatch(err):
            raise TestFailure(WRONG_AXIS, call=what, mistake="softmax_regression.accuracy_wrong_axis",
                              parts=[err.failure]) from None
        raise
    if isinstance(got, bool) or not (isinstance(got, (int, float))
                                     or (isinstance(got, torch.Tensor) and got.numel() == 1)):
        raise TestFailure("{call} returned {got}; expected a single number, the count of correct predictions "
                          "(the book returns float(...) of the sum).", call=what, got=describe(got))
    return float(got.detach().reshape(())) if isinstance(got, torch.Tensor) else float(got), what


def check_count(ctx, y_hat, y):
    got, what = call_accuracy(ctx, y_hat, y)
    n = y.shape[0]
    count = int((y_hat.argmax(dim=1) == y).sum())
    if got == count:
        return
    if n > 1 and count > 0 and math.isclose(got, count / n, rel_tol=1e-6):
        raise TestFailure("{call} returned {got:g}, the FRACTION of correct predictions; expected their number, "
                          "{count}. The book's accuracy counts (float of the sum of the matches) and divides by the "
                          "number of examples later, when it has added up the counts of every batch "
                          "(evaluate_accuracy): batches of different sizes then weigh right.", call=what, got=got,
                          count=count, mistake="softmax_regression.accuracy_fraction")
    if y_hat.shape[0] == y_hat.shape[1] and got == int((y_hat.argmax(dim=0) == y).sum()):
        raise TestFailure(WRONG_AXIS, call=what, mistake="softmax_regression.accuracy_wrong_axis").with_part(
            TestFailure("  You returned {got:g}; the rows of y_hat whose largest value is in column y[i] number "
                        "{count}.", got=got, count=count))
    raise TestFailure("{call} returned {got:g}; expected {count}: the number of rows i whose largest value is in "
                      "column y[i] (y_hat.argmax(dim=1) == y).\n    y_hat = {y_hat}\n    y = {y}", call=what, got=got,
                      count=count, y_hat=fmt_tensor(y_hat), y=fmt_tensor(y))


@grader.test("accuracy of the book's example is 1 (a count, not a fraction)", points=1)
def accuracy_example(ctx):
    """ŷ = [[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]] predicts classes [2, 2]; with y = [0, 2] one prediction is right."""
    check_count(ctx, torch.tensor(BOOK_Y_HAT, device=ctx.device), torch.tensor([0, 2], device=ctx.device))


@grader.test("accuracy takes the argmax along each row, even when n = q", points=1, hidden=True)
def accuracy_rows(ctx):
    """A 4x4 batch where the argmax along the columns would count differently, and a batch of 6 of 3 classes."""
    square = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1], [0.5, 0.1, 0.3, 0.1],
                           [0.1, 0.1, 0.1, 0.7]], device=ctx.device)
    check_count(ctx, square, torch.tensor([0, 1, 2, 3], device=ctx.device))  # 2 correct; argmax(dim=0): 1
    gen = torch.Generator().manual_seed(34)
    check_count(ctx, torch.rand((6, 3), generator=gen).to(ctx.device),
                torch.tensor([0, 1, 2, 2, 1, 0], device=ctx.device))


# -- the gradient --------------------------------------------------------------------------------------------------

@grader.test("the gradient of the mean cross-entropy of softmax(O) is (softmax(O) - one_hot(y)) / n", points=2)
def gradient(ctx):
    """O is float64 (4, 5); autograd's gradient of cross_entropy(softmax(O), y).mean() through your two functions
    must equal the closed form (softmax(O) − one_hot(y)) / n, with softmax from torch."""
    softmax, cross_entropy = ctx.fn("softmax"), ctx.fn("cross_entropy")
    gen = torch.Generator().manual_seed(35)
    O0 = (2 * torch.randn((4, 5), generator=gen, dtype=torch.float64)).to(ctx.device)
    y = torch.tensor([0, 3, 1, 4], device=ctx.device)
    O = O0.clone().requires_grad_(True)
    P = softmax(O)
    check_type(P, softmax.describe(O))
    L = cross_entropy(P, y)
    check_type(L, cross_entropy.describe(P, y))
    if not L.requires_grad:
        raise TestFailure("cross_entropy(softmax(O), y) is not differentiable with respect to O (requires_grad="
                          "False): keep every step a tensor operation; .item(), .numpy(), torch.tensor(...) or "
                          ".detach() cut the graph.", mistake="softmax_regression.not_differentiable")
    (grad,) = torch.autograd.grad(L.mean(), O, allow_unused=True)
    if grad is None:
        raise TestFailure("no gradient reaches O: cross_entropy(softmax(O), y) does not depend on O through "
                          "differentiable tensor operations.", mistake="softmax_regression.not_differentiable")
    expected = (torch.softmax(O0, dim=1) - torch.nn.functional.one_hot(y, 5).to(O0.dtype)) / 4
    if not torch.allclose(grad.detach().to(torch.float64), expected, rtol=1e-6, atol=1e-8):
        raise TestFailure("the gradient of cross_entropy(softmax(O), y).mean() with respect to O, through your "
                          "functions, is\n{got}\n  but it should be (softmax(O) - one_hot(y)) / n =\n{expected}\n  "
                          "where O =\n{O}\n  and y = {y}. Check the values of softmax and cross_entropy first (the "
                          "tests \"{softmax_test}\" and \"{ce_test}\"); with both right, this follows.",
                          got=indented(grad), expected=indented(expected), O=indented(O0), y=fmt_tensor(y),
                          softmax_test=SOFTMAX_VALUES, ce_test=CE_EXAMPLE)


# -- smoke-check ---------------------------------------------------------------------------------------------------

def images(gen, n, prototypes, sigma=1.0):
    """n noisy 8x8 images: the prototype of a random class (a binary pattern) plus Gaussian noise."""
    y = torch.randint(0, prototypes.shape[0], (n,), generator=gen)
    X = prototypes[y] + sigma * torch.randn((n, 8, 8), generator=gen)
    return X.reshape(n, 64), y


@grader.smoke("softmax regression with your functions learns 10 classes of 8x8 images", points=2,
              metric="test accuracy", goal="min", threshold=0.8, budget=15, plot="accuracy", hidden=True)
def learns(ctx):
    """W (64, 10) and b (10,) trained by minibatch SGD (100 steps of 64 images, lr 0.3) on the mean of your
    cross_entropy(softmax(X @ W + b), y); the accuracy of the arg-max class on 1,000 fresh images.

    Threshold 0.8. Over seeds 0..9 the reference reaches 0.964 to 0.981; cross_entropy with y_hat[:, y] (an (n, n)
    table) reaches 0.09 to 0.20, and the summed loss (a scalar sum) diverges to 0.09 to 0.11. A softmax over the
    wrong dim (0.87 to 0.96) or the whole tensor (0.91 to 0.95) still separates these classes: their value tests
    fail instead."""
    softmax, cross_entropy = ctx.fn("softmax"), ctx.fn("cross_entropy")
    gen = ctx.seed(0)
    prototypes = (torch.rand((10, 8, 8), generator=gen) > 0.5).float()
    X_train, y_train = images(gen, 2000, prototypes)
    X_test, y_test = images(gen, 1000, prototypes)
    X_train, y_train = X_train.to(ctx.device), y_train.to(ctx.device)
    X_test, y_test = X_test.to(ctx.device), y_test.to(ctx.device)
    W = (0.01 * torch.randn((64, 10), generator=gen)).to(ctx.device).requires_grad_(True)
    b = torch.zeros(10, device=ctx.device, requires_grad=True)
    lr, batch = 0.3, 64

    def test_accuracy():
        with torch.no_grad():
            return ((X_test @ W + b).argmax(dim=1) == y_test).double().mean().item()

    accuracy = test_accuracy()
    for step in range(1, 101):
        idx = torch.randint(0, X_train.shape[0], (batch,), generator=gen).to(ctx.device)
        O = X_train[idx] @ W + b
        y_hat = softmax(O)
        loss_vector = cross_entropy(y_hat, y_train[idx])
        if step == 1:
            check_type(y_hat, softmax.describe(O))
            check_type(loss_vector, cross_entropy.describe(y_hat, y_train[idx]))
            if tuple(loss_vector.shape) == (batch, batch):
                raise TestFailure("cross_entropy returned shape ({batch}, {batch}) for a batch of {batch}: one loss "
                                  "per pair of examples, so the model cannot learn (see the test \"{test}\").",
                                  batch=batch, test=CE_EXAMPLE)
            if not loss_vector.requires_grad:
                raise TestFailure("the model cannot learn: cross_entropy(softmax(X @ W + b), y) is not "
                                  "differentiable with respect to W and b.",
                                  mistake="softmax_regression.not_differentiable")
        loss = loss_vector.mean()
        grad_W, grad_b = torch.autograd.grad(loss, (W, b))
        with torch.no_grad():
            W -= lr * grad_W
            b -= lr * grad_b
        if not math.isfinite(loss.item()):
            raise TestFailure("the training diverged: at step {step} the loss is {loss}. The reference learns with "
                              "the same data, seed and step size: look at the tests of softmax and cross_entropy.",
                              step=step, loss=str(loss.item()))
        if step % 10 == 0:
            accuracy = test_accuracy()
        ctx.step(step, loss=loss.item(), accuracy=accuracy)
    return accuracy
