"""Exercise batch_norm: batch normalization from scratch (course 7.5; d2l-zh 7.5, d2l-en 8.5).

Read the lesson first:   d2l-tutor lesson batch_norm
Grade your work:         d2l-tutor grade batch_norm
Stuck? Ask for a hint:   d2l-tutor hint batch_norm
"""

import torch
from torch import nn


def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    """Batch-normalise X and return (Y, moving_mean, moving_var), as the book's batch_norm does.

    Arguments:
        X: a float tensor, either 2-D of shape (N, C) (the output of a fully
            connected layer: C features) or 4-D of shape (N, C, H, W) (the
            output of a convolutional layer: C channels).
        gamma, beta: the scale and shift, of shape (1, C) for a 2-D X and
            (1, C, 1, 1) for a 4-D X.
        moving_mean, moving_var: the moving statistics, of gamma's shape.
        eps: a small positive float added to the variance, e.g. 1e-5.
        momentum: a float in [0, 1], e.g. 0.9: how much of the OLD moving
            statistics is kept at each update.

    The mode is decided as the book decides it:
        * Training mode when torch.is_grad_enabled() is True. The statistics
          come from the batch: per feature over dimension 0 for a 2-D X, per
          channel over dimensions 0, 2 and 3 (N, H, W) for a 4-D X. With
          m the number of values averaged,
              mean = (1/m) Σ x          var = (1/m) Σ (x - mean)²
          (the BIASED variance: divide by m, not m - 1).
              Y = gamma * (X - mean) / sqrt(var + eps) + beta
          and the moving statistics are updated with
              new_moving_mean = momentum * moving_mean + (1 - momentum) * mean
              new_moving_var  = momentum * moving_var  + (1 - momentum) * var
          (this is the book's convention: nn.BatchNorm2d's `momentum` means
          the reverse, the weight of the NEW batch).
        * Prediction mode when torch.is_grad_enabled() is False (under
          torch.no_grad()): Y = gamma * (X - moving_mean) / sqrt(moving_var
          + eps) + beta, with the moving statistics returned unchanged.

    Returns:
        (Y, moving_mean, moving_var): Y has X's shape; the two moving
        statistics have the shape of the ones passed in ((1, C) or
        (1, C, 1, 1)). In training mode they are the UPDATED ones.

    Requirements the hidden tests check:
        * Gradients flow from Y back to X, gamma and beta.
        * Do not use torch.nn.functional.batch_norm or nn.BatchNorm1d/2d:
          the grader detects them.

    Example:
        >>> X = torch.tensor([[1.0, 10.0], [3.0, 30.0]])
        >>> ones, zeros = torch.ones(1, 2), torch.zeros(1, 2)
        >>> Y, mm, mv = batch_norm(X, ones, zeros, zeros, ones, eps=0.0, momentum=0.9)
        >>> Y
        tensor([[-1., -1.],
                [ 1.,  1.]])
        >>> mm, mv
        (tensor([[0.2000, 2.0000]]), tensor([[ 1.0000, 10.9000]]))
    """
    raise NotImplementedError("batch_norm is not written yet: replace this line with your implementation")


class BatchNorm(nn.Module):
    """The book's batch-normalization layer, built on your batch_norm.

    BatchNorm(num_features, num_dims): num_dims is 2 after a fully connected
    layer (X of shape (N, num_features)) and 4 after a convolutional layer
    (X of shape (N, num_features, H, W)).

    Attributes (all of shape (1, num_features) when num_dims is 2, and
    (1, num_features, 1, 1) when num_dims is 4):
        gamma: an nn.Parameter, initially all ones.
        beta: an nn.Parameter, initially all zeros.
        moving_mean: a plain tensor (not a parameter), initially all zeros.
        moving_var: a plain tensor (not a parameter), initially all ones.

    forward(X) first moves moving_mean and moving_var to X's device (when
    they are elsewhere), then calls batch_norm(X, gamma, beta, moving_mean,
    moving_var, eps=1e-5, momentum=0.9), stores the moving statistics it
    returns in self.moving_mean and self.moving_var, and returns Y.

    Example:
        >>> bn = BatchNorm(6, num_dims=4)
        >>> bn(torch.randn(8, 6, 5, 5)).shape
        torch.Size([8, 6, 5, 5])
        >>> bn.moving_mean.shape
        torch.Size([1, 6, 1, 1])
    """

    def __init__(self, num_features, num_dims):
        super().__init__()
        raise NotImplementedError("BatchNorm.__init__ is not written yet")

    def forward(self, X):
        raise NotImplementedError("BatchNorm.forward is not written yet")
