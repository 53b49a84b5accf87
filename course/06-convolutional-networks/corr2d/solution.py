"""Reference solution: 2-D cross-correlation (course 6.1; d2l-zh 6.2, d2l-en 7.2)."""

import torch


def corr2d(X, K):
    """Slide K over X (stride 1, no padding) and sum the elementwise products at each position."""
    kh, kw = K.shape
    out_h, out_w = X.shape[0] - kh + 1, X.shape[1] - kw + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
