"""Exercise additive_attention: masked softmax and additive attention
(course 12.2; d2l-zh 10.3, d2l-en 11.3).

Read the lesson first:   d2l-tutor lesson additive_attention
Grade your work:         d2l-tutor grade additive_attention
Stuck? Ask for a hint:   d2l-tutor hint additive_attention

Write masked_softmax first: AdditiveAttention uses it. Shapes below use B = batch
size, Q = number of queries, K = number of key-value pairs.
"""

import torch
from torch import nn

# Given: sequence_mask(X, valid_len, value=0) from exercise sequence_mask (course 11.7), the reference answer.
# It returns a copy of X with every step t >= valid_len[b] of row b set to `value`. Use it or not, as you like.
from tutor.given import sequence_mask


def masked_softmax(X, valid_lens):
    """Softmax over the last axis of X, ignoring the keys past each valid length.

    Arguments:
        X: a float tensor of shape (B, Q, K): attention scores, one row of K
            scores per query.
        valid_lens: None, or an integer tensor on X's device of shape
            * (B,):   batch item b may look at its first valid_lens[b] keys,
                      the same for every one of its Q queries;
            * (B, Q): query q of batch item b may look at its first
                      valid_lens[b, q] keys.
            Every valid length is between 1 and K.

    Returns:
        A tensor with X's shape, dtype and device. With valid_lens None it is
        the plain softmax over the last axis. Otherwise, in row (b, q), every
        score at a key position k >= its valid length is replaced by -1e6
        before the softmax (the book's choice), so after the softmax those
        weights are exactly 0 and the remaining weights of the row sum to 1.

    Requirements the tests check:
        * Both shapes of valid_lens. A (B,) tensor must be expanded so that
          all Q rows of item b get valid_lens[b]: when X is flattened to
          (B * Q, K), row b * Q + q belongs to item b, which is the order of
          torch.repeat_interleave(valid_lens, Q) (not valid_lens.repeat(Q)).
        * Mask BEFORE the softmax, with a large negative number (-1e6), not 0.
        * The position k == valid length is the first masked one (use <).
        * The masking is yours to write: with the given sequence_mask on the
          flattened (B * Q, K) scores, or with your own mask (torch.arange and
          broadcasting) built on X's device.

    Example:
        >>> masked_softmax(torch.zeros(2, 2, 4), torch.tensor([2, 3]))
        tensor([[[0.5000, 0.5000, 0.0000, 0.0000],
                 [0.5000, 0.5000, 0.0000, 0.0000]],
                [[0.3333, 0.3333, 0.3333, 0.0000],
                 [0.3333, 0.3333, 0.3333, 0.0000]]])
        >>> masked_softmax(torch.zeros(2, 2, 4), torch.tensor([[1, 3], [2, 4]]))
        tensor([[[1.0000, 0.0000, 0.0000, 0.0000],
                 [0.3333, 0.3333, 0.3333, 0.0000]],
                [[0.5000, 0.5000, 0.0000, 0.0000],
                 [0.2500, 0.2500, 0.2500, 0.2500]]])
    """
    raise NotImplementedError("masked_softmax is not written yet: replace this line with your implementation")


class AdditiveAttention(nn.Module):
    """Additive attention: a one-hidden-layer tanh network scores each query-key pair.

    Created as AdditiveAttention(key_size, query_size, num_hiddens, dropout),
    where dropout is the probability of nn.Dropout applied to the attention
    weights (inactive in eval mode). Queries and keys may have different
    sizes. Calling it runs forward:
        attention = AdditiveAttention(2, 20, 8, 0.1)
        out = attention(queries, keys, values, valid_lens)   # (B, Q, v)
    """

    def __init__(self, key_size, query_size, num_hiddens, dropout):
        """Build the layers. Use exactly these attribute names (the grader copies weights by name):

            self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
            self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
            self.w_v = nn.Linear(num_hiddens, 1, bias=False)

        plus an nn.Dropout(dropout) for the attention weights. Create no
        other parameters (no biases).
        """
        super().__init__()
        raise NotImplementedError("AdditiveAttention.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, queries, keys, values, valid_lens):
        """Return the attention-weighted sum of the values.

        Arguments:
            queries: (B, Q, query_size).
            keys: (B, K, key_size).
            values: (B, K, v).
            valid_lens: None, (B,) or (B, Q), as in masked_softmax.

        Returns:
            A tensor of shape (B, Q, v):
                features = tanh(W_q q + W_k k) for every query q and key k,
                           shape (B, Q, K, num_hiddens) by broadcasting
                           (B, Q, 1, num_hiddens) against (B, 1, K, num_hiddens)
                scores   = w_v(features) without its last axis, shape (B, Q, K)
                weights  = masked_softmax(scores, valid_lens)
                result   = dropout(weights) @ values

        Requirements the tests check:
            * Row q of the scores belongs to query q: score[b, q, k] compares
              query q with key k (not the other way round).
            * The tanh sits between the sum and w_v.
            * The weights (after the softmax, before dropout) are stored in
              self.attention_weights, shape (B, Q, K): d2l plots them.
            * Keys past a valid length (and their values) do not change the
              result; in eval mode dropout is inactive; gradients reach W_q,
              W_k and w_v.

        Example (the book's: all keys equal, so the weights are uniform over
        the valid keys whatever the layers' weights):
            >>> attention = AdditiveAttention(2, 20, 8, 0.1).eval()
            >>> values = torch.arange(40.0).reshape(1, 10, 4).repeat(2, 1, 1)
            >>> attention(torch.randn(2, 1, 20), torch.ones(2, 10, 2), values,
            ...           torch.tensor([2, 6]))
            tensor([[[ 2.,  3.,  4.,  5.]],
                    [[10., 11., 12., 13.]]])
        """
        raise NotImplementedError("AdditiveAttention.forward is not written yet: replace this line with your "
                                  "implementation")
