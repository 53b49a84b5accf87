"""Exercise positional_encoding: the sinusoidal positional encoding of the Transformer
(course 12.4; d2l-zh 10.6, d2l-en 11.6).

Read the lesson first:   d2l-tutor lesson positional_encoding
Grade your work:         d2l-tutor grade positional_encoding
Stuck? Ask for a hint:   d2l-tutor hint positional_encoding

Self-attention treats its input as a set: shuffle the tokens and every output is shuffled the same way.
A positional encoding adds to token i a fixed vector that depends on i alone, so that order matters again.
Below, i is a position (0 <= i < max_len), d = num_hiddens, and j counts the column pairs (2j, 2j + 1).
"""

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """Adds a fixed table of sines and cosines to its input, then applies dropout.

    Created as PositionalEncoding(num_hiddens, dropout, max_len=1000) and used as
        pos_encoding = PositionalEncoding(32, 0.1)
        Y = pos_encoding(X)        # X and Y of shape (B, T, 32), T <= 1000
    """

    def __init__(self, num_hiddens, dropout, max_len=1000):
        """Build the table P and the dropout layer.

        Arguments:
            num_hiddens: d, the size of one token's vector (even or odd).
            dropout: the probability of the nn.Dropout applied in forward.
            max_len: the number of positions the table covers.

        Creates:
            self.P: a float32 tensor of shape (1, max_len, num_hiddens) with
                P[0, i, 2j]     = sin(i / 10000^(2j / d))
                P[0, i, 2j + 1] = cos(i / 10000^(2j / d))
            for every column that exists. Columns 2j and 2j + 1 share one
            frequency; the exponent is 2j / d (the even column's index over
            d), not j / d.
            Odd d (the course's rule): the last column, d - 1, is even, so it
            is a sine, sin(i / 10000^((d - 1) / d)), and has no cosine partner.
            Register P as a buffer, self.register_buffer("P", P) (persistent
            or not, as you like): .to(device) then moves it with the module,
            and it is not a parameter, so no optimizer changes it.
            self.dropout: an nn.Dropout(dropout).

        Example (d = 4, positions 0 and 1; the frequencies are 1 and 1/100):
            >>> PositionalEncoding(4, 0.0, max_len=2).P
            tensor([[[0.0000, 1.0000, 0.0000, 1.0000],
                     [0.8415, 0.5403, 0.0100, 0.9999]]])
        """
        super().__init__()
        raise NotImplementedError("PositionalEncoding.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X):
        """Return dropout(X + P) for the first T positions.

        Arguments:
            X: a float tensor of shape (B, T, num_hiddens) with T <= max_len,
                on the module's device.

        Returns:
            A tensor of X's shape: self.dropout(X + self.P[:, :T, :]).
            * The same row of P is added to every item of the batch (P's
              first axis has size 1 and broadcasts over B).
            * P is cut to the T positions of X before adding.
            * The position is added BEFORE dropout, so dropout sees X + P.
            * Dropout acts in training mode only (nn.Dropout does this); in
              eval mode the result is exactly X + P[:, :T, :].

        Example:
            >>> PositionalEncoding(4, 0.0).eval()(torch.zeros(2, 2, 4))[1]
            tensor([[0.0000, 1.0000, 0.0000, 1.0000],
                    [0.8415, 0.5403, 0.0100, 0.9999]])
        """
        raise NotImplementedError("PositionalEncoding.forward is not written yet: replace this line with your "
                                  "implementation")
