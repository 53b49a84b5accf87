"""Tests and smoke-check for exercise beam_search (d2l 11.8).

The visible tests (also in the student build) check the result's types, that beam_size 1 is greedy decoding and
each returned score against the model's log-probabilities: none of them needs the reference.

The tests decode with small synthetic language models: next_log_probs looks its answer up in a seeded random
table, indexed by the prefix's last token or by the whole prefix. The models check every call (a torch.long
(n, t) tensor, rows starting with bos, no finished hypothesis) and record it. The configurations were chosen so
that no two candidates are within 5e-4 of each other where the search has to choose (except in the test of the
tie rule, whose ties are exact), so a learner who sums float32 log-probabilities gets the same hypotheses as the
reference, which sums float64.

The smoke-check trains a small GRU encoder-decoder on a toy translation task in which greedy decoding falls into
a trap on half of the sentences, and checks that the learner's beam search escapes it.
"""

import importlib.util
import math
import zlib

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import N_, Grader, TestFailure, describe
from tutor.grading.train import Adam

grader = Grader("beam_search")

SCORE_ATOL, SCORE_RTOL = 1e-4, 1e-5


# -- synthetic language models -------------------------------------------------------------------------------------

class Model:
    """next_log_probs for a synthetic language model; rows are float32 log-probabilities on the test's device.

    by_prefix=True: each distinct prefix gets its own seeded random distribution; otherwise the distribution
    depends on the last token only (a bigram table). `table` (vocab x vocab probabilities) overrides both.
    """

    def __init__(self, ctx, vocab, bos, eos, seed, *, by_prefix=True, eos_bias=0.0, scale=1.5, table=None,
                 max_len=None):
        self.device = ctx.device
        self.vocab, self.bos, self.eos, self.seed = vocab, bos, eos, seed
        self.by_prefix, self.eos_bias, self.scale = by_prefix, eos_bias, scale
        self.max_len = max_len
        self.calls = []
        self._rows = {}
        if table is not None:
            self.table = torch.tensor(table, dtype=torch.float64).log().to(torch.float32)
        elif not by_prefix:
            gen = torch.Generator().manual_seed(seed)
            logits = torch.randn(vocab, vocab, generator=gen, dtype=torch.float64) * scale
            logits[:, eos] += eos_bias
            logits[:, bos] -= 4.0
            self.table = torch.log_softmax(logits, dim=1).to(torch.float32)
        else:
            self.table = None

    def row(self, prefix):
        """The float32 log-probabilities of the next token after `prefix` (a tuple that starts with bos)."""
        if self.table is not None:
            return self.table[prefix[-1]]
        if prefix not in self._rows:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + zlib.crc32(repr(prefix).encode()))
            logits = torch.randn(self.vocab, generator=gen, dtype=torch.float64) * self.scale
            logits[self.eos] += self.eos_bias
            logits[self.bos] -= 4.0
            self._rows[prefix] = torch.log_softmax(logits, dim=0).to(torch.float32)
        return self._rows[prefix]

    def logp(self, tokens):
        """log P(tokens) under the model, summed in float64 from the float32 rows the search sees."""
        prefix = (self.bos,)
        total = 0.0
        for token in tokens:
            total += float(self.row(prefix)[token])
            prefix = prefix + (token,)
        return total

    def __call__(self, prefixes):
        check_prefixes(prefixes, self.vocab, self.bos, self.eos, self.max_len)
        rows = prefixes.detach().to("cpu").tolist()
        self.calls.append(rows)
        return torch.stack([self.row(tuple(r)) for r in rows]).to(self.device)


def check_prefixes(prefixes, vocab, bos, eos, max_len):
    """What every call of next_log_probs must receive; a TestFailure that names the problem otherwise."""
    if not isinstance(prefixes, torch.Tensor):
        raise TestFailure("beam_search called next_log_probs(prefixes) with {got} ({type}); it takes a torch.long "
                          "tensor of shape (n, t), one prefix per row: torch.tensor(rows, dtype=torch.long).",
                          got=describe(prefixes), type=type(prefixes).__name__)
    if prefixes.dtype != torch.long:
        raise TestFailure("beam_search called next_log_probs(prefixes) with a {dtype} tensor; token ids must be "
                          "torch.long (int64): build it with torch.tensor(rows, dtype=torch.long).",
                          dtype=str(prefixes.dtype))
    if prefixes.dim() != 2 or prefixes.shape[0] == 0 or prefixes.shape[1] == 0:
        raise TestFailure("beam_search called next_log_probs(prefixes) with a tensor of shape {shape}; it takes shape "
                          "(n, t) with n >= 1 hypotheses and t >= 1 tokens, one prefix per row (even a single prefix "
                          "is a 2-D tensor of shape (1, t)).", shape=str(tuple(prefixes.shape)))
    rows = prefixes.detach().to("cpu")
    if bool((rows[:, 0] != bos).any()):
        example = rows[rows[:, 0] != bos][0].tolist()
        raise TestFailure("beam_search called next_log_probs(prefixes) with rows that do not start with bos_id = "
                          "{bos}, e.g. {example}. Every prefix is [bos_id] followed by the hypothesis' tokens.",
                          bos=bos, example=str(example))
    if bool(((rows < 0) | (rows >= vocab)).any()):
        raise TestFailure("beam_search called next_log_probs(prefixes) with token ids outside 0 .. {last}: {rows}. "
                          "Token ids are the column indices of the log-probability rows.", last=vocab - 1,
                          rows=str(rows.tolist()[:4]))
    if rows.shape[1] > 1 and bool((rows[:, 1:] == eos).any()):
        bad = rows[(rows[:, 1:] == eos).any(dim=1)][0].tolist()
        raise TestFailure("beam_search called next_log_probs(prefixes) with the prefix {prefix}, which contains "
                          "eos_id = {eos}: a hypothesis that produced eos is finished. Move it to the finished list "
                          "and never expand it again.", prefix=str(bad), eos=eos,
                          mistake="beam_search.expands_finished")
    if max_len is not None and rows.shape[1] > max_len:
        raise TestFailure("beam_search called next_log_probs(prefixes) with prefixes of {t} tokens (bos and {more} "
                          "more) with max_len = {max_len}: a hypothesis with max_len tokens is finished and is never "
                          "expanded.", t=rows.shape[1], more=rows.shape[1] - 1, max_len=max_len,
                          mistake="beam_search.expands_past_max_len")


# -- the search, with switches for the usual mistakes ------------------------------------------------------------

def search(model, beam_size, max_len, alpha, *, select="total", shrink=False, early_stop=False, width=None):
    """The course's beam search on `model`, in float64; the switches reproduce typical mistakes for diagnosis."""
    live, live_logp, finished = [[]], [0.0], []
    while live:
        rows = [model.row(tuple([model.bos] + t)).to(torch.float64).tolist() for t in live]
        candidates = []
        for i, (tokens, total, row) in enumerate(zip(live, live_logp, rows)):
            for token, lp in enumerate(row):
                key = total + lp if select == "total" else lp
                candidates.append((key, i * len(row) + token, tokens + [token], total + lp))
        candidates.sort(key=lambda c: (-c[0], c[1]))
        keep = width if width is not None else beam_size - len(finished) if shrink else beam_size
        live, live_logp = [], []
        for _, _, tokens, total in candidates[:max(keep, 0)]:
            if tokens[-1] == model.eos or len(tokens) == max_len:
                finished.append((tokens, total))
            else:
                live.append(tokens)
                live_logp.append(total)
        if early_stop and finished:
            break
    ranked = sorted(((t, total / len(t) ** alpha) for t, total in finished), key=lambda x: (-x[1], x[0]))
    return ranked[:beam_size]


def greedy(model, max_len):
    tokens = []
    while True:
        row = model.row(tuple([model.bos] + tokens))
        tokens.append(int(torch.argmax(row)))
        if tokens[-1] == model.eos or len(tokens) == max_len:
            return tokens


def exhaustive(model, max_len, alpha):
    """Every complete sequence (ending with eos, or max_len tokens long) with its score, best first."""
    done = []

    def grow(tokens, total):
        row = model.row(tuple([model.bos] + tokens)).to(torch.float64).tolist()
        for token, lp in enumerate(row):
            seq = tokens + [token]
            if token == model.eos or len(seq) == max_len:
                done.append((seq, (total + lp) / len(seq) ** alpha))
            else:
                grow(seq, total + lp)

    grow([], 0.0)
    return sorted(done, key=lambda x: (-x[1], x[0]))


# Each usual mistake: the switches of search() that reproduce it, its id, and the sentence that names it. The
# sentence starts with {lead}: its indentation, which depends on whether it is the only mistake named.
MISTAKES = [
    (dict(select="last"), "beam_search.rank_by_last_token",
     N_("{lead}Your beam ranks the expansions by the last token's log-probability alone; rank them by the TOTAL "
     "log-probability of the whole hypothesis (parent's total + the new token's log-probability).")),
    (dict(width=1), "beam_search.greedy",
     N_("{lead}Your search keeps a single hypothesis per step, which is greedy decoding: keep the beam_size best "
     "expansions at every step.")),
    (dict(shrink=True), "beam_search.finished_keep_places",
     N_("{lead}Finished hypotheses still take places in your beam (or your beam gets narrower as hypotheses finish). At "
     "every step keep the beam_size best EXPANSIONS of the unfinished hypotheses; a finished hypothesis leaves the "
     "beam for the finished list and no longer counts against beam_size.")),
    (dict(early_stop=True), "beam_search.early_stop",
     N_("{lead}Your search stops as soon as one hypothesis finishes. Continue until no unfinished hypothesis is left.")),
]


# -- calling the learner's function and checking what comes back --------------------------------------------------

def result_lines(result, limit=6):
    """The first `limit` (tokens, score) pairs of a result, one per line (data only)."""
    return "\n".join(f"      {tokens!s:<24} {score: .6f}" for tokens, score in result[:limit])


def more_part(result, limit=6):
    return [TestFailure("      ... ({more} more)", more=len(result) - limit)] if len(result) > limit else []


def yours(result):
    """The parts that list the learner's result under '  yours:'."""
    return [TestFailure("  yours:\n{result}", result=result_lines(result)), *more_part(result)]


def with_parts(failure, parts):
    for part in parts:
        failure.with_part(part)
    return failure


def run(ctx, model, beam_size, max_len, alpha=None):
    """Call the learner's beam_search on `model`; check the types of what it returns. Returns the result and the
    parameters that describe the call in messages ({call} on a model with {vocab} tokens)."""
    fn = ctx.fn("beam_search")
    model.max_len = max_len
    kwargs = {} if alpha is None else {"alpha": alpha}
    what = {"call": f"beam_search(next_log_probs, bos_id={model.bos}, eos_id={model.eos}, beam_size={beam_size}, "
                    f"max_len={max_len}{'' if alpha is None else f', alpha={alpha}'})",
            "vocab": model.vocab}
    got = fn(model, model.bos, model.eos, beam_size, max_len, **kwargs)
    check_types(got, what, model, max_len)
    return got, what


def check_types(got, what, model, max_len):
    """A list of (list[int], float) tuples, each a finished hypothesis without bos. Not its order or length: the tests
    that compare results check those (check_ranking)."""
    if not isinstance(got, list):
        if got is None:
            raise TestFailure("{call} on a model with {vocab} tokens returned None (NoneType); expected a list of "
                              "(tokens, score) tuples. Did you forget a `return` statement?", **what)
        raise TestFailure("{call} on a model with {vocab} tokens returned {got} ({type}); expected a list of "
                          "(tokens, score) tuples.", got=describe(got), type=type(got).__name__, **what)
    if not got:
        raise TestFailure("{call} on a model with {vocab} tokens returned an empty list; every search finishes at "
                          "least one hypothesis.", **what)
    for i, item in enumerate(got):
        if not isinstance(item, tuple) or len(item) != 2:
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} of the result is {item}; each item must "
                              "be a tuple (tokens, score).", i=i, item=describe(item), **what)
        tokens, score = item
        if isinstance(tokens, torch.Tensor):
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} holds its tokens as a tensor ({got}); "
                              "return a list of Python ints (tensor.tolist()).", i=i, got=describe(tokens), **what)
        if not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} holds the tokens {got}; expected a list "
                              "of Python ints (call .tolist() or int(...) on tensor values).", i=i,
                              got=describe(tokens), **what)
        if isinstance(score, torch.Tensor):
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} holds its score as a tensor ({got}); "
                              "return a Python float (.item()).", i=i, got=describe(score), **what)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} holds the score {score}; expected a "
                              "finite Python float.", i=i, score=repr(score), **what)
        if not tokens:
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} has no tokens; every hypothesis has at "
                              "least one token after bos.", i=i, **what)
        if len(tokens) > max_len:
            if tokens[0] == model.bos:
                raise TestFailure("{call} on a model with {vocab} tokens: item {i} has {n} tokens, {tokens}, more than "
                                  "max_len = {max_len}. Did you include bos_id = {bos}? Return the hypotheses without "
                                  "it.", i=i, n=len(tokens), tokens=str(tokens), max_len=max_len, bos=model.bos,
                                  mistake="beam_search.bos_included", **what)
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} has {n} tokens, {tokens}, more than "
                              "max_len = {max_len}.", i=i, n=len(tokens), tokens=str(tokens), max_len=max_len, **what)
        if any(t < 0 or t >= model.vocab for t in tokens):
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} holds token ids outside 0 .. {last}: "
                              "{tokens}.", i=i, last=model.vocab - 1, tokens=str(tokens), **what)
        if model.eos in tokens[:-1]:
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} is {tokens}, which continues after "
                              "eos_id = {eos}. A hypothesis ends at its first eos.", i=i, tokens=str(tokens),
                              eos=model.eos, **what)
        if tokens[-1] != model.eos and len(tokens) < max_len:
            raise TestFailure("{call} on a model with {vocab} tokens: item {i} is {tokens}, which neither ends with "
                              "eos_id = {eos} nor has max_len = {max_len} tokens. Return finished hypotheses only, "
                              "with their eos.", i=i, tokens=str(tokens), eos=model.eos, max_len=max_len, **what)
    if model.bos != model.eos and all(tokens[0] == model.bos for tokens, _ in got):
        raise with_parts(TestFailure("{call} on a model with {vocab} tokens: every returned token list starts with "
                                     "bos_id = {bos}; return the hypotheses without the leading bos_id.",
                                     bos=model.bos, mistake="beam_search.bos_included", **what), yours(got))


def check_ranking(got, what, beam_size):
    """At most beam_size hypotheses, each once, best first (equal scores: smaller token list first)."""
    if len(got) > beam_size:
        raise with_parts(TestFailure("{call} on a model with {vocab} tokens returned {n} hypotheses; return at most "
                                     "beam_size = {beam_size}, the best ones.", n=len(got), beam_size=beam_size,
                                     mistake="beam_search.too_many_results", **what), yours(got))
    seen = set()
    for tokens, _ in got:
        if tuple(tokens) in seen:
            raise with_parts(TestFailure("{call} on a model with {vocab} tokens returned {tokens} twice; each finished "
                                         "hypothesis appears once.", tokens=str(tokens), **what), yours(got))
        seen.add(tuple(tokens))
    keys = [(-float(score), tokens) for tokens, score in got]
    if keys != sorted(keys):
        if [float(s) for _, s in got] == sorted(float(s) for _, s in got):
            raise with_parts(TestFailure("{call} on a model with {vocab} tokens returned the hypotheses worst first; "
                                         "sort them by score, highest first (equal scores: smaller token list first).",
                                         mistake="beam_search.worst_first", **what), yours(got))
        raise with_parts(TestFailure("{call} on a model with {vocab} tokens returned the hypotheses out of order; sort "
                                     "them by score, highest first (equal scores: smaller token list first).", **what),
                         yours(got))


def score_diagnosis(model, tokens, score, alpha):
    """A part naming how `score` was computed from `tokens`, when it matches a typical mistake; else None."""
    total, n = model.logp(tokens), len(tokens)
    alpha_used = 0.75 if alpha is None else alpha
    variants = [
        (total, "beam_search.no_length_normalisation",
         N_("  Your score is the total log-probability, without the length normalisation: divide it by "
         "len(tokens) ** alpha.")),
        (total / (n + 1) ** alpha_used, "beam_search.bos_in_length",
         N_("  You counted bos in the length: len(tokens) excludes bos_id (and includes the final eos).")),
        (total / n, "beam_search.no_alpha_power",
         N_("  Your score divides by len(tokens) instead of len(tokens) ** alpha.")),
        (total / n ** 0.75, "beam_search.alpha_ignored",
         N_("  Your score ignores the alpha argument and always uses 0.75.")),
    ]
    if n > 1:
        variants.append((total / (n - 1) ** alpha_used, "beam_search.eos_not_in_length",
                         N_("  You left the final eos out of the length: len(tokens) counts every returned token, eos "
                         "included.")))
    for value, mistake, why in variants:
        if math.isclose(score, value, rel_tol=SCORE_RTOL, abs_tol=SCORE_ATOL) and not math.isclose(
                value, total / n ** alpha_used, rel_tol=SCORE_RTOL, abs_tol=SCORE_ATOL):
            return TestFailure(why, mistake=mistake)
    return None


def check_scores(ctx, got, what, model, alpha):
    """Every returned score must equal log P(tokens) / len(tokens) ** alpha, recomputed from the model."""
    alpha_used = 0.75 if alpha is None else alpha
    for tokens, score in got:
        total = model.logp(tokens)
        expected = total / len(tokens) ** alpha_used
        if not math.isclose(float(score), expected, rel_tol=SCORE_RTOL, abs_tol=SCORE_ATOL):
            why = score_diagnosis(model, tokens, float(score), alpha)
            raise with_parts(TestFailure("{call} on a model with {vocab} tokens: the hypothesis {tokens} has score "
                                         "{score:.6f}, but its log-probability under the model is {total:.6f} and "
                                         "{total:.6f} / {n} ** {alpha} = {expected:.6f}.", tokens=str(tokens),
                                         score=float(score), total=total, n=len(tokens), alpha=alpha_used,
                                         expected=expected, **what), [why] if why else [])


def check_same(ctx, got, what, model, beam_size, max_len, alpha, expected=None, note=None):
    """The learner's result must equal the reference's: at most beam_size distinct hypotheses, best first, the same
    token lists in the same order, scores close. `note` (a TestFailure) explains what is special about this case."""
    alpha_used = 0.75 if alpha is None else alpha
    if expected is None:
        expected = ctx.ref("beam_search")(_quiet(model), model.bos, model.eos, beam_size, max_len, alpha_used)
    check_ranking(got, what, beam_size)
    same = len(got) == len(expected) and all(g[0] == e[0] for g, e in zip(got, expected))
    if same:
        check_scores(ctx, got, what, model, alpha)
        return
    failure = TestFailure("{call} on a model with {vocab} tokens returned the wrong hypotheses.", **what)
    with_parts(failure, [note] if note is not None else [])
    failure.with_part(TestFailure("  expected (tokens, score):\n{result}", result=result_lines(expected)))
    with_parts(failure, more_part(expected) + yours(got))
    if [g[0][1:] for g in got] == [e[0] for e in expected] and all(g[0][0] == model.bos for g in got):
        raise failure.with_part(TestFailure("  Your token lists start with bos_id = {bos}; return them without it.",
                                            bos=model.bos, mistake="beam_search.bos_included"))
    for tokens, score in got:
        why = score_diagnosis(model, tokens, float(score), alpha)
        if why is not None:
            raise failure.with_part(why)
    found = [(mistake, why) for change, mistake, why in MISTAKES
             if [v[0] for v in search(model, beam_size, max_len, alpha_used, **change)] == [g[0] for g in got]]
    if len(found) == 1:
        mistake, why = found[0]
        raise failure.with_part(TestFailure(why, lead="  ", mistake=mistake))
    if found:
        failure.with_part(TestFailure("  On this input several mistakes give your result:"))
        raise with_parts(failure, [TestFailure(why, lead="  - ", mistake=mistake) for mistake, why in found])
    raise failure.with_part(TestFailure(
        "  At each step expand every unfinished hypothesis by every token, keep the beam_size expansions with the "
        "highest TOTAL log-probability, move those ending in eos or reaching max_len tokens to the finished list (they "
        "no longer take a place in the beam), and continue with the rest until none is left. Then rank all finished "
        "hypotheses by total / len(tokens) ** alpha and return the best beam_size."))


def _quiet(model):
    """The model without call recording or checks, for the reference and the grader's own searches."""
    def next_log_probs(prefixes):
        return torch.stack([model.row(tuple(r)) for r in prefixes.tolist()]).to(model.device)
    return next_log_probs


# -- hidden tests ---------------------------------------------------------------------------------------------------

@grader.test("returns a list of (list[int], float) tuples", points=1)
def structure(ctx):
    """A bigram model with 5 tokens, beam_size 3, max_len 4: the result's types (a list of (tokens, score) tuples,
    finished hypotheses without bos). Which hypotheses, their order and their scores are the other tests' business."""
    model = Model(ctx, 5, 0, 1, seed=3, by_prefix=False)
    run(ctx, model, 3, 4)


@grader.test("beam_size 1 is greedy decoding", points=1)
def greedy_equivalence(ctx):
    """With one hypothesis in the beam, beam search picks the most likely next token at every step (the tokens are
    compared; the scores are the business of the test 'scores are log P(tokens) / len(tokens) ** alpha')."""
    for vocab, bos, eos, seed, by_prefix, max_len in [(6, 0, 1, 11, True, 6), (4, 2, 0, 12, False, 5),
                                                      (7, 5, 3, 13, True, 8)]:
        model = Model(ctx, vocab, bos, eos, seed, by_prefix=by_prefix, eos_bias=-0.5)
        got, what = run(ctx, model, 1, max_len)
        tokens = greedy(model, max_len)
        if len(got) != 1 or got[0][0] != tokens:
            failure = TestFailure("{call} on a model with {vocab} tokens returned\n{result}", result=result_lines(got),
                                  **what)
            raise with_parts(failure, more_part(got) + [TestFailure(
                "  but greedy decoding (the most likely token at every step) gives {tokens}. With beam_size 1 the beam "
                "keeps only the best expansion at each step, so the two must agree.", tokens=str(tokens))])


@grader.test("a beam wide enough for every sequence finds the exhaustive optimum", points=1, hidden=True)
def exhaustive_optimum(ctx):
    """4 tokens, max_len 4: at most 108 expansions per step, so beam_size 200 keeps every one and the search must
    return all 121 complete sequences, ranked exactly as exhaustive search ranks them."""
    model = Model(ctx, 4, 0, 3, seed=21, by_prefix=True, scale=1.0)
    alpha = 0.75
    got, what = run(ctx, model, 200, 4)
    expected = exhaustive(model, 4, alpha)
    check_ranking(got, what, 200)
    if got[0][0] != expected[0][0]:
        raise with_parts(TestFailure("{call} on a model with {vocab} tokens returned {got} as the best hypothesis, but "
                                     "exhaustive search over every sequence finds {best} (score {score:.6f}). With a "
                                     "beam this wide nothing is ever pruned, so the best finished hypothesis is the "
                                     "global optimum.", got=str(got[0][0]), best=str(expected[0][0]),
                                     score=expected[0][1], **what), yours(got))
    check_same(ctx, got, what, model, 200, 4, None, expected=expected,
               note=TestFailure("  With a beam this wide nothing is pruned, so every complete sequence must come "
                                "back."))


@grader.test("scores are log P(tokens) / len(tokens) ** alpha", points=1)
def scores(ctx):
    """Each returned score is recomputed from its tokens; alpha = 0.75 (the default), 0.5 and 1.3."""
    for seed, alpha in [(31, None), (32, 0.5), (33, 1.3)]:
        model = Model(ctx, 6, 0, 1, seed, by_prefix=True, eos_bias=0.5)
        got, what = run(ctx, model, 4, 6, alpha)
        check_scores(ctx, got, what, model, alpha)


# bos 0, eos 2. Probabilities are powers of 1/2, so several two-token hypotheses tie exactly.
TIES_TABLE = [
    [0.25, 0.50, 0.25],   # after bos (or token 0)
    [0.25, 0.25, 0.50],   # after 1
    [1 / 3, 1 / 3, 1 / 3],  # after eos (never used)
]


@grader.test("results are sorted, distinct and at most beam_size; ties by token list", points=1, hidden=True)
def sorted_distinct(ctx):
    """Random models with several beam sizes, then a uniform model in which many hypotheses tie exactly."""
    for seed, beam_size, max_len in [(41, 2, 5), (42, 3, 4), (43, 5, 6)]:
        model = Model(ctx, 5, 0, 1, seed, by_prefix=True)
        got, what = run(ctx, model, beam_size, max_len)
        check_same(ctx, got, what, model, beam_size, max_len, None)
    model = Model(ctx, 3, 0, 2, 0, table=TIES_TABLE)
    got, what = run(ctx, model, 10, 2)
    check_same(ctx, got, what, model, 10, 2, None,
               note=TestFailure("  Here [0, 1], [1, 0] and [1, 1] have exactly the same score, and so do [0, 0] and "
                                "[0, 2]: equal scores are ordered by their token lists, smaller first ([0, 1] before "
                                "[1, 0])."))


@grader.test("eos ends a hypothesis and max_len caps it", points=1, hidden=True)
def eos_and_max_len(ctx):
    """A model that almost never ends (every hypothesis stops at max_len), one that ends early, and max_len 1."""
    model = Model(ctx, 6, 0, 1, 51, by_prefix=True, eos_bias=-9.0)
    got, what = run(ctx, model, 3, 5)
    check_same(ctx, got, what, model, 3, 5, None, note=TestFailure("  eos is very unlikely here, so every hypothesis "
                                                                   "should stop at max_len = 5 tokens."))
    model = Model(ctx, 6, 0, 1, 52, by_prefix=True, eos_bias=2.5)
    got, what = run(ctx, model, 4, 6)
    check_same(ctx, got, what, model, 4, 6, None)
    model = Model(ctx, 5, 0, 1, 53, by_prefix=False)
    got, what = run(ctx, model, 3, 1)
    check_same(ctx, got, what, model, 3, 1, None,
               note=TestFailure("  With max_len = 1 every expansion of [bos] is finished."))


# bos 0, eos 1, tokens a = 2, b = 3, c = 4. From bos: eos 0.40, a 0.45. After a, b, c the chain a b c eos is likely.
ALPHA_TABLE = [
    [0.011, 0.40, 0.45, 0.081, 0.058],    # after bos
    [0.20, 0.20, 0.20, 0.20, 0.20],       # after eos (never used)
    [0.017, 0.043, 0.029, 0.86, 0.051],   # after a
    [0.013, 0.037, 0.041, 0.047, 0.862],  # after b
    [0.019, 0.871, 0.053, 0.033, 0.024],  # after c
]


@grader.test("alpha: larger values favour longer hypotheses", points=1, hidden=True)
def alpha_effect(ctx):
    """[eos] has log P = -0.92 and [a, b, c, eos] has log P = -1.24: alpha = 0 ranks the short one first, alpha = 1
    ranks the long one first (-1.24 / 4 = -0.31 > -0.92)."""
    model = Model(ctx, 5, 0, 1, 0, table=ALPHA_TABLE)
    short, long_ = [1], [2, 3, 4, 1]
    for alpha, best in [(0.0, short), (1.0, long_), (0.5, long_), (0.75, long_)]:
        got, what = run(ctx, model, 3, 6, alpha)
        check_ranking(got, what, 3)
        if got[0][0] != best:
            other = long_ if best == short else short
            raise with_parts(TestFailure(
                "{call} on a model with {vocab} tokens ranked {got} first; expected {best}. [1] has log P = "
                "{short_logp:.3f} (1 token) and [2, 3, 4, 1] has log P = {long_logp:.3f} (4 tokens), so with alpha = "
                "{alpha} the scores are {best_logp:.3f} / {best_len} ** {alpha} for {best} against {other_logp:.3f} / "
                "{other_len} ** {alpha} for {other}. Dividing by len ** alpha with a larger alpha favours longer "
                "hypotheses; alpha = 0 ranks by plain log-probability.", got=str(got[0][0]), best=str(best),
                short_logp=model.logp(short), long_logp=model.logp(long_), alpha=alpha, best_logp=model.logp(best),
                best_len=len(best), other_logp=model.logp(other), other_len=len(other), other=str(other), **what),
                yours(got))
        check_same(ctx, got, what, model, 3, 6, alpha)


@grader.test("one batched next_log_probs call per step", points=1, hidden=True)
def batched_calls(ctx):
    """beam_size 4, max_len 5, eos unlikely: at most 5 calls, the first with [[bos]] alone, call t with rows of t
    tokens, never more rows than beam_size. Only the calls are checked here, not the result."""
    model = Model(ctx, 6, 0, 1, 61, by_prefix=True, eos_bias=-3.0)
    got, what = run(ctx, model, 4, 5)
    calls = model.calls
    if not calls:
        raise TestFailure("{call} on a model with {vocab} tokens never called next_log_probs; the search expands its "
                          "hypotheses with the model's log-probabilities, one batched call per step.", **what)
    if len(calls) > 5:
        sizes = ", ".join(str(len(c)) for c in calls[:8]) + (", ..." if len(calls) > 8 else "")
        raise TestFailure("{call} on a model with {vocab} tokens called next_log_probs {n} times (rows per call: "
                          "{sizes}); a search needs at most max_len = 5 calls. Stack the prefixes of ALL unfinished "
                          "hypotheses into one (n, t) tensor and call the model once per step, not once per "
                          "hypothesis.", n=len(calls), sizes=sizes, mistake="beam_search.one_call_per_hypothesis",
                          **what)
    if calls[0] != [[0]]:
        raise TestFailure("{call} on a model with {vocab} tokens: the first call of next_log_probs got {rows}; the "
                          "search starts from the single prefix [bos_id], i.e. a (1, 1) tensor [[0]] here.",
                          rows=str(calls[0]), **what)
    for t, rows in enumerate(calls, 1):
        if any(len(r) != t for r in rows):
            raise TestFailure("{call} on a model with {vocab} tokens: call {t} of next_log_probs got prefixes of {n} "
                              "tokens; at step {t} every unfinished hypothesis has {before} tokens, so its prefix has "
                              "{t} (with bos).", t=t, n=len(rows[0]), before=t - 1, **what)
        if len(rows) > 4:
            raise TestFailure("{call} on a model with {vocab} tokens: call {t} of next_log_probs got {n} prefixes, "
                              "more than beam_size = 4. Keep only the beam_size best expansions at each step.", t=t,
                              n=len(rows), **what)
        if len({tuple(r) for r in rows}) != len(rows):
            raise TestFailure("{call} on a model with {vocab} tokens: call {t} of next_log_probs got the same prefix "
                              "twice: {rows}.", t=t, rows=str(rows), **what)


@grader.test("matches the reference on random models", points=1, hidden=True)
def random_models(ctx):
    """Prefix and bigram models with 5 to 8 tokens, beam sizes 2 to 5, max_len 3 to 7, several alphas and ids."""
    configs = [
        dict(vocab=6, bos=0, eos=1, seed=71, by_prefix=True, beam=3, max_len=6, alpha=None, eos_bias=0.0),
        dict(vocab=8, bos=7, eos=2, seed=72, by_prefix=False, beam=2, max_len=7, alpha=0.5, eos_bias=-1.0),
        dict(vocab=5, bos=1, eos=0, seed=73, by_prefix=True, beam=5, max_len=5, alpha=1.0, eos_bias=1.0),
        dict(vocab=7, bos=0, eos=6, seed=74, by_prefix=True, beam=4, max_len=3, alpha=0.0, eos_bias=0.5),
        dict(vocab=6, bos=3, eos=4, seed=75, by_prefix=False, beam=3, max_len=6, alpha=0.75, eos_bias=0.0),
    ]
    for c in configs:
        model = Model(ctx, c["vocab"], c["bos"], c["eos"], c["seed"], by_prefix=c["by_prefix"], eos_bias=c["eos_bias"])
        got, what = run(ctx, model, c["beam"], c["max_len"], c["alpha"])
        check_same(ctx, got, what, model, c["beam"], c["max_len"], c["alpha"])


# -- smoke-check: beam search against greedy decoding on a trained encoder-decoder -----------------------------------

SRC_VOCAB, SRC_LEN = 8, 3
T_BOS, T_EOS, T_PARA = 0, 1, 2
FILLERS = list(range(3, 15))           # 12 filler words
WORD0 = 15                             # target word for source symbol s is WORD0 + s
T_VOCAB = WORD0 + SRC_VOCAB
P_LITERAL = 0.4                        # trap sentences: literal translation with probability 0.4
MAX_LEN = 6


def toy_pairs(n, gen):
    """Source: 3 symbols. Target: the literal word-for-word translation, then eos. For a "trap" source (first symbol
    < 4) the training data instead holds, 60 % of the time, a paraphrase: PARA, one of 12 random fillers, the last
    word, eos. So the first target token is PARA with probability 0.6, yet every single paraphrase has probability
    0.05 against 0.4 for the literal translation: greedy decoding takes PARA and loses, beam search should not."""
    src = torch.randint(0, SRC_VOCAB, (n, SRC_LEN), generator=gen)
    trap = src[:, 0] < SRC_VOCAB // 2
    paraphrase = trap & (torch.rand(n, generator=gen) >= P_LITERAL)
    filler = torch.randint(0, len(FILLERS), (n,), generator=gen) + FILLERS[0]
    literal = torch.cat([src + WORD0, torch.full((n, 1), T_EOS)], dim=1)
    para = torch.cat([torch.full((n, 1), T_PARA), filler[:, None], src[:, 2:] + WORD0, torch.full((n, 1), T_EOS)],
                     dim=1)
    return src, torch.where(paraphrase[:, None], para, literal)


class ToyTranslator(nn.Module):
    """A GRU encoder; a GRU decoder fed the target embedding and the encoder's final state at every step."""

    def __init__(self, embed=16, hidden=32):
        super().__init__()
        self.src_embed = nn.Embedding(SRC_VOCAB, embed)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.tgt_embed = nn.Embedding(T_VOCAB, embed)
        self.decoder = nn.GRU(embed + hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, T_VOCAB)

    def encode(self, src):
        return self.encoder(self.src_embed(src))[1]            # (1, n, hidden)

    def decode(self, state, dec_in):
        context = state[-1][:, None, :].expand(-1, dec_in.shape[1], -1)
        outputs, _ = self.decoder(torch.cat([self.tgt_embed(dec_in), context], dim=-1), state)
        return self.out(outputs)                                # (n, t, vocab)


class _ToyIds:
    """What check_types needs to know about the toy translator's vocabulary."""

    vocab, bos, eos = T_VOCAB, T_BOS, T_EOS


TOY = _ToyIds()


def translator_model(net, src_row, device):
    """next_log_probs for one source sentence, checked like the synthetic models."""
    with torch.no_grad():
        state = net.encode(src_row[None])

    def next_log_probs(prefixes):
        check_prefixes(prefixes, T_VOCAB, T_BOS, T_EOS, MAX_LEN)
        prefixes = prefixes.to(device)
        with torch.no_grad():
            n = prefixes.shape[0]
            return net.decode(state.expand(-1, n, -1).contiguous(), prefixes)[:, -1].log_softmax(dim=-1)

    def logp(tokens):
        with torch.no_grad():
            dec_in = torch.tensor([[T_BOS] + tokens[:-1]], device=device)
            lp = net.decode(state, dec_in)[0].log_softmax(dim=-1).to(torch.float64)
            return float(lp[torch.arange(len(tokens), device=device), torch.tensor(tokens, device=device)].sum())

    return next_log_probs, logp


def toy_greedy(next_log_probs):
    tokens = []
    while True:
        tokens.append(int(next_log_probs(torch.tensor([[T_BOS] + tokens])).argmax(dim=-1)[0]))
        if tokens[-1] == T_EOS or len(tokens) == MAX_LEN:
            return tokens


def words(tokens):
    names = {T_BOS: "<bos>", T_PARA: "PARA", **{f: f"x{f - FILLERS[0]}" for f in FILLERS},
             **{WORD0 + s: f"w{s}" for s in range(SRC_VOCAB)}}
    return " ".join(names.get(t, f"<{t}>") for t in tokens if t != T_EOS)


def reference_bleu():
    from tutor.manifest import load_course

    path = load_course().exercise("bleu").solution_path
    spec = importlib.util.spec_from_file_location("d2l_reference_bleu_for_beam_search", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.bleu


@grader.smoke("beam search beats greedy decoding on a trained toy translator", points=3,
              metric="mean BLEU (beam 4) minus greedy", goal="min", threshold=0.15, budget=12,
              plot="advantage", hidden=True)
def beats_greedy(ctx):
    """Trains a GRU encoder-decoder (150 Adam steps) on a toy translation task where greedy decoding falls into a
    trap on half of the sentences, then decodes 32 test sentences with your beam_search (beam_size 4, default
    alpha). On every sentence, the most probable of your returned hypotheses must be at least as probable under the
    model as greedy's output (re-scored by the grader); and your best-scored hypotheses must beat greedy's average
    BLEU (the course's BLEU, k = 2) by at least 0.15."""
    fn = ctx.fn("beam_search")
    quick = Model(ctx, 5, 0, 1, seed=3, by_prefix=False)
    run(ctx, quick, 2, 3)  # a broken search fails here, before any training
    gen = ctx.seed(0)
    steps, batch = 150, 128
    src_all, tgt_all = toy_pairs(steps * batch, gen)
    src_all, tgt_all = src_all.to(ctx.device), tgt_all.to(ctx.device)
    dec_all = torch.cat([torch.full((steps * batch, 1), T_BOS, device=ctx.device), tgt_all[:, :-1]], dim=1)
    net = ToyTranslator().to(ctx.device)
    optimizer = Adam(net.parameters(), lr=0.02)
    for step in range(1, steps + 1):
        rows = slice((step - 1) * batch, step * batch)
        logits = net.decode(net.encode(src_all[rows]), dec_all[rows])
        loss = F.cross_entropy(logits.reshape(-1, T_VOCAB), tgt_all[rows].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            ctx.step(step, loss=loss.item())
    net.eval()

    bleu = reference_bleu()
    test_gen = torch.Generator().manual_seed(1234)
    firsts = torch.cat([torch.arange(SRC_VOCAB // 2).repeat(4), torch.arange(SRC_VOCAB // 2, SRC_VOCAB).repeat(4)])
    test_src = torch.cat([firsts[:, None], torch.randint(0, SRC_VOCAB, (32, SRC_LEN - 1), generator=test_gen)], dim=1)
    beam_total = greedy_total = reference_total = 0.0
    for i, src in enumerate(test_src.to(ctx.device)):
        next_log_probs, logp = translator_model(net, src, ctx.device)
        label = words([WORD0 + int(s) for s in src])
        g = toy_greedy(next_log_probs)
        what = {"call": f"beam_search(next_log_probs, bos_id={T_BOS}, eos_id={T_EOS}, beam_size=4, "
                        f"max_len={MAX_LEN})", "vocab": T_VOCAB}
        got = fn(next_log_probs, T_BOS, T_EOS, 4, MAX_LEN)
        check_types(got, what, TOY, MAX_LEN)
        best_logp = max(logp(tokens) for tokens, _ in got)
        if best_logp < logp(g) - 1e-4:
            raise with_parts(TestFailure(
                "on test sentence {i} ({label!r}) the most probable hypothesis {call} returned has log P = "
                "{best_logp:.4f}, below greedy decoding's {greedy!r} with log P = {greedy_logp:.4f}. Keep the "
                "beam_size best expansions by TOTAL log-probability at every step, and go on until no unfinished "
                "hypothesis is left.", i=i, label=label, call=what["call"], best_logp=best_logp, greedy=words(g),
                greedy_logp=logp(g)), yours(got))
        expected = ctx.ref("beam_search")(next_log_probs, T_BOS, T_EOS, 4, MAX_LEN)
        beam_total += bleu(words(got[0][0]), label, 2)
        greedy_total += bleu(words(g), label, 2)
        reference_total += bleu(words(expected[0][0]), label, 2)
        ctx.step(steps + i + 1, beam_bleu=beam_total / (i + 1), greedy_bleu=greedy_total / (i + 1),
                 advantage=(beam_total - greedy_total) / (i + 1))
    n = len(test_src)
    return {"value": (beam_total - greedy_total) / n, "reference": (reference_total - greedy_total) / n}
