"""Exercise transformer: the position-wise FFN, add & norm, and the Transformer encoder block
(course 12.5; d2l-zh 10.7, d2l-en 11.7).

Read the lesson first:   d2l-tutor lesson transformer
Grade your work:         d2l-tutor grade transformer
Stuck? Ask for a hint:   d2l-tutor hint transformer

Write the three classes in order: EncoderBlock is built from the other two and the given
MultiHeadAttention. Shapes below use B = batch size, T = number of time steps (positions),
d = num_hiddens. Keep the attribute names given here: the grader copies weights by name, and a
later exercise (bert) builds its encoder from your EncoderBlock.
"""

import torch
from torch import nn

# Given: MultiHeadAttention(key_size, query_size, value_size, num_hiddens, num_heads, dropout, bias=False) from
# exercise multihead_attention (course 12.5), the reference answer. Called as attention(queries, keys, values,
# valid_lens) with queries (B, Q, query_size), keys (B, K, key_size), values (B, K, value_size) and valid_lens None,
# (B,) or (B, Q), it returns (B, Q, num_hiddens); its weights are W_q, W_k, W_v and W_o (nn.Linear each).
from tutor.given import MultiHeadAttention


class PositionWiseFFN(nn.Module):
    """The position-wise feed-forward network: one small MLP applied to every position.

    Created as PositionWiseFFN(ffn_num_input, ffn_num_hiddens, ffn_num_outputs).
    Used as
        ffn = PositionWiseFFN(4, 4, 8)
        ffn(torch.ones(2, 3, 4)).shape   # torch.Size([2, 3, 8])
    """

    def __init__(self, ffn_num_input, ffn_num_hiddens, ffn_num_outputs):
        """Build the layers. Use exactly these attribute names (the grader loads weights by name):

            self.dense1 = nn.Linear(ffn_num_input, ffn_num_hiddens)     (with a bias)
            self.relu   = nn.ReLU()
            self.dense2 = nn.Linear(ffn_num_hiddens, ffn_num_outputs)   (with a bias)

        Create no other parameters.
        """
        super().__init__()
        raise NotImplementedError("PositionWiseFFN.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X):
        """Return dense2(relu(dense1(X))).

        Arguments:
            X: a float tensor of shape (B, T, ffn_num_input).

        Returns:
            A tensor of shape (B, T, ffn_num_outputs) on X's device. Every
            position t goes through the same MLP on its own: the output at
            (b, t) depends only on X[b, t].

        Requirements the tests check:
            * The ReLU sits between the two linear layers.
            * The book's shapes: (2, 3, 4) in, (2, 3, 8) out for
              PositionWiseFFN(4, 4, 8).
        """
        raise NotImplementedError("PositionWiseFFN.forward is not written yet: replace this line with your "
                                  "implementation")


class AddNorm(nn.Module):
    """A residual connection followed by layer normalization ("add & norm").

    Created as AddNorm(normalized_shape, dropout): normalized_shape is an int
    or a list of ints, the trailing dimensions to normalize over (as
    nn.LayerNorm takes it), dropout a probability. Used as
        add_norm = AddNorm([3, 4], 0.5)
        add_norm(X, Y)      # X, Y: (2, 3, 4) -> (2, 3, 4)
    """

    def __init__(self, normalized_shape, dropout):
        """Build the layers. Use exactly these attribute names:

            self.dropout = nn.Dropout(dropout)
            self.ln      = a layer normalization over normalized_shape
                           (learnable scale and shift, eps = 1e-5)
        """
        super().__init__()
        raise NotImplementedError("AddNorm.__init__ is not written yet: replace this line with your implementation")

    def forward(self, X, Y):
        """Return LayerNorm(dropout(Y) + X).

        Arguments:
            X: the input of the sublayer (the residual branch), shape (B, T, d).
            Y: the output of the sublayer, the same shape as X.

        Returns:
            A tensor of X's shape and device: dropout is applied to Y only,
            then X is added, then each position is normalized over the last
            dimensions (normalized_shape).

        Requirements the tests check:
            * Layer normalization, not batch normalization: every position
              of every example is normalized on its own, so the result does
              not depend on the other examples in the batch. With
              normalized_shape = 2 (the lesson's comparison):
                X = zeros, Y = [[1, 2], [2, 3]]  ->  [[-1, 1], [-1, 1]]
              (up to eps), whereas batch normalization would give
              [[-1, -1], [1, 1]].
            * The order: dropout on Y, add X, normalize the sum. Not
              X + LayerNorm(Y), and not without X.
            * Dropout touches Y only, and only in training mode: with Y = 0
              the result is the same in both modes.
        """
        raise NotImplementedError("AddNorm.forward is not written yet: replace this line with your implementation")


class EncoderBlock(nn.Module):
    """One block of the Transformer encoder.

    Created as
        EncoderBlock(key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens,
                     num_heads, dropout, use_bias=False)
    Used as (the book's example)
        block = EncoderBlock(24, 24, 24, 24, [100, 24], 24, 48, 8, 0.5)
        block.eval()
        block(torch.ones(2, 100, 24), torch.tensor([3, 2])).shape   # torch.Size([2, 100, 24])
    """

    def __init__(self, key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens,
                 num_heads, dropout, use_bias=False):
        """Build the parts. Use exactly these attribute names:

            self.attention = the given MultiHeadAttention(key_size, query_size,
                             value_size, num_hiddens, num_heads, dropout, use_bias)
            self.addnorm1  = AddNorm(norm_shape, dropout)
            self.ffn       = PositionWiseFFN(ffn_num_input, ffn_num_hiddens, num_hiddens)
            self.addnorm2  = AddNorm(norm_shape, dropout)
        """
        super().__init__()
        raise NotImplementedError("EncoderBlock.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X, valid_lens):
        """Return the block's output.

        Arguments:
            X: a float tensor of shape (B, T, num_hiddens).
            valid_lens: None, or an integer tensor of shape (B,) or (B, T):
                the keys each example (or each query) may attend to, as in
                MultiHeadAttention.

        Returns:
            A tensor of shape (B, T, num_hiddens):
                Y   = addnorm1(X, self-attention of X with queries, keys and
                      values all X, and valid_lens)
                out = addnorm2(Y, ffn(Y))

        Requirements the tests check:
            * It equals the reference given the same weights (with and
              without use_bias).
            * valid_lens reaches the attention: with norm_shape = num_hiddens,
              changing X at padded positions does not change the outputs at
              the valid positions.
            * In eval mode dropout is inactive; gradients reach every weight.
        """
        raise NotImplementedError("EncoderBlock.forward is not written yet: replace this line with your "
                                  "implementation")
