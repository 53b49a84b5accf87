"""Reference solution: inverted dropout (course 4.5; d2l-zh 4.6, d2l-en 5.6)."""

import torch


def dropout_layer(X, dropout):
    """Zero each element of X independently with probability `dropout`; scale the survivors by 1 / (1 - dropout)."""
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1], got {dropout}")
    if dropout == 1.0:
        return torch.zeros_like(X)
    if dropout == 0.0:
        return X.clone()
    keep = torch.rand(X.shape, device=X.device) >= dropout
    return keep.to(X.dtype) * X / (1.0 - dropout)
