"""Tests and smoke-check for exercise transformer (d2l 12.5: position-wise FFN, add & norm, encoder block).

Values are compared in eval mode (dropout inactive) unless a test says otherwise. The visible tests (also in the
student build) check values written in the test or computed by an independent oracle: F.linear, F.layer_norm and
PyTorch's own nn.MultiheadAttention with the grader's weights loaded into the learner's modules by name. The hidden
ones compare with the reference.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import Adam

grader = Grader("transformer")


def randn(shape, device, seed, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=gen) * scale).to(device)


def lens(values, device):
    return torch.tensor(values, dtype=torch.long, device=device)


def shown(value, indent):
    return fmt_tensor(value).replace("\n", "\n" + " " * indent)


# -- calling the learner's classes -------------------------------------------------------------------------------

def construct(ctx, name, *args, **kwargs):
    """Create the learner's module `name` (on ctx.device, in eval mode); explain any exception."""
    cls = ctx.fn(name)
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("{name} does not subclass nn.Module. Keep the declaration `class {name}(nn.Module):` and "
                          "call super().__init__() first in __init__.", name=name)
    what = f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
    try:
        module = cls(*args, **kwargs)
    except RemoteError as exc:  # everything the learner's code raises becomes a verdict
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__() at the start of __init__.",
                          mistake="transformer.super_init_missing", what=what)
    return module.to(ctx.device).eval(), what


def call(ctx, module, what, *args):
    """Call the learner's module; explain any exception; return the output and the call's description."""
    text = f"{what}({', '.join(describe(a) for a in args)})"
    try:
        got = module(*args)
    except RemoteError as exc:
        failure = ctx.explain(exc, text)
        if "running_mean" in exc.message or "BatchNorm" in exc.message or "batch_norm" in exc.message:
            failure.with_part(batchnorm_part())
        raise failure from None
    check_type(got, text)
    return got, text


def batchnorm_part():
    return TestFailure("  AddNorm uses batch normalization: it normalizes each feature over the examples of the "
                       "batch (and nn.BatchNorm1d expects the features in dimension 1). The Transformer normalizes "
                       "each position of each example on its own, over its features: self.ln = "
                       "nn.LayerNorm(normalized_shape).", mistake="transformer.batchnorm")


def norm_type(module):
    """The class name of the learner's `ln` submodule, or None."""
    child = getattr(module, "_modules", {}).get("ln")
    return child._get_name() if child is not None else None


def load_own(ctx, module, what, weights):
    """Load the grader's `weights` (a state dict) into the learner's module by name."""
    theirs = module.state_dict()
    lacking = [k for k in weights if k not in theirs]
    extra = [k for k in theirs if k not in weights]
    if lacking or extra:
        failure = TestFailure("the grader loads its own weights into your {what} by name, but the names differ.\n"
                              "    expected: {expected}\n    yours:    {yours}", what=what,
                              expected=", ".join(weights), yours=", ".join(theirs) or "(none)")
        if any("running_mean" in k for k in extra):
            failure.with_part(batchnorm_part())
        else:
            failure.with_part(TestFailure(
                "  Use the attribute names of the stub: PositionWiseFFN has dense1, relu, dense2; AddNorm has "
                "dropout and ln; EncoderBlock has attention, addnorm1, ffn and addnorm2 (and no other parameters).",
                mistake="transformer.attribute_names"))
        raise failure
    for key, value in weights.items():
        if tuple(theirs[key].shape) != tuple(value.shape):
            raise TestFailure("in your {what}, {key} has shape {shape}, expected {expected}.", what=what, key=key,
                              shape=str(tuple(theirs[key].shape)), expected=str(tuple(value.shape)))
    module.load_state_dict(weights)


def uniform(shape, gen, fan_in, device):
    bound = 1 / math.sqrt(fan_in)
    return ((torch.rand(shape, generator=gen) * 2 - 1) * bound).to(device)


def ffn_weights(n_in, n_hid, n_out, gen, device, prefix=""):
    return {f"{prefix}dense1.weight": uniform((n_hid, n_in), gen, n_in, device),
            f"{prefix}dense1.bias": uniform((n_hid,), gen, n_in, device),
            f"{prefix}dense2.weight": uniform((n_out, n_hid), gen, n_hid, device),
            f"{prefix}dense2.bias": uniform((n_out,), gen, n_hid, device)}


def ln_weights(shape, gen, device, prefix=""):
    return {f"{prefix}ln.weight": (1 + 0.5 * torch.randn(shape, generator=gen)).to(device),
            f"{prefix}ln.bias": (0.5 * torch.randn(shape, generator=gen)).to(device)}


def first_match(got, expected, variants):
    """The TestFailure part of the first (candidate, make the part) pair that `got` matches, or None."""
    g = got.detach()
    for candidate, why in variants:
        c = candidate.detach()
        if c.shape == g.shape and not torch.allclose(c, expected.detach(), atol=1e-5) and \
                torch.allclose(g.to(c.dtype), c, atol=1e-4, rtol=1e-4):
            return why()
    return None


def check_with(got, expected, text, variants=(), note=None):
    """check_tensor, naming a familiar mistake (or adding `note`) when the values differ."""
    try:
        check_tensor(got, expected, text, atol=1e-4, rtol=1e-4)
    except TestFailure as failure:
        why = None
        if got.shape == expected.shape and got.device == expected.device:
            why = first_match(got, expected, variants)
        why = why if why is not None else note
        raise (failure.with_part(why) if why is not None else failure) from None


# -- PositionWiseFFN -----------------------------------------------------------------------------------------------

def ffn_variants(X, w):
    def lin(Z, name):
        return F.linear(Z, w[f"{name}.weight"], w[f"{name}.bias"])
    return [
        (lin(lin(X, "dense1"), "dense2"),
         lambda: TestFailure("  There is no ReLU between the layers: two linear layers in a row are just one linear "
                             "layer. Return self.dense2(self.relu(self.dense1(X))).",
                             mistake="transformer.ffn_relu_missing")),
        (F.relu(lin(F.relu(lin(X, "dense1")), "dense2")),
         lambda: TestFailure("  The output went through a ReLU too: apply it between dense1 and dense2 only, so the "
                             "block can output negative numbers.", mistake="transformer.ffn_relu_output")),
    ]


@grader.test("PositionWiseFFN computes dense2(relu(dense1(X))) at every position", points=1)
def ffn_values(ctx):
    """PositionWiseFFN(4, 6, 8) with the grader's weights on a (2, 3, 4) input, against F.linear and F.relu."""
    gen = torch.Generator().manual_seed(1)
    w = ffn_weights(4, 6, 8, gen, ctx.device)
    mine, what = construct(ctx, "PositionWiseFFN", 4, 6, 8)
    load_own(ctx, mine, what, w)
    X = randn((2, 3, 4), ctx.device, 2)
    with torch.no_grad():
        got, text = call(ctx, mine, what, X)
        expected = F.linear(F.relu(F.linear(X, w["dense1.weight"], w["dense1.bias"])), w["dense2.weight"],
                            w["dense2.bias"])
        check_with(got, expected, text + " with the grader's weights", ffn_variants(X, w))


# -- AddNorm -------------------------------------------------------------------------------------------------------

def addnorm_variants(X, Y, shape, w):
    ln = lambda Z: F.layer_norm(Z, shape, w["ln.weight"], w["ln.bias"])  # noqa: E731

    def over_batch(Z):
        mean = Z.mean(dim=0, keepdim=True)
        var = Z.var(dim=0, unbiased=False, keepdim=True)
        return (Z - mean) / torch.sqrt(var + 1e-5) * w["ln.weight"] + w["ln.bias"]
    return [
        (X + ln(Y), lambda: TestFailure("  You normalized Y and then added X: X + LayerNorm(Y). Add first, then "
                                        "normalize the sum: self.ln(self.dropout(Y) + X).",
                                        mistake="transformer.norm_before_add")),
        (ln(Y), lambda: TestFailure("  X was never added: the residual connection is missing. Return "
                                    "self.ln(self.dropout(Y) + X).", mistake="transformer.residual_skipped")),
        (X + Y, lambda: TestFailure("  The sum X + Y was not normalized: pass it through self.ln.",
                                    mistake="transformer.norm_missing")),
        (over_batch(X + Y), batchnorm_part),
    ]


@grader.test("AddNorm normalizes each position over its features (layer norm, not batch norm)", points=1)
def addnorm_layer_norm(ctx):
    """The lesson's comparison: AddNorm(2, 0) with X = 0 and Y = [[1, 2], [2, 3]] gives [[-1, 1], [-1, 1]]
    (each row on its own), where batch normalization gives [[-1, -1], [1, 1]]; then AddNorm([3, 4], 0) on a
    (2, 3, 4) input Y (X = 0) against F.layer_norm over the last two dimensions. X is 0 so that only the
    normalization is tested here (the residual has its own test)."""
    mine, what = construct(ctx, "AddNorm", 2, 0.0)
    kind = norm_type(mine)
    if kind is not None and "BatchNorm" in kind:
        raise TestFailure("{what}.ln is an nn.{kind}.", what=what, kind=kind).with_part(batchnorm_part())
    mine.train()  # as in the book's comparison: batch normalization would use the batch's statistics here
    Y = torch.tensor([[1.0, 2.0], [2.0, 3.0]], device=ctx.device)
    X = torch.zeros(2, 2, device=ctx.device)
    with torch.no_grad():
        got, text = call(ctx, mine, what + ".train()", X, Y)
    s = 0.5 / math.sqrt(0.25 + 1e-5)  # (x - mean) / √(var + eps) with mean 1.5 (2.5) and var 0.25
    expected = torch.tensor([[-s, s], [-s, s]], device=ctx.device)
    if got.shape == expected.shape and torch.allclose(got.detach().to(expected), -expected.T, atol=1e-4):
        raise TestFailure("{text} with X = 0 and Y = [[1, 2], [2, 3]] returned {got}: each feature was normalized "
                          "over the batch.", text=text, got=shown(got, 4)).with_part(batchnorm_part())
    check_with(got, expected, text + " with X = 0 and Y = [[1, 2], [2, 3]] (each row normalized on its own)")

    gen = torch.Generator().manual_seed(3)
    w = ln_weights((3, 4), gen, ctx.device)
    mine, what = construct(ctx, "AddNorm", [3, 4], 0.0)
    load_own(ctx, mine, what, w)
    X, Y = torch.zeros(2, 3, 4, device=ctx.device), randn((2, 3, 4), ctx.device, 5)
    with torch.no_grad():
        got, text = call(ctx, mine, what, X, Y)
    expected = F.layer_norm(Y, (3, 4), w["ln.weight"], w["ln.bias"])
    check_with(got, expected, text + " with X = 0 and the grader's ln weights, against F.layer_norm(Y, (3, 4), ...)",
               addnorm_variants(X, Y, (3, 4), w)[3:])


@grader.test("AddNorm returns LayerNorm(Y + X): add the residual first, then normalize", points=1)
def addnorm_order(ctx):
    """AddNorm(5, 0) in eval mode with the grader's ln weights on random X and Y (3, 4, 5), against
    F.layer_norm(X + Y, (5,), weight, bias)."""
    gen = torch.Generator().manual_seed(6)
    w = ln_weights((5,), gen, ctx.device)
    mine, what = construct(ctx, "AddNorm", 5, 0.0)
    load_own(ctx, mine, what, w)
    X, Y = randn((3, 4, 5), ctx.device, 7, 2.0), randn((3, 4, 5), ctx.device, 8)
    with torch.no_grad():
        got, text = call(ctx, mine, what, X, Y)
    expected = F.layer_norm(X + Y, (5,), w["ln.weight"], w["ln.bias"])
    check_with(got, expected, text + " with the grader's ln weights, against F.layer_norm(X + Y, (5,), ...)",
               addnorm_variants(X, Y, (5,), w)[:3])


@grader.test("AddNorm applies dropout to Y only, and only in training mode", points=1, hidden=True)
def addnorm_dropout(ctx):
    """AddNorm(16, 0.5) compared with itself: in training mode with Y = 0 it gives what it gives in eval mode
    (dropout of zeros is zeros, and X must pass untouched); with X = 0 it differs from eval mode (some of Y was
    dropped); two eval-mode calls agree."""
    mine, what = construct(ctx, "AddNorm", 16, 0.5)
    X, Y = randn((8, 10, 16), ctx.device, 10), randn((8, 10, 16), ctx.device, 11)
    zeros = torch.zeros_like(X)
    with torch.no_grad():
        first, text = call(ctx, mine, what + ".eval()", X, Y)
        second, _ = call(ctx, mine, what + ".eval()", X, Y)
    if first.shape == second.shape and not torch.equal(first, second):
        raise TestFailure("two calls of {text} in eval mode gave different results: dropout is still active. Use an "
                          "nn.Dropout module (it switches itself off in eval mode), or pass training=self.training "
                          "to the functional dropout.", mistake="transformer.dropout_in_eval", text=text)
    with torch.no_grad():
        expected, _ = call(ctx, mine, what + ".eval()", X, zeros)
        mine.train()
        got, text = call(ctx, mine, what + ".train()", X, zeros)
    try:
        check_tensor(got, expected, text + " with Y = 0, compared with the same call in eval mode (dropout of zeros "
                     "is zeros, so training mode must change nothing)", atol=1e-5, rtol=1e-5)
    except TestFailure as failure:
        raise failure.with_part(TestFailure(
            "  Dropout reached X (or the sum): it belongs on the sublayer's output Y only, so that the residual "
            "path carries X through unchanged: self.ln(self.dropout(Y) + X).",
            mistake="transformer.dropout_on_x")) from None
    with torch.no_grad():
        got, text = call(ctx, mine, what + ".train()", zeros, Y)
        mine.eval()
        unchanged, _ = call(ctx, mine, what + ".eval()", zeros, Y)
    if got.shape == unchanged.shape and torch.allclose(got.detach(), unchanged.detach(), atol=1e-6):
        raise TestFailure("{text} with X = 0 in training mode returned what eval mode returns, so dropout(0.5) never "
                          "dropped anything of Y. Apply self.dropout = nn.Dropout(dropout) to Y.",
                          mistake="transformer.dropout_missing", text=text)


# -- EncoderBlock ----------------------------------------------------------------------------------------------------

BOOK_BLOCK = (24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5)


def block_names(use_bias=False):
    names = [f"attention.W_{p}.weight" for p in "qkvo"]
    if use_bias:
        names += [f"attention.W_{p}.bias" for p in "qkvo"]
    return names + ["addnorm1.ln.weight", "addnorm1.ln.bias", "ffn.dense1.weight", "ffn.dense1.bias",
                    "ffn.dense2.weight", "ffn.dense2.bias", "addnorm2.ln.weight", "addnorm2.ln.bias"]


@grader.test("the book's shapes: FFN (2, 3, 4) -> (2, 3, 8), AddNorm (2, 3, 4), EncoderBlock (2, 100, 24)",
             points=1)
def book_shapes(ctx):
    """The book's examples in eval mode: PositionWiseFFN(4, 4, 8) on ones (2, 3, 4); AddNorm([3, 4], 0.5) on two
    (2, 3, 4) tensors; EncoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5) on ones (2, 100, 24) with
    valid_lens [3, 2]. The block's parameters carry the stub's names."""
    dev = ctx.device
    ffn, what = construct(ctx, "PositionWiseFFN", 4, 4, 8)
    with torch.no_grad():
        got, text = call(ctx, ffn, what, torch.ones(2, 3, 4, device=dev))
    ctx.expect(tuple(got.shape) == (2, 3, 8), "{text} returned shape {shape}; expected (2, 3, 8).", text=text,
               shape=str(tuple(got.shape)))
    add_norm, what = construct(ctx, "AddNorm", [3, 4], 0.5)
    with torch.no_grad():
        got, text = call(ctx, add_norm, what, torch.ones(2, 3, 4, device=dev), torch.ones(2, 3, 4, device=dev))
    ctx.expect(tuple(got.shape) == (2, 3, 4), "{text} returned shape {shape}; expected (2, 3, 4).", text=text,
               shape=str(tuple(got.shape)))
    block, what = construct(ctx, "EncoderBlock", *BOOK_BLOCK)
    names = list(block.state_dict())
    expected = block_names()
    if sorted(names) != sorted(expected):
        failure = TestFailure("the parameters of your {what} are named differently from the book's.\n"
                              "    expected: {expected}\n    yours:    {yours}", what=what,
                              expected=", ".join(expected), yours=", ".join(names) or "(none)")
        if any("running_mean" in k for k in names):
            failure.with_part(batchnorm_part())
        elif any(k.startswith("attention.") and k.endswith(".bias") for k in names):
            failure.with_part(TestFailure("  use_bias=False was passed, but the attention has biases: give "
                                          "MultiHeadAttention use_bias as its last argument.",
                                          mistake="transformer.use_bias_ignored"))
        else:
            failure.with_part(TestFailure(
                "  Keep the attribute names: self.attention (the given MultiHeadAttention), self.addnorm1, self.ffn "
                "(a PositionWiseFFN(ffn_num_input, ffn_num_hiddens, num_hiddens)) and self.addnorm2, two separate "
                "AddNorm modules.", mistake="transformer.attribute_names"))
        raise failure
    with torch.no_grad():
        got, text = call(ctx, block, what, torch.ones(2, 100, 24, device=dev), lens([3, 2], dev))
    ctx.expect(tuple(got.shape) == (2, 100, 24), "{text} returned shape {shape}; expected (2, 100, 24).", text=text,
               shape=str(tuple(got.shape)))


def block_weights(num_hiddens, ffn_hiddens, gen, device, use_bias=False):
    d = num_hiddens
    w = {f"attention.W_{p}.weight": uniform((d, d), gen, d, device) for p in "qkvo"}
    if use_bias:
        w.update({f"attention.W_{p}.bias": uniform((d,), gen, d, device) for p in "qkvo"})
    w.update(ln_weights((d,), gen, device, "addnorm1."))
    w.update(ffn_weights(d, ffn_hiddens, d, gen, device, "ffn."))
    w.update(ln_weights((d,), gen, device, "addnorm2."))
    return w


def oracle_parts(w, X, valid_lens, num_heads):
    """The encoder block computed with torch.nn.MultiheadAttention, F.layer_norm and F.linear: (Y, output), Y the
    output of the first add & norm."""
    B, T, d = X.shape
    attention = nn.MultiheadAttention(d, num_heads, dropout=0.0, bias=False, batch_first=True).to(X.device)
    with torch.no_grad():
        attention.in_proj_weight.copy_(torch.cat([w["attention.W_q.weight"], w["attention.W_k.weight"],
                                                  w["attention.W_v.weight"]]))
        attention.out_proj.weight.copy_(w["attention.W_o.weight"])
    attention.train()  # dropout 0; training mode keeps PyTorch on its general (non-fused) path
    mask = None
    if valid_lens is not None:
        per_query = valid_lens[:, None].expand(B, T) if valid_lens.dim() == 1 else valid_lens
        mask = torch.arange(T, device=X.device)[None, None, :] >= per_query[:, :, None]
        mask = mask[:, None].expand(B, num_heads, T, T).reshape(B * num_heads, T, T)
    with torch.no_grad():
        A, _ = attention(X, X, X, attn_mask=mask, need_weights=False)
        Y = F.layer_norm(X + A, (d,), w["addnorm1.ln.weight"], w["addnorm1.ln.bias"])
        return Y, F.layer_norm(Y + ffn_of(w, Y), (d,), w["addnorm2.ln.weight"], w["addnorm2.ln.bias"])


def ffn_of(w, Z):
    return F.linear(F.relu(F.linear(Z, w["ffn.dense1.weight"], w["ffn.dense1.bias"])), w["ffn.dense2.weight"],
                    w["ffn.dense2.bias"])


def part_note(ctx):
    """A TestFailure part when the learner's PositionWiseFFN or AddNorm is wrong on its own (hidden tests only)."""
    if not ctx.has_reference():
        return None
    broken = []
    dev = ctx.device
    for name, args, inputs in (("PositionWiseFFN", (4, 5, 3), (randn((2, 3, 4), dev, 90),)),
                               ("AddNorm", (4, 0.0), (randn((2, 3, 4), dev, 91), randn((2, 3, 4), dev, 92)))):
        try:
            mine, _ = construct(ctx, name, *args)
            torch.manual_seed(0)
            ref = ctx.ref(name)(*args).to(dev).eval()
            mine.load_state_dict(ref.state_dict())
            with torch.no_grad():
                got = mine(*inputs)
                if not (isinstance(got, torch.Tensor) and torch.allclose(got, ref(*inputs), atol=1e-5)):
                    broken.append(name)
        except Exception:  # noqa: BLE001 - any failure means the part is not right yet
            broken.append(name)
    if not broken:
        return None
    return TestFailure("  Your {names} does not match the reference yet (see its own test), and EncoderBlock is "
                       "built on it: fix it first.", names=" and ".join(broken))


@grader.test("EncoderBlock agrees with an oracle built from torch.nn.MultiheadAttention and F.layer_norm", points=1)
def block_oracle(ctx):
    """EncoderBlock(16, 16, 16, 16, 16, 16, 32, 4, 0) with the grader's weights, one valid length per example;
    the oracle: Y = LN1(X + MHA(X, X, X)) with the padded keys masked, out = LN2(Y + FFN(Y))."""
    gen = torch.Generator().manual_seed(20)
    w = block_weights(16, 32, gen, ctx.device)
    mine, what = construct(ctx, "EncoderBlock", 16, 16, 16, 16, 16, 16, 32, 4, 0.0)
    load_own(ctx, mine, what, w)
    X, valid_lens = randn((3, 5, 16), ctx.device, 21), lens([5, 2, 3], ctx.device)
    with torch.no_grad():
        got, text = call(ctx, mine, what, X, valid_lens)
    check_with(got, oracle_parts(w, X, valid_lens, 4)[1], f"{text} with valid_lens = {valid_lens.tolist()} and the "
               "grader's weights, against the oracle", block_variants(w, X, valid_lens, 4))


def block_variants(w, X, valid_lens, num_heads):
    """(candidate output, a function making the TestFailure part) for the block's typical wiring mistakes."""
    d = X.shape[-1]
    ln2 = lambda Z: F.layer_norm(Z, (d,), w["addnorm2.ln.weight"], w["addnorm2.ln.bias"])  # noqa: E731
    with torch.no_grad():
        _, unmasked = oracle_parts(w, X, None, num_heads)
        Y, _ = oracle_parts(w, X, valid_lens, num_heads)
        return [
            (unmasked, lambda: TestFailure("  valid_lens never reached the attention: call self.attention(X, X, X, "
                                           "valid_lens) so that no position attends to padding.",
                                           mistake="transformer.valid_lens_dropped")),
            (ln2(Y + ffn_of(w, X)), lambda: TestFailure("  The FFN was applied to X, the block's input; it takes Y, "
                                                        "the output of the first add & norm: "
                                                        "self.addnorm2(Y, self.ffn(Y)).",
                                                        mistake="transformer.ffn_on_input")),
            (ln2(X + ffn_of(w, Y)), lambda: TestFailure("  The second residual adds X, the block's input; it adds Y, "
                                                        "the input of the FFN: self.addnorm2(Y, self.ffn(Y)).",
                                                        mistake="transformer.second_residual_x")),
        ]


@grader.test("EncoderBlock matches the reference with the same weights (with and without use_bias)", points=1,
             hidden=True)
def block_reference(ctx):
    """Different query/key/value sizes are not possible in self-attention, so all are num_hiddens = 12 with 3 heads
    and ffn_num_hiddens 20; valid lengths per example and per query; use_bias False and True."""
    args = (12, 12, 12, 12, 12, 12, 20, 3, 0.0)
    X = randn((3, 6, 12), ctx.device, 30, 2.0)
    for use_bias, valid in ((False, [6, 1, 4]), (True, [[1, 2, 3, 4, 5, 6], [6, 6, 2, 2, 1, 1], [3, 3, 3, 3, 3, 3]])):
        torch.manual_seed(31)
        ref = ctx.ref("EncoderBlock")(*args, use_bias=use_bias).to(ctx.device).eval()
        kwargs = {"use_bias": True} if use_bias else {}
        mine, what = construct(ctx, "EncoderBlock", *args, **kwargs)
        load_own(ctx, mine, what, ref.state_dict())
        valid_lens = lens(valid, ctx.device)
        with torch.no_grad():
            got, text = call(ctx, mine, what, X, valid_lens)
            expected = ref(X, valid_lens)
        check_with(got, expected, f"{text} with valid_lens = {valid} and the reference's weights", note=part_note(ctx))


@grader.test("valid_lens reaches the attention: padding does not change the valid positions", points=1,
             hidden=True)
def block_valid_lens(ctx):
    """EncoderBlock(8, 8, 8, 8, 8, 8, 16, 2, 0) with its own weights: replacing X at the padded positions (t >=
    valid_lens[b]) by other numbers leaves the output at every valid position unchanged, for 1-D and 2-D
    valid_lens; with valid_lens None every position matters."""
    mine, what = construct(ctx, "EncoderBlock", 8, 8, 8, 8, 8, 8, 16, 2, 0.0)
    X = randn((3, 6, 8), ctx.device, 40)
    other = randn((3, 6, 8), ctx.device, 41, 3.0)
    for valid in ([2, 6, 4], [[1, 2, 2, 2, 2, 2], [6, 5, 4, 3, 2, 1], [3, 3, 3, 3, 3, 3]]):
        valid_lens = lens(valid, ctx.device)
        longest = valid_lens if valid_lens.dim() == 1 else valid_lens.max(dim=1).values
        pad = torch.arange(6, device=ctx.device)[None, :] >= longest[:, None]  # (B, T): keys no query may see
        X2 = torch.where(pad[:, :, None], other, X)
        with torch.no_grad():
            got, text = call(ctx, mine, what, X, valid_lens)
            got2, _ = call(ctx, mine, what, X2, valid_lens)
        keep = ~pad
        if got.shape == X.shape and got2.shape == X.shape and \
                not torch.allclose(got.detach()[keep], got2.detach()[keep], atol=1e-5):
            raise TestFailure("{text} with valid_lens = {valid}: changing X only at the padded positions changed the "
                              "output at valid positions (by up to {diff:.3g}), so the attention looked at padding.",
                              text=text, valid=str(valid),
                              diff=float((got.detach()[keep] - got2.detach()[keep]).abs().max())).with_part(
                TestFailure("  Pass valid_lens on: self.attention(X, X, X, valid_lens).",
                            mistake="transformer.valid_lens_dropped"))


@grader.test("eval mode is deterministic, gradients reach every weight, the device is kept", points=1, hidden=True)
def block_eval_grad_device(ctx):
    """EncoderBlock(8, 8, 8, 8, 8, 8, 16, 2, 0.5): two eval-mode calls agree; in training mode every parameter
    gets a gradient and the output stays on the input's device."""
    mine, what = construct(ctx, "EncoderBlock", 8, 8, 8, 8, 8, 8, 16, 2, 0.5)
    X, valid_lens = randn((2, 5, 8), ctx.device, 50), lens([5, 3], ctx.device)
    with torch.no_grad():
        first, text = call(ctx, mine, what + ".eval()", X, valid_lens)
        second, _ = call(ctx, mine, what + ".eval()", X, valid_lens)
    if first.device != X.device:
        raise TestFailure("{text} returned a tensor on {got}, but the input is on {device}. Create new tensors with "
                          "device=X.device.", text=text, got=str(first.device), device=str(X.device))
    if first.shape == second.shape and not torch.equal(first, second):
        raise TestFailure("two calls of {text} in eval mode gave different results: dropout is still active. Use "
                          "nn.Dropout modules (they switch themselves off in eval mode).",
                          mistake="transformer.dropout_in_eval", text=text)
    mine.train()
    got, text = call(ctx, mine, what, X, valid_lens)
    if not got.requires_grad:
        raise TestFailure("{text} returned a tensor that autograd cannot differentiate. Keep every step a tensor "
                          "operation (no .detach(), .item() or .numpy()).", text=text)
    (got * randn(tuple(got.shape), ctx.device, 51)).sum().backward()
    for name, p in mine.named_parameters():
        if p.grad is None:
            raise TestFailure("after backpropagating through {text}, {name} has no gradient: the output does not "
                              "depend on it.", text=text, name=name)
    if ctx.should_probe_devices():
        meta = mine.to("meta")
        inputs = (torch.ones(2, 5, 8, device="meta"), torch.tensor([5, 3], device="meta"))
        out = ctx.run_on_meta(f"{what}(X on 'meta', valid_lens on 'meta')", lambda: meta(*inputs))
        if isinstance(out, torch.Tensor) and out.device.type != "meta":
            raise TestFailure("{what} returned a tensor on {device}, not on the input's device. Create new tensors "
                              "with device=X.device.", what=what, device=str(out.device))


# -- smoke-check -------------------------------------------------------------------------------------------------

CLS, A = 0, 1                 # token ids; 2 .. VOCAB - 1 are distractors
VOCAB, BODY = 8, 10           # a sequence is [CLS] followed by BODY tokens, the first valid_len of them real
D, HEADS, STEPS, BATCH, LR = 16, 2, 40, 32, 0.01


def presence_batch(n, gen):
    """Label: does token A occur among the real tokens? Half the sequences get it once or twice on purpose. Half
    of the padding is A too, at random places, so a block that attends to padding finds A in most sequences; only
    valid_lens lets the [CLS] position see the answer."""
    body = torch.randint(A + 1, VOCAB, (n, BODY), generator=gen)  # distractors: every token but A (and [CLS])
    length = torch.randint(2, BODY + 1, (n,), generator=gen)
    label = torch.rand(n, generator=gen) < 0.5
    for _ in range(2):
        at = (torch.rand(n, generator=gen) * length).long()  # a real position for a planted A
        body[label, at[label]] = A
    real = torch.arange(BODY)[None, :] < length[:, None]
    pad = torch.randint(A + 1, VOCAB, (n, BODY), generator=gen)
    pad = torch.where(torch.rand(n, BODY, generator=gen) < 0.5, torch.full_like(pad, A), pad)
    body = torch.where(real, body, pad)
    tokens = torch.cat([torch.full((n, 1), CLS), body], dim=1)
    return tokens, length + 1, label.long()  # the valid length counts the [CLS] token


class Classifier(nn.Module):
    """Token embedding + learned positions, two encoder blocks, a linear head on position 0."""

    def __init__(self, blocks):
        super().__init__()
        self.embedding = nn.Linear(VOCAB, D, bias=False)  # on one-hot tokens: deterministic on a GPU too
        self.position = nn.Parameter(torch.randn(BODY + 1, D) * 0.1)
        self.block0, self.block1 = blocks
        self.head = nn.Linear(D, 2)

    def forward(self, tokens, valid_lens):
        X = self.embedding(F.one_hot(tokens, VOCAB).to(self.position.dtype)) + self.position
        X = self.block1(self.block0(X, valid_lens), valid_lens)
        return self.head(X[:, 0])


def train_classifier(ctx, blocks, data, report):
    train, test = data
    torch.manual_seed(1)  # the same embedding and head around the learner's blocks and the reference's
    net = Classifier(blocks).to(ctx.device)
    optimizer = Adam(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()

    def accuracy():
        net.eval()
        with torch.no_grad():
            acc = (net(test[0], test[1]).argmax(dim=1) == test[2]).double().mean().item()
        net.train()
        return acc

    acc = None  # measured every 10 steps; until then only the loss is reported
    for step, (tokens, valid_lens, labels) in enumerate(train, start=1):
        loss = loss_fn(net(tokens, valid_lens), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            acc = accuracy()
        if report and acc is None:
            ctx.step(step, loss=loss.item())
        elif report:
            ctx.step(step, loss=loss.item(), accuracy=acc)
    return accuracy()


BLOCK_ARGS = (D, D, D, D, D, D, 2 * D, HEADS, 0.0)


# Threshold 0.9: the reference reaches 0.999 to 1.0 over seeds 0-9 (about 0.5 s of training here); a block that
# drops valid_lens gets 0.79 to 0.88 over seeds 0-4 (0.83 at the graded seed 0: it counts the A's in the padding
# too). A block without its residual connections still gets 0.94 to 0.99 (the value tests catch it).
@grader.smoke("a two-block encoder of your EncoderBlocks learns to spot a token in a padded sequence", points=3,
              metric="test accuracy", goal="min", threshold=0.9, budget=10, plot="accuracy", hidden=True)
def encoder_learns(ctx):
    """Padded sequences: does token A occur among the real tokens? The [CLS] position must find it through the
    attention of two of your EncoderBlocks (2 heads, num_hiddens 16), masking the padding. Trained for 40 Adam
    steps of 32 sequences; the reference solution's accuracy on the same data and seed is shown beside
    yours."""
    gen = ctx.seed(0)
    to = lambda batch: tuple(t.to(ctx.device) for t in batch)  # noqa: E731
    data = ([to(presence_batch(BATCH, gen)) for _ in range(STEPS)], to(presence_batch(1000, gen)))
    ctx.seed(0)  # the learner's blocks draw their initial weights in the sandbox
    blocks = []
    for _ in range(2):
        block, what = construct(ctx, "EncoderBlock", *BLOCK_ARGS)
        blocks.append(block.train())
    X = torch.zeros(2, BODY + 1, D, device=ctx.device)
    out, text = call(ctx, blocks[0], what, X, lens([3, 5], ctx.device))
    if tuple(out.shape) != tuple(X.shape):
        raise TestFailure("{text} returned shape {shape}; expected {expected}.", text=text,
                          shape=str(tuple(out.shape)), expected=str(tuple(X.shape)))
    mine = train_classifier(ctx, blocks, data, report=True)

    torch.manual_seed(0)
    reference = [ctx.ref("EncoderBlock")(*BLOCK_ARGS).to(ctx.device) for _ in range(2)]
    theirs = train_classifier(ctx, reference, data, report=False)
    return {"value": mine, "reference": theirs}
