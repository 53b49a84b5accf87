"""Reference solution: the perceptron learning algorithm (course 4.1; d2l-zh 4.1, d2l-en 5.1)."""

import torch


def train_perceptron(X, y, max_epochs=100):
    """Mistake-driven updates in data order from w = 0, b = 0; stop after the first pass without a mistake."""
    n, d = X.shape
    w = torch.zeros(d, dtype=X.dtype, device=X.device)
    b = torch.zeros((), dtype=X.dtype, device=X.device)
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for i in range(n):
            if y[i] * ((X[i] * w).sum() + b) <= 0:
                w += y[i] * X[i]
                b += y[i]
                mistakes += 1
        if mistakes == 0:
            return w, b, epoch
    return w, b, max_epochs
