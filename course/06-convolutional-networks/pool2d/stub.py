"""Exercise pool2d: max and average pooling (course 6.4; d2l-zh 6.5, d2l-en 7.5).

Read the lesson first:   d2l-tutor lesson pool2d
Grade your work:         d2l-tutor grade pool2d
Stuck? Ask for a hint:   d2l-tutor hint pool2d
"""

import torch


def pool2d(X, pool_size, mode='max'):
    """Return the max or average pooling of X with a (p_h, p_w) window, stride 1 and no padding.

    Arguments:
        X: a 2-D tensor of shape (h, w), the input.
        pool_size: a pair (p_h, p_w), the window's height and width, with
            p_h <= h and p_w <= w.
        mode: 'max' (each output is its window's largest value) or 'avg'
            (each output is its window's mean).

    Returns:
        A tensor Y of shape (h - p_h + 1, w - p_w + 1) where
            Y[i, j] = max (or mean) of X[i:i + p_h, j:j + p_w].

    Requirements the hidden tests check:
        * Y has X's dtype and lives on X's device.
        * Y is differentiable with respect to X: in max mode the gradient of
          each output goes to its window's largest element, in avg mode it is
          spread evenly, 1 / (p_h * p_w) to each element of the window.
        * Non-square windows work, e.g. (1, 2), (2, 1) and (2, 3).
        * X is left unchanged (no in-place writes into X).
        * Do not use F.max_pool2d, F.avg_pool2d, nn.MaxPool2d or nn.AvgPool2d.

    Example:
        >>> X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
        >>> pool2d(X, (2, 2))
        tensor([[4., 5.],
                [7., 8.]])
        >>> pool2d(X, (2, 2), 'avg')
        tensor([[2., 3.],
                [5., 6.]])
    """
    raise NotImplementedError("pool2d is not written yet: replace this line with your implementation")


def pool2d_strided(X, pool_size, stride, padding, mode='max'):
    """Return the max or average pooling of X with stride and padding, as nn.MaxPool2d / nn.AvgPool2d compute it.

    Arguments:
        X: a 2-D tensor of shape (h, w), the input.
        pool_size: the window (p_h, p_w); an int p means (p, p).
        stride: how far the window moves, (s_h, s_w); an int s means (s, s).
        padding: (pad_h, pad_w) rows added above AND below, columns added
            left AND right; an int means the same for both. At most half
            the window in each direction, as nn.MaxPool2d requires.
        mode: 'max' or 'avg'.

    Returns:
        A tensor Y of shape (out_h, out_w) with
            out_h = (h + 2 * pad_h - p_h) // s_h + 1
            out_w = (w + 2 * pad_w - p_w) // s_w + 1
        where Y[i, j] pools the window of the padded input whose top-left
        corner is (i * s_h, j * s_w). Windows that would run past the padded
        input's edge are dropped.

    Conventions (those of nn.MaxPool2d and nn.AvgPool2d with their defaults):
        * max mode: padded positions never win (pad with -inf, not 0).
        * avg mode: padded positions count as zeros and the sum is always
          divided by p_h * p_w (count_include_pad=True).

    Requirements the hidden tests check:
        * The values equal nn.MaxPool2d / nn.AvgPool2d on X[None, None].
        * Y has X's dtype and lives on X's device; gradients reach X.
        * X is left unchanged (no in-place writes into X).
        * It is fast on large inputs: the smoke-check pools the feature maps
          of a whole batch stacked into one tall tensor (up to 64000 x 16). Loop over the
          p_h * p_w offsets inside the window (or use X.unfold), not over the
          output positions.
        * Do not use F.max_pool2d, F.avg_pool2d, nn.MaxPool2d or nn.AvgPool2d.

    Example:
        >>> X = torch.arange(16.0).reshape(4, 4)
        >>> pool2d_strided(X, 3, 2, 1)
        tensor([[ 5.,  7.],
                [13., 15.]])
        >>> pool2d_strided(X, (2, 3), (2, 2), (0, 1), 'avg')
        tensor([[ 1.6667,  4.0000],
                [ 7.0000, 12.0000]])
    """
    raise NotImplementedError("pool2d_strided is not written yet: replace this line with your implementation")
