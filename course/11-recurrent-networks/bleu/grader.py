"""Tests and smoke-check for exercise bleu (d2l 11.7).

BLEU works on strings and returns a Python number, so these tests compare numbers with math.isclose (relative
1e-9, absolute 1e-12) instead of tensors. The visible tests (also in the student build) compare with scores written
in the test; the hidden ones compare with the reference, and when a wrong score matches one of the usual mistakes
(no clipping, a missing or inverted brevity penalty, other weights, ...) the message names that mistake.
"""

import math
import random
from collections import Counter

import torch

from tutor.grading import N_, Grader, TestFailure, describe
from tutor.grading.remote import RemoteError

grader = Grader("bleu")

REL, ABS = 1e-9, 1e-12


# -- the usual mistakes, as variants of the course's formula --------------------------------------------------------

def variant_bleu(pred_seq, label_seq, k, *, clip=True, penalty="course", weights="half", denominator="pred",
                 combine="product", up_to="min"):
    """The course's BLEU with one ingredient swapped for a typical mistake; None where that version would crash."""
    if pred_seq == "":
        return 0.0
    pred, label = pred_seq.split(" "), label_seq.split(" ")
    lp, ll = len(pred), len(label)
    if penalty == "course":
        score = math.exp(min(0.0, 1.0 - ll / lp))
    elif penalty == "none":
        score = 1.0
    elif penalty == "inverted":
        score = math.exp(min(0.0, 1.0 - lp / ll))
    else:  # "unclamped": no min(0, .)
        score = math.exp(1.0 - ll / lp)
    last = min(k, lp) if up_to == "min" else k
    precisions = []
    for n in range(1, last + 1):
        have = Counter(tuple(pred[i:i + n]) for i in range(lp - n + 1))
        avail = Counter(tuple(label[i:i + n]) for i in range(ll - n + 1))
        matched = sum(min(c, avail[g]) if clip else (c if avail[g] else 0) for g, c in have.items())
        total = {"pred": lp - n + 1, "label": ll - n + 1, "label_len": ll}[denominator]
        if total <= 0:
            return None
        precisions.append(matched / total)
    if not precisions:
        return score
    power = {"half": lambda n: 0.5 ** n, "inverse": lambda n: 1.0 / n, "uniform": lambda n: 1.0 / len(precisions),
             "quarter": lambda n: 0.25, "none": lambda n: 1.0}[weights]
    if combine == "mean":
        return score * sum(precisions) / len(precisions)
    if combine == "weighted_mean":
        return score * sum(p ** power(n) for n, p in enumerate(precisions, 1)) / len(precisions)
    for n, p in enumerate(precisions, 1):
        score *= p ** power(n)
    return score


# Each usual mistake: the switch of variant_bleu that reproduces it, its id, and the sentence that names it. The
# sentence starts with {lead}: its indentation, which depends on whether it is the only mistake named.
MISTAKES = [
    (dict(clip=False), "bleu.no_clipping",
     N_("{lead}The n-gram matches are not clipped: each n-gram of the label can be matched at most as many times as it "
     "occurs in the label (against 'the cat', 'the the the the' has one matched unigram, not four). Count the label's "
     "n-grams (collections.Counter) and take the minimum.")),
    (dict(penalty="none"), "bleu.no_brevity_penalty",
     N_("{lead}There is no brevity penalty: multiply by exp(min(0, 1 - len_label / len_pred)), which is below 1 when the "
     "prediction is shorter than the label.")),
    (dict(penalty="inverted"), "bleu.inverted_brevity_penalty",
     N_("{lead}The brevity penalty is inverted: it must punish predictions SHORTER than the label, "
     "exp(min(0, 1 - len_label / len_pred)); yours punishes longer ones.")),
    (dict(penalty="unclamped"), "bleu.unclamped_brevity_penalty",
     N_("{lead}The brevity penalty lacks its min(0, ...): a prediction longer than the label gets exp(0) = 1, never a "
     "bonus above 1. Use exp(min(0, 1 - len_label / len_pred)).")),
    (dict(weights="inverse"), "bleu.weights_inverse_n",
     N_("{lead}The exponents are 1 / n; the course raises p_n to the power 1 / 2**n (1/2, 1/4, 1/8, ...).")),
    (dict(weights="uniform"), "bleu.weights_uniform",
     N_("{lead}The precisions are weighted uniformly, as corpus BLEU in NLTK or sacrebleu does; the course's "
     "sentence-level BLEU raises p_n to the power 1 / 2**n.")),
    (dict(weights="quarter"), "bleu.weights_quarter",
     N_("{lead}Every precision is raised to the power 1/4, as corpus BLEU does; the course raises p_n to the power "
     "1 / 2**n.")),
    (dict(weights="none"), "bleu.no_weights",
     N_("{lead}The precisions are multiplied without their exponents: raise p_n to the power 1 / 2**n.")),
    (dict(combine="mean"), "bleu.mean_of_precisions",
     N_("{lead}The precisions are averaged; the course multiplies them: Π p_n ** (1 / 2**n).")),
    (dict(combine="weighted_mean"), "bleu.mean_of_weighted_precisions",
     N_("{lead}The weighted precisions p_n ** (1 / 2**n) are averaged; the course multiplies them.")),
    (dict(denominator="label"), "bleu.label_ngram_denominator",
     N_("{lead}Each precision is divided by the label's number of n-grams; a precision divides by the PREDICTION's "
     "number of n-grams, len_pred - n + 1.")),
    (dict(denominator="label_len"), "bleu.label_length_denominator",
     N_("{lead}Each precision is divided by len_label; it divides by the prediction's number of n-grams, "
     "len_pred - n + 1.")),
    (dict(up_to="k"), "bleu.short_prediction",
     N_("{lead}n runs up to k even when the prediction has fewer than k tokens; stop at min(k, len_pred).")),
]


def close(a, b):
    return a is not None and b is not None and math.isclose(a, b, rel_tol=REL, abs_tol=ABS)


def diagnose(got, pred_seq, label_seq, k, expected):
    """The parts naming the mistake that produces `got` on this input; several when more than one does."""
    found = []
    for change, mistake, why in MISTAKES:
        candidate = variant_bleu(pred_seq, label_seq, k, **change)
        if close(got, candidate) and not close(candidate, expected):
            found.append((mistake, why))
    if len(found) == 1:
        mistake, why = found[0]
        return [TestFailure(why, lead="  ", mistake=mistake)]
    if found:
        return [TestFailure("  On this input several mistakes give your score:"),
                *(TestFailure(why, lead="  - ", mistake=mistake) for mistake, why in found)]
    return []


def call_text(pred_seq, label_seq, k):
    return f"bleu({pred_seq!r}, {label_seq!r}, {k})"


def score_of(ctx, pred_seq, label_seq, k):
    """Call the learner's bleu; check that it returned a finite Python number and explain a crash."""
    fn = ctx.fn("bleu")
    what = call_text(pred_seq, label_seq, k)
    try:
        got = fn.__wrapped__(pred_seq, label_seq, k)
    except RemoteError as err:  # the learner's exception, as a verdict that names the call as the course writes it
        failure = ctx.explain(err, what)
        if err.is_a("builtins.NotImplementedError"):
            pass
        elif pred_seq == "":
            failure.with_part(TestFailure(
                "  An empty prediction must score 0.0: check `if pred_seq == ''` (or an empty token list) before "
                "dividing by len_pred. Note that ''.split(' ') is [''].", mistake="bleu.empty_prediction"))
        elif (err.is_a("builtins.ZeroDivisionError") or "division by zero" in err.message) \
                and len(pred_seq.split(" ")) < k:
            failure.with_part(TestFailure(
                "  The prediction has {tokens} token(s) and k = {k}: let n run over 1 .. min(k, len_pred), so "
                "len_pred - n + 1 is never 0.", mistake="bleu.short_prediction", tokens=len(pred_seq.split(" ")),
                k=k))
            failure.with_part(TestFailure(
                "  The bleu of the Chinese edition (d2l-zh) does this too: its loop runs n from 1 to k, so a "
                "prediction shorter than k divides by zero at n = len_pred + 1. The book's examples happen to avoid "
                "such predictions, but a translation model can produce one at any time (one word, or nothing before "
                "<eos>). The English edition (d2l-en) stops at min(k, len_pred), and so does the course.",
                mistake="bleu.book_short_prediction"))
        elif (err.is_a("builtins.ZeroDivisionError") or "division by zero" in err.message) \
                and len(label_seq.split(" ")) < k:
            failure.with_part(TestFailure(
                "  The label has {tokens} token(s) and k = {k}, so it has no {k}-grams: a precision divides by the "
                "PREDICTION's number of n-grams, len_pred - n + 1, not by the label's.",
                mistake="bleu.label_ngram_denominator", tokens=len(label_seq.split(" ")), k=k))
        elif "math domain error" in err.message:
            failure.with_part(TestFailure(
                "  A precision can be 0 (no matching n-gram), so log(p_n) is undefined: multiply the powers "
                "p_n ** (1 / 2**n) directly instead of summing logarithms.", mistake="bleu.log_of_zero"))
        raise failure from None
    if isinstance(got, torch.Tensor):
        raise TestFailure("{call} returned a torch.Tensor ({got}); BLEU is a plain number: return a Python float (use "
                          "math.exp and ** on Python numbers, or call .item() on a one-element tensor).", call=what,
                          got=describe(got))
    if got is None:
        raise TestFailure("{call} returned None (builtins.NoneType); expected a Python float. Did you forget a "
                          "`return` statement?", call=what)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise TestFailure("{call} returned {got} ({got_type}); expected a Python float.", call=what,
                          got=describe(got), got_type=f"{type(got).__module__}.{type(got).__qualname__}")
    got = float(got)
    if not math.isfinite(got):
        raise TestFailure("{call} returned {got}; BLEU is a number between 0 and 1.", call=what, got=got)
    return got


def mismatch(got, pred_seq, label_seq, k, expected, parts):
    """The failure for a score that is not the expected one, with the lengths involved and `parts`."""
    pred, label = pred_seq.split(" "), label_seq.split(" ")
    failure = TestFailure("{call} returned {got!r}; expected {expected!r}.", call=call_text(pred_seq, label_seq, k),
                          got=got, expected=expected)
    failure.with_part(TestFailure("  len_pred = {len_pred}, len_label = {len_label}, n = 1 .. {last}",
                                  len_pred=len(pred) if pred_seq else 0, len_label=len(label),
                                  last=min(k, len(pred)) if pred_seq else 0))
    for part in parts:
        failure.with_part(part)
    return failure


def check(ctx, pred_seq, label_seq, k, advice=None):
    """The learner's score must equal the reference's (math.isclose, rel 1e-9, abs 1e-12). `advice` (a TestFailure)
    is shown when no usual mistake explains the difference."""
    expected = ctx.ref("bleu")(pred_seq, label_seq, k)
    got = score_of(ctx, pred_seq, label_seq, k)
    if close(got, expected):
        return got
    why = diagnose(got, pred_seq, label_seq, k, expected)
    raise mismatch(got, pred_seq, label_seq, k, expected, why or ([advice] if advice is not None else []))


def check_written(ctx, pred_seq, label_seq, k, expected, advice=None):
    """The learner's score must equal `expected`, written in the test (math.isclose, rel 1e-9, abs 1e-12); `advice`
    (a TestFailure) is shown when it does not."""
    got = score_of(ctx, pred_seq, label_seq, k)
    if close(got, expected):
        return got
    raise mismatch(got, pred_seq, label_seq, k, expected, [advice] if advice is not None else [])


# -- hidden tests ---------------------------------------------------------------------------------------------------

# The course's English-French pairs with their BLEU (k = 2), worked out by hand from the course's formula:
# exp(min(0, 1 - len_label / len_pred)) · p_1 ** (1/2) · p_2 ** (1/4).
COURSE_EXAMPLES = [
    ("va !", "va !", 1.0),
    ("j'ai perdu .", "j'ai perdu .", 1.0),
    ("il est riche .", "il est calme .", (3 / 4) ** 0.5 * (1 / 3) ** 0.25),        # about 0.658
    ("je suis en retard ?", "je suis chez moi .", (2 / 5) ** 0.5 * (1 / 4) ** 0.25),  # about 0.447
    ("il est calme .", "il est calme .", 1.0),
    ("j'ai perdu", "j'ai perdu .", math.exp(1 - 3 / 2)),                           # the brevity penalty only
    ("je suis chez moi moi .", "je suis chez moi .", (5 / 6) ** 0.5 * (4 / 5) ** 0.25),
]


@grader.test("the course's example translations", points=1)
def course_examples(ctx):
    """English-French pairs from the course (k = 2): exact copies, 'il est riche .' against 'il est calme .' (about
    0.658), 'je suis en retard ?' against 'je suis chez moi .' (about 0.447), and a short prediction."""
    for pred_seq, label_seq, expected in COURSE_EXAMPLES:
        check_written(ctx, pred_seq, label_seq, 2, expected)


@grader.test("a perfect match scores 1.0 and no overlap scores 0.0", points=1)
def extremes(ctx):
    """k never exceeds the prediction's length here (that case has its own test)."""
    for sentence in ("va", "va !", "il est calme .", "a b a b a"):
        for k in range(1, min(4, len(sentence.split(" "))) + 1):
            check_written(ctx, sentence, sentence, k, 1.0, TestFailure(
                "  A prediction identical to its label has every p_n = 1 and no penalty, so its BLEU is exactly 1.0."))
    for pred_seq, label_seq, k in [("x y z", "a b c", 1), ("x y z", "a b c", 3), ("b a", "a b", 2),
                                   ("a b c d", "d c b a", 4), ("oui", "non", 1)]:
        check_written(ctx, pred_seq, label_seq, k, 0.0, TestFailure(
            "  When some p_n is 0 the product, and so BLEU, is 0.0: the course does not smooth the precisions."))


@grader.test("clipped n-gram counts", points=1, hidden=True)
def clipping(ctx):
    """'the the the the' against 'the cat' has one matched unigram, not four."""
    for pred_seq, label_seq, k in [("the the the the", "the cat", 1), ("the the the the", "the the cat", 1),
                                   ("a b a b a b", "a b c a b", 2), ("a b a b a b", "a b c a b", 3),
                                   ("il est il est calme .", "il est calme .", 2)]:
        check(ctx, pred_seq, label_seq, k)


@grader.test("the brevity penalty: short predictions lose, long ones do not", points=1, hidden=True)
def brevity_penalty(ctx):
    for pred_seq, label_seq, k in [("il est", "il est calme .", 2), ("a", "a b c", 1), ("a b", "a b c d e", 2),
                                   ("il est très calme .", "il est calme .", 2), ("a b c d e f", "a b c", 2),
                                   ("a b c", "a b c d", 3)]:
        check(ctx, pred_seq, label_seq, k)


@grader.test("precisions combine as the product of p_n ** (1 / 2**n)", points=1, hidden=True)
def combination(ctx):
    """Predictions whose p_1 .. p_4 all differ, with k = 2, 3 and 4."""
    for pred_seq, label_seq in [("a b c d x f g h", "a b c d e f g h"), ("a b c d e f", "a b c d x f"),
                                ("je suis très très fatigué .", "je suis très fatigué .")]:
        for k in (2, 3, 4):
            check(ctx, pred_seq, label_seq, k)


@grader.test("each p_n divides by the prediction's len_pred - n + 1 n-grams", points=1, hidden=True)
def denominators(ctx):
    for pred_seq, label_seq, k in [("a b c d e", "a b c", 2), ("a b x c d", "a b c", 2),
                                   ("il est très calme .", "il est calme .", 3), ("a b c", "a b c d e f", 3)]:
        check(ctx, pred_seq, label_seq, k)


@grader.test("predictions shorter than k", points=1, hidden=True)
def short_predictions(ctx):
    """n runs over 1 .. min(k, len_pred): a one-token prediction with k = 4 uses p_1 only."""
    for pred_seq, label_seq, k in [("va", "va !", 4), ("va", "va", 4), ("go .", "go .", 4),
                                   ("il est", "il est calme .", 4), ("a b", "a b a b", 3), ("x", "a b", 2)]:
        check(ctx, pred_seq, label_seq, k)


@grader.test("an empty prediction scores 0.0 without an error", points=1)
def empty_prediction(ctx):
    """pred_seq == '' (''.split(' ') is ['']) must return 0.0. With k = 1: for a larger k, '' is also a prediction
    shorter than k, which the test 'predictions shorter than k' checks (the loop of d2l-zh's bleu, which runs n up to
    k, loses that test and only that one)."""
    for label_seq in ("il est calme .", "va !", "a"):
        check_written(ctx, "", label_seq, 1, 0.0, TestFailure("  An empty prediction must score 0.0."))


@grader.test("random sentence pairs from a small vocabulary", points=1, hidden=True)
def random_pairs(ctx):
    """300 pairs of 1 to 8 tokens drawn from 4 words (so n-grams repeat often), k from 1 to 5 but never more than
    the prediction's length (predictions shorter than k have their own test)."""
    rng = random.Random(11)
    words = ["a", "b", "c", "d"]
    cases = []
    for _ in range(300):
        n_pred = rng.randint(1, 8)
        pred = " ".join(rng.choice(words) for _ in range(n_pred))
        label = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        cases.append((pred, label, rng.randint(1, min(5, n_pred))))
    cases.sort(key=lambda c: (len(c[0]) + len(c[1]), c))  # a failure shows the shortest failing pair
    for pred_seq, label_seq, k in cases:
        check(ctx, pred_seq, label_seq, k)


# -- smoke-check ----------------------------------------------------------------------------------------------------

SUBJECTS = [("i", "am", "je", "suis"), ("you", "are", "tu", "es"), ("he", "is", "il", "est"),
            ("she", "is", "elle", "est")]
LEXICON = {"calm": "calme", "rich": "riche", "sick": "malade", "sad": "triste", "free": "libre", "young": "jeune",
           "wise": "sage", "late": "en retard", "fit": "en forme", "on time": "à l'heure"}
# The "careful" system's lexicon has three wrong entries.
FLAWED = dict(LEXICON, sad="malade", free="gratuit", **{"on time": "à temps"})


def corpus(n, rng):
    """n English-French pairs such as ('he is very calm .', 'il est très calme .')."""
    pairs = []
    for _ in range(n):
        en_subj, en_be, fr_subj, fr_be = rng.choice(SUBJECTS)
        adj = rng.choice(sorted(LEXICON))
        very = " " not in LEXICON[adj] and rng.random() < 0.3
        en = [en_subj, en_be] + (["very"] if very else []) + adj.split() + ["."]
        pairs.append((" ".join(en), (fr_subj, fr_be, very, adj)))
    return pairs


def render(parts, lexicon):
    fr_subj, fr_be, very, adj = parts
    return " ".join([fr_subj, fr_be] + (["très"] if very else []) + lexicon[adj].split() + ["."])


def systems(pairs, rng):
    """Five toy translation systems, each with its own flaw, as {name: outputs}."""
    labels = [render(parts, LEXICON) for _, parts in pairs]
    return labels, {
        "careful": [render(parts, FLAWED) for _, parts in pairs],
        "terse": [" ".join(label.split(" ")[:2]) for label in labels],
        "stutter": [" ".join(label.split(" ")[:2] * 2 + label.split(" ")[2:]) for label in labels],
        "verbose": [label + " merci beaucoup ." for label in labels],
        "unreliable": [label if rng.random() > 0.35 else "" for label in labels],
    }


# A line of the ranking table for each system: its name, the two mean scores, and what the system does.
SYSTEM_ROWS = {
    "careful": N_("    {name:<10} yours {mine:.4f}   reference {theirs:.4f}   (a word-by-word system with 3 wrong lexicon "
               "entries)"),
    "terse": N_("    {name:<10} yours {mine:.4f}   reference {theirs:.4f}   (outputs only the subject and the verb)"),
    "stutter": N_("    {name:<10} yours {mine:.4f}   reference {theirs:.4f}   (repeats the subject and the verb: 'il est "
               "il est calme .')"),
    "verbose": N_("    {name:<10} yours {mine:.4f}   reference {theirs:.4f}   (appends 'merci beaucoup .')"),
    "unreliable": N_("    {name:<10} yours {mine:.4f}   reference {theirs:.4f}   (perfect, but outputs nothing ('') for "
                  "about a third of the sentences)"),
}

RANKING_CAUSES = {
    "stutter": N_("  Ranking 'stutter' too high usually means the n-gram matches are not clipped."),
    "terse": N_("  Ranking 'terse' too high usually means the brevity penalty is missing or inverted."),
    "verbose": N_("  Ranking 'verbose' too high usually means precisions are divided by the label's n-gram count."),
    "unreliable": N_("  Check the weights 1 / 2**n and the product of the precisions."),
}


@grader.smoke("ranks five toy translation systems on a 200-sentence test set", points=3,
              metric="largest |mean BLEU - reference| over the systems", goal="max", threshold=1e-9,
              budget=5, hidden=True)
def rank_systems(ctx):
    """Five toy English-French systems translate 200 sentences; your bleu (k = 2, or 1 for a one-token or empty
    output) scores every output, and the systems' mean BLEU must rank them, and match the reference's means, as the
    course's BLEU does."""
    rng = random.Random(0)
    pairs = corpus(200, rng)
    labels, outputs = systems(pairs, rng)
    ref = ctx.ref("bleu")
    mine, theirs = {}, {}
    for step, (name, preds) in enumerate(outputs.items(), 1):
        # k = 2, or the output's length when it is shorter ('' counts as one token): the same scores from a BLEU
        # that stops at min(k, len_pred), as the course's does, while short predictions stay the business of the
        # test 'predictions shorter than k'.
        mine[name] = sum(score_of(ctx, p, label, min(2, len(p.split(" ")))) for p, label in zip(preds, labels)) \
            / len(labels)
        theirs[name] = sum(ref(p, label, 2) for p, label in zip(preds, labels)) / len(labels)
        ctx.step(step, mean_bleu=mine[name], reference=theirs[name])
    expected_order = sorted(theirs, key=lambda s: -theirs[s])
    got_order = sorted(mine, key=lambda s: (-mine[s], expected_order.index(s)))
    if got_order != expected_order:
        promoted = next(s for s, t in zip(got_order, expected_order) if s != t)
        failure = TestFailure("your BLEU ranks the systems {got}; the course's BLEU ranks them {expected}.",
                              got=got_order, expected=expected_order)
        failure.with_part(TestFailure("  mean BLEU (k = 2) over 200 sentences:"))
        for name in expected_order:
            failure.with_part(TestFailure(SYSTEM_ROWS[name], name=name, mine=mine[name], theirs=theirs[name]))
        cause = RANKING_CAUSES.get(promoted)
        raise failure.with_part(TestFailure(cause) if cause else TestFailure("  The hidden tests above name the "
                                                                             "mistake."))
    return max(abs(mine[s] - theirs[s]) for s in mine)
