"""Reference solution: reading a long sequence into minibatches (course 10.3; d2l-zh 8.3, d2l-en 9.3)."""

import random

import torch


def seq_data_iter_random(corpus, batch_size, num_steps):
    """Random sampling: cut the corpus into num_steps-long pieces from a random offset, serve them shuffled."""
    start = random.randint(0, num_steps - 1)  # the offset, in [0, num_steps)
    tokens = list(corpus[start:])
    n_pieces = (len(tokens) - 1) // num_steps  # each piece needs one more token for its labels
    starts = list(range(0, n_pieces * num_steps, num_steps))
    random.shuffle(starts)
    n_batches = n_pieces // batch_size
    for b in range(n_batches):
        chosen = starts[b * batch_size:(b + 1) * batch_size]
        X = torch.tensor([tokens[p:p + num_steps] for p in chosen])
        Y = torch.tensor([tokens[p + 1:p + 1 + num_steps] for p in chosen])
        yield X, Y


def seq_data_iter_sequential(corpus, batch_size, num_steps):
    """Sequential partitioning: batch_size parallel streams, read num_steps at a time, batch after batch."""
    offset = random.randint(0, num_steps)  # the book draws it from [0, num_steps], both ends included
    usable = (len(corpus) - offset - 1) // batch_size * batch_size
    Xs = torch.tensor(list(corpus[offset:offset + usable])).reshape(batch_size, -1)
    Ys = torch.tensor(list(corpus[offset + 1:offset + 1 + usable])).reshape(batch_size, -1)
    n_batches = Xs.shape[1] // num_steps
    for i in range(0, n_batches * num_steps, num_steps):
        yield Xs[:, i:i + num_steps], Ys[:, i:i + num_steps]
