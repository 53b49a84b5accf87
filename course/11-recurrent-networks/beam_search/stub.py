"""Exercise beam_search: beam search decoding with length normalisation (course 11.8; d2l-zh 9.8, d2l-en 10.8).

Read the lesson first:   d2l-tutor lesson beam_search
Grade your work:         d2l-tutor grade beam_search
Stuck? Ask for a hint:   d2l-tutor hint beam_search
"""

import torch


def beam_search(next_log_probs, bos_id, eos_id, beam_size, max_len, alpha=0.75):
    """Decode with beam search and return the best finished hypotheses with their scores.

    Arguments:
        next_log_probs: the model, a function. next_log_probs(prefixes) takes a
            torch.long tensor of shape (n, t), one prefix per row, every row
            starting with bos_id, and returns a float tensor of shape
            (n, vocab_size): row i holds log P(next token | prefix i) for
            every token of the vocabulary. Build the prefixes on the CPU
            (torch.tensor(rows, dtype=torch.long)); the returned tensor may
            live on another device (a GPU), so read numbers from it with
            .tolist() / .item() or compute on its device.
        bos_id: the id that starts every prefix; it is never part of a
            returned hypothesis.
        eos_id: the end-of-sequence id.
        beam_size: k >= 1, the number of hypotheses kept at each step.
        max_len: >= 1, the most tokens a hypothesis may have (bos excluded).
        alpha: the length-normalisation exponent (default 0.75).

    The search, step by step:
        1. Start with one unfinished hypothesis: the empty one (prefix [bos_id]).
        2. Expand EVERY unfinished hypothesis by EVERY token with ONE call of
           next_log_probs on all of their prefixes stacked into one (n, t)
           tensor (t = 1 + the hypotheses' length; they all have the same
           length). An expansion's total log-probability is its parent's
           total plus log P(token | parent's prefix).
        3. Keep the beam_size expansions with the highest total (all of them
           if there are fewer).
        4. A kept expansion whose last token is eos_id (the eos stays in its
           tokens), or that has max_len tokens, is finished: it moves to the
           list of finished hypotheses and is never expanded again. The other
           kept expansions are the unfinished hypotheses of the next step.
        5. Repeat from 2 until no unfinished hypothesis is left (at most
           max_len calls of next_log_probs).
        Ties in step 3 may be broken any way you like (the tests avoid them).

    Returns:
        A list of at most beam_size pairs (tokens, score), one per finished
        hypothesis, best first:
            tokens: a list of Python ints, the hypothesis without bos_id
                (ending with eos_id unless it stopped at max_len tokens).
            score:  a Python float,
                        total log-probability / len(tokens) ** alpha
        Sort by score, highest first; equal scores are ordered by their token
        lists, smaller first (Python's list comparison).

    Requirements the hidden tests check:
        * beam_size = 1 is greedy decoding; a beam wide enough to hold every
          sequence finds the exhaustive-search optimum.
        * The scores equal log P(tokens) / len(tokens) ** alpha recomputed
          from the model; larger alpha favours longer hypotheses.
        * next_log_probs is called once per step (at most max_len times),
          every row starting with bos_id; finished hypotheses are never
          passed to it.
        * The result is a list of (list of int, float) tuples, sorted, with
          distinct token lists, at most beam_size of them.

    Example (a model that ignores the prefix: P(eos) = 0.5, P(token 2) = 0.3,
    P(token 3) = 0.2; bos_id = 0 has probability 0):
        >>> table = torch.tensor([0.0, 0.5, 0.3, 0.2]).log()
        >>> beam_search(lambda p: table.repeat(p.shape[0], 1), 0, 1, 2, 3)
        [([1], -0.6931...), ([2, 1], -1.1280...)]
    """
    raise NotImplementedError("beam_search is not written yet: replace this line with your implementation")
