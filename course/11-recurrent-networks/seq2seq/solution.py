"""Reference solution: the RNN encoder-decoder for sequence to sequence learning (course 11.6-11.7; d2l-zh 9.6-9.7,
d2l-en 10.6-10.7)."""

import torch
from torch import nn


class Seq2SeqEncoder(nn.Module):
    """Embedding, then a multilayer GRU over the time-major sequence; returns all outputs and the final state."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

    def forward(self, X, *args):
        emb = self.embedding(X).permute(1, 0, 2)  # (batch, steps) -> (steps, batch, embed_size)
        output, state = self.rnn(emb)  # the GRU starts from zeros
        return output, state


class Seq2SeqDecoder(nn.Module):
    """A GRU whose input at every step is the token's embedding joined with the encoder's context vector."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, *args):
        enc_state = enc_outputs[1]
        return enc_state, enc_state[-1]  # the GRU's initial state, and the fixed context (the top layer's)

    def forward(self, X, state):
        H, context = state
        emb = self.embedding(X).permute(1, 0, 2)  # (steps, batch, embed_size)
        context_steps = context.unsqueeze(0).expand(emb.shape[0], -1, -1)  # the same context at every step
        output, H = self.rnn(torch.cat((emb, context_steps), dim=2), H)
        return self.dense(output).permute(1, 0, 2), (H, context)
