"""Tests and smoke-check for exercise vocab (d2l 10.2).

Every test compares with values written in the test (small texts whose vocabularies can be counted by hand), so
none needs the reference. The learner's Vocab is built in the sandbox; `LearnerVocab` calls its members there
(len(), [], to_tokens, unk, token_freqs) and turns an exception into a verdict that names the call.

The smoke-check uses the vocabulary for what the book uses it for: the learner's tokenize and Vocab turn generated
text (tutor.grading.text.grammar_text) into indices, the grader counts a bigram language model over those
indices, one slice of the text at a time, and reports the perplexity on held-out text.
"""

import math

import torch

from tutor.grading import Grader, TestFailure
from tutor.grading.remote import RemoteError
from tutor.grading.text import grammar_text

grader = Grader("vocab")


def shown(value) -> str:
    return repr(value) if len(repr(value)) <= 300 else repr(value)[:300] + " ..."


class LearnerVocab:
    """The learner's Vocab instance (in the sandbox) and the text of the call that built it."""

    def __init__(self, ctx, *args, what=None, **kwargs):
        self.ctx = ctx
        if what is None:
            self.obj, self.what = ctx.construct("Vocab", *args, **kwargs)
        else:
            cls = ctx.fn("Vocab")
            try:
                self.obj = cls(*args, **kwargs)
            except RemoteError as exc:
                raise ctx.explain(exc, what) from None
            self.what = what

    def _run(self, label, member, *args):
        call = f"vocab{label}" if label.startswith("[") else f"{label}"
        try:
            value = self.ctx.link.getattr(self.obj.hid, member)
            return value(*args) if args or member in ("__len__",) else value
        except AttributeError:
            raise TestFailure("the vocabulary built by {what} has no member {member}: Vocab must define it (see the "
                              "stub).", what=self.what, member=member) from None
        except RemoteError as exc:
            raise self.ctx.explain(exc, f"{call}, where vocab = {self.what}") from None

    def __len__(self):
        n = self._run("len(vocab)", "__len__")
        if type(n) is not int:
            raise TestFailure("len(vocab) returned {got}; expected an int.", got=shown(n))
        return n

    def __getitem__(self, key):
        return self._run(f"[{key!r}]", "__getitem__", key)

    def to_tokens(self, indices):
        return self._run(f"vocab.to_tokens({indices!r})", "to_tokens", indices)

    @property
    def unk(self):
        return self._run("vocab.unk", "unk")

    @property
    def token_freqs(self):
        return self._run("vocab.token_freqs", "token_freqs")

    def all_tokens(self):
        """The tokens at indices 0 .. len - 1, in order."""
        return self.to_tokens(list(range(len(self))))


def expect(got, expected, call: str) -> None:
    if got != expected:
        raise TestFailure("{call} returned {got}; expected {expected}.", call=call, got=shown(got),
                          expected=shown(expected))


def expect_order(vocab: LearnerVocab, expected: list) -> None:
    n = len(vocab)
    if n != len(expected):
        raise TestFailure("len(vocab) is {got} for vocab = {what}; expected {n}: the tokens {tokens}.", got=n,
                          what=vocab.what, n=len(expected), tokens=shown(expected))
    expect(vocab.all_tokens(), expected, f"vocab.to_tokens({list(range(n))}), where vocab = {vocab.what},")


def freq_pairs(value):
    """token_freqs as a list of (token, count) tuples, or None when it is not a list of pairs."""
    if not isinstance(value, (list, tuple)):
        return None
    pairs = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None
        pairs.append((item[0], item[1]))
    return pairs


# -- tokenize ------------------------------------------------------------------------------------------------------

@grader.test("tokenize splits lines into words or characters", points=1)
def tokenize_values(ctx):
    """Words split on whitespace (runs of spaces and spaces at either end give no empty token), characters with the
    spaces kept, an empty line an empty list."""
    tokenize = ctx.fn("tokenize")
    spaced = ["  two  spaces ", "x"]
    got = tokenize(list(spaced), "word")
    if got == [["", "", "two", "", "spaces", ""], ["x"]]:
        raise TestFailure("{call} returned {got}: splitting on a single space (line.split(' ')) makes an empty token "
                          "wherever two spaces meet or a line starts or ends with one. Call line.split() with no "
                          "argument: it splits on runs of whitespace and drops empty strings.",
                          call=tokenize.describe(spaced, "word"), got=shown(got),
                          mistake="vocab.tokenize_split_on_single_space")
    expect(got, [["two", "spaces"], ["x"]], tokenize.describe(spaced, "word"))
    lines = ["the time machine", "by h g wells", ""]
    expect(tokenize(list(lines)), [["the", "time", "machine"], ["by", "h", "g", "wells"], []],
           tokenize.describe(lines))
    expect(tokenize(["ab c"], "char"), [["a", "b", " ", "c"]], "tokenize(['ab c'], 'char')")


@grader.test("tokenize raises ValueError for an unknown token type", points=1)
def tokenize_unknown(ctx):
    """token='sentence' is neither 'word' nor 'char': tokenize must raise, not return something."""
    tokenize = ctx.fn("tokenize")
    try:
        got = tokenize.__wrapped__(["a b"], "sentence")
    except RemoteError as exc:
        if exc.is_a("builtins.NotImplementedError"):
            raise ctx.explain(exc, "tokenize(['a b'], 'sentence')") from None
        if exc.is_a("builtins.ValueError"):
            return
        raise TestFailure("tokenize(['a b'], 'sentence') raised {type}; expected ValueError (an unknown value of an "
                          "argument).", type=exc.type_name) from None
    raise TestFailure("tokenize(['a b'], 'sentence') returned {got} instead of raising ValueError. The book prints "
                      "'ERROR: unknown token type' and returns None: the mistake then shows up later, far from its "
                      "cause. Raise ValueError for any token type other than 'word' and 'char'.", got=shown(got),
                      mistake="vocab.tokenize_unknown_no_error")


# -- Vocab ---------------------------------------------------------------------------------------------------------

@grader.test("the indices: <unk>, then the reserved tokens, then the most frequent first", points=1)
def order(ctx):
    """b appears 3 times, a twice, c once: with reserved tokens ['<pad>', '<eos>'] the indices are <unk>, <pad>,
    <eos>, b, a, c."""
    tokens = [["c", "a", "b"], ["b", "a", "b"]]
    vocab = LearnerVocab(ctx, tokens, reserved_tokens=["<pad>", "<eos>"])
    expected = ["<unk>", "<pad>", "<eos>", "b", "a", "c"]
    got = vocab.all_tokens()
    if got == ["<unk>", "<pad>", "<eos>", "c", "a", "b"]:
        raise TestFailure("the tokens of {what} come least frequent first: {got}. Sort the (token, count) pairs by "
                          "count from highest to lowest (sorted(..., reverse=True)): frequent tokens get the small "
                          "indices.", what=vocab.what, got=shown(got), mistake="vocab.frequency_ascending")
    expect_order(vocab, expected)


@grader.test("tokens with the same count keep the order of their first appearance", points=1, hidden=True)
def ties(ctx):
    """Among tokens seen equally often, the one that appears first in the text gets the smaller index, and comes
    first in token_freqs. Only the order within each group of equal counts is checked here."""
    tokens = ["q", "m", "z", "m", "a", "z", "k", "a", "m"]  # m: 3; z, a: 2 (z first); q, k: 1 (q first)
    vocab = LearnerVocab(ctx, tokens)
    counts = {"m": 3, "z": 2, "a": 2, "q": 1, "k": 1}
    first = {tok: tokens.index(tok) for tok in counts}
    indices = vocab[list(counts)]
    if not isinstance(indices, list) or len(indices) != len(counts):
        raise TestFailure("vocab[{keys}] returned {got}, where vocab = {what}; expected a list of {n} indices.",
                          keys=shown(list(counts)), got=shown(indices), what=vocab.what, n=len(counts))
    index = dict(zip(counts, indices))
    freqs = freq_pairs(vocab.token_freqs)
    position = {tok: i for i, (tok, _) in enumerate(freqs or [])}
    for x in counts:
        for y in counts:
            if counts[x] != counts[y] or first[x] >= first[y]:
                continue
            for where, order_of in (("the indices", index), ("token_freqs", position)):
                if x in order_of and y in order_of and order_of[x] > order_of[y]:
                    raise TestFailure("in {where} of {what}, {y} comes before {x}, but both appear {count} "
                                      "time(s) and {x} appears first in the text. Sort by count only: Python's "
                                      "sorted() is stable, so tokens with equal counts keep the order of the "
                                      "Counter, which is the order of first appearance (sorting on (count, token) "
                                      "orders ties alphabetically instead).", where=where, what=vocab.what,
                                      x=repr(x), y=repr(y), count=counts[x], mistake="vocab.ties_not_in_first_appearance_order")


@grader.test("a reserved token that also occurs in the text gets one index", points=1, hidden=True)
def reserved_once(ctx):
    """'<eos>' is reserved and also occurs in the text: it keeps index 1 and is not added again."""
    tokens = [["x", "<eos>", "x"], ["y", "<eos>", "x"]]
    vocab = LearnerVocab(ctx, tokens, reserved_tokens=["<eos>"])
    got = vocab.all_tokens()
    if isinstance(got, list) and got.count("<eos>") > 1:
        raise TestFailure("the vocabulary of {what} holds '<eos>' twice: {got}. A token already in the vocabulary "
                          "(here a reserved one) must not be added again: check token_to_idx before appending.",
                          what=vocab.what, got=shown(got), mistake="vocab.reserved_token_duplicated")
    expect_order(vocab, ["<unk>", "<eos>", "x", "y"])


@grader.test("min_freq: tokens seen fewer times become <unk>", points=1, hidden=True)
def min_freq(ctx):
    """With min_freq=2, a token seen twice keeps its index and the tokens seen once get none. (That they then map
    to <unk> is the test of unknown tokens.)"""
    tokens = [["a", "b", "a", "c"], ["b", "a", "d"]]  # a: 3, b: 2, c: 1, d: 1
    vocab = LearnerVocab(ctx, tokens, min_freq=2)
    got = vocab.all_tokens()
    if got == ["<unk>", "a"]:
        raise TestFailure("with min_freq=2, {what} dropped 'b', which appears exactly twice: {got}. min_freq is the "
                          "smallest count a token may have to keep its index: drop a token only when count < "
                          "min_freq.", what=vocab.what, got=shown(got), mistake="vocab.min_freq_off_by_one")
    expect_order(vocab, ["<unk>", "a", "b"])


@grader.test("unknown tokens map to vocab.unk, which is 0", points=1, hidden=True)
def unknown(ctx):
    """vocab.unk is 0; a token not in the vocabulary gives 0, alone or in a list; Vocab() holds only <unk>."""
    vocab = LearnerVocab(ctx, ["a", "b", "a"])
    expect(vocab.unk, 0, f"vocab.unk, where vocab = {vocab.what},")
    try:
        got = vocab["zebra"]
    except TestFailure as failure:
        if "KeyError" in str(failure.params.get("type", "")):
            raise TestFailure("vocab['zebra'] raised KeyError, where vocab = {what}. A token without an index maps "
                              "to vocab.unk: look it up with token_to_idx.get(token, self.unk).", what=vocab.what,
                              mistake="vocab.unknown_token_raises") from None
        raise
    expect(got, 0, f"vocab['zebra'], where vocab = {vocab.what},")
    expect(vocab[["b", "zebra", "a"]], [2, 0, 1], f"vocab[['b', 'zebra', 'a']], where vocab = {vocab.what},")
    empty = LearnerVocab(ctx)
    expect(len(empty), 1, "len(Vocab())")
    expect(empty["a"], 0, "Vocab()['a']")


@grader.test("a list of lists of tokens is counted as one flat list", points=1, hidden=True)
def nested(ctx):
    """Vocab(tokenize(lines)) counts every token of every line; a flat list of tokens (words, or the characters of
    a text) gives the same vocabulary as the same tokens in lines."""
    flat_words = ["to", "be", "to", "or", "to", "be"]  # to: 3, be: 2, or: 1
    vocab = LearnerVocab(ctx, [flat_words[:3], flat_words[3:]])
    expect_order(vocab, ["<unk>", "to", "be", "or"])
    flat = LearnerVocab(ctx, list(flat_words))
    got = flat.all_tokens()
    if isinstance(got, list) and "t" in got and "to" not in got:
        raise TestFailure("{what} split the words of a flat list into characters: {got}. Flatten only a list of "
                          "lists (check whether the first element is a list); a flat list of tokens is counted as "
                          "it is.", what=flat.what, got=shown(got), mistake="vocab.flat_list_split")
    expect_order(flat, ["<unk>", "to", "be", "or"])
    chars = LearnerVocab(ctx, list("banana"))
    expect_order(chars, ["<unk>", "a", "n", "b"])


@grader.test("round trips: tokens to indices and back, lists and tuples", points=1, hidden=True)
def round_trips(ctx):
    """vocab[tokens] takes a list or a tuple and gives a list; to_tokens takes an int or a list of ints;
    to_tokens(vocab[tokens]) gives the tokens back."""
    text = [["the", "cat", "sat"], ["the", "cat", "sat", "on"], ["the", "cat", "the"]]
    vocab = LearnerVocab(ctx, text)  # the: 4, cat: 3, sat: 2, on: 1
    expect(vocab["cat"], 2, f"vocab['cat'], where vocab = {vocab.what},")
    expect(vocab.to_tokens(2), "cat", f"vocab.to_tokens(2), where vocab = {vocab.what},")
    got = vocab[("on", "the")]
    if got == 0:
        raise TestFailure("vocab[('on', 'the')] returned 0, where vocab = {what}: the tuple was looked up as one "
                          "token. Treat a tuple like a list: isinstance(tokens, (list, tuple)).", what=vocab.what,
                          mistake="vocab.tuple_not_a_sequence")
    expect(got, [4, 1], f"vocab[('on', 'the')], where vocab = {vocab.what},")
    line = ["on", "the", "sat", "the", "cat"]
    ids = vocab[list(line)]
    expect(ids, [4, 1, 3, 1, 2], f"vocab[{line!r}], where vocab = {vocab.what},")
    expect(vocab.to_tokens(ids), line, f"vocab.to_tokens({ids!r}), where vocab = {vocab.what},")


@grader.test("token_freqs: every (token, count) pair, most frequent first", points=1, hidden=True)
def token_freqs(ctx):
    """token_freqs lists every distinct token of the text with its count, including tokens below min_freq, most
    frequent first."""
    tokens = [["d", "b", "a", "b"], ["c", "a", "b", "a", "a", "c"]]  # a: 4, b: 3, c: 2, d: 1
    vocab = LearnerVocab(ctx, tokens, min_freq=3)
    expected = [("a", 4), ("b", 3), ("c", 2), ("d", 1)]
    raw = vocab.token_freqs
    got = freq_pairs(raw)
    call = f"vocab.token_freqs, where vocab = {vocab.what},"
    if got is None:
        raise TestFailure("{call} is {got}; expected a list of (token, count) pairs.", call=call, got=shown(raw))
    if got == expected[:2]:
        raise TestFailure("{call} is {got}: it leaves out the tokens below min_freq. token_freqs describes the whole "
                          "text, {expected}; min_freq only decides which tokens get an index.", call=call,
                          got=shown(got), expected=shown(expected), mistake="vocab.token_freqs_filtered")
    expect(got, expected, call)


# -- smoke-check ---------------------------------------------------------------------------------------------------

def sentences(text: str) -> list:
    """grammar_text's sentences, one line each ("the cat sees the moon ."); every token is a word or '.'."""
    return [part.strip() + " ." for part in text.split(" .") if part.strip()]


TRAIN_SENTENCES, HELD_OUT_SENTENCES, STEPS, ALPHA = 1200, 200, 40, 0.1


def bigram_perplexity(counts: torch.Tensor, ids: torch.Tensor) -> float:
    """Perplexity of the sequence `ids` under the bigram model with add-ALPHA smoothing from `counts` (V, V)."""
    probs = (counts + ALPHA) / (counts + ALPHA).sum(dim=1, keepdim=True)
    return math.exp(-float(torch.log(probs[ids[:-1], ids[1:]]).mean()))


@grader.smoke("a bigram language model counted over your vocabulary predicts held-out text", points=2,
              metric="held-out perplexity", goal="max", threshold=6.0, budget=10, plot="perplexity", hidden=True)
def bigram_model(ctx):
    """Your tokenize and Vocab turn 1200 generated sentences (grammar_text, 30 distinct words) into indices; the
    grader counts the bigrams one slice of the text per step and reports the perplexity of 200 held-out sentences.
    Threshold 6.0: with the text of seeds 0..9 the reference gets 3.08 to 3.12; a unigram model (the order of
    the words lost) gets ≈ 22 and guessing uniformly 31. A vocabulary that gives two words one index fails the round
    trip before any counting, one with indices out of range fails at once."""
    tokenize = ctx.fn("tokenize")
    train_lines = sentences(grammar_text(TRAIN_SENTENCES, seed=1))
    held_lines = sentences(grammar_text(HELD_OUT_SENTENCES, seed=2))
    call = f"tokenize(<{len(train_lines)} lines of generated text>, 'word')"
    lines_tokens = tokenize(train_lines, "word")
    expected_tokens = [line.split() for line in train_lines]
    if lines_tokens != expected_tokens:
        raise TestFailure("{call} did not return the words of each line (the test \"tokenize splits lines into words "
                          "or characters\" shows the smallest case).", call=call)
    vocab = LearnerVocab(ctx, lines_tokens, what="Vocab(tokenize(<the generated lines>))")
    flat = [tok for line in expected_tokens for tok in line]
    size = len(vocab)
    ids = vocab[flat]
    distinct = len(set(flat))
    if not isinstance(ids, list) or len(ids) != len(flat) or not all(type(i) is int for i in ids):
        raise TestFailure("vocab[<the {n} words of the text>] returned {got}; expected a list of {n} ints.",
                          n=len(flat), got=shown(ids)[:200])
    bad = [i for i in ids if not 0 <= i < size]
    if bad:
        raise TestFailure("vocab[...] gave index {index}, outside 0 .. len(vocab) - 1 = {last}.", index=bad[0],
                          last=size - 1)
    back = vocab.to_tokens(list(ids))
    if back != flat:
        wrong = next(i for i, (a, b) in enumerate(zip(back, flat)) if a != b) if isinstance(back, list) and len(
            back) == len(flat) else 0
        raise TestFailure("vocab.to_tokens(vocab[words]) does not give the words back (first at word {i}: "
                          "{word}): every word of the text must have its own index.", i=wrong, word=repr(flat[wrong]))
    if size != distinct + 1:
        raise TestFailure("len(vocab) is {size}, but the text has {distinct} distinct words: expected {expected} "
                          "with <unk>.", size=size, distinct=distinct, expected=distinct + 1)
    train = torch.tensor(ids)
    held = torch.tensor(vocab[[tok for line in held_lines for tok in line.split()]])
    counts = torch.zeros((size, size))
    value = float("nan")
    chunk = math.ceil((len(train) - 1) / STEPS)
    for step in range(1, STEPS + 1):
        part = train[(step - 1) * chunk: step * chunk + 1]
        counts.index_put_((part[:-1], part[1:]), torch.ones(len(part) - 1), accumulate=True)
        value = bigram_perplexity(counts, held)
        ctx.step(step, perplexity=value)
    return value
