"""Single-mistake variants of bleu (d2l 11.7)."""

from tests.mistakes import book_version, variant

EX = "bleu"
COURSE = "the course's example translations"
EXTREMES = "a perfect match scores 1.0 and no overlap scores 0.0"
CLIPPING = "clipped n-gram counts"
BREVITY = "the brevity penalty: short predictions lose, long ones do not"
COMBINATION = "precisions combine as the product of p_n ** (1 / 2**n)"
DENOMINATORS = "each p_n divides by the prediction's len_pred - n + 1 n-grams"
SHORT = "predictions shorter than k"
EMPTY = "an empty prediction scores 0.0 without an error"
RANDOM = "random sentence pairs from a small vocabulary"
RANKS = "ranks five toy translation systems on a 200-sentence test set"

# Every test of bleu compares scores with the course's, so a mistake in an ingredient that changes most scores (the
# brevity penalty, the exponents, the denominators) also fails the tests whose inputs happen to use that ingredient
# (lengths that differ, precisions below 1): those losses are honest. The guard min(k, len_pred) matters only when
# k > len_pred, so only the dedicated test uses such inputs. The smoke-check must match the reference's mean scores
# to 1e-9, so it catches every value mistake.
VARIANTS = [
    variant(EX, "n runs up to k, not min(k, len_pred)", "range(1, min(k, len(pred)) + 1)", "range(1, k + 1)",
            loses={SHORT}, mistake="bleu.short_prediction"),
    # 'je suis chez moi moi .' (course), 'je suis très très fatigué .' (combination) repeat a word.
    variant(EX, "matches not clipped", "min(count, available[gram])", "(count if available[gram] else 0)",
            loses={CLIPPING, COURSE, COMBINATION, RANDOM, RANKS}, mistake="bleu.no_clipping"),
    # Every input whose prediction is shorter than its label.
    variant(EX, "no brevity penalty", "score = math.exp(min(0.0, 1.0 - len(label) / len(pred)))", "score = 1.0",
            loses={BREVITY, COURSE, DENOMINATORS, SHORT, RANDOM, RANKS}, mistake="bleu.no_brevity_penalty"),
    # Every input whose prediction and label differ in length.
    variant(EX, "brevity penalty inverted", "1.0 - len(label) / len(pred)", "1.0 - len(pred) / len(label)",
            loses={BREVITY, COURSE, CLIPPING, COMBINATION, DENOMINATORS, SHORT, RANDOM, RANKS},
            mistake="bleu.inverted_brevity_penalty"),
    # Every input with a precision strictly between 0 and 1.
    variant(EX, "exponents 1 / n", "** (0.5 ** n)", "** (1 / n)",
            loses={COMBINATION, COURSE, CLIPPING, BREVITY, DENOMINATORS, RANDOM, RANKS},
            mistake="bleu.weights_inverse_n"),
    # Every input whose prediction and label differ in length.
    variant(EX, "precision divided by the label's n-grams", "(matched / (len(pred) - n + 1))",
            "(matched / (len(label) - n + 1))",
            loses={DENOMINATORS, COURSE, CLIPPING, BREVITY, COMBINATION, SHORT, RANDOM, RANKS},
            mistake="bleu.label_ngram_denominator"),
    # The smoke-check's 'unreliable' system outputs '' for a third of the sentences.
    variant(EX, "empty prediction not handled",
            'if pred_seq == "":\n        return 0.0  # nothing was predicted\n    pred, label = pred_seq.split(" "), '
            'label_seq.split(" ")',
            "pred, label = pred_seq.split(), label_seq.split()",
            loses={EMPTY, RANKS}, mistake="bleu.empty_prediction"),
    # d2l-zh's bleu (9.7) runs n from 1 to k, so a prediction shorter than k divides by zero; it has no special
    # case for '' either, which then scores 0 through its one empty token when k = 1. (d2l-en 10.7 stops at
    # min(k, len_pred) and would pass everything.) One difference, one test: the short-prediction test names it.
    book_version(EX, "n runs up to k, no special case for ''", """
        import collections
        import math


        def bleu(pred_seq, label_seq, k):
            pred, label = pred_seq.split(' '), label_seq.split(' ')
            len_pred, len_label = len(pred), len(label)
            score = math.exp(min(0, 1 - len_label / len_pred))
            for n in range(1, k + 1):
                left = collections.defaultdict(int)  # label n-grams not matched yet
                for start in range(len_label - n + 1):
                    left[' '.join(label[start:start + n])] += 1
                hits = 0
                for start in range(len_pred - n + 1):
                    gram = ' '.join(pred[start:start + n])
                    if left[gram] > 0:
                        hits += 1
                        left[gram] -= 1
                score *= math.pow(hits / (len_pred - n + 1), math.pow(0.5, n))
            return score
        """, loses={SHORT}, mistake="bleu.book_short_prediction"),
]
