"""Exercise multihead_attention: scaled dot-product attention and multi-head attention
(course 12.2-12.5; d2l-zh 10.2-10.5, d2l-en 11.2-11.5).

Read the lesson first:   d2l-tutor lesson multihead_attention
Grade your work:         d2l-tutor grade multihead_attention
Stuck? Ask for a hint:   d2l-tutor hint multihead_attention

Write the four pieces in order: each one uses the ones above it. Shapes below use
B = batch size, Q = number of queries, K = number of key-value pairs.
"""

import math

import torch
from torch import nn

# Given: masked_softmax(X, valid_lens) from exercise additive_attention (course 12.2), the reference answer.
# X: (B, Q, K) scores; valid_lens: None, (B,) or (B, Q). It returns the softmax over the last axis with every key
# at a position k >= its valid length given weight exactly 0 (its score replaced by -1e6 before the softmax).
from tutor.given import masked_softmax


class DotProductAttention(nn.Module):
    """Scaled dot-product attention with masking and dropout on the attention weights.

    Created as DotProductAttention(dropout), where dropout is the probability
    of nn.Dropout applied to the attention weights (inactive in eval mode).
    It has no parameters of its own. Calling it runs forward:
        attention = DotProductAttention(0.1)
        out = attention(queries, keys, values, valid_lens)   # (B, Q, v)
    """

    def __init__(self, dropout):
        """Call super().__init__() and keep an nn.Dropout(dropout) for forward."""
        super().__init__()
        raise NotImplementedError("DotProductAttention.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, queries, keys, values, valid_lens=None):
        """Return the attention-weighted sum of the values.

        Arguments:
            queries: (B, Q, d).
            keys: (B, K, d), the same d as the queries.
            values: (B, K, v).
            valid_lens: None, (B,) or (B, Q), as in masked_softmax.

        Returns:
            A tensor of shape (B, Q, v):
                scores  = queries @ keysᵀ / √d           shape (B, Q, K)
                weights = masked_softmax(scores, valid_lens)
                result  = dropout(weights) @ values
            where d = queries.shape[-1], the size of ONE query vector.

        Requirements the hidden tests check:
            * The scaling is by √d: not by d, not by the number of keys, and
              not left out.
            * The weights (after the softmax, before dropout) are stored in
              self.attention_weights, shape (B, Q, K): d2l plots them.
            * torch.bmm (or @) on the batched tensors; no loops over the batch.
        """
        raise NotImplementedError("DotProductAttention.forward is not written yet: replace this line with your "
                                  "implementation")


def transpose_qkv(X, num_heads):
    """Split the last axis into num_heads heads and move the heads into the batch axis.

    Arguments:
        X: a tensor of shape (B, T, num_hiddens), num_hiddens divisible by
            num_heads.
        num_heads: the number of heads h.

    Returns:
        A tensor of shape (B * h, T, num_hiddens / h) in which row
        b * h + i holds head i of batch item b, i.e. the slice
        X[b, :, i * s:(i + 1) * s] with s = num_hiddens / h.
        Reshape to (B, T, h, s), swap the T and h axes with permute, then
        reshape to (B * h, T, s). A single reshape without the permute puts
        the wrong numbers in each head.

    Example (B = 1, T = 2, num_hiddens = 4, h = 2):
        >>> transpose_qkv(torch.arange(8.0).reshape(1, 2, 4), 2)
        tensor([[[0., 1.],
                 [4., 5.]],
                [[2., 3.],
                 [6., 7.]]])
    """
    raise NotImplementedError("transpose_qkv is not written yet: replace this line with your implementation")


def transpose_output(X, num_heads):
    """Undo transpose_qkv: (B * h, T, s) -> (B, T, h * s).

    Arguments:
        X: a tensor of shape (B * h, T, s), row b * h + i holding head i of
            batch item b (the layout transpose_qkv produces).
        num_heads: the number of heads h.

    Returns:
        A tensor of shape (B, T, h * s) in which the heads of each time step
        are concatenated again, head 0 first. It is the exact inverse:
        transpose_output(transpose_qkv(X, h), h) gives back X. Run the steps
        of transpose_qkv backwards: reshape to (B, h, T, s), permute to
        (B, T, h, s), reshape to (B, T, h * s).
    """
    raise NotImplementedError("transpose_output is not written yet: replace this line with your implementation")


class MultiHeadAttention(nn.Module):
    """Multi-head attention: num_heads scaled dot-product attentions in parallel.

    Created as
        MultiHeadAttention(key_size, query_size, value_size, num_hiddens, num_heads, dropout, bias=False)
    where num_hiddens is divisible by num_heads. Used as
        attention = MultiHeadAttention(5, 7, 6, 8, 2, 0.1)
        out = attention(queries, keys, values, valid_lens)   # (B, Q, 8)
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout, bias=False):
        """Build the layers. Use exactly these attribute names (the grader copies weights by name):

            self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
            self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
            self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
            self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

        plus self.num_heads and one DotProductAttention(dropout), which has no
        parameters. Create no other parameters.
        """
        super().__init__()
        raise NotImplementedError("MultiHeadAttention.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, queries, keys, values, valid_lens):
        """Return the multi-head attention output.

        Arguments:
            queries: (B, Q, query_size).
            keys: (B, K, key_size).
            values: (B, K, value_size).
            valid_lens: None, (B,) or (B, Q), as in masked_softmax.

        Returns:
            A tensor of shape (B, Q, num_hiddens):
            1. project with W_q, W_k, W_v and split each into heads with
               transpose_qkv: (B * num_heads, ., num_hiddens / num_heads);
            2. repeat every valid length once per head, keeping each batch
               item's copies together:
                   torch.repeat_interleave(valid_lens, repeats=num_heads, dim=0)
               (skip this when valid_lens is None);
            3. run your DotProductAttention on all heads at once;
            4. glue the heads back with transpose_output and apply W_o.

        Requirements the hidden tests check:
            * It equals the reference (and PyTorch's nn.MultiheadAttention)
              given the same weights, with masks that differ per batch item.
            * Each head's scores are scaled by √(num_hiddens / num_heads), the
              size of one head, which DotProductAttention does by itself.
            * In eval mode dropout is inactive: two calls give the same result.
            * Gradients reach W_q, W_k, W_v and W_o.
            * Do not use torch.nn.MultiheadAttention or
              torch.nn.functional.scaled_dot_product_attention: the grader
              detects them.
        """
        raise NotImplementedError("MultiHeadAttention.forward is not written yet: replace this line with your "
                                  "implementation")
