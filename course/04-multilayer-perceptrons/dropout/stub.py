"""Exercise dropout: inverted dropout from scratch (course 4.5; d2l-zh 4.6, d2l-en 5.6).

Read the lesson first:   d2l-tutor lesson dropout
Grade your work:         d2l-tutor grade dropout
Stuck? Ask for a hint:   d2l-tutor hint dropout
"""

import torch


def dropout_layer(X, dropout):
    """Apply inverted dropout to X: zero each element with probability `dropout`.

    Arguments:
        X: a tensor of any shape (a batch of hidden activations), float32 or
            float64, on any device.
        dropout: a Python float p with 0 <= p <= 1, the probability of ZEROING
            an element (not of keeping it).

    Returns:
        A new tensor with X's shape in which each element is, independently of
        all the others,
            0                  with probability p
            X[i] / (1 - p)     with probability 1 - p
        so that its expected value equals X[i] ("inverted" dropout: the scaling
        happens during training, so nothing changes at test time).

    Requirements the hidden tests check:
        * Every element gets its own coin flip: the random mask has X's full
          shape (not one flip per row or per column), and each call draws a
          fresh mask (do not seed the random generator inside the function).
        * dropout == 1 returns all zeros (torch.zeros_like(X)), never NaN or
          inf; dropout == 0 returns X's values unchanged.
        * A probability outside [0, 1] raises an error (raise a ValueError, or
          use an assert).
        * The result has X's dtype and lives on X's device (create the mask
          with device=X.device, or use torch.rand_like).
        * X itself is not modified: no X *= mask, X[...] = 0 or X.mul_(...);
          build a new tensor.
        * Do not use torch.nn.functional.dropout, torch.dropout or nn.Dropout:
          the grader detects them.

    Example (the zeros fall at random places; the survivors are doubled):
        >>> X = torch.arange(8.0).reshape(2, 4)
        >>> dropout_layer(X, 0.5)
        tensor([[ 0.,  2.,  0.,  0.],
                [ 8.,  0., 12., 14.]])
        >>> dropout_layer(X, 0.0)
        tensor([[0., 1., 2., 3.],
                [4., 5., 6., 7.]])
        >>> dropout_layer(X, 1.0)
        tensor([[0., 0., 0., 0.],
                [0., 0., 0., 0.]])
    """
    raise NotImplementedError("dropout_layer is not written yet: replace this line with your implementation")
