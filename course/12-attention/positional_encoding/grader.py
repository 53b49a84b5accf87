"""Tests and smoke-check for exercise positional_encoding (d2l 12.4).

Every expected table is computed here, in float64, from the closed form sin / cos(i / 10000^(2j/d)), so no test
needs the reference solution. Tests of forward add the learner's own P (read from the module), so a wrong table
costs only in the table's tests. Random behaviour (dropout) is judged statistically with 5-standard-deviation
bounds; the engine seeds both processes before every test.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_type, describe
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import Adam

grader = Grader("positional_encoding")

ATOL = 1e-4  # float32 angles up to 1000 radians: rounding alone reaches about 6e-5


def table(max_len, d, *, swap=False, half_exponent=False, i_j_swapped=False):
    """The expected P of shape (1, max_len, d) in float64, or one of the typical wrong tables."""
    i = torch.arange(max_len, dtype=torch.float64)[:, None]
    j = torch.arange((d + 1) // 2, dtype=torch.float64)[None, :]  # pair index
    if i_j_swapped:
        angles = j / torch.pow(10000.0, 2 * i / d)
    else:
        angles = i / torch.pow(10000.0, (j if half_exponent else 2 * j) / d)
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    P = torch.zeros(1, max_len, d, dtype=torch.float64)
    P[0, :, 0::2] = first(angles)
    P[0, :, 1::2] = second(angles[:, :d // 2])
    return P


def construct(ctx, *args, **kwargs):
    """The learner's PositionalEncoding(*args, **kwargs) on ctx.device in eval mode, and its description."""
    cls = ctx.fn("PositionalEncoding")
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("PositionalEncoding does not subclass nn.Module. Keep the declaration `class "
                          "PositionalEncoding(nn.Module):` and call super().__init__() first in __init__.")
    what = f"PositionalEncoding({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
    try:
        module = cls(*args, **kwargs)
    except RemoteError as exc:  # everything the learner's code raises becomes a verdict
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__() at the start of __init__.",
                          what=what)
    return module.to(ctx.device).eval(), what


def table_of(ctx, module, what, shape):
    """The learner's P as a float64 CPU tensor, checked to be a tensor of the given shape."""
    try:
        P = module.P
    except (AttributeError, RemoteError):
        raise TestFailure("{what} has no attribute P. Keep the table in self.P, e.g. with self.register_buffer(\"P\", "
                          "P): the tests read it there.", what=what) from None
    check_type(P, f"{what}.P")
    if tuple(P.shape) != shape:
        raise TestFailure("{what}.P has shape {got}; expected {expected}, i.e. (1, max_len, num_hiddens): one row per "
                          "position, one column per hidden unit, and a leading axis of size 1 that broadcasts over "
                          "the batch.", what=what, got=str(tuple(P.shape)), expected=str(shape))
    if P.dtype != torch.float32:
        raise TestFailure("{what}.P has dtype {dtype}; expected torch.float32. Build it with torch.zeros(...) and "
                          "float positions (torch.arange(max_len, dtype=torch.float32)).", what=what,
                          dtype=str(P.dtype))
    return P.detach().to("cpu", torch.float64)


def first_difference(got, expected):
    """(i, column) of the first entry where the tables differ by more than ATOL."""
    bad = ((got - expected).abs() > ATOL).nonzero()
    return (int(bad[0, 1]), int(bad[0, 2])) if bad.numel() else None


def table_failure(what, got, expected, d):
    i, c = first_difference(got, expected)
    j2 = c - c % 2
    params = dict(what=what, i=i, c=c, got=float(got[0, i, c]), expected=float(expected[0, i, c]), d=d, j2=j2,
                  fn="sin" if c % 2 == 0 else "cos")
    max_len = got.shape[1]
    diagnoses = [
        (table(max_len, d, swap=True), TestFailure(
            "  Sines and cosines are swapped: the EVEN columns 0, 2, 4, ... hold the sines (P[0, 0, 0] = sin 0 = 0) "
            "and the odd columns the cosines.", mistake="positional_encoding.sin_cos_swapped")),
        (table(max_len, d, half_exponent=True), TestFailure(
            "  The exponent is j / d, with j counting the column pairs: it must be 2j / d, the even column's index "
            "over d (torch.arange(0, num_hiddens, 2) / num_hiddens), so the frequencies fall from 1 to about 1/10000 "
            "across the columns instead of only to 1/100.", mistake="positional_encoding.exponent_j_over_d")),
        (table(max_len, d, i_j_swapped=True), TestFailure(
            "  The position and the column index are swapped: the angle is i / 10000^(2j/d), the POSITION i over a "
            "frequency set by the column, not j / 10000^(2i/d). Put the positions in a column (max_len, 1) and the "
            "frequencies in a row.", mistake="positional_encoding.position_column_swapped")),
    ]
    failure = TestFailure("{what}.P[0, {i}, {c}] is {got:.6f}; expected {fn}({i} / 10000^({j2}/{d})) = {expected:.6f} "
                          "(computed in float64; we accept a difference of 1e-4).", **params)
    for wrong, why in diagnoses:
        if not torch.allclose(wrong, expected, atol=ATOL) and torch.allclose(got, wrong, atol=ATOL):
            return failure.with_part(why)
    return failure


@grader.test("P[0, i, 2j] = sin(i / 10000^(2j/d)) and P[0, i, 2j+1] = cos(i / 10000^(2j/d))", points=2)
def table_values(ctx):
    """num_hiddens = 32 with the default max_len of 1000 (the book's table), then num_hiddens = 4 on 6 positions,
    against values computed in the test."""
    for args, shape in (((4, 0.0), {"max_len": 6}), ((32, 0.0), {})):
        module, what = construct(ctx, *args, **shape)
        max_len = shape.get("max_len", 1000)
        got = table_of(ctx, module, what, (1, max_len, args[0]))
        expected = table(max_len, args[0])
        if not torch.allclose(got, expected, atol=ATOL):
            raise table_failure(what, got, expected, args[0])


def even_table_right(ctx):
    """Whether the learner's table is right for an even num_hiddens (the other test's business when it is not)."""
    try:
        module, what = construct(ctx, 8, 0.0, max_len=10)
        return torch.allclose(table_of(ctx, module, what, (1, 10, 8)), table(10, 8), atol=ATOL)
    except TestFailure:
        return False


BOOK_ODD = ("  With an odd num_hiddens there are (d + 1) / 2 sine columns but only (d - 1) / 2 cosine columns, so "
            "P[:, :, 1::2] = torch.cos(angles) has one column too many. The book's code stops here too: it only works "
            "for an even num_hiddens. Take the cosines of angles[:, :num_hiddens // 2].")


@grader.test("an odd num_hiddens works: the last column is a sine", points=1)
def odd_hiddens(ctx):
    """num_hiddens = 7 on 50 positions: P has 7 columns, the last one sin(i / 10000^(6/7)). The values are compared
    only when the table of an even num_hiddens is right (otherwise the test above says what is wrong)."""
    cls = ctx.fn("PositionalEncoding")
    what = "PositionalEncoding(7, 0.0, max_len=50)"
    try:
        module = cls(7, 0.0, max_len=50)
    except RemoteError as exc:
        failure = ctx.explain(exc, what)
        text = exc.message
        if "size" in text or "shape" in text or "match" in text:
            failure.with_part(TestFailure(BOOK_ODD, mistake="positional_encoding.odd_hiddens_book"))
        raise failure from None
    module = module.to(ctx.device).eval()
    got = table_of(ctx, module, what, (1, 50, 7))
    if even_table_right(ctx):
        expected = table(50, 7)
        if not torch.allclose(got, expected, atol=ATOL):
            failure = table_failure(what, got, expected, 7)
            if not torch.allclose(got[..., 6], expected[..., 6], atol=ATOL):
                failure.with_part(TestFailure("  For an odd d the last column, d - 1 = 6, is an even column: it holds "
                                              "sin(i / 10000^(6/7)), a sine with no cosine partner.",
                                              mistake="positional_encoding.odd_last_column"))
            raise failure


@grader.test("max_len sets the number of positions", points=1, hidden=True)
def max_len_used(ctx):
    """PositionalEncoding(6, 0.0, max_len=50) and max_len=1500 have tables of 50 and 1500 rows."""
    for max_len in (50, 1500):
        module, what = construct(ctx, 6, 0.0, max_len=max_len)
        table_of(ctx, module, what, (1, max_len, 6))


def positive(shape, device, seed):
    """Values in [2, 3): X + P is never 0, so a zero in the output can only come from dropout."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) + 2.0).to(device)


def forward(ctx, module, what, X):
    text = f"{what}({describe(X)})"
    try:
        got = module(X)
    except RemoteError as exc:
        failure = ctx.explain(exc, text)
        if "size of tensor" in exc.message or "must match" in exc.message:
            failure.with_part(TestFailure(
                "  X has {T} positions but P has {max_len}: add only the first T rows, self.P[:, :X.shape[1], :].",
                mistake="positional_encoding.P_not_sliced", T=X.shape[1], max_len=module.P.shape[1]
                if isinstance(getattr(module, "P", None), torch.Tensor) else "max_len"))
        raise failure from None
    check_type(got, text)
    if tuple(got.shape) != tuple(X.shape):
        raise TestFailure("{text} returned shape {got}; expected X's shape {expected}.", text=text,
                          got=str(tuple(got.shape)), expected=str(tuple(X.shape)))
    return got.detach(), text


@grader.test("forward adds P[:, :T, :] to every item of the batch", points=2)
def adds_table(ctx):
    """Dropout 0, eval mode, max_len 20: X of shapes (3, 5, 8) and (1, 20, 8) give X + P[:, :T, :] with your own P
    (its values are the business of the tests above)."""
    module, what = construct(ctx, 8, 0.0, max_len=20)
    P = table_of(ctx, module, what, (1, 20, 8))
    for shape, seed in (((3, 5, 8), 1), ((1, 20, 8), 2)):
        X = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(ctx.device)
        got, text = forward(ctx, module, what, X.clone())
        expected = X.double().cpu() + P[:, :shape[1], :]
        got = got.cpu().double()
        if not torch.allclose(got, expected, atol=1e-5):
            b, t, c = (int(v) for v in ((got - expected).abs() > 1e-5).nonzero()[0])
            failure = TestFailure("{text}[{b}, {t}, {c}] is {got:.6f}; expected X[{b}, {t}, {c}] + P[0, {t}, {c}] = "
                                  "{x:.6f} + {p:.6f} = {expected:.6f}.", text=text, b=b, t=t, c=c,
                                  got=float(got[b, t, c]), x=float(X[b, t, c]), p=float(P[0, t, c]),
                                  expected=float(expected[b, t, c]))
            if torch.allclose(got, X.double().cpu(), atol=1e-5):
                failure.with_part(TestFailure("  The output is X itself: P was never added.",
                                              mistake="positional_encoding.P_not_added"))
            raise failure


@grader.test("dropout acts on X + P in training mode", points=1, hidden=True)
def dropout_in_training(ctx):
    """dropout 0.5, training mode, X of shape (4, 50, 16) with T = max_len: every element is 0 or 2 (X + P), and the
    zeroed fraction is 0.5 within 5 binomial standard deviations."""
    module, what = construct(ctx, 16, 0.5, max_len=50)
    P = table_of(ctx, module, what, (1, 50, 16))
    module.train()
    X = positive((4, 50, 16), ctx.device, 3)
    got, text = forward(ctx, module, what + ".train()", X.clone())
    got, S = got.cpu().double(), X.cpu().double() + P
    kept, dropped = torch.isclose(got, 2 * S, atol=1e-5), got == 0
    if bool((kept | dropped).all()):
        frac, n = float(dropped.double().mean()), got.numel()
        bound = 5 * math.sqrt(0.25 / n)
        if abs(frac - 0.5) > bound:
            raise TestFailure("{text} zeroed a fraction {frac:.4f} of the elements; expected 0.5 ± {bound:.4f}. Use "
                              "nn.Dropout(dropout).", text=text, frac=frac, bound=bound)
        return
    part = None
    if torch.allclose(got, S, atol=1e-5):
        part = TestFailure("  The output is X + P unchanged: dropout did nothing in training mode. Apply "
                           "self.dropout to X + P.", mistake="positional_encoding.dropout_missing")
    elif bool((torch.isclose(got - P, 2 * X.cpu().double(), atol=1e-5) | torch.isclose(got, P, atol=1e-5)).all()):
        part = TestFailure("  Dropout was applied to X before P was added (dropout(X) + P): the dropped elements "
                           "still carry their position. Add first, then drop: self.dropout(X + P).",
                           mistake="positional_encoding.P_added_after_dropout")
    failure = TestFailure("{text}: with dropout 0.5 in training mode every element must be 0 or 2 (X + P), but some "
                          "are neither (X in [2, 3), so X + P is never 0).", text=text)
    raise failure.with_part(part) if part is not None else failure


@grader.test("in eval mode there is no dropout: the output is X + P", points=1, hidden=True)
def no_dropout_in_eval(ctx):
    """dropout 0.5, eval mode, T = max_len: X + P exactly, twice."""
    module, what = construct(ctx, 16, 0.5, max_len=30)
    P = table_of(ctx, module, what, (1, 30, 16))
    X = positive((3, 30, 16), ctx.device, 4)
    for _ in range(2):
        got, text = forward(ctx, module, what + ".eval()", X.clone())
        if not torch.allclose(got.cpu().double(), X.cpu().double() + P, atol=1e-5):
            raise TestFailure("{text} in eval mode must return X + P unchanged, but it differs (zeros or rescaled "
                              "values): dropout is still active. Use an nn.Dropout module (it switches itself off in "
                              "eval mode), not torch.nn.functional.dropout without training=self.training.",
                              text=text, mistake="positional_encoding.dropout_in_eval")


@grader.test("P is a buffer: it follows .to(device) and is not a parameter", points=1, hidden=True)
def table_is_buffer(ctx):
    """P appears in named_buffers() (not in parameters()), so module.to(device) moves it; on a CPU run the module is
    also moved to PyTorch's "meta" device (a stand-in for a GPU) and called there."""
    module, what = construct(ctx, 8, 0.0, max_len=10)
    if "P" in dict(module.named_parameters()):
        raise TestFailure("{what}.P is an nn.Parameter, so an optimizer would change it: the sinusoidal table is "
                          "fixed. Register it with self.register_buffer(\"P\", P).",
                          mistake="positional_encoding.P_is_parameter", what=what)
    if "P" not in dict(module.named_buffers()):
        raise TestFailure("{what}.P is a plain attribute, not a buffer, so {what}.to(device) leaves it on the CPU. The "
                          "book's code keeps it so and moves it inside forward with .to(X.device), a copy on every "
                          "call; the tutor asks for self.register_buffer(\"P\", P), which moves it with the module "
                          "once (and keeps it out of the parameters).", mistake="positional_encoding.P_not_buffer",
                          what=what)
    if ctx.should_probe_devices():
        meta = module.to("meta")
        if module.P.device.type != "meta":
            raise TestFailure("after {what}.to('meta'), P is still on {device}.", what=what, device=str(module.P.device))
        X = torch.ones(2, 4, 8, device="meta")
        got = ctx.run_on_meta(f"{what}.to('meta')({describe(X)})", lambda: meta(X))
        if isinstance(got, torch.Tensor) and got.device.type != "meta":
            raise TestFailure("{what}.to('meta') returned a tensor on {device}, not on X's device.", what=what,
                              device=str(got.device))


# -- smoke-check: find the token at a given position ------------------------------------------------------------------

V, T, D = 8, 12, 32          # content tokens 0 .. V - 1; sequences of T tokens; model width D
NTOK = V + T - 1             # plus one pointer token per position 1 .. T - 1
STEPS, BATCH = 100, 64


def pointer_batch(n, gen):
    """Position 0 holds a pointer token naming a position k in 1 .. T - 1; positions 1 .. T - 1 hold random content
    tokens; the label is the content token at position k. Without positions, attention sees only a bag of tokens."""
    content = torch.randint(0, V, (n, T - 1), generator=gen)
    k = torch.randint(1, T, (n,), generator=gen)
    tokens = torch.cat([(V + k - 1)[:, None], content], dim=1)
    return tokens, content[torch.arange(n), k - 1]


class PointerNet(nn.Module):
    """Attention only: embed the tokens (scaled by √D, as the book does before its encoding), encode positions,
    one head of scaled dot-product attention queried from position 0, a linear read-out. No convolution, no
    recurrence: the order of the tokens reaches the model only through the encoding."""

    def __init__(self, encode):
        super().__init__()
        self.embedding = nn.Linear(NTOK, D, bias=False)  # on one-hot tokens: deterministic on a GPU too
        self.encode = encode
        self.W_q, self.W_k, self.W_v = (nn.Linear(D, D, bias=False) for _ in range(3))
        self.head = nn.Linear(D, V)

    def forward(self, tokens):
        X = self.encode(self.embedding(F.one_hot(tokens, NTOK).float()) * math.sqrt(D))
        scores = self.W_q(X[:, :1]) @ self.W_k(X).transpose(1, 2) / math.sqrt(D)
        return self.head((torch.softmax(scores, dim=-1) @ self.W_v(X))[:, 0])


def train_pointer(ctx, encode, data, report):
    train, (test_x, test_y) = data
    torch.manual_seed(1)  # the same initial network with and without the encoding
    net = PointerNet(encode).to(ctx.device)
    optimizer = Adam(net.parameters(), lr=0.01)

    def accuracy():
        net.eval()
        with torch.no_grad():
            acc = (net(test_x).argmax(dim=1) == test_y).double().mean().item()
        net.train()
        return acc

    curve = []
    acc = accuracy()
    for step, (x, y) in enumerate(train, start=1):
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            acc = accuracy()
        curve.append(acc)
        report(step, loss.item(), acc)
    return acc, curve


# Seeds 0..9 on this CPU: with the reference's encoding the accuracy is 0.91 to 1.00; without an encoding
# (forward returning dropout(X), or P all zeros) 0.26 to 0.32, about the chance of guessing the most frequent token.
@grader.smoke("an attention-only model with your encoding finds the token at a given position", points=3,
              metric="test accuracy", goal="min", threshold=0.7, budget=10, plot="accuracy", hidden=True)
def pointer_task(ctx):
    """Sequences of 12 tokens: the first names a position, the model must output the token found there. The same
    attention-only model is trained for 100 Adam steps of 64 sequences without any encoding (accuracy_without in
    the plot: it cannot tell positions apart) and with your PositionalEncoding(32, 0.1, max_len=12)."""
    gen = ctx.seed(0)
    to = lambda batch: tuple(t.to(ctx.device) for t in batch)  # noqa: E731
    data = ([to(pointer_batch(BATCH, gen)) for _ in range(STEPS)], to(pointer_batch(500, gen)))
    _, without = train_pointer(ctx, lambda X: X, data, lambda *a: None)

    ctx.seed(0)
    encoding, what = construct(ctx, D, 0.1, max_len=T)
    checked = set()

    def encode(X):
        if "called" not in checked:  # the first call explains any error and checks the shape
            forward(ctx, encoding, what, X)
            checked.add("called")
        out = encoding(X)
        if "grad" not in checked and torch.is_grad_enabled():
            if not out.requires_grad:
                raise TestFailure("{text} returned a tensor that autograd cannot differentiate, so the embedding "
                                  "below it cannot learn. Keep forward a tensor expression in X.",
                                  text=f"{what}({describe(X)})")
            checked.add("grad")
        return out

    mine, _ = train_pointer(ctx, encode, data, lambda step, loss, acc: ctx.step(
        step, loss=loss, accuracy=acc, accuracy_without=without[step - 1]))
    return mine
