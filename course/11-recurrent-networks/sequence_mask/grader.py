"""Tests and smoke-check for exercise sequence_mask (d2l 11.7).

The visible tests (also in the student build) check values written in the test, the course's own examples; the
hidden ones compare with the reference.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.train import Adam
from tutor.grading.harness import LearnerError
from tutor.grading.remote import RemoteError

grader = Grader("sequence_mask")


# -- sequence_mask ------------------------------------------------------------------------------------------------

def small_cases(device, dtype=torch.int64, trailing=()):
    """Every small (X, valid_len) pair, smallest first, with small values so a failure prints readably."""
    gen = torch.Generator().manual_seed(11)
    for batch, steps in sorted(((b, s) for b in range(1, 4) for s in range(1, 5)), key=lambda bs: (bs[0] * bs[1], bs)):
        X = torch.randint(1, 10, (batch, steps) + tuple(trailing), generator=gen).to(dtype=dtype, device=device)
        valid_len = torch.randint(0, steps + 1, (batch,), generator=gen).to(device)
        yield X, valid_len


def ints(shape, device, seed, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, 10, shape, generator=gen).to(dtype=dtype, device=device)


def boundary_included():
    return TestFailure("  The step at index valid_len[b] is padding too: step indices start at 0, so a sequence with "
                       "valid_len = 2 owns steps 0 and 1 only. Compare with `<`, not `<=`.",
                       mistake="sequence_mask.boundary_included")


def last_step_masked():
    return TestFailure("  You also masked the last real step, index valid_len[b] - 1: keep every step t with "
                       "t < valid_len[b].", mistake="sequence_mask.last_step_masked")


def nothing_masked():
    return TestFailure("  Nothing was masked: every step t >= valid_len[b] must become `value`.",
                       mistake="sequence_mask.nothing_masked")


def mask_diagnosis(ctx, got, X, valid_len, value):
    """A TestFailure part naming the likely mistake when `got` matches a typical wrong variant, else None."""
    ref = ctx.ref("sequence_mask")
    steps = X.shape[1]
    variants = [
        (ref(X, torch.clamp(valid_len + 1, max=steps), value=value), boundary_included),
        (ref(X, torch.clamp(valid_len - 1, min=0), value=value), last_step_masked),
        (X, nothing_masked),
    ]
    if value != 0:
        variants.append((ref(X, valid_len, value=0),
                         lambda: TestFailure("  The padded entries are 0, but value={value!r} was passed: write "
                                             "`value` into them, not a hard-coded 0.",
                                             mistake="sequence_mask.value_ignored", value=value)))
    return first_variant(got, variants)


def first_variant(got, variants):
    """The part of the first (result of a familiar mistake, its part) pair that `got` equals, else None."""
    for candidate, why in variants:
        if candidate is not None and candidate.shape == got.shape and torch.equal(got.detach().to(candidate.dtype),
                                                                                  candidate):
            return why()
    return None


def shown(value, indent):
    """fmt_tensor, with the lines after the first indented to line up under it."""
    return fmt_tensor(value).replace("\n", "\n" + " " * indent)


def check_mask(ctx, X, valid_len, value=None, shrink=None, hint=None):
    """Compare the learner's sequence_mask with the reference; name the mistake when it is a familiar one. `hint`,
    a TestFailure part, is added when the learner's code fails on a shape mismatch."""
    fn = ctx.fn("sequence_mask")
    kwargs = {} if value is None else {"value": value}
    what = fn.describe(X, valid_len, **kwargs)
    try:
        got = fn(X.clone(), valid_len.clone(), **kwargs)
    except LearnerError as err:
        text = err.remote.message if err.remote is not None else ""  # the learner's own exception text
        shape_error = "must match the size" in text or "shape" in text
        raise (err.failure.with_part(hint) if shape_error and hint is not None else err.failure) from None
    check_type(got, what)
    expected = ctx.ref("sequence_mask")(X, valid_len, **kwargs)
    if got.shape == expected.shape and got.device == expected.device and not torch.equal(
            got.detach().to(expected.dtype), expected):
        why = mask_diagnosis(ctx, got, X, valid_len, 0 if value is None else value)
        if why is not None:
            raise TestFailure("{what} returned the wrong entries.\n    X         = {X}\n    valid_len = {valid_len}\n"
                              "    expected  = {expected}\n    got       = {got}", what=what, X=shown(X, 16),
                              valid_len=shown(valid_len, 16), expected=shown(expected, 16),
                              got=shown(got, 16)).with_part(why)
    ctx.compare("sequence_mask", X, valid_len, shrink=shrink, **kwargs)


def check_written(ctx, X, valid_len, expected, mistakes):
    """The learner's sequence_mask(X, valid_len) against `expected`, written in the test; `mistakes` pairs what a
    familiar mistake gives on this input (written in the test too) with the part that names it."""
    fn = ctx.fn("sequence_mask")
    what = fn.describe(X, valid_len)
    got = fn(X.clone(), valid_len.clone())
    check_type(got, what)
    if got.shape == expected.shape and got.device == expected.device and not torch.equal(
            got.detach().to(expected.dtype), expected):
        why = first_variant(got, [(torch.tensor(m, dtype=X.dtype, device=X.device), part) for m, part in mistakes])
        if why is not None:
            raise TestFailure("{what} returned the wrong entries.\n    X         = {X}\n    valid_len = {valid_len}\n"
                              "    expected  = {expected}\n    got       = {got}", what=what, X=shown(X, 16),
                              valid_len=shown(valid_len, 16), expected=shown(expected, 16),
                              got=shown(got, 16)).with_part(why)
    ctx.compare("sequence_mask", X, valid_len, expected=expected)


@grader.test("the course's example", points=1)
def course_example(ctx):
    """X = [[1, 2, 3], [4, 5, 6]] with valid_len = [1, 2] gives [[1, 0, 0], [4, 5, 0]]."""
    X = torch.tensor([[1, 2, 3], [4, 5, 6]], device=ctx.device)
    expected = torch.tensor([[1, 0, 0], [4, 5, 0]], device=ctx.device)
    check_written(ctx, X, torch.tensor([1, 2], device=ctx.device), expected, [
        ([[1, 2, 0], [4, 5, 6]], boundary_included), ([[0, 0, 0], [4, 0, 0]], last_step_masked),
        ([[1, 2, 3], [4, 5, 6]], nothing_masked)])


@grader.test("steps at index valid_len are masked (< not <=)", points=1)
def boundary(ctx):
    """X = 1 .. 24 in four rows of six with valid_len = [1, 3, 5, 2]: each row keeps exactly its first valid_len
    steps."""
    X = torch.arange(1.0, 25.0, device=ctx.device).reshape(4, 6)
    expected = torch.tensor([[1, 0, 0, 0, 0, 0], [7, 8, 9, 0, 0, 0], [13, 14, 15, 16, 17, 0], [19, 20, 0, 0, 0, 0]],
                            dtype=torch.float32, device=ctx.device)
    check_written(ctx, X, torch.tensor([1, 3, 5, 2], device=ctx.device), expected, [
        ([[1, 2, 0, 0, 0, 0], [7, 8, 9, 10, 0, 0], [13, 14, 15, 16, 17, 18], [19, 20, 21, 0, 0, 0]],
         boundary_included),
        ([[0, 0, 0, 0, 0, 0], [7, 8, 0, 0, 0, 0], [13, 14, 15, 16, 0, 0], [19, 0, 0, 0, 0, 0]], last_step_masked),
        ([[float(v) for v in range(r * 6 + 1, r * 6 + 7)] for r in range(4)], nothing_masked)])


@grader.test("the value argument", points=1, hidden=True)
def value_argument(ctx):
    """value=-1, and value=-1e6 with float valid lengths as the attention chapter's masked_softmax uses it."""
    X = ints((3, 5), ctx.device, 1)
    check_mask(ctx, X, torch.tensor([2, 0, 5], device=ctx.device), value=-1,
               shrink=small_cases(ctx.device, torch.float32))
    gen = torch.Generator().manual_seed(2)
    scores = torch.rand((6, 4), generator=gen).to(ctx.device)
    check_mask(ctx, scores, torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0, 2.0], device=ctx.device), value=-1e6,
               shrink=small_cases(ctx.device, torch.float32))


@grader.test("3-D and 4-D X", points=1, hidden=True)
def more_dims(ctx):
    """The default value only (the value argument has its own test)."""
    def hint():
        return TestFailure("  For X of shape (batch, steps, ...), give the (batch, steps) mask trailing dimensions of "
                           "size 1 (e.g. mask.reshape(mask.shape + (1,) * (X.dim() - 2))) so it broadcasts over every "
                           "entry of a step.", mistake="sequence_mask.mask_not_broadcast")

    check_mask(ctx, ints((3, 4, 2), ctx.device, 3), torch.tensor([1, 4, 2], device=ctx.device),
               shrink=small_cases(ctx.device, torch.float32, (2,)), hint=hint())
    check_mask(ctx, ints((2, 3, 2, 2), ctx.device, 4), torch.tensor([3, 1], device=ctx.device),
               shrink=small_cases(ctx.device, torch.float32, (2, 2)), hint=hint())


@grader.test("valid_len 0 and valid_len = steps", points=1, hidden=True)
def extreme_lengths(ctx):
    """valid_len = 0 masks the whole row; valid_len = steps masks nothing (the default value only)."""
    check_mask(ctx, ints((3, 4), ctx.device, 5), torch.tensor([0, 4, 0], device=ctx.device),
               shrink=small_cases(ctx.device, torch.float32))
    check_mask(ctx, ints((2, 5), ctx.device, 6), torch.tensor([5, 5], device=ctx.device),
               shrink=small_cases(ctx.device, torch.float32))
    check_mask(ctx, ints((2, 5), ctx.device, 7), torch.tensor([0, 0], device=ctx.device),
               shrink=small_cases(ctx.device, torch.float32))


@grader.test("the result is on X's device and X is left unchanged", points=1, hidden=True)
def device_and_input(ctx):
    """Only where the result lives and what happens to the caller's tensors count here; the values are the other
    tests' business. The book's sequence_mask, which assigns into X, fails here and only here."""
    fn = ctx.fn("sequence_mask")
    X = torch.arange(1.0, 13.0, device=ctx.device).reshape(3, 4)
    valid_len = torch.tensor([1, 4, 2], device=ctx.device)
    X_arg, len_arg = X.clone(), valid_len.clone()
    got = fn(X_arg, len_arg)
    X_after, len_after = fn.mutated(X_arg), fn.mutated(len_arg)  # what the learner's code wrote into them, if anything
    what = fn.describe(X, valid_len)
    check_type(got, what)
    if X_after is not None:
        failure = TestFailure("{what} changed X itself:\n    X before = {before}\n    X after  = {after}\n  The "
                              "caller's tensor must stay as it was. Return a new tensor: torch.where(mask, X, value), "
                              "X.masked_fill(~mask, value), or do the assignment on X.clone().",
                              mistake="sequence_mask.input_modified", what=what, before=shown(X, 15),
                              after=shown(X_after, 15))
        masked = ctx.ref("sequence_mask")(X, valid_len)
        if X_after.shape == masked.shape and torch.equal(X_after.to(masked.dtype), masked):
            # X now holds the masked result: the assignment X[~mask] = value of the book's sequence_mask
            failure.with_part(TestFailure(
                "  The book's sequence_mask does this too: X[~mask] = value writes into the caller's tensor, then "
                "returns it. The values are right, but the caller may still need its tensor: the attention "
                "chapter's masked_softmax passes in X.reshape(...), a view of its attention scores, which get "
                "overwritten; writing into a leaf that requires grad fails at once; and writing into the output of "
                "an operation whose backward reuses it (exp, softmax) makes backward() fail. Return a new tensor "
                "and none of this can happen.", mistake="sequence_mask.book_writes_into_x"))
        raise failure
    if len_after is not None:
        raise TestFailure("{what} changed valid_len itself; leave the caller's tensors as they were.",
                          mistake="sequence_mask.valid_len_modified", what=what)
    if got.device != X.device:
        raise TestFailure("{what} returned a tensor on {got}, but X is on {device}. Build the mask on X's device "
                          "(torch.arange(steps, device=X.device)) and avoid .cpu() or .numpy().", what=what,
                          got=str(got.device), device=str(X.device))
    ctx.device_probe("sequence_mask", lambda dev: (torch.ones(2, 3, device=dev), torch.tensor([1, 2], device=dev)))


# -- MaskedSoftmaxCELoss ------------------------------------------------------------------------------------------

def loss_class(ctx):
    cls = ctx.fn("MaskedSoftmaxCELoss")
    if not cls.is_subclass_of(nn.CrossEntropyLoss):
        raise TestFailure("MaskedSoftmaxCELoss subclasses ({bases}), not nn.CrossEntropyLoss. Keep the course's "
                          "declaration `class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):` so that super().forward "
                          "computes the per-token cross-entropy for you.", mistake="sequence_mask.loss_not_subclass",
                          bases=", ".join(cls.bases) or "object")
    return cls


def loss_text(pred, label, valid_len):
    return f"MaskedSoftmaxCELoss()(pred: {describe(pred)}, label: {describe(label)}, valid_len: {describe(valid_len)})"


def call_loss(ctx, cls, pred, label, valid_len, loss=None):
    """Create (unless given) and call the learner's loss; explain an exception the way ctx.fn does."""
    what = loss_text(pred, label, valid_len)
    try:
        if loss is None:
            loss = cls()
        got = loss(pred, label, valid_len)
    except RemoteError as exc:  # everything the learner's code raises becomes a verdict
        failure = ctx.explain(exc, what)
        text = exc.message  # the learner's own exception text
        if "target size" in text or "expected target" in text.lower() or "only batches of spatial targets" in text:
            failure.with_part(TestFailure(
                "  nn.CrossEntropyLoss wants the classes in dimension 1: pass pred.permute(0, 2, 1), of shape "
                "(batch, vocab_size, steps), together with label of shape (batch, steps).",
                mistake="sequence_mask.loss_not_permuted"))
        raise failure from None
    return got, what, loss


def loss_not_masked():
    return TestFailure("  The padded steps are not masked: multiply the per-token losses by weights = "
                       "sequence_mask(torch.ones_like(label), valid_len) before averaging.",
                       mistake="sequence_mask.loss_not_masked")


def loss_divided_by_valid_len():
    return TestFailure("  You divided by valid_len; the course's convention is the mean over all steps: "
                       "(unweighted_loss * weights).mean(dim=1). (Dividing by valid_len also gives 0 / 0 = NaN when "
                       "valid_len is 0.)", mistake="sequence_mask.loss_divided_by_valid_len")


def loss_summed():
    return TestFailure("  You summed over the steps; take the mean over them: .mean(dim=1).",
                       mistake="sequence_mask.loss_summed")


def loss_boundary_included():
    return TestFailure("  One padded step per sequence is counted: the weights come from your sequence_mask, which "
                       "keeps the step at index valid_len (use < not <=).", mistake="sequence_mask.boundary_included")


def loss_variants(pred, label, valid_len):
    """Typical wrong versions of the loss, each with a function that makes the TestFailure part naming it."""
    steps = label.shape[1]
    keep = torch.arange(steps, device=label.device)[None, :] < valid_len[:, None]
    keep_le = torch.arange(steps, device=label.device)[None, :] <= valid_len[:, None]
    per_token = F.cross_entropy(pred.detach().permute(0, 2, 1), label, reduction="none")
    masked = per_token * keep
    return [
        (per_token.mean(dim=1), loss_not_masked),
        (masked.sum(dim=1) / valid_len, loss_divided_by_valid_len),
        (masked.sum(dim=1), loss_summed),
        (per_token.mean() * keep.to(per_token.dtype).mean(dim=1),
         lambda: TestFailure("  Each loss is the batch's average token loss times the fraction of valid steps: "
                             "super().forward still averaged over every token, padding included, before your mask "
                             "could act. Set self.reduction = 'none' before calling super().forward so it returns one "
                             "loss per token, of shape (batch, steps).", mistake="sequence_mask.loss_reduction_mean")),
        ((per_token * keep_le).mean(dim=1), loss_boundary_included),
    ]


def check_loss(got, expected, what, label, variants):
    """check_tensor with advice for the usual mistakes (`variants`: what each gives, and the part naming it)."""
    check_type(got, what)
    batch, steps = label.shape
    if got.shape != expected.shape:
        shape = str(tuple(got.shape))
        if got.dim() == 0:
            raise TestFailure("{what} returned shape {shape}; expected ({batch},), one loss per sequence. You returned "
                              "a single number: the loss averaged the whole batch. Set self.reduction = 'none' before "
                              "calling super().forward, then average over the steps only: .mean(dim=1).",
                              mistake="sequence_mask.loss_scalar", what=what, shape=shape, batch=batch)
        if tuple(got.shape) == (batch, steps):
            raise TestFailure("{what} returned shape {shape}; expected ({batch},), one loss per sequence. You returned "
                              "one loss per token: average over the steps with .mean(dim=1) to get one loss per "
                              "sequence.", mistake="sequence_mask.loss_per_token", what=what, shape=shape,
                              batch=batch)
        raise TestFailure("{what} returned shape {shape}; expected ({batch},), one loss per sequence. Check that pred "
                          "is permuted to (batch, vocab_size, steps) and that you average over the steps (dim=1) "
                          "only.", what=what, shape=shape, batch=batch)
    if got.shape == expected.shape and got.device == expected.device:
        g = got.detach().to(torch.float64)
        for candidate, why in variants:
            c = candidate.to(torch.float64)
            if not torch.allclose(c, expected.detach().to(torch.float64), rtol=1e-4, atol=1e-5, equal_nan=True) \
                    and torch.allclose(g, c, rtol=1e-4, atol=1e-5, equal_nan=True):
                raise TestFailure("{what} returned the wrong losses.\n  expected: {expected}\n  got:      {got}",
                                  what=what, expected=fmt_tensor(expected), got=fmt_tensor(got)).with_part(why())
    check_tensor(got, expected, what, atol=1e-5, rtol=1e-5)


@grader.test("MaskedSoftmaxCELoss subclasses nn.CrossEntropyLoss and matches the course's check", points=2)
def loss_course_check(ctx):
    """pred = ones(3, 4, 10), label = ones(3, 4), valid_len = [4, 2, 0] give about [2.3026, 1.1513, 0.0]."""
    cls = loss_class(ctx)
    pred = torch.ones(3, 4, 10, device=ctx.device)
    label = torch.ones((3, 4), dtype=torch.long, device=ctx.device)
    valid_len = torch.tensor([4, 2, 0], device=ctx.device)
    got, what, _ = call_loss(ctx, cls, pred.clone(), label.clone(), valid_len.clone())
    # every token's loss is log(10) (ten equal scores): the mean over the 4 steps of those that are real
    loss = math.log(10)

    def losses(*values):
        return torch.tensor(values, dtype=torch.float32, device=ctx.device)

    check_loss(got, losses(loss, loss / 2, 0.0), what, label, [
        (losses(loss, loss, loss), loss_not_masked), (losses(loss, loss, math.nan), loss_divided_by_valid_len),
        (losses(4 * loss, 2 * loss, 0.0), loss_summed), (losses(loss, 3 * loss / 4, loss / 4), loss_boundary_included)])


@grader.test("MaskedSoftmaxCELoss matches the reference on random batches, with gradients", points=1, hidden=True)
def loss_random(ctx):
    """Random logits and labels; the values, and the gradient with respect to pred (exactly zero at padded steps)."""
    cls = loss_class(ctx)
    gen = torch.Generator().manual_seed(8)
    pred0 = torch.randn(4, 6, 7, generator=gen).to(ctx.device)
    label = torch.randint(0, 7, (4, 6), generator=gen).to(ctx.device)
    valid_len = torch.tensor([6, 3, 0, 1], device=ctx.device)
    weights = torch.randn(4, generator=gen).to(ctx.device)
    pred = pred0.clone().requires_grad_(True)
    got, what, _ = call_loss(ctx, cls, pred, label.clone(), valid_len.clone())
    pred_changed = ctx.link.mutated(pred) is not None
    pred_ref = pred0.clone().requires_grad_(True)
    expected = ctx.ref("MaskedSoftmaxCELoss")()(pred_ref, label, valid_len)
    check_loss(got, expected, what, label, loss_variants(pred0, label, valid_len))
    if pred_changed:
        raise TestFailure("{what} changed pred itself; compute the loss without writing into its inputs.",
                          mistake="sequence_mask.loss_modifies_pred", what=what)
    if not got.requires_grad:
        raise TestFailure("{what} returned a loss that autograd cannot differentiate, so no model could learn from it. "
                          "Keep every step a tensor operation on pred (no .item(), .detach(), .numpy() or "
                          "torch.tensor(...)).", mistake="sequence_mask.loss_not_differentiable", what=what)
    (grad,) = torch.autograd.grad((got * weights).sum(), pred, allow_unused=True)
    if grad is None:
        raise TestFailure("no gradient reaches pred from {what}: the loss must be computed from pred with "
                          "differentiable tensor operations.", what=what)
    (grad_ref,) = torch.autograd.grad((expected * weights).sum(), pred_ref)
    padded = torch.arange(6, device=ctx.device)[None, :] >= valid_len[:, None]
    leak = grad[padded]
    if bool((leak != 0).any()):
        raise TestFailure("the gradient of (loss · w).sum() with respect to pred, where loss = {what}, is not zero at "
                          "padded steps (largest magnitude {largest:.4g}). Padding must have no influence at all: "
                          "multiply the per-token losses by the 0/1 weights from your sequence_mask.",
                          mistake="sequence_mask.padding_leaks", what=what, largest=float(leak.abs().max()))
    check_tensor(grad, grad_ref, f"the gradient of (loss · w).sum() with respect to pred, where loss = {what}",
                 atol=1e-5, rtol=1e-5)


# -- smoke-check --------------------------------------------------------------------------------------------------

VOCAB, CLASSES, STEPS = 10, 6, 12


def tagging_batch(n, gen, device):
    """Padded sequences of random tokens. A real step's tag depends on its token and the previous one; padded
    steps carry misleading tags from a different rule, so a loss that lets padding in teaches the wrong thing."""
    tokens = torch.randint(0, VOCAB, (n, STEPS), generator=gen)
    previous = torch.cat([torch.zeros(n, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    valid_len = torch.randint(2, STEPS // 2 + 1, (n,), generator=gen)
    padded = torch.arange(STEPS)[None, :] >= valid_len[:, None]
    tags = torch.where(padded, (3 * tokens + 1) % CLASSES, (tokens + 2 * previous) % CLASSES)
    return tuple(t.to(device) for t in (tokens, previous, tags, valid_len, padded))


class Tagger(nn.Module):
    """Per step: one-hot(token) and one-hot(previous token) -> Linear -> ReLU -> Linear -> tag scores."""

    def __init__(self, hidden=64):
        super().__init__()
        self.hidden = nn.Linear(2 * VOCAB, hidden)
        self.out = nn.Linear(hidden, CLASSES)

    def forward(self, tokens, previous):
        X = torch.cat([F.one_hot(tokens, VOCAB), F.one_hot(previous, VOCAB)], dim=-1).float()
        return self.out(torch.relu(self.hidden(X)))


@grader.smoke("a padded sequence-labelling model trains with your loss", points=3,
              metric="accuracy on valid steps", goal="min", threshold=0.9, budget=15, plot="accuracy", hidden=True)
def tagger_trains(ctx):
    """A small tagger trained with Adam on loss(pred, tags, valid_len).sum(); the padded steps' tags are
    misleading, and the gradient reaching the padded steps' scores must be exactly zero."""
    cls = loss_class(ctx)
    gen = ctx.seed(0)
    net = Tagger().to(ctx.device)
    optimizer = Adam(net.parameters(), lr=0.01)
    loss_fn = None
    test = tagging_batch(1000, gen, ctx.device)

    def accuracy():
        tokens, previous, tags, _, padded = test
        with torch.no_grad():
            right = (net(tokens, previous).argmax(dim=-1) == tags) & ~padded
        return right.sum().item() / (~padded).sum().item()

    acc = accuracy()
    for step in range(1, 301):
        tokens, previous, tags, valid_len, padded = tagging_batch(64, gen, ctx.device)
        scores = net(tokens, previous)
        scores.retain_grad()
        l, what, loss_fn = call_loss(ctx, cls, scores, tags, valid_len, loss_fn)
        if step == 1:
            check_type(l, what)
            if tuple(l.shape) != (64,):
                raise TestFailure("{what} returned shape {shape}; expected (64,), one loss per sequence.", what=what,
                                  shape=str(tuple(l.shape)))
            if not l.requires_grad:
                raise TestFailure("{what} returned a loss that autograd cannot differentiate, so the model cannot "
                                  "learn. Keep every step a tensor operation on pred.",
                                  mistake="sequence_mask.loss_not_differentiable", what=what)
        optimizer.zero_grad()
        l.sum().backward()
        leak = scores.grad[padded]
        if bool((leak != 0).any()):
            raise TestFailure("at training step {step}, the gradient of the loss with respect to the scores of padded "
                              "steps is not zero (largest magnitude {largest:.4g}): padding leaks into training. Weight "
                              "every padded step's loss by exactly 0, with the mask from your sequence_mask (steps "
                              "t >= valid_len[b]).", mistake="sequence_mask.padding_leaks", step=step,
                              largest=float(leak.abs().max()))
        optimizer.step()
        if step % 25 == 0:
            acc = accuracy()
        ctx.step(step, loss=l.sum().item(), accuracy=acc)
    return acc
