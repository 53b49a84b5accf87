"""Exercise softmax_regression: softmax, cross-entropy and accuracy (course 3.2; d2l-zh 3.4 and 3.6, d2l-en 4.1
and 4.4).

Read the lesson first:   d2l-tutor lesson softmax_regression
Grade your work:         d2l-tutor grade softmax_regression
Stuck? Ask for a hint:   d2l-tutor hint softmax_regression
"""

import torch


def softmax(X):
    """Return the softmax of each row of X.

    Arguments:
        X: a 2-D tensor of shape (n, q), float32 or float64: one row of
            logits (unnormalised scores) per example, one column per class.

    Returns:
        A tensor of X's shape, dtype and device where
            result[i, j] = exp(X[i, j]) / sum over k of exp(X[i, k])
        so every element is in [0, 1] and every ROW sums to 1.

    Requirements the tests check:
        * Row-wise: each row is normalised on its own (not each column, not
          the whole tensor).
        * Large logits work: a row such as [1000, 1001] gives
          [0.2689, 0.7311], and a row such as [-1000, -1001] gives
          [0.7311, 0.2689], with no NaN or inf, in float32.
        * X itself is left unchanged (build new tensors).
        * Gradients flow back through the result to X.
        * Do not use torch.softmax, F.softmax, X.softmax, log_softmax or
          nn.Softmax: the grader detects them.

    Example:
        >>> softmax(torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
        tensor([[0.0900, 0.2447, 0.6652],
                [0.3333, 0.3333, 0.3333]])
    """
    raise NotImplementedError("softmax is not written yet: replace this line with your implementation")


def cross_entropy(y_hat, y):
    """Return the cross-entropy loss of each example.

    Arguments:
        y_hat: a 2-D tensor of shape (n, q): predicted probabilities, one row
            per example (the output of softmax).
        y: a 1-D tensor of shape (n,), dtype int64: the true class of each
            example, an index in 0 .. q - 1.

    Returns:
        A 1-D tensor of shape (n,), with y_hat's dtype and device, where
            result[i] = -log(y_hat[i, y[i]])
        i.e. one loss per example, NOT their mean or sum (the training loop
        takes the mean itself, as in the book).

    Requirements the tests check:
        * Gradients flow back through the result to y_hat: the mean of
          cross_entropy(softmax(O), y) has the gradient
          (softmax(O) - one_hot(y)) / n with respect to O.
        * Do not use F.cross_entropy, nn.CrossEntropyLoss, F.nll_loss or
          nn.NLLLoss: the grader detects them.

    Example (the book's):
        >>> y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
        >>> cross_entropy(y_hat, torch.tensor([0, 2]))
        tensor([2.3026, 0.6931])
    """
    raise NotImplementedError("cross_entropy is not written yet: replace this line with your implementation")


def accuracy(y_hat, y):
    """Return the NUMBER of correct predictions (not a fraction).

    Arguments:
        y_hat: a 2-D tensor of shape (n, q): one row of class probabilities
            (or of logits) per example.
        y: a 1-D tensor of shape (n,), dtype int64: the true classes.

    Returns:
        A Python number (a float, as the book's accuracy returns): how many
        rows i have their largest value in column y[i]. Divide by n
        yourself when you want the fraction.

    Example (the book's):
        >>> y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
        >>> accuracy(y_hat, torch.tensor([0, 2]))
        1.0
    """
    raise NotImplementedError("accuracy is not written yet: replace this line with your implementation")
