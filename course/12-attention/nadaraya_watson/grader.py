"""Tests and smoke-check for exercise nadaraya_watson (d2l 12.1).

The visible tests (also in the student build) check values written in the test or the closed-form
Gaussian-kernel formula computed here in float64 (an independent oracle); the hidden ones may also use the
reference. The usual mistakes are recognised by computing them here and matching the learner's weights.
"""

import torch
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.checks import N_
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import SGD

grader = Grader("nadaraya_watson")


def kernel_weights(queries, keys, w=1.0, *, variant=""):
    """The Gaussian attention weights softmax_j(-((q_i - k_ij) w)² / 2) in float64, keys (m, n) or (n,) shared; with
    `variant`, one of the usual mistakes instead."""
    q = queries.detach().to(torch.float64)
    k = keys.detach().to(torch.float64)
    d = q[:, None] - (k[None, :] if k.dim() == 1 else k)
    scores = {
        "": -(d * w) ** 2 / 2,
        "no_half": -(d * w) ** 2,
        "abs": -(d * w).abs() / 2,
        "no_square": -(d * w) / 2,
        "sign": (d * w) ** 2 / 2,
        "w_not_squared": -(d ** 2) * w / 2,
        "w_divides": -(d / w) ** 2 / 2,
        "w_ignored": -(d ** 2) / 2,
    }[variant if variant != "dim0" and variant != "unnormalised" else ""]
    if variant == "dim0":
        return torch.softmax(scores, dim=0)
    if variant == "unnormalised":
        return torch.exp(scores)
    return torch.softmax(scores, dim=1)


NW_MISTAKES = {
    "dim0": (N_("  Each COLUMN of your weights sums to 1: the softmax ran over the queries (dim=0). Every query shares its "
             "attention among the keys, so normalise each row: softmax over dim=1 (the keys)."),
             "nadaraya_watson.softmax_wrong_dim"),
    "no_half": (N_("  Your weights are softmax(-(x_query[i] - x_train[j])²): the 1/2 of the Gaussian kernel is missing, "
                "which makes the kernel narrower. Divide the squared distance by 2."), "nadaraya_watson.half_missing"),
    "abs": (N_("  Your scores use the absolute distance |x_query[i] - x_train[j]| / 2 instead of its square: that is a "
            "Laplace kernel, not the Gaussian one. Square the distance."), "nadaraya_watson.square_missing"),
    "no_square": (N_("  Your scores are -(x_query[i] - x_train[j]) / 2: the distance is not squared, so its sign decides "
                  "and keys on one side always win. Square the distance."), "nadaraya_watson.square_missing"),
    "sign": (N_("  Your scores lack the minus sign: the FARTHEST key gets the most weight. The score must fall as the "
             "distance grows: -(x_query[i] - x_train[j])² / 2."), "nadaraya_watson.score_sign"),
    "unnormalised": (N_("  Your weights are the kernel values exp(score) themselves: they are not normalised, so a row "
                     "does not sum to 1. Take the softmax of the scores over the keys."),
                     "nadaraya_watson.not_normalised"),
}

W_MISTAKES = {
    "w_not_squared": (N_("  Your scores are -(q - k)² · w / 2: w multiplies the squared distance once. The book's "
                      "parametric kernel scales the distance before squaring: -((q - k) · w)² / 2, so w enters as "
                      "w² (and a negative w still gives a valid kernel)."), "nadaraya_watson.w_not_squared"),
    "w_divides": (N_("  Your scores are -((q - k) / w)² / 2: the distance is divided by w. The book multiplies it: "
                  "-((q - k) · w)² / 2, so a larger w gives a NARROWER kernel."), "nadaraya_watson.w_divides"),
    "w_ignored": (N_("  Your result does not depend on w: it equals the kernel at w = 1. Multiply the distance by "
                  "self.w before squaring."), "nadaraya_watson.w_ignored"),
}


def matching_mistake(got, candidates, correct):
    """The (message, id) of the first candidate (name -> weights) that `got` matches, or None."""
    g = got.detach().to("cpu", torch.float64)
    for name, (weights, why) in candidates.items():
        w = weights.to("cpu")
        if w.shape == g.shape and not torch.allclose(w, correct.to("cpu"), atol=1e-5) \
                and torch.allclose(g, w, atol=1e-4, rtol=1e-3):
            return why
    return None


def nw_diagnosis(got_weights, x_train, x_query):
    correct = kernel_weights(x_query, x_train)
    candidates = {name: (kernel_weights(x_query, x_train, variant=name), why) for name, why in NW_MISTAKES.items()}
    why = matching_mistake(got_weights, candidates, correct)
    return None if why is None else TestFailure(why[0], mistake=why[1])


def call_nw(ctx, x_train, y_train, x_query):
    """The learner's nw_predict: (y_hat, weights, description), both checked to be tensors."""
    fn = ctx.fn("nw_predict")
    what = fn.describe(x_train, y_train, x_query)
    got = fn(x_train.clone(), y_train.clone(), x_query.clone())
    if not isinstance(got, tuple) or len(got) != 2:
        raise TestFailure("{call} returned {got}; return a tuple (y_hat, attention_weights): the predictions, shape "
                          "(m,), and the weights, shape (m, n).", call=what, got=describe(got),
                          mistake="nadaraya_watson.return_tuple")
    y_hat, weights = got
    check_type(y_hat, f"y_hat of {what}")
    check_type(weights, f"attention_weights of {what}")
    return y_hat, weights, what


def check_nw(ctx, x_train, y_train, x_query, expected_weights, expected_y, atol=1e-4, rtol=1e-4):
    y_hat, weights, what = call_nw(ctx, x_train, y_train, x_query)
    try:
        check_tensor(weights, expected_weights, f"attention_weights of {what}", atol=atol, rtol=rtol)
    except TestFailure as failure:
        why = nw_diagnosis(weights, x_train, x_query) if tuple(weights.shape) == tuple(expected_weights.shape) \
            else None
        raise (failure.with_part(why) if why is not None else failure) from None
    try:
        check_tensor(y_hat, expected_y, f"y_hat of {what}", atol=atol, rtol=rtol)
    except TestFailure as failure:
        raise failure.with_part(TestFailure(
            "  The weights are right, so the pooling is not: y_hat[i] = Σ_j attention_weights[i, j] · y_train[j], "
            "i.e. attention_weights @ y_train, shape (m,).", mistake="nadaraya_watson.pooling")) from None
    return y_hat, weights


def t(values, device, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype, device=device)


# -- nw_predict ----------------------------------------------------------------------------------------------------

@grader.test("nw_predict: the formula on a hand-worked case", points=2)
def hand_worked(ctx):
    """Keys 0, 1, 2 with values 0, 2, 4 and queries 0 and 1. For the query 1 the scores are -1/2, 0, -1/2, so the
    weights are e^-0.5 / (1 + 2 e^-0.5) = 0.2741, 1 / (1 + 2 e^-0.5) = 0.4519, 0.2741 and the prediction is
    0.4519 · 2 + 0.2741 · 4 = 2.0000; for the query 0 the scores are 0, -1/2, -2: weights 0.5741, 0.3482, 0.0777,
    prediction 1.0072."""
    dev = ctx.device
    x_train, y_train, x_query = t([0.0, 1.0, 2.0], dev), t([0.0, 2.0, 4.0], dev), t([0.0, 1.0], dev)
    weights = t([[0.574097, 0.348207, 0.077696], [0.274069, 0.451863, 0.274069]], dev)
    check_nw(ctx, x_train, y_train, x_query, weights, t([1.007197, 2.0], dev))


@grader.test("nw_predict: shapes (m,) and (m, n); each query's row of weights sums to 1", points=1)
def rows_sum_to_one(ctx):
    """7 training pairs and 4 queries (m ≠ n, so rows and columns cannot be confused): y_hat has shape (4,), the
    weights (4, 7), all of them >= 0, and each row (one query) sums to 1, which only a softmax over the keys
    (dim=1) gives."""
    gen = torch.Generator().manual_seed(3)
    x_train = (torch.rand(7, generator=gen) * 5).to(ctx.device)
    y_train = torch.randn(7, generator=gen).to(ctx.device)
    x_query = (torch.rand(4, generator=gen) * 5).to(ctx.device)
    y_hat, weights, what = call_nw(ctx, x_train, y_train, x_query)
    for label, got, shape in (("y_hat", y_hat, (4,)), ("attention_weights", weights, (4, 7))):
        if tuple(got.shape) != shape:
            failure = TestFailure("{label} of {call} has shape {got}; expected {expected} (m = 4 queries, n = 7 "
                                  "training pairs).", label=label, call=what, got=str(tuple(got.shape)),
                                  expected=str(shape))
            if label == "attention_weights" and tuple(got.shape) == (7, 4):
                failure.with_part(TestFailure("  The weights come out transposed: one row per query (m rows), one "
                                              "column per key (n columns).", mistake="nadaraya_watson.shapes"))
            elif label == "y_hat" and tuple(got.shape) in ((4, 1), (1, 4)):
                failure.with_part(TestFailure("  y_hat holds one prediction per query: shape (m,), not (m, 1).",
                                              mistake="nadaraya_watson.shapes"))
            raise failure
    w = weights.detach().to("cpu", torch.float64)
    rows, cols = w.sum(dim=1), w.sum(dim=0)
    if not torch.allclose(rows, torch.ones_like(rows), atol=1e-5) or bool((w < 0).any()):
        failure = TestFailure("the rows of attention_weights of {call} sum to\n{sums}\n  instead of 1 each (one row "
                              "per query).", call=what, sums=fmt_tensor(rows))
        if torch.allclose(cols, torch.ones_like(cols), atol=1e-5):
            failure.with_part(TestFailure(NW_MISTAKES["dim0"][0], mistake=NW_MISTAKES["dim0"][1]))
        raise failure


@grader.test("nw_predict: a query far from every key gives finite weights (numerically stable)", points=1,
             hidden=True)
def far_away(ctx):
    """Keys in [0, 5] and the query 60: every score is below -1500, so exp(score) is 0 even in float64 and
    exp / Σ exp gives 0 / 0 = nan. torch.softmax subtracts the row's maximum first and stays finite."""
    x_train = torch.linspace(0, 5, 11, device=ctx.device)
    y_train = torch.arange(11.0, device=ctx.device)
    x_query = t([60.0], ctx.device)
    y_hat, weights, what = call_nw(ctx, x_train, y_train, x_query)
    w, y = weights.detach().to("cpu", torch.float64), y_hat.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(w).all()) or not bool(torch.isfinite(y).all()) or float(w.abs().sum()) < 0.5:
        raise TestFailure("{call} gave attention_weights {weights} and y_hat {y_hat}: the query 60 is far from every "
                          "key (0 to 5), every score is below -1500 and exp(score) underflows to 0, so exp / Σ exp is "
                          "0 / 0. Use torch.softmax (it subtracts each row's maximum score before exp), or subtract "
                          "it yourself.", call=what, weights=fmt_tensor(weights), y_hat=fmt_tensor(y_hat),
                          mistake="nadaraya_watson.unstable_softmax")


@grader.test("nw_predict keeps the inputs' dtype and device (float64 in, float64 out)", points=1, hidden=True)
def keeps_dtype(ctx):
    """float64 inputs give float64 predictions and weights on the inputs' device; on a CPU run the device is also
    checked with tensors on PyTorch's "meta" device."""
    dev = ctx.device
    x_train, y_train, x_query = (t([0.0, 1.0, 2.0], dev, torch.float64), t([0.0, 2.0, 4.0], dev, torch.float64),
                                 t([0.0, 1.0], dev, torch.float64))
    y_hat, weights, what = call_nw(ctx, x_train, y_train, x_query)
    for label, got in (("y_hat", y_hat), ("attention_weights", weights)):
        if got.dtype != torch.float64 or got.device != x_train.device:
            raise TestFailure("{label} of {call} is {got}; it must keep the inputs' dtype (float64) and device "
                              "({device}). Compute it from the inputs with tensor operations; create no tensor with "
                              "PyTorch's defaults.", label=label, call=what, got=describe(got), device=str(dev))
    ctx.device_probe("nw_predict", lambda d: (torch.ones(3, device=d), torch.ones(3, device=d),
                                               torch.ones(2, device=d)))


# -- NWKernelRegression -------------------------------------------------------------------------------------------

def construct(ctx):
    cls = ctx.fn("NWKernelRegression")
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("NWKernelRegression does not subclass nn.Module. Keep the declaration "
                          "`class NWKernelRegression(nn.Module):` and call super().__init__() first in __init__.")
    ctx.check_signature("NWKernelRegression", cls, ctx.declaration("NWKernelRegression"))
    try:
        module = cls()
    except RemoteError as exc:
        raise ctx.explain(exc, "NWKernelRegression()") from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("NWKernelRegression() did not set up an nn.Module: call super().__init__() at the start "
                          "of __init__.")
    return module.to(ctx.device)


def set_w(module, value, device):
    """Give the learner's module w = value (by name, as the book's module holds it)."""
    state = module.state_dict()
    if list(state) != ["w"] or tuple(state["w"].shape) != (1,):
        raise TestFailure("NWKernelRegression() has the parameters {names}; it must have exactly one, named w, of "
                          "shape (1,): self.w = nn.Parameter(torch.rand((1,))). A plain tensor (even with "
                          "requires_grad=True) is not registered as a parameter, so no optimizer would see it.",
                          names=", ".join(f"{k} {tuple(v.shape)}" for k, v in state.items()) or "(none)",
                          mistake="nadaraya_watson.w_not_parameter")
    module.load_state_dict({"w": torch.tensor([value], dtype=state["w"].dtype, device=device)})


def forward(ctx, module, queries, keys, values):
    what = f"NWKernelRegression()({describe(queries)}, {describe(keys)}, {describe(values)})"
    try:
        got = module(queries, keys, values)
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    check_type(got, what)
    return got, what


def loo(x, y):
    """The book's training layout: row i holds every training pair except pair i, shape (n, n - 1)."""
    n = x.shape[0]
    keep = ~torch.eye(n, dtype=torch.bool, device=x.device)
    return x.repeat((n, 1))[keep].reshape(n, -1), y.repeat((n, 1))[keep].reshape(n, -1)


@grader.test("NWKernelRegression: one parameter w of shape (1,), the book's training shapes, attention_weights kept",
             points=1)
def module_shapes(ctx):
    """The book's training call: queries x_train (6,), keys and values (6, 5) (each row leaves its own pair out):
    the result has shape (6,) and self.attention_weights shape (6, 5)."""
    gen = torch.Generator().manual_seed(5)
    x = (torch.rand(6, generator=gen) * 5).to(ctx.device)
    y = torch.randn(6, generator=gen).to(ctx.device)
    keys, values = loo(x, y)
    module = construct(ctx)
    set_w(module, 1.0, ctx.device)
    with torch.no_grad():
        got, what = forward(ctx, module, x, keys, values)
    if tuple(got.shape) != (6,):
        raise TestFailure("{call} returned shape {got}; expected (6,): one prediction per query.", call=what,
                          got=str(tuple(got.shape)), mistake="nadaraya_watson.shapes")
    weights = getattr(module, "attention_weights", None)
    if not isinstance(weights, torch.Tensor):
        raise TestFailure("after {call}, self.attention_weights is {got}; store the softmax weights there, shape "
                          "(n, m) = (6, 5): d2l plots them as a heatmap.", call=what, got=describe(weights),
                          mistake="nadaraya_watson.attention_weights_missing")
    if tuple(weights.shape) != (6, 5):
        raise TestFailure("after {call}, self.attention_weights has shape {got}; expected (6, 5): one row per query, "
                          "one column per key of that row.", call=what, got=str(tuple(weights.shape)),
                          mistake="nadaraya_watson.shapes")


def check_module(ctx, w, mistakes):
    """Queries 0.5, 2, 4.5 against 6 shared training pairs at the given w: output and attention_weights against
    the closed form."""
    gen = torch.Generator().manual_seed(11)
    x = torch.sort(torch.rand(6, generator=gen) * 5)[0].to(ctx.device)
    y = (2 * torch.sin(x) + x ** 0.8).to(ctx.device)
    queries = t([0.5, 2.0, 4.5], ctx.device)
    keys, values = x.repeat((3, 1)), y.repeat((3, 1))
    module = construct(ctx)
    set_w(module, w, ctx.device)
    with torch.no_grad():
        got, what = forward(ctx, module, queries, keys, values)
    what = f"{what} with w = {w:g}"
    expected_w = kernel_weights(queries, keys, w)
    expected = (expected_w * values.to(torch.float64)).sum(dim=1).to(torch.float32)
    weights = getattr(module, "attention_weights", None)
    why = None
    if isinstance(weights, torch.Tensor) and tuple(weights.shape) == (3, 6):
        candidates = {name: (kernel_weights(queries, keys, w, variant=name), NW_MISTAKES[name])
                      for name in ("dim0", "no_half", "abs", "no_square", "sign", "unnormalised")}
        candidates.update({name: (kernel_weights(queries, keys, w, variant=name), W_MISTAKES[name])
                           for name in mistakes})
        found = matching_mistake(weights, candidates, expected_w)
        why = None if found is None else TestFailure(found[0], mistake=found[1])
    try:
        check_tensor(got, expected, what, atol=1e-4, rtol=1e-4)
    except TestFailure as failure:
        raise (failure.with_part(why) if why is not None else failure) from None
    if isinstance(weights, torch.Tensor):
        check_tensor(weights, expected_w.to(torch.float32), f"self.attention_weights after {what}", atol=1e-5,
                     rtol=1e-4)


@grader.test("NWKernelRegression at w = 1 equals the non-parametric kernel regression", points=2)
def w_one(ctx):
    """At w = 1, -((q - k) · w)² / 2 is the non-parametric score: three queries against six shared training pairs
    of the book's function 2 sin x + x^0.8, compared with the Gaussian-kernel formula computed here in float64."""
    check_module(ctx, 1.0, ("w_ignored",))


@grader.test("NWKernelRegression: w scales the distance before squaring, -((q - k) · w)² / 2", points=1,
             hidden=True)
def w_squared(ctx):
    """At w = 2 and w = -1.5 (a negative w is as valid as its absolute value: it enters squared)."""
    for w in (2.0, -1.5):
        check_module(ctx, w, ("w_not_squared", "w_divides", "w_ignored"))


# -- smoke-check ---------------------------------------------------------------------------------------------------

N_TRAIN, EPOCHS, LR = 50, 5, 0.5


def toy_data(gen, device):
    """The book's data: 50 sorted inputs in [0, 5), y = 2 sin x + x^0.8 + N(0, 0.5²); test inputs 0, 0.1, ..., 4.9
    with the noiseless truth."""
    x_train = torch.sort(torch.rand(N_TRAIN, generator=gen) * 5)[0]
    f = lambda x: 2 * torch.sin(x) + x ** 0.8  # noqa: E731
    y_train = f(x_train) + torch.randn(N_TRAIN, generator=gen) * 0.5
    x_test = torch.arange(0, 5, 0.1)
    return tuple(v.to(device) for v in (x_train, y_train, x_test, f(x_test)))


def train(ctx, net, data, report):
    x_train, y_train, x_test, y_truth = data
    keys, values = loo(x_train, y_train)
    test_keys, test_values = x_train.repeat((x_test.shape[0], 1)), y_train.repeat((x_test.shape[0], 1))

    def test_mse():
        with torch.no_grad():
            return float(((net(x_test, test_keys, test_values) - y_truth) ** 2).mean())

    optimizer = SGD(net.parameters(), lr=LR)
    if report:
        ctx.step(0, test_mse=test_mse())
    for epoch in range(1, EPOCHS + 1):
        optimizer.zero_grad()
        y_hat = net(x_train, keys, values)
        loss = ((y_hat - y_train) ** 2).sum()  # the book's nn.MSELoss(reduction='none') summed
        if report and epoch == 1:
            if not y_hat.requires_grad:
                raise TestFailure("NWKernelRegression's result is not differentiable with respect to w, so w cannot "
                                  "be learned. Use self.w itself in the score: no .detach(), .data, .item() or "
                                  "torch.no_grad().", mistake="nadaraya_watson.not_differentiable")
        loss.backward()
        optimizer.step()
        if report:
            ctx.step(epoch, loss=loss.item(), test_mse=test_mse())
    return test_mse()


# Test MSE against the noiseless truth after 5 epochs, w starting at 1 (the non-parametric model), data seeds 0..9:
# the reference 0.055 .. 0.210 (w grows to 11 .. 20); a w that never learns stays at the non-parametric 0.365 ..
# 0.553; a softmax over the wrong dimension 0.42 .. 2.1; the score's sign flipped 1.7 .. 4.4.
@grader.smoke("training w with the book's SGD (lr 0.5) lowers the test MSE on the book's toy data", points=3,
              metric="test MSE", goal="max", threshold=0.3, budget=10, plot="test_mse", hidden=True)
def learns_w(ctx):
    """The book's experiment: 50 noisy samples of 2 sin x + x^0.8, each training query attending to the other 49
    pairs, w trained for 5 epochs of SGD (lr 0.5) on the summed squared error. w starts at 1, so the curve starts
    at the non-parametric model's test MSE; the reference's final MSE on the same data is shown beside yours."""
    data = toy_data(ctx.seed(0), ctx.device)
    net = construct(ctx)
    set_w(net, 1.0, ctx.device)
    mine = train(ctx, net, data, report=True)
    reference = ctx.ref("NWKernelRegression")().to(ctx.device)
    with torch.no_grad():
        reference.w.fill_(1.0)
    theirs = train(ctx, reference, data, report=False)
    return {"value": mine, "reference": theirs}
