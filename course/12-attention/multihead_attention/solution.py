"""Reference solution: scaled dot-product attention and multi-head attention
(course 12.2-12.5; d2l-zh 10.2-10.5, d2l-en 11.2-11.5)."""

import math

import torch
from torch import nn

from tutor.given import masked_softmax


class DotProductAttention(nn.Module):
    """softmax(Q Kᵀ / √d) V with masking; the weights are kept in self.attention_weights."""

    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


def transpose_qkv(X, num_heads):
    """(batch, steps, num_hiddens) -> (batch * num_heads, steps, num_hiddens / num_heads), row b * num_heads + h."""
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)
    X = X.permute(0, 2, 1, 3)  # (batch, num_heads, steps, head_size)
    return X.reshape(-1, X.shape[2], X.shape[3])


def transpose_output(X, num_heads):
    """The inverse of transpose_qkv: (batch * num_heads, steps, head_size) -> (batch, steps, num_hiddens)."""
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])
    X = X.permute(0, 2, 1, 3)  # (batch, steps, num_heads, head_size)
    return X.reshape(X.shape[0], X.shape[1], -1)


class MultiHeadAttention(nn.Module):
    """num_heads scaled dot-product attentions run in parallel on learned projections, then mixed by W_o."""

    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout, bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
        self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens):
        queries = transpose_qkv(self.W_q(queries), self.num_heads)
        keys = transpose_qkv(self.W_k(keys), self.num_heads)
        values = transpose_qkv(self.W_v(values), self.num_heads)
        if valid_lens is not None:
            # Row b * num_heads + h of the heads' batch belongs to batch item b: copy each length num_heads times in a row.
            valid_lens = torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
        output = self.attention(queries, keys, values, valid_lens)  # (batch * num_heads, queries, head_size)
        return self.W_o(transpose_output(output, self.num_heads))
