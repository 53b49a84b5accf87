"""Tests and smoke-check for exercise seq_data (d2l 10.3).

Both functions are generators; a generator cannot travel out of the sandbox, so `epoch` drains one there
(`ctx.link.take`, capped at MAX_BATCHES) and brings back the list of (X, Y) pairs. Every test holds for any random draw: the learner's offset and shuffle differ from
the reference's, so the tests read the offset from what came back and check the rules the lesson states. Corpora
hold distinct tokens, so every token tells its position in the corpus.

The smoke-check trains the grader's own small RNN language model (torch.nn.RNN) twice on a corpus with structure
longer than num_steps: once on the learner's sequential minibatches with the hidden state carried over
(detached) from one minibatch to the next, once on shuffled windows with the state reset to zero.
"""

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, describe
from tutor.grading.remote import RemoteError, RemoteObject

MAX_BATCHES = 10_000  # far more than any test's corpus gives: a generator that never stops is cut here

grader = Grader("seq_data")

RANDOM, SEQUENTIAL = "seq_data_iter_random", "seq_data_iter_sequential"
SEEDS = range(12)


def epoch(ctx, name, corpus, batch_size, num_steps, seed):
    """Every (X, Y) that the learner's generator `name` yields for one call, drawn in the sandbox at `seed`."""
    fn = ctx.fn(name)
    what = fn.describe(corpus, batch_size, num_steps)
    ctx.link.seed(seed)
    try:
        result = fn(list(corpus), batch_size, num_steps)
        if isinstance(result, (list, tuple)):  # a list of the pairs is fine too
            batches = list(result)
        elif isinstance(result, RemoteObject):  # a generator: drawn in the sandbox
            batches = ctx.link.take(result, MAX_BATCHES)
        else:
            raise TestFailure("{call} returned {got}, not an iterable of (X, Y) pairs: write it as a generator that "
                              "yields each minibatch (yield X, Y).", call=what, got=describe(result))
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    if len(batches) > MAX_BATCHES:
        raise TestFailure("{call} yielded more than {limit} minibatches without stopping: one call is one epoch, so "
                          "the generator ends when the corpus is used up.", call=what, limit=MAX_BATCHES)
    out = []
    for item in batches:
        if not (isinstance(item, (tuple, list)) and len(item) == 2
                and all(isinstance(t, torch.Tensor) for t in item)):
            raise TestFailure("{call} yielded {got}; each item must be a pair (X, Y) of tensors.", call=what,
                              got=describe(item))
        X, Y = item
        for label, t in (("X", X), ("Y", Y)):
            if t.dtype != torch.int64 or tuple(t.shape) != (batch_size, num_steps):
                raise TestFailure("{call} yielded {label} = {got}; expected an int64 tensor of shape (batch_size, "
                                  "num_steps) = ({b}, {t}) (torch.tensor of a list of int lists gives int64).",
                                  call=what, label=label, got=describe(t), b=batch_size, t=num_steps)
        out.append((X.cpu(), Y.cpu()))
    return out, what


def positions(corpus):
    """Where each token sits in `corpus` (its tokens are distinct)."""
    table = torch.full((max(corpus) + 1,), -1, dtype=torch.int64)
    table[torch.tensor(corpus)] = torch.arange(len(corpus))
    return lambda t: table[t]


def scrambled(n, seed):
    """n distinct tokens in a random order, so a token's value says nothing about its place."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randperm(n, generator=gen) + 3).tolist()


CASES = [(103, 3, 7), (64, 4, 5), (200, 5, 6), (41, 2, 8)]  # (corpus length, batch_size, num_steps)


def each_epoch(ctx, name, cases=CASES, seeds=SEEDS):
    for n, b, t in cases:
        corpus = scrambled(n, n + b + t)
        pos = positions(corpus)
        for seed in seeds:
            batches, what = epoch(ctx, name, corpus, b, t, seed)
            yield corpus, pos, b, t, batches, what


def check_shift(batches, pos, what, mistake):
    for X, Y in batches:
        if torch.equal(X, Y):
            raise TestFailure("{call} yielded Y equal to X. Y holds the labels, the next token of each position: "
                              "take it from the corpus one place further on (start + 1 to start + 1 + num_steps).",
                              call=what, mistake=mistake)
        if not torch.equal(pos(Y), pos(X) + 1):
            raise TestFailure("{call} yielded\n  X = {X}\n  Y = {Y}\n  Each Y[r, t] must be the token right after "
                              "X[r, t] in the corpus.", call=what, X=str(X.tolist()), Y=str(Y.tolist()),
                              mistake=mistake)


def random_starts(batches, pos):
    return [int(p) for X, _ in batches for p in pos(X[:, 0])]


def check_random_grid(batches, pos, t, what):
    starts = random_starts(batches, pos)
    if len({s % t for s in starts}) > 1:
        raise TestFailure("{call} yielded subsequences starting at positions {starts}: they do not all lie on one "
                          "grid offset + k·num_steps, so they overlap or leave gaps. Cut the corpus once, from one "
                          "random offset, into pieces of num_steps tokens, and shuffle the pieces' start positions.",
                          call=what, starts=str(sorted(starts)), mistake="seq_data.random_overlapping")
    return starts


def random_count(n, b, t, offset):
    return ((n - offset - 1) // t) // b


def sequential_rows(batches, pos, what, mistake=None):
    """Check that row r of batch i + 1 continues row r of batch i."""
    for i in range(1, len(batches)):
        before, after = pos(batches[i - 1][0]), pos(batches[i][0])
        if not torch.equal(after[:, 0], before[:, -1] + 1):
            raise TestFailure("{call}: row r of minibatch {i} does not continue row r of minibatch {j}: the rows "
                              "of minibatch {j} end at corpus positions {ends}, those of minibatch {i} start at "
                              "{starts}. Split the corpus into batch_size long streams first (reshape to "
                              "(batch_size, -1)), then read num_steps columns at a time, so that a model can carry "
                              "its state from one minibatch to the next.", call=what, i=i, j=i - 1,
                              ends=str(before[:, -1].tolist()), starts=str(after[:, 0].tolist()), mistake=mistake)


@grader.test("the book's example with random sampling: corpus 0..34, batch 2, 5 steps", points=1)
def book_random(ctx):
    """Y = X + 1; 3 minibatches; 6 distinct subsequences, all on one grid offset + 5k."""
    corpus = list(range(35))
    pos = positions(corpus)
    for seed in SEEDS:
        batches, what = epoch(ctx, RANDOM, corpus, 2, 5, seed)
        check_shift(batches, pos, what, "seq_data.random_y_not_shifted")
        starts = check_random_grid(batches, pos, 5, what)
        if len(set(starts)) != len(starts):
            raise TestFailure("{call} yielded the subsequences starting at {starts}: some come twice.", call=what,
                              starts=str(sorted(starts)), mistake="seq_data.random_repeats")
        if len(batches) != 3:
            raise TestFailure("{call} yielded {got} minibatches; the book's example has 3: (35 - offset - 1) // 5 "
                              "= 6 pieces for every offset in [0, 5), which make 3 minibatches of 2. Offset here: {o}.",
                              call=what, got=len(batches), o=min(starts) % 5 if starts else "?")


@grader.test("the book's example with sequential partitioning: corpus 0..34, batch 2, 5 steps", points=1)
def book_sequential(ctx):
    """Y = X + 1; the rows continue across minibatches; ((34 - offset) // 2) // 5 minibatches."""
    corpus = list(range(35))
    pos = positions(corpus)
    for seed in SEEDS:
        batches, what = epoch(ctx, SEQUENTIAL, corpus, 2, 5, seed)
        if not batches:
            raise TestFailure("{call} yielded nothing; the book's example has 3 minibatches (2 for offsets 4 and "
                              "5).", call=what)
        check_shift(batches, pos, what, "seq_data.sequential_y_not_shifted")
        sequential_rows(batches, pos, what, "seq_data.sequential_not_continuing")
        offset = int(batches[0][0][0, 0])
        if len(batches) != (34 - offset) // 2 // 5:
            raise TestFailure("{call} yielded {got} minibatches from offset {o}; expected ((35 - {o} - 1) // 2) // 5 "
                              "= {want}.", call=what, got=len(batches), o=offset, want=(34 - offset) // 2 // 5)


@grader.test("random sampling: Y is X shifted by one token in the corpus", points=1, hidden=True)
def random_shift(ctx):
    for _, pos, _, _, batches, what in each_epoch(ctx, RANDOM):
        check_shift(batches, pos, what, "seq_data.random_y_not_shifted")


@grader.test("random sampling: every subsequence starts at offset + k·num_steps, with a random offset",
             points=1, hidden=True)
def random_grid(ctx):
    """All starts share one remainder modulo num_steps (no overlaps), and that remainder varies between calls."""
    for n, b, t in CASES:
        corpus = scrambled(n, n + b + t)
        pos = positions(corpus)
        offsets = set()
        for seed in range(40):
            batches, what = epoch(ctx, RANDOM, corpus, b, t, seed)
            starts = check_random_grid(batches, pos, t, what)
            offsets.update(s % t for s in starts)
        if len(offsets) == 1:
            raise TestFailure("{call} used the same offset {o} in 40 calls with different seeds: draw it with "
                              "random.randint(0, num_steps - 1) at every call, so that each epoch cuts the corpus "
                              "differently and every token gets to start a subsequence.", call=what,
                              o=offsets.pop(), mistake="seq_data.random_no_offset")


@grader.test("random sampling: no subsequence repeats within an epoch", points=1, hidden=True)
def random_no_repeats(ctx):
    for _, pos, _, _, batches, what in each_epoch(ctx, RANDOM):
        starts = random_starts(batches, pos)
        if len(set(starts)) != len(starts):
            raise TestFailure("{call} yielded the subsequences starting at {starts}: some come twice. Shuffle the "
                              "list of start positions once and take the minibatches from it in order (no "
                              "sampling with replacement).", call=what, starts=str(sorted(starts)),
                              mistake="seq_data.random_repeats")


@grader.test("random sampling: ((len(corpus) - offset - 1) // num_steps) // batch_size minibatches", points=1,
             hidden=True)
def random_count_test(ctx):
    for corpus, pos, b, t, batches, what in each_epoch(ctx, RANDOM):
        if not batches:
            raise TestFailure("{call} yielded nothing.", call=what)
        starts = random_starts(batches, pos)
        offset = starts[0] % t
        want = random_count(len(corpus), b, t, offset)
        if len({s % t for s in starts}) > 1:  # off the grid (its own test says so): any offset's count will do
            if len(batches) in {random_count(len(corpus), b, t, o) for o in range(t)}:
                continue
        if len(batches) != want:
            raise TestFailure("{call} yielded {got} minibatches with offset {o}; expected "
                              "(({n} - {o} - 1) // {t}) // {b} = {want}: the last piece needs one more token for "
                              "its labels, and a piece that does not fill a minibatch is left out.", call=what,
                              got=len(batches), o=offset, n=len(corpus), t=t, b=b, want=want,
                              mistake="seq_data.random_count_off_by_one")


@grader.test("random sampling: the subsequences come in a shuffled order", points=1, hidden=True)
def random_shuffled(ctx):
    """Over 20 calls, the start positions are not always in increasing order (a true shuffle of 5 or more pieces
    leaves them sorted with probability at most 1/120 per call, so never in 20 calls for practical purposes)."""
    n, b, t = 103, 3, 7
    corpus = scrambled(n, 1)
    pos = positions(corpus)
    for seed in range(20):
        batches, what = epoch(ctx, RANDOM, corpus, b, t, seed)
        starts = random_starts(batches, pos)
        if starts != sorted(starts):
            return
    raise TestFailure("{call} served the subsequences in corpus order in 20 calls out of 20: shuffle the start "
                      "positions (random.shuffle) so that neighbouring minibatches are not neighbours in the "
                      "corpus.", call=what, mistake="seq_data.random_not_shuffled")


@grader.test("sequential partitioning: Y is X shifted by one token in the corpus", points=1, hidden=True)
def sequential_shift(ctx):
    for _, pos, _, _, batches, what in each_epoch(ctx, SEQUENTIAL):
        check_shift(batches, pos, what, "seq_data.sequential_y_not_shifted")


@grader.test("sequential partitioning: row r of each minibatch continues row r of the one before", points=1,
             hidden=True)
def sequential_continues(ctx):
    for _, pos, _, _, batches, what in each_epoch(ctx, SEQUENTIAL):
        sequential_rows(batches, pos, what, "seq_data.sequential_not_continuing")


@grader.test("sequential partitioning: a random offset in [0, num_steps] and the right number of minibatches",
             points=1, hidden=True)
def sequential_offset_count(ctx):
    for n, b, t in CASES:
        corpus = scrambled(n, n + b + t)
        pos = positions(corpus)
        offsets = set()
        for seed in range(40):
            batches, what = epoch(ctx, SEQUENTIAL, corpus, b, t, seed)
            if not batches:
                raise TestFailure("{call} yielded nothing.", call=what)
            offset = int(pos(batches[0][0][0, 0]))
            if not 0 <= offset <= t:
                raise TestFailure("{call} started at corpus position {o}; the offset must lie in [0, num_steps] = "
                                  "[0, {t}].", call=what, o=offset, t=t)
            offsets.add(offset)
            want = (n - offset - 1) // b // t
            if len(batches) != want:
                raise TestFailure("{call} yielded {got} minibatches with offset {o}; expected (({n} - {o} - 1) // "
                                  "{b}) // {t} = {want}.", call=what, got=len(batches), o=offset, n=n, b=b, t=t,
                                  want=want)
        if len(offsets) == 1:
            raise TestFailure("{call} used the same offset {o} in 40 calls with different seeds: draw it with "
                              "random.randint(0, num_steps) at every call.", call=what, o=offsets.pop(),
                              mistake="seq_data.sequential_no_offset")


# -- the smoke-check ----------------------------------------------------------------------------------------------

KEYS, FILLER, PERIODS = 4, 4, 12  # tokens 0..3 are keys, 4..7 fillers; a block is key, filler, key, filler, ...
VOCAB, HIDDEN, BATCH, STEPS, TRAIN_STEPS, LR = KEYS + FILLER, 32, 16, 4, 150, 0.02


def keyed_corpus(n, seed):
    """Blocks of 24 tokens (much longer than num_steps = 4): a random key k alternates with fillers,
    k f1 k f2 k f3 k f4 k f1 ...; predicting the key after a filler needs the token before it, which a window of
    4 tokens that starts at a filler does not contain: only a state carried in from the previous window has it."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        k = rng.randrange(KEYS)
        for i in range(PERIODS):
            out += [k, KEYS + i % FILLER]
    return out[:n]


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(VOCAB, HIDDEN)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, X, state):  # X: (batch, steps) token ids
        Y, state = self.rnn(F.one_hot(X.T, VOCAB).float(), state)
        return self.out(Y), state


def loss_of(model, X, Y, state):
    out, state = model(X, state)
    return F.cross_entropy(out.reshape(-1, VOCAB), Y.T.reshape(-1)), state


def held_out_perplexity(model, data, carry):
    """The grader's own sequential reading of held-out text; the state carried (carry) or reset at every window."""
    Xs, Ys = torch.tensor(data[:-1]), torch.tensor(data[1:])
    n = len(Xs) // BATCH * BATCH
    Xs, Ys = Xs[:n].reshape(BATCH, -1), Ys[:n].reshape(BATCH, -1)
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for i in range(0, Xs.shape[1] // STEPS * STEPS, STEPS):
            loss, state = loss_of(model, Xs[:, i:i + STEPS], Ys[:, i:i + STEPS], state if carry else None)
            total, count = total + float(loss) * BATCH * STEPS, count + BATCH * STEPS
    return math.exp(total / count)


def train_step(model, optimizer, X, Y, state):
    loss, state = loss_of(model, X, Y, state)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(loss), state


@grader.smoke("an RNN trained on your sequential minibatches with a carried state beats one with shuffled windows "
              "and a reset state", points=2, metric="held-out perplexity (carried state)", goal="max",
              threshold=1.32, budget=20, plot="carried", hidden=True)
def carried_state_helps(ctx):
    """150 Adam steps each. Reference, seeds 0..9: carried ≈ 1.18-1.21 against the reset model's ≈ 1.43 or more
    (the ideal: ≈ 1.06 and ≈ 1.25); Y not shifted or rows that do not continue leave the carried model ≥ 1.4.
    Threshold 1.32."""
    train, held = keyed_corpus(6000, 0), keyed_corpus(3000, 1)
    torch.manual_seed(0)
    carried, reset = TinyLM(), TinyLM()
    reset.load_state_dict(carried.state_dict())  # the same model, the same start
    opt_c = torch.optim.Adam(carried.parameters(), lr=LR)
    opt_r = torch.optim.Adam(reset.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(0)
    step, seed = 0, 0
    while step < TRAIN_STEPS:
        batches, what = epoch(ctx, SEQUENTIAL, train, BATCH, STEPS, seed)
        seed += 1
        if not batches:
            raise TestFailure("{call} yielded nothing.", call=what)
        state = None
        for X, Y in batches:
            step += 1
            loss_c, state = train_step(carried, opt_c, X, Y, None if state is None else state.detach())
            starts = torch.randint(0, len(train) - STEPS - 1, (BATCH,), generator=gen)
            window = torch.tensor(train)[starts[:, None] + torch.arange(STEPS + 1)]
            loss_r, _ = train_step(reset, opt_r, window[:, :-1], window[:, 1:], None)
            if not math.isfinite(loss_c):
                raise TestFailure("the training loss became {loss} at step {step}.", loss=loss_c, step=step)
            ctx.step(step, carried=math.exp(loss_c), reset=math.exp(loss_r))
            if step >= TRAIN_STEPS:
                break
    value = held_out_perplexity(carried, held, carry=True)
    held_out_perplexity(reset, held, carry=False)  # the reset model, read its own way (shown by its curve)
    return value
