"""Exercise corr2d: 2-D cross-correlation (course 6.1; d2l-zh 6.2, d2l-en 7.2).

Read the lesson first:   d2l-tutor lesson corr2d
Grade your work:         d2l-tutor grade corr2d
Stuck? Ask for a hint:   d2l-tutor hint corr2d
"""

import torch


def corr2d(X, K):
    """Return the 2-D cross-correlation of X with the kernel K.

    Arguments:
        X: a 2-D tensor of shape (h, w), the input.
        K: a 2-D tensor of shape (kh, kw), the kernel, with kh <= h and kw <= w.

    Returns:
        A tensor Y of shape (h - kh + 1, w - kw + 1) where
            Y[i, j] = sum over a, b of X[i + a, j + b] * K[a, b]
        i.e. stride 1 and no padding. The kernel is NOT flipped (this is
        cross-correlation, what deep-learning "convolution" layers compute).

    Requirements the hidden tests check:
        * Y has X's dtype and lives on X's device (create it with
          dtype=X.dtype, device=X.device).
        * Y is differentiable with respect to both X and K: gradients must flow
          back through your code (no .item(), .numpy() or torch.tensor(...) on
          intermediate values).
        * Non-square inputs and kernels work, including (1, 2), (2, 1) and
          (1, 1) kernels and a kernel as large as the input.
        * Do not use torch.nn.functional.conv2d, torch.conv2d or nn.Conv2d:
          the grader detects them.

    Example:
        >>> X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
        >>> K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
        >>> corr2d(X, K)
        tensor([[19., 25.],
                [37., 43.]])
    """
    raise NotImplementedError("corr2d is not written yet: replace this line with your implementation")
