"""Tests and smoke-check for exercise multihead_attention (d2l 12.2-12.5).

Values are compared in eval mode with dropout 0. PyTorch's own nn.MultiheadAttention
serves as an independent oracle (the guard forbids it only inside the learner's code).
The visible tests (also in the student build) check values written in the test, the definitions
spelled out element by element, or that oracle; the hidden ones compare with the reference.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import Adam

grader = Grader("multihead_attention")


def randn(shape, device, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen).to(device)


def lens(values, device):
    return torch.tensor(values, dtype=torch.long, device=device)


# -- grader-side variants: the reference, and the usual mistakes -----------------------------------------------------

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


def attention_variant(queries, keys, values, valid_lens, scale):
    scores = torch.bmm(queries, keys.transpose(1, 2)) / scale
    return torch.bmm(softmax_variant(scores, valid_lens), values)


def mha_variant(ref, queries, keys, values, valid_lens, *, scale=None, lens_mode="interleave", skip_output=False):
    """The reference module's computation with a different scale, another way to repeat the lengths, or no W_o."""
    h = ref.num_heads
    q = transpose_heads(ref.W_q(queries), h)
    k = transpose_heads(ref.W_k(keys), h)
    v = transpose_heads(ref.W_v(values), h)
    if valid_lens is not None:
        if lens_mode == "repeat":
            valid_lens = valid_lens.repeat(h) if valid_lens.dim() == 1 else valid_lens.repeat(h, 1)
        elif lens_mode == "none":
            valid_lens = None
        else:
            valid_lens = torch.repeat_interleave(valid_lens, repeats=h, dim=0)
    out = attention_variant(q, k, v, valid_lens, math.sqrt(q.shape[-1]) if scale is None else scale)
    out = out.reshape(-1, h, out.shape[1], out.shape[2]).permute(0, 2, 1, 3)
    out = out.reshape(out.shape[0], out.shape[1], -1)
    return out if skip_output else ref.W_o(out)


def transpose_heads(X, h):
    X = X.reshape(X.shape[0], X.shape[1], h, -1).permute(0, 2, 1, 3)
    return X.reshape(-1, X.shape[2], X.shape[3])


def first_match(got, expected, variants):
    """The TestFailure part of the first (candidate, make the part) pair that `got` matches, or None."""
    g = got.detach()
    for candidate, why in variants:
        c = candidate.detach()
        if c.shape == g.shape and not torch.allclose(c, expected.detach(), atol=1e-6) and \
                torch.allclose(g.to(c.dtype), c, atol=1e-5, rtol=1e-4):
            return why()
    return None


# -- calling the learner's classes -------------------------------------------------------------------------------

def learner_class(ctx, name):
    cls = ctx.fn(name)
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("{name} does not subclass nn.Module. Keep the declaration `class {name}(nn.Module):` and "
                          "call super().__init__() first in __init__.", name=name)
    ctx.check_signature(name, cls, ctx.declaration(name))
    return cls


def construct(ctx, name, *args, **kwargs):
    """Create the learner's module `name` (on ctx.device, in eval mode); explain any exception."""
    cls = learner_class(ctx, name)
    what = f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
    try:
        module = cls(*args, **kwargs)
    except RemoteError as exc:  # everything the learner's code raises becomes a verdict
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__() at the start of __init__.",
                          mistake="multihead_attention.super_init_missing", what=what)
    return module.to(ctx.device).eval(), what


def call(ctx, module, what, *args):
    """Call the learner's module; explain any exception; return the output and the call's description."""
    text = f"{what}({', '.join(describe(a) for a in args)})"
    try:
        got = module(*args)
    except RemoteError as exc:
        failure = ctx.explain(exc, text)
        own_attention = module.is_instance(ctx.learner("DotProductAttention"))
        parts = () if own_attention else BUILDING_BLOCKS
        note = dependency_note(ctx, parts)
        if note is not None:
            failure.with_part(note)
        elif hasattr(module, "W_q") and args[-1] is not None and ("must match the size" in exc.message
                                                                  or "shape" in exc.message):
            # exc.message is the learner's own exception text
            failure.with_part(TestFailure(
                "  If this comes from masked_softmax: after transpose_qkv the batch has B * num_heads rows, but "
                "valid_lens has one entry per batch item. Repeat each length once per head with "
                "torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0).",
                mistake="multihead_attention.heads_lens_not_repeated"))
        raise failure from None
    check_type(got, text)
    return got, text


BUILDING_BLOCKS = ("transpose_qkv", "transpose_output", "DotProductAttention")


def broken_blocks(ctx):
    """The learner's building blocks that disagree with the reference on small inputs (computed once per test)."""
    if getattr(ctx, "_broken_blocks", None) is not None:
        return ctx._broken_blocks
    dev = ctx.device
    queries, keys, values = randn((4, 3, 2), dev, 91), randn((4, 5, 2), dev, 92), randn((4, 5, 3), dev, 93)
    cases = {
        "transpose_qkv": [(randn((2, 3, 4), dev, 94), 2), (randn((3, 2, 6), dev, 95), 3)],
        "transpose_output": [(randn((4, 3, 2), dev, 96), 2), (randn((6, 2, 4), dev, 97), 3)],
    }
    broken = []
    for name, calls in cases.items():
        try:
            fn = ctx.fn(name)
            for args in calls:
                got, expected = fn(*args), ctx.ref(name)(*args)
                if not (isinstance(got, torch.Tensor) and got.shape == expected.shape
                        and torch.allclose(got.detach().to(expected), expected, atol=1e-5, rtol=1e-4)):
                    raise ValueError(name)
        except Exception:  # noqa: BLE001 - any failure means the block is not right yet
            broken.append(name)
    try:
        attention = ctx.fn("DotProductAttention")(0.0).to(dev).eval()
        reference = ctx.ref("DotProductAttention")(0.0).eval()
        with torch.no_grad():
            for valid_lens in (None, lens([1, 5, 3, 2], dev)):
                got = attention(queries, keys, values, valid_lens)
                expected = reference(queries, keys, values, valid_lens)
                if not (isinstance(got, torch.Tensor) and got.shape == expected.shape
                        and torch.allclose(got.to(expected), expected, atol=1e-5, rtol=1e-4)):
                    raise ValueError("DotProductAttention")
    except Exception:  # noqa: BLE001
        broken.append("DotProductAttention")
    ctx._broken_blocks = broken
    return broken


def dependency_note(ctx, parts):
    """A TestFailure part saying which of the learner's building blocks among `parts` are wrong, or None (always in
    a visible test: it needs the reference)."""
    if not ctx.has_reference():
        return None
    broken = [name for name in broken_blocks(ctx) if name in parts]
    if not broken:
        return None
    if len(broken) == 1:
        return TestFailure("  Your {name} does not match the reference yet (see its own test), and this code is built "
                           "on it: fix it first.", name=broken[0])
    return TestFailure("  Your {names} and {last} do not match the reference yet (see their own tests), and this code "
                       "is built on them: fix them first.", names=", ".join(broken[:-1]), last=broken[-1])


def reference_module(ctx, name, *args, seed=0, **kwargs):
    torch.manual_seed(seed)
    return ctx.ref(name)(*args, **kwargs).to(ctx.device).eval()


def copy_weights(ours, mine, what, *, own=False):
    """Load `ours` (a state dict: the reference's weights, or with `own` the grader's own) into the learner's module
    by name, with a clear message if the names differ."""
    theirs = mine.state_dict()
    lacking = [k for k in ours if k not in theirs]
    extra = [k for k in theirs if k not in ours]
    if lacking or extra:
        if own:
            failure = TestFailure("the grader loads its own weights into your {what} by name, but the names differ."
                                  "\n    expected parameters: {expected}\n    yours:               {yours}",
                                  what=what, expected=", ".join(ours), yours=", ".join(theirs) or "(none)")
        else:
            failure = TestFailure("the grader copies the reference's weights into your {what} by name, but the names "
                                  "differ.\n    expected parameters: {expected}\n    yours:               {yours}",
                                  what=what, expected=", ".join(ours), yours=", ".join(theirs) or "(none)")
        if extra and all(k.endswith(".bias") for k in extra) and not lacking:
            failure.with_part(TestFailure("  Your layers have biases although bias=False was passed: give every "
                                          "nn.Linear bias=bias.", mistake="multihead_attention.bias_ignored"))
        elif lacking and all(k.endswith(".bias") for k in lacking) and not extra:
            failure.with_part(TestFailure("  bias=True was passed, but your layers have no biases: give every "
                                          "nn.Linear bias=bias.", mistake="multihead_attention.bias_ignored"))
        else:
            failure.with_part(TestFailure("  Name the layers self.W_q, self.W_k, self.W_v and self.W_o (nn.Linear "
                                          "each) and create no other parameters.",
                                          mistake="multihead_attention.layer_names"))
        raise failure
    for key, value in ours.items():
        have = theirs[key]
        if isinstance(have, nn.parameter.UninitializedParameter):
            continue
        if tuple(have.shape) != tuple(value.shape):
            raise TestFailure("in your {what}, {key} has shape {shape}, expected {expected}. nn.Linear(in_features, "
                              "out_features) stores a weight of shape (out_features, in_features): W_q maps "
                              "query_size, W_k key_size and W_v value_size to num_hiddens, and W_o maps num_hiddens to "
                              "num_hiddens.", mistake="multihead_attention.linear_sizes", what=what, key=key,
                              shape=str(tuple(have.shape)), expected=str(tuple(value.shape)))
    mine.load_state_dict(ours)


def mha_pair(ctx, args, seed=0, bias=False):
    """(reference module, learner module with the reference's weights, description), both in eval mode."""
    ref = reference_module(ctx, "MultiHeadAttention", *args, bias=bias, seed=seed)
    kwargs = {"bias": True} if bias else {}
    mine, what = construct(ctx, "MultiHeadAttention", *args, **kwargs)
    copy_weights(ref.state_dict(), mine, what)
    return ref, mine, what


def mha_inputs(ctx, B, Q, K, key_size, query_size, value_size, seed):
    return (randn((B, Q, query_size), ctx.device, seed), randn((B, K, key_size), ctx.device, seed + 1),
            randn((B, K, value_size), ctx.device, seed + 2))


def mismatch_note(ctx, got, expected, ref, inputs, valid_lens, variants):
    """Why the learner's output differs (a TestFailure part): a broken building block, or a familiar mistake; None
    if unknown."""
    note = dependency_note(ctx, BUILDING_BLOCKS)
    if note is not None or got.shape != expected.shape or got.device != expected.device:
        return note
    with torch.no_grad():
        return first_match(got, expected, [(mha_variant(ref, *inputs, valid_lens, **kw), why) for kw, why in variants])


def check_against(ctx, got, expected, text, ref, inputs, valid_lens, variants):
    try:
        check_tensor(got, expected, text, atol=1e-5, rtol=1e-4)
    except TestFailure as failure:
        why = mismatch_note(ctx, got, expected, ref, inputs, valid_lens, variants)
        raise (failure.with_part(why) if why is not None else failure) from None


def check_mha(ctx, ref, mine, what, inputs, valid_lens, variants=()):
    """Compare the learner's output with the reference's; name a familiar mistake when the output matches it."""
    with torch.no_grad():
        expected = ref(*inputs, valid_lens)
        got, text = call(ctx, mine, what, *inputs, valid_lens)
    check_against(ctx, got, expected, f"{text} with valid_lens = {valid_lens.tolist() if valid_lens is not None else None}"
                  " and the reference's weights (eval mode, dropout 0)", ref, inputs, valid_lens, variants)
    return got


def scale_variants(num_hiddens, num_heads):
    """(mha_variant keywords, a function making the TestFailure part that names the mistake) for wrong scalings."""
    head = num_hiddens // num_heads
    return [
        ({"scale": math.sqrt(num_hiddens)},
         lambda: TestFailure("  The scores are divided by √num_hiddens = √{num_hiddens}; each head's dot products have "
                             "only num_hiddens / num_heads = {head} terms, so divide by √{head}: use the last dimension "
                             "of the per-head queries (queries.shape[-1] inside DotProductAttention).",
                             mistake="multihead_attention.scale_num_hiddens", num_hiddens=num_hiddens, head=head)),
        ({"scale": 1.0},
         lambda: TestFailure("  The scores are not scaled: divide them by √d, d = the size of one head.",
                             mistake="multihead_attention.scale_missing")),
        ({"scale": float(head)},
         lambda: TestFailure("  The scores are divided by d = {head} instead of √d = √{head}.",
                             mistake="multihead_attention.scale_not_sqrt", head=head)),
        ({"scale": float(num_hiddens)},
         lambda: TestFailure("  The scores are divided by num_hiddens = {num_hiddens}; divide by √d with d the size of "
                             "one head.", mistake="multihead_attention.scale_by_num_hiddens",
                             num_hiddens=num_hiddens)),
    ]


def lens_variants(num_heads):
    """(mha_variant keywords, a function making the TestFailure part) for the valid lengths' typical mistakes."""
    return [
        ({"lens_mode": "repeat"},
         lambda: TestFailure("  The valid lengths went to the wrong heads: valid_lens.repeat({num_heads}) gives "
                             "[l0, l1, ..., l0, l1, ...], but transpose_qkv puts the heads of batch item b in the "
                             "consecutive rows b * num_heads ... b * num_heads + {last}. Each length must be repeated "
                             "num_heads times in a row: torch.repeat_interleave(valid_lens, repeats=num_heads, dim=0) "
                             "gives [l0, l0, ..., l1, l1, ...].", mistake="multihead_attention.heads_lens_repeat",
                             num_heads=num_heads, last=num_heads - 1)),
        ({"lens_mode": "none"},
         lambda: TestFailure("  valid_lens has no effect: pass the repeated lengths on to your DotProductAttention so "
                             "that the padded keys get weight 0.", mistake="multihead_attention.heads_lens_dropped")),
        ({"skip_output": True},
         lambda: TestFailure("  W_o is not applied: after gluing the heads back together with transpose_output, "
                             "return self.W_o(...) of that (B, Q, num_hiddens) tensor.",
                             mistake="multihead_attention.output_projection_missing")),
    ]


def shown(value, indent):
    """fmt_tensor, with the lines after the first indented to line up under it."""
    return fmt_tensor(value).replace("\n", "\n" + " " * indent)


# -- DotProductAttention -------------------------------------------------------------------------------------------

@grader.test("DotProductAttention scales by √d and stores attention_weights", points=2, hidden=True)
def dot_product_attention(ctx):
    """Random queries (d = 6) against 5 keys, with and without valid lengths; dropout 0, eval mode."""
    attention, what = construct(ctx, "DotProductAttention", 0.0)
    ref = ctx.ref("DotProductAttention")(0.0).eval()
    B, Q, K, d, v = 2, 3, 5, 6, 3
    queries, keys, values = randn((B, Q, d), ctx.device, 4), randn((B, K, d), ctx.device, 5), randn((B, K, v), ctx.device, 6)
    for valid_lens in (lens([2, 5], ctx.device), lens([[1, 4, 5], [3, 2, 5]], ctx.device), None):
        args = (queries, keys, values) if valid_lens is None else (queries, keys, values, valid_lens)
        with torch.no_grad():
            expected = ref(*args)
            got, text = call(ctx, attention, what, *args)
        try:
            check_tensor(got, expected, f"{text} with valid_lens = "
                         f"{None if valid_lens is None else valid_lens.tolist()}", atol=1e-5, rtol=1e-4)
        except TestFailure as failure:
            why = None
            if got.shape == expected.shape and got.device == expected.device:
                why = first_match(got, expected, [
                    (attention_variant(queries, keys, values, valid_lens, 1.0),
                     lambda: TestFailure("  The scores are not scaled: divide queries @ keysᵀ by √d, d = "
                                         "queries.shape[-1].", mistake="multihead_attention.scale_missing")),
                    (attention_variant(queries, keys, values, valid_lens, float(d)),
                     lambda: TestFailure("  The scores are divided by d = {d}; divide them by √d = √{d}.",
                                         mistake="multihead_attention.scale_not_sqrt", d=d)),
                    (attention_variant(queries, keys, values, valid_lens, math.sqrt(K)),
                     lambda: TestFailure("  The scores are divided by √(number of keys) = √{K}; divide by √d with d = "
                                         "queries.shape[-1], the length of one query vector.",
                                         mistake="multihead_attention.scale_num_keys", K=K)),
                    (attention_variant(queries, keys, values, None, math.sqrt(d)),
                     lambda: TestFailure("  valid_lens has no effect: compute the weights with masked_softmax(scores, "
                                         "valid_lens).", mistake="multihead_attention.attention_lens_ignored")),
                ])
            raise (failure.with_part(why) if why is not None else failure) from None
        weights = getattr(attention, "attention_weights", None)
        if not isinstance(weights, torch.Tensor):
            raise TestFailure("after {text}, self.attention_weights is {got}; store the softmax weights there (shape "
                              "(B, Q, K)) before applying dropout: d2l plots them.",
                              mistake="multihead_attention.attention_weights_missing", text=text,
                              got=describe(weights))
        check_tensor(weights, ref.attention_weights, f"self.attention_weights after {text}", atol=1e-6, rtol=1e-5)


@grader.test("DotProductAttention gives the keys past each valid length weight 0 (1-D and 2-D valid_lens)", points=1)
def dot_product_masking(ctx):
    """Random queries against 5 keys; the expected output is worked out one query at a time from the definition:
    softmax(q · k_j / √d over the first n keys) times those n values, n the query's valid length. Dropout 0, eval
    mode."""
    attention, what = construct(ctx, "DotProductAttention", 0.0)
    B, Q, K, d, v = 3, 2, 5, 4, 3
    queries, keys, values = randn((B, Q, d), ctx.device, 14), randn((B, K, d), ctx.device, 15), randn((B, K, v), ctx.device, 16)
    for valid in ([2, 5, 1], [[1, 3], [5, 2], [4, 4]]):
        valid_lens = lens(valid, ctx.device)
        expected = torch.zeros(B, Q, v, device=ctx.device)
        for b in range(B):
            for q in range(Q):
                n = int(valid_lens[b] if valid_lens.dim() == 1 else valid_lens[b, q])
                weights = torch.softmax(keys[b, :n] @ queries[b, q] / math.sqrt(d), dim=0)
                expected[b, q] = weights @ values[b, :n]
        with torch.no_grad():
            got, text = call(ctx, attention, what, queries, keys, values, valid_lens)
        try:
            check_tensor(got, expected, f"{text} with valid_lens = {valid}, compared with the definition worked out "
                         "one query at a time", atol=1e-5, rtol=1e-4)
        except TestFailure as failure:
            why = None
            if got.shape == expected.shape and got.device == expected.device and torch.allclose(
                    got.detach(), attention_variant(queries, keys, values, None, math.sqrt(d)), atol=1e-5, rtol=1e-4):
                why = TestFailure("  valid_lens has no effect: compute the weights with the given masked_softmax(scores, "
                                  "valid_lens).", mistake="multihead_attention.attention_lens_ignored")
            raise (failure.with_part(why) if why is not None else failure) from None


# -- transpose_qkv / transpose_output ----------------------------------------------------------------------------

@grader.test("transpose_qkv puts head h of item b at row b * num_heads + h; transpose_output undoes it", points=1)
def transposes(ctx):
    """The lesson's example (B=2, T=3, num_hiddens=4, 2 heads), a bigger one, and the round trip."""
    fn = ctx.fn("transpose_qkv")
    X = torch.arange(24.0, device=ctx.device).reshape(2, 3, 4)
    got = fn(X.clone(), 2)
    what = fn.describe(X, 2)
    check_type(got, what)
    expected = torch.tensor([[[0.0, 1.0], [4.0, 5.0], [8.0, 9.0]], [[2.0, 3.0], [6.0, 7.0], [10.0, 11.0]],
                             [[12.0, 13.0], [16.0, 17.0], [20.0, 21.0]], [[14.0, 15.0], [18.0, 19.0], [22.0, 23.0]]],
                            device=ctx.device)  # row b * 2 + h: X[b, :, 2h:2h + 2]
    if got.shape == expected.shape and got.device == expected.device and not torch.equal(got, expected):
        if torch.equal(got, X.reshape(4, 3, 2)):
            why = TestFailure("  You reshaped straight to (B * num_heads, T, s) without the permute, so a 'head' mixes "
                              "time steps. Reshape to (B, T, num_heads, s), permute(0, 2, 1, 3), then reshape to "
                              "(B * num_heads, T, s).", mistake="multihead_attention.heads_without_permute")
        elif torch.equal(got, X.reshape(2, 3, 2, 2).permute(2, 0, 1, 3).reshape(4, 3, 2)):
            why = TestFailure("  The rows are ordered head-major (row h * B + b). The course puts the heads of one "
                              "batch item next to each other (row b * num_heads + h): permute(0, 2, 1, 3), not "
                              "permute(2, 0, 1, 3).", mistake="multihead_attention.heads_head_major")
        else:
            why = TestFailure("  Row b * num_heads + h must hold X[b, :, h * s:(h + 1) * s] with s = num_hiddens / "
                              "num_heads.")
        raise TestFailure("{what} returned the wrong layout.\n    X        = {X}\n    expected = {expected}\n"
                          "    got      = {got}", what=what, X=shown(X, 15), expected=shown(expected, 15),
                          got=shown(got, 15)).with_part(why)
    check_tensor(got, expected, what)
    X = randn((3, 5, 12), ctx.device, 7)  # 3 heads of size 4: row b * 3 + h holds X[b, :, 4h:4h + 4]
    ctx.compare("transpose_qkv", X, 3, expected=torch.stack([X[b, :, 4 * h:4 * h + 4] for b in range(3)
                                                             for h in range(3)]))
    heads = randn((6, 5, 4), ctx.device, 8)  # 2 heads: item b is rows 2b and 2b + 1, side by side
    ctx.compare("transpose_output", heads, 2, expected=torch.stack([torch.cat([heads[2 * b], heads[2 * b + 1]], dim=-1)
                                                                    for b in range(3)]))
    back = ctx.fn("transpose_output")
    for shape, h in (((2, 3, 4), 2), ((3, 5, 12), 4), ((1, 2, 6), 1)):
        X = randn(shape, ctx.device, 9 + h)
        heads = fn(X.clone(), h)
        check_type(heads, fn.describe(X, h))
        got = back(heads, h)
        what = f"your transpose_output(transpose_qkv(X: {describe(X)}, {h}), {h})"
        check_type(got, what)
        check_tensor(got, X, what + " should give back X exactly", atol=0, rtol=0)


# -- MultiHeadAttention ------------------------------------------------------------------------------------------

@grader.test("MultiHeadAttention matches the reference with the same weights", points=1, hidden=True)
def mha_reference(ctx):
    """Different key, query and value sizes, 2 heads, one valid length per item; also bias=True."""
    args = (5, 7, 6, 8, 2, 0.0)  # key_size, query_size, value_size, num_hiddens, num_heads, dropout
    inputs = mha_inputs(ctx, 2, 3, 4, 5, 7, 6, seed=20)
    for bias in (False, True):
        ref, mine, what = mha_pair(ctx, args, seed=1, bias=bias)
        check_mha(ctx, ref, mine, what, inputs, lens([3, 2], ctx.device), scale_variants(8, 2) + lens_variants(2))


@grader.test("MultiHeadAttention agrees with torch.nn.MultiheadAttention given the same weights", points=1)
def mha_oracle(ctx):
    """PyTorch's implementation, with in_proj = [W_q; W_k; W_v], out_proj = W_o (the grader's random weights) and
    no biases: an oracle independent of the course's code. The padding mask goes in as attn_mask of shape
    (B * num_heads, Q, K), True where a key is hidden, in PyTorch's documented batch-major head order; 1-D and 2-D
    valid lengths."""
    num_hiddens, num_heads, B, Q, K = 12, 3, 3, 4, 6
    args = (num_hiddens, num_hiddens, num_hiddens, num_hiddens, num_heads, 0.0)
    mine, what = construct(ctx, "MultiHeadAttention", *args)
    gen = torch.Generator().manual_seed(2)
    bound = 1 / math.sqrt(num_hiddens)  # the grader's own weights, drawn as nn.Linear draws its own
    weights = {f"{name}.weight": ((torch.rand(num_hiddens, num_hiddens, generator=gen) * 2 - 1) * bound).to(ctx.device)
               for name in ("W_q", "W_k", "W_v", "W_o")}
    copy_weights(weights, mine, what, own=True)
    oracle = nn.MultiheadAttention(num_hiddens, num_heads, dropout=0.0, bias=False, batch_first=True).to(ctx.device)
    with torch.no_grad():
        oracle.in_proj_weight.copy_(torch.cat([weights["W_q.weight"], weights["W_k.weight"], weights["W_v.weight"]]))
        oracle.out_proj.weight.copy_(weights["W_o.weight"])
    oracle.train()  # dropout is 0; training mode keeps PyTorch on its general (non-fused) path
    queries, keys, values = mha_inputs(ctx, B, Q, K, num_hiddens, num_hiddens, num_hiddens, seed=30)
    positions = torch.arange(K, device=ctx.device)
    for valid in ([6, 2, 4], [1, 6, 3], [[1, 2, 6, 3], [4, 4, 1, 2], [6, 5, 2, 1]]):
        valid_lens = lens(valid, ctx.device)
        per_query = valid_lens[:, None].expand(B, Q) if valid_lens.dim() == 1 else valid_lens
        hidden = positions[None, None, :] >= per_query[:, :, None]  # (B, Q, K): True where a key is padding
        hidden = hidden[:, None].expand(B, num_heads, Q, K).reshape(B * num_heads, Q, K)
        with torch.no_grad():
            expected, _ = oracle(queries, keys, values, attn_mask=hidden, need_weights=False)
            got, text = call(ctx, mine, what, queries, keys, values, valid_lens)
        check_tensor(got, expected, f"{text} with valid_lens = {valid}, compared with torch.nn.MultiheadAttention("
                     f"{num_hiddens}, {num_heads}, bias=False, batch_first=True) given the same weights and the padded "
                     "keys masked", atol=1e-5, rtol=1e-4)


@grader.test("each batch item keeps its own valid lengths in every head (1-D and 2-D valid_lens)",
             points=1, hidden=True)
def mha_valid_lens(ctx):
    """3 items with different lengths and 4 heads: the lengths must be repeated with repeat_interleave,
    not repeat. Then one valid length per query, shape (B, Q)."""
    args = (6, 6, 6, 8, 4, 0.0)
    ref, mine, what = mha_pair(ctx, args, seed=3)
    inputs = mha_inputs(ctx, 3, 3, 5, 6, 6, 6, seed=40)
    check_mha(ctx, ref, mine, what, inputs, lens([1, 5, 2], ctx.device), lens_variants(4) + scale_variants(8, 4))
    check_mha(ctx, ref, mine, what, inputs, lens([[1, 2, 3], [5, 5, 1], [2, 4, 4]], ctx.device),
              lens_variants(4) + scale_variants(8, 4))
    check_mha(ctx, ref, mine, what, inputs, None, scale_variants(8, 4))


@grader.test("scores are scaled by √(num_hiddens / num_heads), the size of one head", points=1, hidden=True)
def mha_scaling(ctx):
    """16 hidden units in 4 heads: √4 = 2 per head, not √16 = 4."""
    args = (16, 16, 16, 16, 4, 0.0)
    ref, mine, what = mha_pair(ctx, args, seed=4)
    inputs = tuple(3 * x for x in mha_inputs(ctx, 2, 3, 5, 16, 16, 16, seed=50))  # large scores: scaling matters
    check_mha(ctx, ref, mine, what, inputs, lens([4, 5], ctx.device), scale_variants(16, 4) + lens_variants(4))


META_ADVICE = ("  Create new tensors with device=X.device (e.g. torch.arange(K, device=X.device)) so your code also "
               "works when the inputs live on a GPU; we check this with tensors on PyTorch's 'meta' device, a "
               "stand-in for a GPU.")


def module_device_probe(ctx, args, make_inputs):
    """Like ctx.device_probe, for a module: run it on PyTorch's 'meta' device (shapes only, a stand-in for a GPU)."""
    if not ctx.should_probe_devices():
        return
    module, what = construct(ctx, "MultiHeadAttention", *args)
    module = module.to("meta")
    inputs = make_inputs(torch.device("meta"))
    text = f"{what}({', '.join(describe(a) for a in inputs)})"
    got = ctx.run_on_meta(text, lambda: module(*inputs), META_ADVICE)
    if isinstance(got, torch.Tensor) and got.device.type != "meta":
        raise TestFailure("{text} returned a tensor on {device}, not on the inputs' device. Create new tensors with "
                          "device=X.device (e.g. torch.arange(K, device=X.device)) so your code also works when the "
                          "inputs live on a GPU; we check this with tensors on PyTorch's 'meta' device, a stand-in "
                          "for a GPU.", text=text, device=str(got.device))


def output_matches(got, expected):
    return got.shape == expected.shape and got.device == expected.device and bool(
        torch.allclose(got.detach(), expected.detach(), atol=1e-5, rtol=1e-4))


@grader.test("eval mode is deterministic, gradients reach W_q, W_k, W_v and W_o, the device is kept",
             points=1, hidden=True)
def mha_eval_grad_device(ctx):
    """dropout = 0.5 in eval mode: two calls agree. Then dropout 0 in training mode: every projection gets a
    gradient; when the output matches the reference's, the gradients must match the reference's too, and
    otherwise autograd's directional derivatives must match finite differences of your own module (the values
    are the other tests' business). The result stays on the inputs' device."""
    args = (5, 4, 3, 8, 2, 0.5)
    ref, mine, what = mha_pair(ctx, args, seed=5)
    inputs = mha_inputs(ctx, 3, 4, 5, 5, 4, 3, seed=60)
    valid_lens = lens([5, 2, 3], ctx.device)
    with torch.no_grad():
        first, text = call(ctx, mine, what + ".eval()", *inputs, valid_lens)
        second, _ = call(ctx, mine, what + ".eval()", *inputs, valid_lens)
    if first.device != inputs[0].device:
        raise TestFailure("{text} returned a tensor on {got}, but the inputs are on {device}. Create new tensors with "
                          "device=X.device and avoid .cpu() or .numpy().", text=text, got=str(first.device),
                          device=str(inputs[0].device))
    if first.shape == second.shape and not torch.equal(first, second):
        raise TestFailure("two calls of {text} in eval mode gave different results: dropout is still active. Use an "
                          "nn.Dropout module (it switches itself off in eval mode), or pass training=self.training "
                          "to the functional dropout.", mistake="multihead_attention.dropout_in_eval", text=text)
    with torch.no_grad():
        expected_eval = ref(*inputs, valid_lens)
    eval_text = text

    ref, mine, what = mha_pair(ctx, args[:5] + (0.0,), seed=6)
    ref.train()
    mine.train()
    weights = randn((3, 4, 8), ctx.device, 61)
    got, text = call(ctx, mine, what, *inputs, valid_lens)
    if not got.requires_grad:
        raise TestFailure("{text} returned a tensor that autograd cannot differentiate, so W_q, W_k, W_v and W_o "
                          "cannot learn. Keep every step a tensor operation (no .detach(), .item() or .numpy()).",
                          mistake="multihead_attention.output_not_differentiable", text=text)
    if got.shape != weights.shape:  # the shape is the value tests' business; any fixed weights do for gradients
        weights = randn(tuple(got.shape), ctx.device, 61)
    (got * weights).sum().backward()
    expected = ref(*inputs, valid_lens)
    matches = output_matches(got, expected)
    if matches:
        (expected * weights).sum().backward()
    names = ("W_q", "W_k", "W_v", "W_o")
    for name in names:
        if getattr(mine, name).weight.grad is None:
            raise TestFailure("after backpropagating through {text}, {name}.weight has no gradient: the output does not "
                              "depend on {name} through differentiable operations.", text=text, name=name)
    if matches and not output_matches(first, expected_eval):
        # right with dropout 0, wrong in eval mode with dropout 0.5: dropout still changes something in eval mode
        try:
            check_tensor(first, expected_eval, eval_text + " in eval mode (dropout inactive) with the reference's "
                         "weights", atol=1e-5, rtol=1e-4)
        except TestFailure as failure:
            raise failure.with_part(TestFailure(
                "  With dropout 0 your module matches the reference, so the difference comes from dropout: in eval mode "
                "nn.Dropout returns its input unchanged (no rescaling either).",
                mistake="multihead_attention.dropout_eval_scaling")) from None
    if matches:
        for name in names:
            check_tensor(getattr(mine, name).weight.grad, getattr(ref, name).weight.grad,
                         f"the gradient of (output · G).sum() with respect to {name}.weight, where output = {text}",
                         atol=1e-5, rtol=1e-4)
    else:  # the values are wrong (the value tests say why): autograd must at least see what the code computes
        gen = torch.Generator().manual_seed(62)
        eps = 1e-2
        for name in names:
            W = getattr(mine, name).weight
            v = torch.randn(tuple(W.shape), generator=gen).to(W.device)
            analytic = float((W.grad * v).sum())
            values = []
            with torch.no_grad():
                for sign in (1, -1):
                    W.add_(sign * eps * v)
                    out, _ = call(ctx, mine, what, *inputs, valid_lens)
                    W.sub_(sign * eps * v)
                    values.append(float((out * weights).sum()))
            numeric = (values[0] - values[1]) / (2 * eps)
            if abs(numeric - analytic) > 1e-2 + 2e-2 * abs(numeric):
                raise TestFailure("the gradient that autograd computes for {name}.weight through {text} does not match "
                                  "how the output really changes with it (a directional derivative of {analytic:.4g} "
                                  "from autograd, {numeric:.4g} from finite differences). Part of the computation is "
                                  "hidden from autograd: no .detach(), .data, .item() or torch.no_grad() inside "
                                  "forward.", mistake="multihead_attention.hidden_from_autograd", name=name,
                                  text=text, analytic=analytic, numeric=numeric)
    module_device_probe(ctx, args, lambda dev: (torch.ones(2, 3, 4, device=dev), torch.ones(2, 5, 5, device=dev),
                                                torch.ones(2, 5, 3, device=dev), torch.tensor([2, 5], device=dev)))


# -- smoke-check -------------------------------------------------------------------------------------------------

CLS, A, B = 0, 1, 2          # token ids; 3 .. VOCAB - 1 are distractors
VOCAB, BODY = 8, 12          # a sequence is [CLS] + BODY tokens, the first valid_len of them real
D, HEADS, STEPS = 32, 4, 120


def majority_batch(n, gen):
    """Label: does token A occur more often than token B among the real tokens? Ties are dropped. The padding
    repeats one of A or B (chosen at random, independent of the label), so a model that attends to the padding
    counts the wrong tokens; only a correct mask lets the [CLS] position count the real ones."""
    m = 3 * n
    body = torch.randint(3, VOCAB, (m, BODY), generator=gen)
    ab = torch.rand(m, BODY, generator=gen) < 0.5
    body = torch.where(ab, torch.randint(A, B + 1, (m, BODY), generator=gen), body)
    length = torch.randint(2, BODY + 1, (m,), generator=gen)
    real = torch.arange(BODY)[None, :] < length[:, None]
    diff = ((body == A) & real).sum(dim=1) - ((body == B) & real).sum(dim=1)
    pad = torch.randint(A, B + 1, (m, 1), generator=gen).expand(m, BODY)
    body = torch.where(real, body, pad)
    keep = (diff != 0).nonzero()[:n, 0]
    tokens = torch.cat([torch.full((keep.numel(), 1), CLS), body[keep]], dim=1)
    return tokens, length[keep] + 1, (diff[keep] > 0).long()  # the valid length counts the [CLS] token


class Classifier(nn.Module):
    """Token embedding + learned positions, one Transformer-encoder block (attention, add & norm, FFN, add & norm),
    and a linear head on the [CLS] position, which sees the other tokens only through attention."""

    def __init__(self, attention, attend):
        super().__init__()
        self.embedding = nn.Linear(VOCAB, D, bias=False)  # on one-hot tokens: deterministic on a GPU too
        self.position = nn.Parameter(torch.randn(BODY + 1, D) * 0.1)
        self.attention = attention
        self.attend = attend
        self.norm1, self.norm2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.ffn = nn.Sequential(nn.Linear(D, 2 * D), nn.ReLU(), nn.Linear(2 * D, D))
        self.head = nn.Linear(D, 2)

    def forward(self, tokens, valid_lens):
        X = self.embedding(F.one_hot(tokens, VOCAB).to(self.position.dtype)) + self.position
        X = self.norm1(X + self.attend(self.attention, X, valid_lens))
        X = self.norm2(X + self.ffn(X))
        return self.head(X[:, 0])


def train_classifier(ctx, attention, attend, data, report):
    train, test = data
    torch.manual_seed(1)  # the same initial classifier around the learner's attention and the reference's
    net = Classifier(attention, attend).to(ctx.device)
    optimizer = Adam(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def accuracy():
        net.eval()
        with torch.no_grad():
            acc = (net(test[0], test[1]).argmax(dim=1) == test[2]).double().mean().item()
        net.train()
        return acc

    acc = None  # measured every 20 steps; until then only the loss is reported (0.5 would look like a measurement)
    for step, (tokens, valid_lens, labels) in enumerate(train, start=1):
        loss = loss_fn(net(tokens, valid_lens), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 20 == 0:
            acc = accuracy()
        if report and acc is None:
            ctx.step(step, loss=loss.item())
        elif report:
            ctx.step(step, loss=loss.item(), accuracy=acc)
    return accuracy()


@grader.smoke("a one-block Transformer encoder with your attention learns a counting task", points=3,
              metric="test accuracy", goal="min", threshold=0.97, budget=12, plot="accuracy", hidden=True)
def encoder_learns(ctx):
    """Padded sequences of random tokens; is token A more frequent than token B among the real ones? The [CLS]
    token's output must count them through your MultiHeadAttention (4 heads, dropout 0.1), masking the padding.
    Trained for 120 Adam steps of 64 sequences; the reference solution's accuracy on the same data and seed is
    shown beside yours."""
    gen = ctx.seed(0)
    to = lambda batch: tuple(t.to(ctx.device) for t in batch)  # noqa: E731
    data = ([to(majority_batch(64, gen)) for _ in range(STEPS)], to(majority_batch(1000, gen)))
    args = (D, D, D, D, HEADS, 0.1)

    checked = []

    def attend(attention, X, valid_lens):
        if checked:
            return attention(X, X, X, valid_lens)
        out, text = call(ctx, attention, what, X, X, X, valid_lens)
        if tuple(out.shape) != tuple(X.shape):
            raise TestFailure("{text} returned shape {shape}; expected {expected}, i.e. (B, Q, num_hiddens).",
                              text=text, shape=str(tuple(out.shape)), expected=str(tuple(X.shape)))
        if not out.requires_grad:
            raise TestFailure("{text} returned a tensor that autograd cannot differentiate, so the model cannot learn. "
                              "Keep every step a tensor operation.",
                              mistake="multihead_attention.output_not_differentiable", text=text)
        checked.append(True)
        return out

    ctx.seed(0)  # the learner's module draws its initial weights in the sandbox
    attention, what = construct(ctx, "MultiHeadAttention", *args)
    mine = train_classifier(ctx, attention.train(), attend, data, report=True)

    torch.manual_seed(0)
    reference = ctx.ref("MultiHeadAttention")(*args).to(ctx.device)
    theirs = train_classifier(ctx, reference, lambda att, X, v: att(X, X, X, v), data, report=False)
    return {"value": mine, "reference": theirs}
