"""Tests and smoke-check for exercise nmt_data (d2l 11.5).

Every test compares with values written in the test, so none needs the reference. The vocabularies are the given
Vocab (exercise vocab's reference, which the stub imports from tutor.given; a learner who wrote their own Vocab in
the file gets theirs), built in the sandbox with `ctx.fn("Vocab")` so that build_array_nmt receives a real object
there; `SandboxVocab` reads its members (len, [], to_tokens) from the grader.

The smoke-check trains a small translator on arrays the learner's build_array_nmt makes from generated sentence
pairs (tutor.grading.text.toy_translation) and reports the BLEU of its translations of held-out sentences.
"""

import collections
import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_type, describe
from tutor.grading.remote import RemoteError
from tutor.grading.text import toy_translation
from tutor.grading.train import Adam

grader = Grader("nmt_data")

RESERVED = ["<pad>", "<bos>", "<eos>"]


def shown(value) -> str:
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    return repr(value) if len(repr(value)) <= 300 else repr(value)[:300] + " ..."


class SandboxVocab:
    """A Vocab built in the sandbox (the given one, or the learner's own), and what built it."""

    def __init__(self, ctx, tokens, reserved, what):
        self.ctx, self.what = ctx, what
        cls = ctx.learner("Vocab")  # not ctx.fn: in a student build the given Vocab is the learner's own, any callable
        if cls is None:
            raise TestFailure("your file has no Vocab: keep the stub's line `from tutor.given import Vocab` (or write "
                              "your own Vocab class). The grader builds the vocabularies it passes to "
                              "build_array_nmt with it.")
        try:
            self.obj = cls(tokens, reserved_tokens=list(reserved))
        except RemoteError as exc:
            raise ctx.explain(exc, what) from None

    def _member(self, name, *args):
        try:
            return self.ctx.link.getattr(self.obj.hid, name)(*args)
        except RemoteError as exc:
            raise self.ctx.explain(exc, f"{name} of {self.what}") from None

    def __len__(self):
        return self._member("__len__")

    def __getitem__(self, key):
        return self._member("__getitem__", key)

    def to_tokens(self, indices):
        return self._member("to_tokens", indices)


def build(ctx, lines, vocab, num_steps):
    """The learner's build_array_nmt(lines, vocab, num_steps), checked to return a pair of tensors."""
    fn = ctx.fn("build_array_nmt")
    what = f"build_array_nmt(lines: {lines!r}, vocab: {vocab.what}, num_steps: {num_steps})"
    try:
        result = fn.__wrapped__(lines, vocab.obj, num_steps)
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TestFailure("{call} returned {got}; expected the pair (array, valid_len).", call=what,
                          got=describe(result))
    array, valid_len = result
    check_type(array, what + "[0] (array)")
    check_type(valid_len, what + "[1] (valid_len)")
    return array, valid_len, what


def expect(got, expected, call: str) -> None:
    if got != expected:
        raise TestFailure("{call} returned {got}; expected {expected}.", call=call, got=shown(got),
                          expected=shown(expected))


def small_vocab(ctx, reserved=RESERVED):
    """a and b each appear 3 times, a first: with the book's reserved tokens, <unk> 0, <pad> 1, <bos> 2, <eos> 3,
    a 4, b 5."""
    text = [["a", "b"], ["b", "a", "b", "a"]]
    return SandboxVocab(ctx, text, reserved, f"Vocab({text!r}, reserved_tokens={list(reserved)!r})")


# -- truncate_pad --------------------------------------------------------------------------------------------------

@grader.test("truncate_pad: the book's example, padded to 10 steps", points=1)
def book_example(ctx):
    """The book pads the indices of "go ." ([47, 4]) to 10 steps with <pad> = 1."""
    ctx.fn("truncate_pad")
    expect(ctx.call("truncate_pad", [47, 4], 10, 1), [47, 4, 1, 1, 1, 1, 1, 1, 1, 1],
           "truncate_pad([47, 4], 10, 1)")


@grader.test("truncate_pad keeps the head of a long line", points=1)
def keeps_head(ctx):
    """A line longer than num_steps keeps its first num_steps items; a line of exactly num_steps is unchanged."""
    got = ctx.call("truncate_pad", [5, 6, 7, 8, 9], 3, 0)
    if got == [7, 8, 9]:
        raise TestFailure("truncate_pad([5, 6, 7, 8, 9], 3, 0) returned [7, 8, 9], the END of the line. A translation "
                          "model reads a sentence from its start: keep the first num_steps tokens, line[:num_steps].",
                          mistake="nmt_data.truncate_keeps_tail")
    expect(got, [5, 6, 7], "truncate_pad([5, 6, 7, 8, 9], 3, 0)")
    expect(ctx.call("truncate_pad", [5, 6, 7], 3, 0), [5, 6, 7], "truncate_pad([5, 6, 7], 3, 0)")


@grader.test("truncate_pad: empty lines and tokens that are strings", points=1, hidden=True)
def edge_cases(ctx):
    """An empty line becomes all padding; tokens and the padding may be strings."""
    expect(ctx.call("truncate_pad", [], 3, 0), [0, 0, 0], "truncate_pad([], 3, 0)")
    expect(ctx.call("truncate_pad", ["go", "."], 4, "<pad>"), ["go", ".", "<pad>", "<pad>"],
           "truncate_pad(['go', '.'], 4, '<pad>')")


# -- build_array_nmt -----------------------------------------------------------------------------------------------

@grader.test("build_array_nmt appends <eos>, then pads with <pad>", points=2)
def eos_then_pad(ctx):
    """Lines [a, b] and [b, a, b] with 5 steps (a = 4, b = 5, <pad> = 1, <eos> = 3) give [[4, 5, 3, 1, 1],
    [5, 4, 5, 3, 1]]. No line is cut here; the test of long lines checks that."""
    vocab = small_vocab(ctx)
    array, _, what = build(ctx, [["a", "b"], ["b", "a", "b"]], vocab, 5)
    got = array.tolist()
    if got == [[4, 5, 1, 1, 1], [5, 4, 5, 1, 1]]:
        raise TestFailure("{call} returned the array {got}: no row holds <eos> (index 3). Append vocab['<eos>'] to "
                          "each line's indices before padding: the decoder learns from it where a sentence ends.",
                          call=what, got=shown(got), mistake="nmt_data.eos_missing")
    expect(got, [[4, 5, 3, 1, 1], [5, 4, 5, 3, 1]], what + "[0]")


@grader.test("a line of num_steps tokens or more loses its <eos>", points=1, hidden=True)
def long_lines(ctx):
    """<eos> is appended before truncating, as in the book: with 3 steps, [a, b, a] and [b, a, b, a, b] both fill
    the row with their first tokens and keep no <eos>."""
    vocab = small_vocab(ctx)
    array, _, what = build(ctx, [["a", "b", "a"], ["b", "a", "b", "a", "b"]], vocab, 3)
    got = array.tolist()
    if got == [[4, 5, 3], [5, 4, 3]]:
        raise TestFailure("{call} returned {got}: the last place of a long row holds <eos>. The book appends <eos> "
                          "first and then truncates, so a line of num_steps tokens or more is cut before its <eos>: "
                          "expected [[4, 5, 4], [5, 4, 5]].", call=what, got=shown(got),
                          mistake="nmt_data.eos_kept_when_truncated")
    if got == [[5, 4, 3], [4, 5, 4]]:
        raise TestFailure("{call} returned {got}: the rows hold the END of each line (and so the <eos>). truncate_pad "
                          "must keep the first num_steps tokens: expected [[4, 5, 4], [5, 4, 5]].", call=what,
                          got=shown(got), mistake="nmt_data.truncate_keeps_tail")
    expect(got, [[4, 5, 4], [5, 4, 5]], what + "[0]")


@grader.test("valid_len counts the entries that are not <pad>, <eos> included", points=2)
def valid_lengths(ctx):
    """valid_len[i] is the number of entries of row i of YOUR array that are not <pad> (so a mistake in the array
    costs only the tests of the array): [a, b], [b, a, b, a] and [] with 4 steps give [3, 4, 1]."""
    vocab = small_vocab(ctx)
    lines = [["a", "b"], ["b", "a", "b", "a"], []]
    array, valid_len, what = build(ctx, lines, vocab, 4)
    if tuple(array.shape) != (3, 4):
        raise TestFailure("{call} returned an array of shape {shape}; expected (3, 4), one row of num_steps per "
                          "line.", call=what, shape=str(tuple(array.shape)))
    expected = (array.detach().cpu() != 1).sum(dim=1).tolist()
    got = valid_len.tolist()
    without_eos = [min(len(line), 4) for line in lines]
    if got == without_eos and got != expected:
        raise TestFailure("{call} returned valid_len {got}: the lengths of the sentences, without their <eos>. "
                          "valid_len counts every entry that is not <pad>, <eos> included ({expected} here): the "
                          "masked loss must teach the decoder to emit <eos>.", call=what, got=shown(got),
                          expected=shown(expected), mistake="nmt_data.valid_len_without_eos")
    if got != expected:
        raise TestFailure("{call} returned the array {array} and valid_len {got}; the rows hold {expected} entries "
                          "that are not <pad> (index 1).", call=what, array=shown(array), got=shown(got),
                          expected=shown(expected))


@grader.test("array and valid_len are int64 tensors of shapes (n, num_steps) and (n,)", points=1, hidden=True)
def dtypes_and_shapes(ctx):
    """Indices go into nn.Embedding and cross-entropy as int64 (the dtype the book's code gives both)."""
    vocab = small_vocab(ctx)
    array, valid_len, what = build(ctx, [["a"], ["b", "b"], ["a", "b", "a"]], vocab, 5)
    for label, value, shape in (("array", array, (3, 5)), ("valid_len", valid_len, (3,))):
        if value.dtype != torch.int64 or tuple(value.shape) != shape:
            raise TestFailure("{call} returned {label} {got}; expected int64{shape}.", call=what, label=label,
                              got=describe(value), shape=str(list(shape)))


@grader.test("any vocabulary: <pad> and <eos> are looked up, not written as 1 and 3", points=1, hidden=True)
def other_vocab(ctx):
    """With reserved tokens ['<eos>', '<bos>', '<pad>'] the indices are <eos> 1, <pad> 3: [a, b], [b, a, b] with 5
    steps give [[4, 5, 1, 3, 3], [5, 4, 5, 1, 3]]. Only the indices used for <pad> and <eos> count here (arrays
    without <eos> are the other test's), and valid_len must not count entries equal to 1 as padding."""
    vocab = small_vocab(ctx, ["<eos>", "<bos>", "<pad>"])
    array, valid_len, what = build(ctx, [["a", "b"], ["b", "a", "b"]], vocab, 5)
    got = array.tolist()
    if got in ([[4, 5, 3, 1, 1], [5, 4, 5, 3, 1]], [[4, 5, 1, 1, 1], [5, 4, 5, 1, 1]]):
        raise TestFailure("{call} returned {got}: it used 3 for <eos> and 1 for <pad>, the book's indices, but in "
                          "this vocabulary <eos> is 1 and <pad> is 3. Look them up: vocab['<eos>'], vocab['<pad>'].",
                          call=what, got=shown(got), mistake="nmt_data.special_indices_hard_coded")
    if got != [[4, 5, 3, 3, 3], [5, 4, 5, 3, 3]]:  # that one: no <eos>, the test of <eos> says so
        expect(got, [[4, 5, 1, 3, 3], [5, 4, 5, 1, 3]], what + "[0]")
    hard_coded = (array.detach().cpu() != 1).sum(dim=1).tolist()
    if valid_len.tolist() == hard_coded and hard_coded != (array.detach().cpu() != 3).sum(dim=1).tolist():
        raise TestFailure("{call} returned valid_len {got}: it counts the entries that are not 1, the book's index of "
                          "<pad>, but in this vocabulary <pad> is 3. Count the entries != vocab['<pad>'].", call=what,
                          got=shown(valid_len), mistake="nmt_data.special_indices_hard_coded")


# -- smoke-check ---------------------------------------------------------------------------------------------------

def bleu(pred, label, k=2):
    """The book's BLEU: a brevity penalty times the n-gram precisions (n <= k), the n-th weighted by 1 / 2^n."""
    len_pred, len_label = len(pred), len(label)
    score = math.exp(min(0.0, 1 - len_label / max(len_pred, 1)))
    for n in range(1, k + 1):
        if len_pred - n + 1 <= 0:
            return 0.0
        matches, counts = 0, collections.Counter(tuple(label[i:i + n]) for i in range(len_label - n + 1))
        for i in range(len_pred - n + 1):
            gram = tuple(pred[i:i + n])
            if counts[gram] > 0:
                matches += 1
                counts[gram] -= 1
        score *= math.pow(matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


# Why not the GRU encoder-decoder of the lesson: on this machine's shared CPU one training step of even a tiny GRU
# seq2seq takes 15 to 70 ms and it needs about 200 steps to translate, far over the 3 s a smoke-check may take. The
# translator here is a two-layer perceptron from the whole one-hot source array to a distribution over the target
# vocabulary at every step, trained with the cross-entropy masked by the learner's valid_len (as the book's masked
# loss). It trains in about 0.3 s, and it depends on exactly what the exercise builds: it reads only the learner's
# arrays, it learns where a translation ends only from the <eos> the arrays hold and the valid lengths count, and
# its translations are read up to the first <eos>.
NUM_STEPS, PAIRS, HELD_OUT, HIDDEN, STEPS, BATCH, LR = 8, 1000, 100, 128, 150, 64, 0.02


@grader.smoke("a small translator trained on your arrays translates held-out sentences", points=2,
              metric="BLEU (k = 2) on held-out pairs", goal="min", threshold=0.75, budget=10, plot="bleu",
              hidden=True)
def translator(ctx):
    """Threshold 0.75: over seeds 0..9 (of the model and the data) the reference's arrays give 0.87 to 0.92; arrays
    without <eos>, or valid lengths that leave it out, give 0.53 to 0.61 (the model never learns to stop)."""
    pairs = toy_translation(PAIRS, seed=1)
    held_out = toy_translation(HELD_OUT, seed=2)
    source, target = [s for s, _ in pairs], [t for _, t in pairs]
    src_vocab = SandboxVocab(ctx, source, RESERVED, "Vocab(<the source sentences>, reserved_tokens=[...])")
    tgt_vocab = SandboxVocab(ctx, target, RESERVED, "Vocab(<the target sentences>, reserved_tokens=[...])")
    fn = ctx.fn("build_array_nmt")

    def arrays(lines, vocab, label):
        what = f"build_array_nmt(<{len(lines)} {label} sentences>, {label}_vocab, {NUM_STEPS})"
        try:
            result = fn.__wrapped__(lines, vocab.obj, NUM_STEPS)
        except RemoteError as exc:
            raise ctx.explain(exc, what) from None
        ok = isinstance(result, (tuple, list)) and len(result) == 2 and all(
            isinstance(t, torch.Tensor) for t in result)
        if not ok or tuple(result[0].shape) != (len(lines), NUM_STEPS) or tuple(result[1].shape) != (len(lines),):
            raise TestFailure("{call} returned {got}; expected (int64[{n}, {steps}], int64[{n}]).", call=what,
                              got=describe(result), n=len(lines), steps=NUM_STEPS)
        array, valid_len = (t.detach().cpu().long() for t in result)
        size = len(vocab)
        if bool((array < 0).any()) or bool((array >= size).any()):
            raise TestFailure("{call} returned indices outside 0 .. {last}, the {label} vocabulary's range.",
                              call=what, last=size - 1, label=label)
        return array, valid_len

    X, _ = arrays(source, src_vocab, "source")
    Y, Y_valid = arrays(target, tgt_vocab, "target")
    X_test, _ = arrays([s for s, _ in held_out], src_vocab, "source")
    n_src, n_tgt = len(src_vocab), len(tgt_vocab)
    tgt_tokens = tgt_vocab.to_tokens(list(range(n_tgt)))
    eos = tgt_vocab["<eos>"]

    gen = ctx.seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(NUM_STEPS * n_src, HIDDEN), nn.ReLU(),
                        nn.Linear(HIDDEN, NUM_STEPS * n_tgt))
    optimizer = Adam(net.parameters(), lr=LR)  # not torch.optim: its first use imports torch._dynamo (≈ 1.6 s)
    steps = torch.arange(NUM_STEPS)

    def translate():
        with torch.no_grad():
            rows = net(F.one_hot(X_test, n_src).float()).reshape(-1, NUM_STEPS, n_tgt).argmax(dim=2).tolist()
        scores = []
        for row, (_, label) in zip(rows, held_out):
            words = []
            for index in row:
                if index == eos:
                    break
                words.append(tgt_tokens[index])
            scores.append(bleu(words, label))
        return sum(scores) / len(scores)

    value = 0.0
    for step in range(1, STEPS + 1):
        idx = torch.randint(0, len(pairs), (BATCH,), generator=gen)
        logits = net(F.one_hot(X[idx], n_src).float()).reshape(BATCH, NUM_STEPS, n_tgt)
        mask = (steps[None, :] < Y_valid[idx][:, None]).float()
        loss = (F.cross_entropy(logits.transpose(1, 2), Y[idx], reduction="none") * mask).sum() / mask.sum().clamp(
            min=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            value = translate()
            ctx.step(step, loss=float(loss.detach()), bleu=value)
    return value
