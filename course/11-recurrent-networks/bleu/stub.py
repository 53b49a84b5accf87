"""Exercise bleu: the BLEU score of a predicted translation (course 11.7; d2l-zh 9.7, d2l-en 10.7).

Read the lesson first:   d2l-tutor lesson bleu
Grade your work:         d2l-tutor grade bleu
Stuck? Ask for a hint:   d2l-tutor hint bleu
"""

import math
from collections import Counter


def bleu(pred_seq, label_seq, k):
    """Return the course's BLEU score of the prediction `pred_seq` against the label `label_seq`.

    Arguments:
        pred_seq: the predicted translation, a str of tokens separated by
            single spaces, e.g. "il est riche ."
        label_seq: the reference (label) translation, in the same format.
        k: an int >= 1, the longest n-grams to compare.

    Tokens:
        pred_tokens = pred_seq.split(' ') and label_tokens = label_seq.split(' ');
        len_pred and len_label are their lengths.
        An empty prediction (pred_seq == '', nothing was predicted) scores 0.0.
        Check for it first: ''.split(' ') is [''], a list with one empty token.

    Returns:
        A Python float (an int such as 0 is accepted too; a torch tensor is
        not):
            BLEU = exp(min(0, 1 - len_label / len_pred)) * Π p_n ** (1 / 2**n)
        where the product runs over n = 1, 2, ..., min(k, len_pred) and p_n is
        the clipped n-gram precision:
            p_n = (number of matched n-grams) / (len_pred - n + 1)
        Every n-gram of the prediction (there are len_pred - n + 1 of them)
        counts as matched if it also occurs in the label, but each n-gram of
        the label can be matched at most as many times as it occurs there:
        with the label "the cat", the prediction "the the the the" has only
        one matched unigram, so p_1 = 1 / 4.

    Requirements the hidden tests check:
        * The brevity penalty exp(min(0, 1 - len_label / len_pred)) punishes
          predictions shorter than the label and is exactly 1 for longer ones.
        * The precisions are combined as a product with weights 1 / 2**n (not
          an average, and not the uniform weights of corpus BLEU).
        * A perfect match scores 1.0; a prediction that shares no unigram
          with the label scores 0.0.
        * Predictions shorter than k work: n stops at len_pred.
        * pred_seq == '' returns 0.0 without raising an error.

    Example (the course's k = 2):
        >>> bleu("il est riche .", "il est calme .", 2)   # sqrt(3/4) * (1/3) ** (1/4)
        0.6580370064762462
        >>> bleu("va !", "va !", 2)
        1.0
    """
    raise NotImplementedError("bleu is not written yet: replace this line with your implementation")
