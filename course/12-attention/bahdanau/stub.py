"""Exercise bahdanau: the RNN decoder with Bahdanau attention
(course 12.3; d2l-zh 10.4, d2l-en 11.4).

Read the lesson first:   d2l-tutor lesson bahdanau
Grade your work:         d2l-tutor grade bahdanau
Stuck? Ask for a hint:   d2l-tutor hint bahdanau

The book derives the decoder from its AttentionDecoder interface (a Decoder
with an attention_weights property); here it subclasses nn.Module directly.
Shapes below use B = batch size, T = decoder steps, K = source steps,
V = vocab_size, E = embed_size, H = num_hiddens, L = num_layers.
"""

import torch
from torch import nn

# Given: the reference answers of earlier exercises.
# AdditiveAttention(key_size, query_size, num_hiddens, dropout) (exercise additive_attention, course 12.2):
#   attention(queries (B, Q, query_size), keys (B, K, key_size), values (B, K, v), valid_lens)
#   returns (B, Q, v) and keeps its weights, (B, Q, K), in attention.attention_weights.
# Seq2SeqEncoder(vocab_size, embed_size, num_hiddens, num_layers, dropout=0) (exercise seq2seq, course 11.7):
#   encoder(X) returns (outputs (K, B, H), state (L, B, H)); not needed for the class, handy in a notebook.
from tutor.given import AdditiveAttention, Seq2SeqEncoder  # noqa: F401


class Seq2SeqAttentionDecoder(nn.Module):
    """The RNN decoder with Bahdanau attention.

    Created as Seq2SeqAttentionDecoder(vocab_size, embed_size, num_hiddens,
    num_layers, dropout=0). Used as
        encoder = Seq2SeqEncoder(10, 8, 16, 2)
        decoder = Seq2SeqAttentionDecoder(10, 8, 16, 2)
        state = decoder.init_state(encoder(X), None)   # X: (4, 7) token ids
        Y_hat, state = decoder(X, state)                 # Y_hat: (4, 7, 10)
        len(decoder.attention_weights)                   # 7, one per step
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        """Build the layers. Use exactly these attribute names (the grader
        copies weights by name) and create no other parameters:

            self.attention: the given AdditiveAttention with keys, queries and
                            hidden size all num_hiddens, and this dropout
            self.embedding: nn.Embedding with vocab_size rows of size embed_size
            self.rnn:       nn.GRU from embed_size + num_hiddens (the context
                            and the embedding, joined) to num_hiddens,
                            num_layers layers, dropout between layers =
                            dropout, time-major (PyTorch's default)
            self.dense:     nn.Linear from num_hiddens to vocab_size
        """
        super().__init__()
        raise NotImplementedError("Seq2SeqAttentionDecoder.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def init_state(self, enc_outputs, enc_valid_lens, *args):
        """Build the decoder's first state from the encoder's result.

        Arguments:
            enc_outputs: the pair (outputs, hidden_state) the encoder
                returned: outputs (K, B, H), time-major; hidden_state (L, B, H).
            enc_valid_lens: None, or a (B,) integer tensor: the number of real
                (not padding) source tokens of each sequence.
            *args: ignored.

        Returns:
            The tuple (enc_outputs, hidden_state, enc_valid_lens) where
            enc_outputs is the outputs rearranged batch-first, (B, K, H): they
            are the keys and the values of the attention. hidden_state and
            enc_valid_lens are passed on unchanged.
        """
        raise NotImplementedError("Seq2SeqAttentionDecoder.init_state is not written yet: replace this line with "
                                  "your implementation")

    def forward(self, X, state):
        """Decode T steps, teacher-forced by the tokens in X.

        Arguments:
            X: an integer tensor of shape (B, T): the decoder's input tokens.
            state: (enc_outputs (B, K, H), hidden_state (L, B, H),
                enc_valid_lens), as init_state or the previous call returns it.

        Returns:
            The pair (Y_hat, new_state):
            * Y_hat: (B, T, V), unnormalized scores of the next token at every
              step, batch-major;
            * new_state: (enc_outputs, hidden_state after the last step,
              enc_valid_lens), so that decoding in several calls (one token at
              a time, as prediction does) gives the same scores as one call.

            The steps run one after another; before step t:
            1. the query is the TOP layer's hidden state after step t - 1
               (before step 0: the hidden_state the call received), shape
               (B, 1, H);
            2. the context is self.attention(query, enc_outputs, enc_outputs,
               enc_valid_lens), shape (B, 1, H);
            3. the GRU's input is the context and the embedding of X[:, t]
               joined along the features, context FIRST (as the book does):
               (1, B, H + E); the GRU continues from the current hidden state.
            The GRU's outputs of all steps go through self.dense.

        Requirements the tests check:
            * The queries come from the hidden state of the previous step, the
              top layer's, updated at every step (not the first layer's, and
              not the encoder's final state reused for all steps).
            * The scores equal the reference's given the same weights.
            * After each call, self.attention_weights (a property is fine) is a
              list with one (B, 1, K) tensor per step of THAT call: the
              attention's weights, zero past each valid length.
            * dropout reaches the GRU and the attention; eval mode is
              deterministic; results stay on the inputs' device.
        """
        raise NotImplementedError("Seq2SeqAttentionDecoder.forward is not written yet: replace this line with your "
                                  "implementation")

    @property
    def attention_weights(self):
        """The list of the last call's attention weights, one (B, 1, K) tensor per step."""
        raise NotImplementedError("Seq2SeqAttentionDecoder.attention_weights is not written yet: replace this line "
                                  "with your implementation")
