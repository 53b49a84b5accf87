"""Exercise seq_data: reading a long sequence into minibatches (course 10.3; d2l-zh 8.3, d2l-en 9.3).

Read the lesson first:   d2l-tutor lesson seq_data
Grade your work:         d2l-tutor grade seq_data
Stuck? Ask for a hint:   d2l-tutor hint seq_data

Both functions are generators (they `yield`), used the way the course's SeqDataLoader uses them:

    for X, Y in seq_data_iter_sequential(corpus, batch_size=2, num_steps=5):
        ...  # X, Y: int64 tensors of shape (batch_size, num_steps)
"""

import random

import torch


def seq_data_iter_random(corpus, batch_size, num_steps):
    """Yield minibatches (X, Y) of subsequences drawn by random sampling.

    Arguments:
        corpus: a list of int token indices (one long sequence).
        batch_size: the number of subsequences in a minibatch.
        num_steps: the length of every subsequence.

    Yields:
        Pairs (X, Y) of int64 tensors, both of shape (batch_size, num_steps).
        Y holds the labels: Y[r, t] is the token that follows X[r, t] in
        the corpus (the same subsequence, shifted by one token).

    Requirements the hidden tests check (whatever the random draws):
        * One offset per call, drawn with random.randint(0, num_steps - 1),
          so it lies in [0, num_steps). The corpus from that offset on is cut
          into (len(corpus) - offset - 1) // num_steps non-overlapping pieces:
          piece k starts at offset + k * num_steps (the "- 1" leaves room for
          the last piece's labels).
        * The pieces are served in a shuffled order (random.shuffle), each at
          most once per call: no piece repeats, none overlaps another.
        * Exactly (number of pieces) // batch_size minibatches; the pieces
          that do not fill a whole minibatch are left out.

    Example (corpus 0..34, batch_size 2, num_steps 5): 3 minibatches. With
    offset 4, the pieces start at 4, 9, 14, 19, 24, 29; one minibatch could be
        X = tensor([[19, 20, 21, 22, 23], [ 4,  5,  6,  7,  8]])
        Y = tensor([[20, 21, 22, 23, 24], [ 5,  6,  7,  8,  9]])
    """
    raise NotImplementedError("seq_data_iter_random is not written yet: replace this line with your implementation")


def seq_data_iter_sequential(corpus, batch_size, num_steps):
    """Yield minibatches (X, Y) by sequential partitioning.

    Arguments:
        corpus: a list of int token indices (one long sequence).
        batch_size: the number of parallel streams (rows) in a minibatch.
        num_steps: the number of tokens each minibatch takes from a stream.

    Yields:
        Pairs (X, Y) of int64 tensors, both of shape (batch_size, num_steps),
        Y again X shifted by one token in the corpus.

    Requirements the hidden tests check (whatever the random draws):
        * One offset per call, drawn with random.randint(0, num_steps) (the
          book includes num_steps itself): the tokens from the offset on,
          n = (len(corpus) - offset - 1) // batch_size * batch_size of them,
          are split into batch_size streams of n // batch_size consecutive
          tokens, one stream per row.
        * Row r of each minibatch continues row r of the minibatch before:
          the first token of X[r] in minibatch i + 1 follows the last token
          of X[r] in minibatch i in the corpus. (A model can then carry its
          hidden state from one minibatch to the next.)
        * Exactly (n // batch_size) // num_steps minibatches.

    Example (corpus 0..34, batch_size 2, num_steps 5, offset 2): 3 minibatches,
    the first two
        X = tensor([[ 2,  3,  4,  5,  6], [18, 19, 20, 21, 22]])
        X = tensor([[ 7,  8,  9, 10, 11], [23, 24, 25, 26, 27]])
    """
    raise NotImplementedError("seq_data_iter_sequential is not written yet: replace this line with your implementation")
