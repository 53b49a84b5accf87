"""Reference solution: Nadaraya-Watson kernel regression, non-parametric and parametric
(course 12.1; d2l-zh 10.2, d2l-en 11.2)."""

import torch
from torch import nn


def nw_predict(x_train, y_train, x_query):
    """Gaussian-kernel attention pooling: (predictions (m,), attention weights (m, n))."""
    # scores[i, j] = -(x_query[i] - x_train[j])² / 2; the query runs along the rows, the keys along the columns
    scores = -(x_query[:, None] - x_train[None, :]) ** 2 / 2
    weights = torch.softmax(scores, dim=1)  # softmax subtracts each row's maximum: far queries stay finite
    return weights @ y_train, weights


class NWKernelRegression(nn.Module):
    """Parametric Nadaraya-Watson regression: one learnable scalar w scales every query-key distance."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.rand((1,)))

    def forward(self, queries, keys, values):
        # queries: (n,); keys and values: (n, m), row i holding the pairs that query i attends to
        scores = -((queries[:, None] - keys) * self.w) ** 2 / 2
        self.attention_weights = torch.softmax(scores, dim=1)  # (n, m)
        return (self.attention_weights * values).sum(dim=1)
