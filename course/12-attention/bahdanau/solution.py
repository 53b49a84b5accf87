"""Reference solution: the RNN decoder with Bahdanau attention (course 12.3; d2l-zh 10.4, d2l-en 11.4)."""

import torch
from torch import nn

from tutor.given import AdditiveAttention, Seq2SeqEncoder  # noqa: F401


class Seq2SeqAttentionDecoder(nn.Module):
    """A GRU decoder that, before every step, attends over the encoder's outputs with its previous top-layer state
    as the query, and reads the resulting context joined with the token's embedding."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self._attention_weights = []

    def init_state(self, enc_outputs, enc_valid_lens, *args):
        outputs, hidden_state = enc_outputs
        return outputs.permute(1, 0, 2), hidden_state, enc_valid_lens  # keys and values batch-first

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        steps = self.embedding(X).permute(1, 0, 2)  # (T, B, embed_size)
        outputs, self._attention_weights = [], []
        for x in steps:
            query = hidden_state[-1].unsqueeze(1)  # the top layer's state after the previous step: (B, 1, H)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)  # (B, 1, H)
            joined = torch.cat((context, x.unsqueeze(1)), dim=-1)  # (B, 1, H + embed_size)
            out, hidden_state = self.rnn(joined.permute(1, 0, 2), hidden_state)
            outputs.append(out)
            self._attention_weights.append(self.attention.attention_weights)
        outputs = self.dense(torch.cat(outputs, dim=0))  # (T, B, vocab_size)
        return outputs.permute(1, 0, 2), (enc_outputs, hidden_state, enc_valid_lens)

    @property
    def attention_weights(self):
        return self._attention_weights
