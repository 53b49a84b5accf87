"""Reference solution: BERT's input representation, encoder, pre-training heads and masking rule
(course 12.6; d2l-zh 14.8, d2l-en 15.8)."""

import random

import torch
from torch import nn

from tutor.given import EncoderBlock
from tutor.given import Vocab  # noqa: F401  (the grader builds its vocabularies with it)


def get_tokens_and_segments(tokens_a, tokens_b=None):
    """<cls> A <sep> [B <sep>] and the segment ids: 0 up to the first <sep>, 1 for B and its <sep>."""
    tokens = ["<cls>"] + list(tokens_a) + ["<sep>"]
    segments = [0] * len(tokens)
    if tokens_b is not None:
        tokens += list(tokens_b) + ["<sep>"]
        segments += [1] * (len(tokens_b) + 1)
    return tokens, segments


class BERTEncoder(nn.Module):
    """Token + segment + learnable position embeddings, then num_layers Transformer encoder blocks."""

    def __init__(self, vocab_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens, num_heads, num_layers,
                 dropout, max_len=1000, key_size=768, query_size=768, value_size=768, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
        self.segment_embedding = nn.Embedding(2, num_hiddens)
        self.blks = nn.Sequential()
        for i in range(num_layers):
            self.blks.add_module(str(i), EncoderBlock(key_size, query_size, value_size, num_hiddens, norm_shape,
                                                      ffn_num_input, ffn_num_hiddens, num_heads, dropout, True))
        self.pos_embedding = nn.Parameter(torch.randn(1, max_len, num_hiddens))

    def forward(self, tokens, segments, valid_lens):
        X = self.token_embedding(tokens) + self.segment_embedding(segments)
        X = X + self.pos_embedding[:, :X.shape[1], :]  # not .data: the positions must get gradients to be learned
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X


class MaskLM(nn.Module):
    """Predicts the tokens at the given positions of each sequence from their encodings."""

    def __init__(self, vocab_size, num_hiddens, num_inputs=768, **kwargs):
        super().__init__(**kwargs)
        self.mlp = nn.Sequential(nn.Linear(num_inputs, num_hiddens), nn.ReLU(), nn.LayerNorm(num_hiddens),
                                 nn.Linear(num_hiddens, vocab_size))

    def forward(self, X, pred_positions):
        batch_size, num_preds = pred_positions.shape
        batch_idx = torch.repeat_interleave(torch.arange(batch_size, device=X.device), num_preds)  # 0,0,..,1,1,..
        picked = X[batch_idx, pred_positions.reshape(-1)].reshape(batch_size, num_preds, -1)
        return self.mlp(picked)


class NextSentencePred(nn.Module):
    """A linear classifier with two outputs: is B the sentence that follows A?"""

    def __init__(self, num_inputs, **kwargs):
        super().__init__(**kwargs)
        self.output = nn.Linear(num_inputs, 2)

    def forward(self, X):
        return self.output(X)


def replace_mlm_tokens(tokens, candidate_pred_positions, num_mlm_preds, vocab):
    """Pick num_mlm_preds random candidate positions; replace each by <mask> (80 %), a random token of the
    vocabulary (10 %) or itself (10 %). Returns the new tokens and the (position, original token) pairs."""
    mlm_input_tokens = list(tokens)
    pred_positions_and_labels = []
    random.shuffle(candidate_pred_positions)
    for position in candidate_pred_positions:
        if len(pred_positions_and_labels) >= num_mlm_preds:
            break
        if random.random() < 0.8:
            masked_token = "<mask>"
        elif random.random() < 0.5:
            masked_token = tokens[position]
        else:
            masked_token = vocab.to_tokens(random.randrange(len(vocab)))  # any token of the vocabulary
        mlm_input_tokens[position] = masked_token
        pred_positions_and_labels.append((position, tokens[position]))
    return mlm_input_tokens, pred_positions_and_labels
