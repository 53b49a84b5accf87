"""Tests and smoke-check for exercise additive_attention (d2l 12.2: masked softmax and additive attention).

Values are compared in eval mode with dropout 0. The visible tests (also in the student build) check values written
in the test, the definitions worked out row by row, or torch.softmax; the hidden ones compare with the reference.
"""

import torch
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import Adam

grader = Grader("additive_attention")


def randn(shape, device, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen).to(device)


def lens(values, device):
    return torch.tensor(values, dtype=torch.long, device=device)


def shown(value, indent):
    """fmt_tensor, with the lines after the first indented to line up under it."""
    return fmt_tensor(value).replace("\n", "\n" + " " * indent)


# -- masked_softmax: grader-side variants of the usual mistakes ------------------------------------------------------

def softmax_variant(X, valid_lens, *, value=-1e6, extra=0, repeat=False, after=False, dim=-1):
    """masked_softmax with knobs: value written into masked scores, boundary shift, .repeat instead of
    repeat_interleave for 1-D lengths, masking after the softmax instead of before, the softmax's dimension."""
    if valid_lens is None:
        return torch.softmax(X, dim=dim)
    B, Q, K = X.shape
    if valid_lens.dim() == 1:
        flat = valid_lens.repeat(Q) if repeat else torch.repeat_interleave(valid_lens, Q)
    else:
        flat = valid_lens.reshape(-1)
    keep = (torch.arange(K, device=X.device)[None, :] < (flat[:, None] + extra)).reshape(B, Q, K)
    if after:
        return torch.softmax(X, dim=dim) * keep
    return torch.softmax(X.masked_fill(~keep, value), dim=dim)


def by_definition(X, valid_lens):
    """The masked softmax worked out one row at a time: an oracle independent of any flattening."""
    B, Q, K = X.shape
    expected = torch.zeros_like(X)
    for b in range(B):
        for q in range(Q):
            n = K if valid_lens is None else int(valid_lens[b] if valid_lens.dim() == 1 else valid_lens[b, q])
            expected[b, q, :n] = torch.softmax(X[b, q, :n], dim=-1)
    return expected


def wrong_axis(dim):
    return TestFailure("  The softmax ran over dimension {dim}: each query's weights over the K keys (the last "
                       "dimension) must sum to 1. Use torch.softmax(X, dim=-1).",
                       mistake="additive_attention.softmax_wrong_axis", dim=dim)


def softmax_diagnosis(got, X, valid_lens):
    """The typical wrong masked_softmax versions that `got` matches: {mistake id: a TestFailure part naming it}."""
    if valid_lens is None:
        variants = [(torch.softmax(X, dim=d), "additive_attention.softmax_wrong_axis", lambda d=d: wrong_axis(d))
                    for d in (0, 1)]
    else:
        variants = [
            (torch.softmax(X, dim=-1), "additive_attention.mask_missing",
             lambda: TestFailure("  Nothing was masked: the weights past each valid length must be 0. Build a "
                                 "(B * Q, K) boolean mask from torch.arange(K) and the valid lengths.",
                                 mistake="additive_attention.mask_missing")),
            (softmax_variant(X, valid_lens, extra=1), "additive_attention.mask_boundary_included",
             lambda: TestFailure("  One key too many is kept: the position k == valid length is the first masked one. "
                                 "Compare with <, not <=.", mistake="additive_attention.mask_boundary_included")),
            (softmax_variant(X, valid_lens, extra=-1), "additive_attention.mask_last_key",
             lambda: TestFailure("  The last valid key is masked too: keep every k < valid length.",
                                 mistake="additive_attention.mask_last_key")),
            (softmax_variant(X, valid_lens, value=0.0), "additive_attention.mask_value_zero",
             lambda: TestFailure("  The masked scores were set to 0 before the softmax, so they still get weight "
                                 "exp(0). Replace them by -1e6.", mistake="additive_attention.mask_value_zero")),
            (softmax_variant(X, valid_lens, after=True), "additive_attention.mask_after_softmax",
             lambda: TestFailure("  The weights were masked AFTER the softmax, so the rows no longer sum to 1. Replace "
                                 "the masked scores by -1e6 BEFORE the softmax.",
                                 mistake="additive_attention.mask_after_softmax")),
            (softmax_variant(X, valid_lens, dim=1), "additive_attention.softmax_wrong_axis",
             lambda: wrong_axis(1)),
        ]
        if valid_lens.dim() == 1 and X.shape[0] > 1 and X.shape[1] > 1:
            variants.append((softmax_variant(X, valid_lens, repeat=True), "additive_attention.softmax_lens_repeat",
                             lambda: TestFailure(
                                 "  Row b * Q + q of the flattened (B * Q, K) scores got the wrong length: "
                                 "valid_lens.repeat(Q) gives [l0, l1, l0, l1, ...], but the rows of item b are "
                                 "consecutive, so each length must be repeated Q times in a row: "
                                 "torch.repeat_interleave(valid_lens, Q) gives [l0, l0, l1, l1, ...].",
                                 mistake="additive_attention.softmax_lens_repeat")))
    expected = softmax_variant(X, valid_lens)
    g = got.detach()
    found = {}
    for candidate, key, why in variants:
        if key not in found and candidate.shape == g.shape and not torch.allclose(candidate, expected, atol=1e-6) \
                and torch.allclose(g.to(candidate.dtype), candidate, atol=1e-5, rtol=1e-4):
            found[key] = why
    return found


def wrote_into_X():
    return TestFailure("  Your masked_softmax also wrote into X itself, the caller's scores (X[...] = value, or "
                       "masked_fill_ on a view of X). That is not what makes these weights wrong, but it is safer to "
                       "mask a copy: X.reshape(-1, K).masked_fill(~mask, -1e6) returns a new tensor.",
                       mistake="additive_attention.softmax_writes_input")


def check_softmax(ctx, X, valid_lens, expected):
    """The learner's masked_softmax(X, valid_lens) against `expected` (worked out in the grader); a familiar mistake
    is named. Writing into X is not wrong by itself (the book's own code does it), but is said when the weights are
    wrong too."""
    fn = ctx.fn("masked_softmax")
    what = fn.describe(X, valid_lens)
    X_arg = X.clone()
    got = fn(X_arg, None if valid_lens is None else valid_lens.clone())
    wrote = fn.mutated(X_arg) is not None
    check_type(got, what)
    if got.shape == expected.shape and got.device == expected.device and \
            not torch.allclose(got.detach().to(expected), expected, atol=1e-6, rtol=1e-5):
        whys = softmax_diagnosis(got, X, valid_lens)
        if len(whys) > 1:  # X too regular to tell the mistakes apart: ask again with random scores
            X2 = randn(tuple(X.shape), ctx.device, 13)
            got2 = fn(X2.clone(), None if valid_lens is None else valid_lens.clone())
            if isinstance(got2, torch.Tensor) and got2.shape == X2.shape and got2.device == X2.device:
                again = softmax_diagnosis(got2, X2, valid_lens)
                whys = {key: why for key, why in whys.items() if key in again}
        failure = TestFailure("{what} returned the wrong weights.\n    X          = {X}\n    valid_lens = "
                              "{valid_lens}\n    expected   = {expected}\n    got        = {got}", what=what,
                              X=shown(X, 17), valid_lens=shown(valid_lens, 17), expected=shown(expected, 17),
                              got=shown(got, 17))
        if len(whys) == 1:
            (why,) = whys.values()
            failure.with_part(why())
        raise (failure.with_part(wrote_into_X()) if wrote else failure)
    check_tensor(got, expected, what, atol=1e-6, rtol=1e-5)
    return got


def check_rows(ctx, got, X, valid_lens):
    """Masked weights exactly 0 and every row summing to 1."""
    what = ctx.fn("masked_softmax").describe(X, valid_lens)
    per_query = valid_lens[:, None].expand(X.shape[:2]) if valid_lens.dim() == 1 else valid_lens
    masked = torch.arange(X.shape[-1], device=X.device)[None, None, :] >= per_query[:, :, None]
    if bool((got.detach()[masked] != 0).any()):
        raise TestFailure("{what}: a masked weight is {largest:.3g} instead of exactly 0. Replace the masked scores by "
                          "-1e6 (not a small number) before the softmax.",
                          mistake="additive_attention.mask_value_small", what=what,
                          largest=float(got.detach()[masked].abs().max()))
    sums = got.detach().sum(dim=-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        raise TestFailure("{what}: the rows sum to {sums} instead of 1.", what=what, sums=fmt_tensor(sums))


@grader.test("masked_softmax without a mask is the plain softmax over the last axis", points=1)
def softmax_none(ctx):
    """valid_lens None: compared with torch.softmax(X, dim=-1) on random scores of three shapes."""
    for shape, seed in (((2, 3, 5), 1), ((1, 1, 4), 2), ((3, 4, 2), 3)):
        X = randn(shape, ctx.device, seed) * 3
        check_softmax(ctx, X, None, torch.softmax(X, dim=-1))


@grader.test("masked_softmax with one valid length per batch item: masked weights exactly 0, rows sum to 1",
             points=1)
def softmax_1d(ctx):
    """A (B,) valid_lens tensor: the docstring's example (equal scores, weights 1 / valid length), then random scores
    checked against the definition row by row."""
    third = 1 / 3
    check_softmax(ctx, torch.zeros(2, 2, 4, device=ctx.device), lens([2, 3], ctx.device),
                  torch.tensor([[[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]],
                                [[third, third, third, 0.0], [third, third, third, 0.0]]], device=ctx.device))
    X = randn((3, 4, 5), ctx.device, 4) * 4
    valid_lens = lens([2, 5, 1], ctx.device)
    got = check_softmax(ctx, X, valid_lens, by_definition(X, valid_lens))
    check_rows(ctx, got, X, valid_lens)


@grader.test("masked_softmax with one valid length per query (B, Q)", points=1, hidden=True)
def softmax_2d(ctx):
    """A (B, Q) valid_lens tensor: the docstring's example, then random scores against the reference and the
    definition."""
    third = 1 / 3
    check_softmax(ctx, torch.zeros(2, 2, 4, device=ctx.device), lens([[1, 3], [2, 4]], ctx.device),
                  torch.tensor([[[1.0, 0.0, 0.0, 0.0], [third, third, third, 0.0]],
                                [[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]], device=ctx.device))
    X = randn((3, 4, 6), ctx.device, 5) * 4
    valid_lens = lens([[1, 6, 3, 2], [4, 4, 1, 5], [2, 3, 6, 1]], ctx.device)
    check_softmax(ctx, X, valid_lens, ctx.ref("masked_softmax")(X, valid_lens))


# -- AdditiveAttention ---------------------------------------------------------------------------------------------

def construct(ctx, *args):
    """Create the learner's AdditiveAttention (on ctx.device, in eval mode); explain any exception."""
    cls = ctx.fn("AdditiveAttention")
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("AdditiveAttention does not subclass nn.Module. Keep the declaration `class "
                          "AdditiveAttention(nn.Module):` and call super().__init__() first in __init__.")
    ctx.check_signature("AdditiveAttention", cls, ctx.declaration("AdditiveAttention"))
    what = f"AdditiveAttention({', '.join(repr(a) for a in args)})"
    try:
        module = cls(*args)
    except RemoteError as exc:  # everything the learner's code raises becomes a verdict
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__() at the start of __init__.",
                          what=what)
    return module.to(ctx.device).eval(), what


def call(ctx, module, what, *args):
    """Call the learner's module; explain any exception; return the output and the call's description."""
    text = f"{what}({', '.join(describe(a) for a in args)})"
    try:
        got = module(*args)
    except RemoteError as exc:
        failure = ctx.explain(exc, text)
        note = softmax_note(ctx)
        if note is not None:
            failure.with_part(note)
        raise failure from None
    check_type(got, text)
    return got, text


def softmax_broken(ctx):
    """Whether the learner's masked_softmax disagrees with the reference on small inputs (computed once per test)."""
    if getattr(ctx, "_softmax_broken", None) is None:
        X = randn((2, 3, 5), ctx.device, 90)
        try:
            fn = ctx.fn("masked_softmax")
            for valid_lens in (None, lens([2, 5], ctx.device), lens([[1, 2, 3], [5, 4, 1]], ctx.device)):
                got, expected = fn(X, valid_lens), ctx.ref("masked_softmax")(X, valid_lens)
                if not (isinstance(got, torch.Tensor) and got.shape == expected.shape
                        and torch.allclose(got.detach().to(expected), expected, atol=1e-5, rtol=1e-4)):
                    raise ValueError("masked_softmax")
            ctx._softmax_broken = False
        except Exception:  # noqa: BLE001 - any failure means masked_softmax is not right yet
            ctx._softmax_broken = True
    return ctx._softmax_broken


def softmax_note(ctx):
    """A TestFailure part saying that the learner's masked_softmax is wrong, or None (always in a visible test: it
    needs the reference)."""
    if ctx.has_reference() and softmax_broken(ctx):
        return TestFailure("  Your masked_softmax does not match the reference yet (see its own tests), and "
                           "AdditiveAttention is built on it: fix it first.")
    return None


def copy_weights(ours, mine, what):
    """Load `ours` (the reference's state dict) into the learner's module by name, with a clear message if the
    names differ."""
    theirs = mine.state_dict()
    lacking = [k for k in ours if k not in theirs]
    extra = [k for k in theirs if k not in ours]
    if lacking or extra:
        failure = TestFailure("the grader copies the reference's weights into your {what} by name, but the names "
                              "differ.\n    expected parameters: {expected}\n    yours:               {yours}",
                              what=what, expected=", ".join(ours), yours=", ".join(theirs) or "(none)")
        if extra and all(k.endswith(".bias") for k in extra) and not lacking:
            failure.with_part(TestFailure("  Your layers have biases: additive attention's W_k, W_q and w_v are "
                                          "nn.Linear(..., bias=False).", mistake="additive_attention.bias_added"))
        else:
            failure.with_part(TestFailure("  Name the layers self.W_k, self.W_q and self.w_v (nn.Linear each, "
                                          "bias=False) and create no other parameters.",
                                          mistake="additive_attention.layer_names"))
        raise failure
    for key, value in ours.items():
        have = theirs[key]
        if tuple(have.shape) != tuple(value.shape):
            raise TestFailure("in your {what}, {key} has shape {shape}, expected {expected}. nn.Linear(in_features, "
                              "out_features) stores a weight of shape (out_features, in_features): W_k maps key_size "
                              "and W_q query_size to num_hiddens, and w_v maps num_hiddens to 1.",
                              mistake="additive_attention.linear_sizes", what=what, key=key,
                              shape=str(tuple(have.shape)), expected=str(tuple(value.shape)))
    mine.load_state_dict(ours)


def pair(ctx, args, seed):
    """(reference module, learner module with the reference's weights, description), both in eval mode."""
    torch.manual_seed(seed)
    ref = ctx.ref("AdditiveAttention")(*args).to(ctx.device).eval()
    mine, what = construct(ctx, *args)
    copy_weights(ref.state_dict(), mine, what)
    return ref, mine, what


def additive_variant(ref, queries, keys, values, valid_lens, *, swapped=False, act=torch.tanh, mask=True):
    """The reference module's computation with queries and keys swapped in the broadcast, another activation, or
    no mask."""
    q, k = ref.W_q(queries), ref.W_k(keys)
    features = q.unsqueeze(1) + k.unsqueeze(2) if swapped else q.unsqueeze(2) + k.unsqueeze(1)
    scores = ref.w_v(act(features)).squeeze(-1)
    if swapped:
        scores = scores.transpose(1, 2)
    return torch.bmm(softmax_variant(scores, valid_lens if mask else None), values)


ADDITIVE_VARIANTS = [
    ({"act": lambda x: x},
     lambda: TestFailure("  The tanh is missing: without it the score w_v(W_q q + W_k k) splits into a part of the "
                         "query plus a part of the key, and the softmax over the keys drops the query's part, so "
                         "every query gets the same weights. Apply torch.tanh to the sum before w_v.",
                         mistake="additive_attention.tanh_missing")),
    ({"act": torch.relu},
     lambda: TestFailure("  ReLU was used where additive attention uses tanh: features = torch.tanh(W_q q + W_k k).",
                         mistake="additive_attention.relu_not_tanh")),
    ({"mask": False},
     lambda: TestFailure("  valid_lens has no effect: compute the weights with masked_softmax(scores, valid_lens).",
                         mistake="additive_attention.lens_ignored")),
]


def check_additive(ctx, ref, mine, what, inputs, valid_lens):
    """The learner's output against the reference's; a familiar mistake is named when the output matches it."""
    with torch.no_grad():
        expected = ref(*inputs, valid_lens)
        got, text = call(ctx, mine, what, *inputs, valid_lens)
    try:
        check_tensor(got, expected, f"{text} with valid_lens = "
                     f"{None if valid_lens is None else valid_lens.tolist()} and the reference's weights (eval mode, "
                     "dropout 0)", atol=1e-5, rtol=1e-4)
    except TestFailure as failure:
        why = softmax_note(ctx)
        if why is None and got.shape == expected.shape and got.device == expected.device:
            g = got.detach()
            with torch.no_grad():
                for kw, make in ADDITIVE_VARIANTS:
                    if kw.get("mask") is False and valid_lens is None:
                        continue
                    c = additive_variant(ref, *inputs, valid_lens, **kw)
                    if not torch.allclose(c, expected, atol=1e-6) and torch.allclose(g, c, atol=1e-5, rtol=1e-4):
                        why = make()
                        break
        raise (failure.with_part(why) if why is not None else failure) from None
    return got


@grader.test("the book's example: equal keys give uniform weights over the valid keys, output (2, 1, 4)", points=2)
def book_example(ctx):
    """queries (2, 1, 20), keys all ones (2, 10, 2), values arange(40) as (10, 4) for both items, valid_lens [2, 6],
    AdditiveAttention(2, 20, 8, 0) in eval mode with its own random weights (the book uses dropout 0.1; dropout is
    the business of another test). All keys are equal, so every valid key gets the same weight: item 0 averages value
    rows 0 and 1, item 1 rows 0 to 5."""
    ctx.seed(0)
    attention, what = construct(ctx, 2, 20, 8, 0.0)
    queries = randn((2, 1, 20), ctx.device, 6)
    keys = torch.ones(2, 10, 2, device=ctx.device)
    values = torch.arange(40.0, device=ctx.device).reshape(1, 10, 4).repeat(2, 1, 1)
    with torch.no_grad():
        got, text = call(ctx, attention, what, queries, keys, values, lens([2, 6], ctx.device))
    expected = torch.tensor([[[2.0, 3.0, 4.0, 5.0]], [[10.0, 11.0, 12.0, 13.0]]], device=ctx.device)
    try:
        check_tensor(got, expected, text + " with valid_lens = [2, 6]", atol=1e-4, rtol=1e-5)
    except TestFailure as failure:
        g = got.detach()
        if g.shape == expected.shape and torch.allclose(g, values.mean(dim=1, keepdim=True), atol=1e-4):
            failure.with_part(TestFailure("  Every item averaged all 10 values: valid_lens has no effect. Compute the "
                                          "weights with masked_softmax(scores, valid_lens).",
                                          mistake="additive_attention.lens_ignored"))
        raise failure from None


@grader.test("AdditiveAttention matches the reference with the same weights", points=2, hidden=True)
def reference_values(ctx):
    """Different query and key sizes, random weights copied from the reference, 1-D, 2-D and no valid lengths."""
    args = (3, 5, 6, 0.0)  # key_size, query_size, num_hiddens, dropout
    ref, mine, what = pair(ctx, args, seed=1)
    B, Q, K = 2, 3, 4
    inputs = (randn((B, Q, 5), ctx.device, 20) * 2, randn((B, K, 3), ctx.device, 21) * 2, randn((B, K, 2), ctx.device, 22))
    for valid_lens in (None, lens([3, 2], ctx.device), lens([[1, 4, 2], [3, 3, 1]], ctx.device)):
        check_additive(ctx, ref, mine, what, inputs, valid_lens)


@grader.test("keys and values past the valid lengths do not change the output", points=1, hidden=True)
def masking(ctx):
    """Padded keys and values are replaced by large random numbers: the output must stay the same."""
    attention, what = construct(ctx, 4, 4, 8, 0.0)
    B, Q, K = 3, 2, 5
    queries, keys, values = randn((B, Q, 4), ctx.device, 30), randn((B, K, 4), ctx.device, 31), randn((B, K, 3), ctx.device, 32)
    valid_lens = lens([2, 5, 3], ctx.device)
    padded = (torch.arange(K, device=ctx.device)[None, :] >= valid_lens[:, None])[:, :, None]
    keys2 = torch.where(padded, 50 * randn((B, K, 4), ctx.device, 33), keys)
    values2 = torch.where(padded, 100 * randn((B, K, 3), ctx.device, 34), values)
    with torch.no_grad():
        first, text = call(ctx, attention, what, queries, keys, values, valid_lens)
        second, _ = call(ctx, attention, what, queries, keys2, values2, valid_lens)
    check_tensor(second, first, f"{text} with valid_lens = {valid_lens.tolist()} after the keys and values past each "
                 "valid length were replaced (they must get weight exactly 0)", atol=1e-5, rtol=1e-4)


@grader.test("the attention weights are kept in self.attention_weights, shape (B, Q, K)", points=1, hidden=True)
def weights_kept(ctx):
    """After a call in eval mode, self.attention_weights holds the weights before dropout, equal to the
    reference's."""
    ref, mine, what = pair(ctx, (3, 5, 6, 0.0), seed=2)
    inputs = (randn((2, 3, 5), ctx.device, 40), randn((2, 4, 3), ctx.device, 41), randn((2, 4, 2), ctx.device, 42))
    valid_lens = lens([3, 4], ctx.device)
    with torch.no_grad():
        ref(*inputs, valid_lens)
        _, text = call(ctx, mine, what, *inputs, valid_lens)
    weights = getattr(mine, "attention_weights", None)
    if not isinstance(weights, torch.Tensor):
        raise TestFailure("after {text}, self.attention_weights is {got}; store the softmax weights there (shape "
                          "(B, Q, K)) before applying dropout: d2l plots them.",
                          mistake="additive_attention.attention_weights_missing", text=text, got=describe(weights))
    check_tensor(weights, ref.attention_weights, f"self.attention_weights after {text}", atol=1e-5, rtol=1e-4)


@grader.test("eval mode is deterministic and gradients reach W_q, W_k and w_v", points=1, hidden=True)
def eval_and_gradients(ctx):
    """dropout = 0.5 in eval mode: two calls agree. Then in training mode with dropout 0, backpropagation gives
    every layer the reference's gradient (or, when the values differ, some gradient)."""
    ref, mine, what = pair(ctx, (3, 5, 6, 0.5), seed=3)
    inputs = (randn((2, 3, 5), ctx.device, 50), randn((2, 4, 3), ctx.device, 51), randn((2, 4, 2), ctx.device, 52))
    valid_lens = lens([4, 2], ctx.device)
    with torch.no_grad():
        first, text = call(ctx, mine, what + ".eval()", *inputs, valid_lens)
        second, _ = call(ctx, mine, what + ".eval()", *inputs, valid_lens)
    if first.shape == second.shape and not torch.equal(first, second):
        raise TestFailure("two calls of {text} in eval mode gave different results: dropout is still active. Use an "
                          "nn.Dropout module (it switches itself off in eval mode), or pass training=self.training "
                          "to the functional dropout.", mistake="additive_attention.dropout_in_eval", text=text)
    ref, mine, what = pair(ctx, (3, 5, 6, 0.0), seed=4)
    ref.train()
    mine.train()
    got, text = call(ctx, mine, what, *inputs, valid_lens)
    if not got.requires_grad:
        raise TestFailure("{text} returned a tensor that autograd cannot differentiate, so W_q, W_k and w_v cannot "
                          "learn. Keep every step a tensor operation (no .detach(), .item() or .numpy()).",
                          mistake="additive_attention.output_not_differentiable", text=text)
    G = randn(tuple(got.shape), ctx.device, 53)
    (got * G).sum().backward()
    expected = ref(*inputs, valid_lens)
    matches = expected.shape == got.shape and torch.allclose(got.detach(), expected.detach(), atol=1e-5, rtol=1e-4)
    if matches:
        (expected * G).sum().backward()
    for name in ("W_q", "W_k", "w_v"):
        grad = getattr(mine, name).weight.grad
        if grad is None:
            raise TestFailure("after backpropagating through {text}, {name}.weight has no gradient: the output does "
                              "not depend on {name} through differentiable operations.", text=text, name=name)
        if matches:
            check_tensor(grad, getattr(ref, name).weight.grad, f"the gradient of (output · G).sum() with respect to "
                         f"{name}.weight, where output = {text}", atol=1e-5, rtol=1e-4)
    if ctx.should_probe_devices():
        module, what = construct(ctx, 3, 5, 6, 0.0)
        module = module.to("meta")
        dev = torch.device("meta")
        meta_inputs = (torch.ones(2, 3, 5, device=dev), torch.ones(2, 4, 3, device=dev), torch.ones(2, 4, 2, device=dev),
                       torch.tensor([4, 2], device=dev))
        text = f"{what}({', '.join(describe(a) for a in meta_inputs)})"
        advice = ("  Create new tensors with device=X.device (e.g. torch.arange(K, device=X.device)) so your code also "
                  "works when the inputs live on a GPU; we check this with tensors on PyTorch's 'meta' device, a "
                  "stand-in for a GPU.")
        out = ctx.run_on_meta(text, lambda: module(*meta_inputs), advice)
        if isinstance(out, torch.Tensor) and out.device.type != "meta":
            raise TestFailure("{text} returned a tensor on {device}, not on the inputs' device. Create new tensors "
                              "with device=X.device (e.g. torch.arange(K, device=X.device)).", text=text,
                              device=str(out.device))


# -- smoke-check -------------------------------------------------------------------------------------------------

ADDRESSES, KEYS, CLASSES, HIDDEN, STEPS = 8, 6, 4, 16, 40


def lookup_batch(n, gen):
    """A lookup table per example: KEYS slots, the first `length` holding distinct addresses (one-hot keys) with a
    random class each (one-hot values); the query is the address of one valid slot, the target its class. The padded
    slots repeat the query's address with another class, so only a correct mask finds the right one."""
    addresses = torch.rand(n, ADDRESSES, generator=gen).argsort(dim=1)[:, :KEYS]
    length = torch.randint(2, KEYS + 1, (n,), generator=gen)
    slot = (torch.rand(n, generator=gen) * length).long()
    asked = addresses[torch.arange(n), slot]
    classes = torch.randint(0, CLASSES, (n, KEYS), generator=gen)
    target = classes[torch.arange(n), slot]
    padded = torch.arange(KEYS)[None, :] >= length[:, None]
    decoy = (target[:, None] + torch.randint(1, CLASSES, (n, KEYS), generator=gen)) % CLASSES
    addresses = torch.where(padded, asked[:, None], addresses)
    classes = torch.where(padded, decoy, classes)
    keys = nn.functional.one_hot(addresses, ADDRESSES).float()
    values = nn.functional.one_hot(classes, CLASSES).float()
    queries = nn.functional.one_hot(asked, ADDRESSES).float()[:, None, :]
    return queries, keys, values, length, target


class Pooling(nn.Module):
    """Attention pooling: the output is the attention-weighted average of the one-hot classes."""

    def __init__(self, attention):
        super().__init__()
        self.attention = attention

    def forward(self, queries, keys, values, valid_lens):
        return self.attention(queries, keys, values, valid_lens)[:, 0]  # (n, CLASSES), a distribution


def train_lookup(ctx, attention, data, report):
    train, test = data
    net = Pooling(attention).to(ctx.device)
    optimizer = Adam(net.parameters(), lr=0.05)

    def accuracy():
        net.eval()
        with torch.no_grad():
            acc = (net(*test[:4]).argmax(dim=1) == test[4]).double().mean().item()
        net.train()
        return acc

    for step, (queries, keys, values, valid_lens, target) in enumerate(train, start=1):
        probs = net(queries, keys, values, valid_lens)
        loss = -torch.log(probs.gather(1, target[:, None]) + 1e-6).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if report and (step % 10 == 0 or step == 1):
            ctx.step(step, loss=loss.item(), accuracy=accuracy())
        elif report:
            ctx.step(step, loss=loss.item())
    return accuracy()


@grader.smoke("attention pooling with your AdditiveAttention learns a table lookup", points=2,
              metric="test accuracy", goal="min", threshold=0.9, budget=10, plot="accuracy", hidden=True)
def lookup_learns(ctx):
    """Each example is a small table of (address, class) pairs padded to 6 slots; the query is one address of the
    table, and the answer is its class. The padded slots repeat the asked address with a wrong class. 40 Adam steps
    of 64 examples train your AdditiveAttention(8, 8, 16, 0) alone; the test accuracy is over 1000 new tables. The
    reference's accuracy on the same data is shown beside yours."""
    # Over data seeds 0 to 9: the reference reaches 1.000 every time; without the tanh 0.51 to 0.57, without the
    # mask 0.33 to 0.39 (the decoys take half the weight). Threshold 0.9.
    gen = ctx.seed(0)
    to = lambda batch: tuple(t.to(ctx.device) for t in batch)  # noqa: E731
    data = ([to(lookup_batch(64, gen)) for _ in range(STEPS)], to(lookup_batch(1000, gen)))
    args = (ADDRESSES, ADDRESSES, HIDDEN, 0.0)
    ctx.seed(0)  # the learner's module draws its initial weights in the sandbox
    attention, what = construct(ctx, *args)
    queries, keys, values, valid_lens, _ = data[0][0]
    out, text = call(ctx, attention, what, queries, keys, values, valid_lens)
    if tuple(out.shape) != (64, 1, CLASSES):
        raise TestFailure("{text} returned shape {shape}; expected {expected}, i.e. (B, Q, v).", text=text,
                          shape=str(tuple(out.shape)), expected=str((64, 1, CLASSES)))
    if not out.requires_grad:
        raise TestFailure("{text} returned a tensor that autograd cannot differentiate, so the model cannot learn. "
                          "Keep every step a tensor operation.",
                          mistake="additive_attention.output_not_differentiable", text=text)
    mine = train_lookup(ctx, attention.train(), data, report=True)
    torch.manual_seed(0)
    reference = ctx.ref("AdditiveAttention")(*args).to(ctx.device)
    theirs = train_lookup(ctx, reference, data, report=False)
    return {"value": mine, "reference": theirs}
