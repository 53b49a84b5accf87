"""Reference solution: max and average pooling (course 6.4; d2l-zh 6.5, d2l-en 7.5)."""

import torch
import torch.nn.functional as F


def pool2d(X, pool_size, mode='max'):
    """Slide a (p_h, p_w) window over X (stride 1, no padding); keep each window's maximum or mean."""
    p_h, p_w = pool_size
    out_h, out_w = X.shape[0] - p_h + 1, X.shape[1] - p_w + 1
    Y = torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            window = X[i:i + p_h, j:j + p_w]
            if mode == 'max':
                Y[i, j] = window.max()
            elif mode == 'avg':
                Y[i, j] = window.mean()
    return Y


def _pair(value):
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def pool2d_strided(X, pool_size, stride, padding, mode='max'):
    """Pool X with a window moved `stride` at a time over X padded on every side, as nn.MaxPool2d/nn.AvgPool2d."""
    (p_h, p_w), (s_h, s_w), (pad_h, pad_w) = _pair(pool_size), _pair(stride), _pair(padding)
    out_h = (X.shape[0] + 2 * pad_h - p_h) // s_h + 1
    out_w = (X.shape[1] + 2 * pad_w - p_w) // s_w + 1
    fill = float('-inf') if mode == 'max' else 0.0  # -inf never wins a max; zeros count in the mean
    Xp = F.pad(X, (pad_w, pad_w, pad_h, pad_h), value=fill)
    # one strided view per offset (a, b) inside the window: views[a * p_w + b][i, j] = Xp[i*s_h + a, j*s_w + b]
    views = torch.stack([Xp[a:a + s_h * (out_h - 1) + 1:s_h, b:b + s_w * (out_w - 1) + 1:s_w]
                         for a in range(p_h) for b in range(p_w)])
    if mode == 'max':
        return views.amax(0)
    return views.sum(0) / (p_h * p_w)
