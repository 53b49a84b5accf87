"""Exercise perceptron: the perceptron learning algorithm (course 4.1; d2l-zh 4.1, d2l-en 5.1).

Read the lesson first:   d2l-tutor lesson perceptron
Grade your work:         d2l-tutor grade perceptron
Stuck? Ask for a hint:   d2l-tutor hint perceptron
"""

import torch


def train_perceptron(X, y, max_epochs=100):
    """Train a perceptron on (X, y) with the classic mistake-driven algorithm.

    Arguments:
        X: a float tensor of shape (n, d), one example per row, on any device.
        y: a tensor of shape (n,) with X's dtype and device: the labels, each
            -1.0 or 1.0.
        max_epochs: the largest number of passes over the data (an int >= 1).

    The algorithm (the tests check every step of it):
        * Start from w = 0 (d zeros) and b = 0.
        * A pass (an epoch) visits the examples in data order, i = 0, 1, ...,
          n - 1: no shuffling, no other order.
        * Example i is a MISTAKE when  y[i] * (<w, X[i]> + b) <= 0.
          Less than OR EQUAL: a point on the boundary counts as a mistake, so
          while w = 0 and b = 0 every example is one.
        * On a mistake, and only on a mistake:
              w <- w + y[i] * X[i]
              b <- b + y[i]
          and the next example is checked with the new w and b.
        * Stop after the first pass that made no mistake, or after max_epochs
          passes, whichever comes first.

    Returns:
        A tuple (w, b, epochs):
            w: a tensor of shape (d,), with X's dtype and on X's device.
            b: a 0-dim tensor (a scalar), with X's dtype and on X's device.
            epochs: a Python int, the number of passes made, COUNTING the
                final pass without a mistake: if passes 1 and 2 make mistakes
                and pass 3 makes none, epochs == 3. When no pass is free of
                mistakes, epochs == max_epochs and (w, b) are the values after
                the last pass.

    Requirements the tests check:
        * X and y are left unchanged.
        * On data that no line can separate (XOR) no pass is ever free of
          mistakes, so the result has epochs == max_epochs.

    Example (worked out by hand in the lesson):
        >>> X = torch.tensor([[0.0, 1.0], [0.0, -2.0], [-1.0, 0.0], [0.0, -1.0]])
        >>> y = torch.tensor([1.0, 1.0, -1.0, 1.0])
        >>> train_perceptron(X, y)
        (tensor([2., 0.]), tensor(1.), 3)
        >>> train_perceptron(X, y, max_epochs=1)    # stopped after pass 1
        (tensor([ 1., -1.]), tensor(1.), 1)
    """
    raise NotImplementedError("train_perceptron is not written yet: replace this line with your implementation")
