"""Reference solution: the course's sentence-level BLEU score (course 11.7; d2l-zh 9.7, d2l-en 10.7)."""

import math
from collections import Counter


def ngram_counts(tokens, n):
    """How often each n-gram (a tuple of n tokens) occurs in `tokens`."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu(pred_seq, label_seq, k):
    """Brevity penalty times the product over n = 1 .. min(k, len_pred) of p_n ** (1 / 2 ** n)."""
    if pred_seq == "":
        return 0.0  # nothing was predicted
    pred, label = pred_seq.split(" "), label_seq.split(" ")
    score = math.exp(min(0.0, 1.0 - len(label) / len(pred)))
    for n in range(1, min(k, len(pred)) + 1):
        available = ngram_counts(label, n)
        matched = sum(min(count, available[gram]) for gram, count in ngram_counts(pred, n).items())
        score *= (matched / (len(pred) - n + 1)) ** (0.5 ** n)
    return float(score)
