"""Reference solution: sinusoidal positional encoding (course 12.4; d2l-zh 10.6, d2l-en 11.6)."""

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """Adds the fixed sine/cosine position table P to its input, then applies dropout."""

    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        positions = torch.arange(max_len, dtype=torch.float32).reshape(-1, 1)           # i, shape (max_len, 1)
        exponents = torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens   # 2j / d, one per pair
        angles = positions / torch.pow(10000, exponents)                                 # (max_len, ceil(d / 2))
        P = torch.zeros(1, max_len, num_hiddens)
        P[:, :, 0::2] = torch.sin(angles)
        P[:, :, 1::2] = torch.cos(angles[:, :num_hiddens // 2])  # odd d: the last pair has only its sine column
        self.register_buffer("P", P, persistent=False)  # moves with .to(device); rebuilt, so not saved

    def forward(self, X):
        X = X + self.P[:, :X.shape[1], :]
        return self.dropout(X)
