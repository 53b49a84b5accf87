"""Reference solution: masked softmax and additive attention
(course 12.2; d2l-zh 10.3, d2l-en 11.3)."""

import torch
from torch import nn


def masked_softmax(X, valid_lens):
    """Softmax over the last axis of X (batch, queries, keys), with keys at positions >= the valid length masked."""
    if valid_lens is None:
        return torch.softmax(X, dim=-1)
    batch, num_queries, num_keys = X.shape
    if valid_lens.dim() == 1:
        lens = torch.repeat_interleave(valid_lens, num_queries)  # one length per (batch, query) row, batch-major
    else:
        lens = valid_lens.reshape(-1)
    keep = torch.arange(num_keys, device=X.device)[None, :] < lens.to(X.device)[:, None]  # (batch * queries, keys)
    scores = X.reshape(-1, num_keys).masked_fill(~keep, -1e6)  # a new tensor: X itself is left alone
    return torch.softmax(scores.reshape(X.shape), dim=-1)


class AdditiveAttention(nn.Module):
    """score(q, k) = w_vᵀ tanh(W_q q + W_k k); the weights are kept in self.attention_weights."""

    def __init__(self, key_size, query_size, num_hiddens, dropout):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens):
        queries, keys = self.W_q(queries), self.W_k(keys)
        # (B, Q, 1, h) + (B, 1, K, h): every query meets every key
        features = torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)
