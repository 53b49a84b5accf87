"""Reference solution: batch normalization from scratch (course 7.5; d2l-zh 7.5, d2l-en 8.5)."""

import torch
from torch import nn


def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    """Normalise X with the batch's statistics when autograd is on (training), with the moving ones otherwise."""
    if not torch.is_grad_enabled():
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
        return gamma * X_hat + beta, moving_mean, moving_var
    if X.dim() == 2:
        dims = (0,)
    elif X.dim() == 4:
        dims = (0, 2, 3)
    else:
        raise ValueError(f"batch_norm expects a 2-D or 4-D X, not {X.dim()}-D")
    mean = X.mean(dim=dims, keepdim=True)
    var = ((X - mean) ** 2).mean(dim=dims, keepdim=True)
    X_hat = (X - mean) / torch.sqrt(var + eps)
    new_mean = momentum * moving_mean + (1.0 - momentum) * mean.detach()
    new_var = momentum * moving_var + (1.0 - momentum) * var.detach()
    return gamma * X_hat + beta, new_mean, new_var


class BatchNorm(nn.Module):
    """A batch-normalization layer for fully connected (num_dims=2) or convolutional (num_dims=4) outputs."""

    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.moving_mean = torch.zeros(shape)
        self.moving_var = torch.ones(shape)

    def forward(self, X):
        if self.moving_mean.device != X.device:
            self.moving_mean = self.moving_mean.to(X.device)
            self.moving_var = self.moving_var.to(X.device)
        Y, self.moving_mean, self.moving_var = batch_norm(
            X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5, momentum=0.9)
        return Y
