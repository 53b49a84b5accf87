"""Exercise bert: BERT's input representation, encoder, pre-training heads and masking rule
(course 12.6; d2l-zh 14.8, d2l-en 15.8).

Read the lesson first:   d2l-tutor lesson bert
Grade your work:         d2l-tutor grade bert
Stuck? Ask for a hint:   d2l-tutor hint bert

The pieces fit together as in the book's BERTModel (B = batch size, T = sequence length, H = num_hiddens):

    encoder = BERTEncoder(vocab_size, H, [H], H, ffn_num_hiddens, num_heads, num_layers, dropout,
                          key_size=H, query_size=H, value_size=H)
    encoded = encoder(tokens, segments, valid_lens)          # (B, T, H)
    mlm_Y_hat = MaskLM(vocab_size, H, num_inputs=H)(encoded, pred_positions)   # (B, P, vocab_size)
    nsp_Y_hat = NextSentencePred(H)(encoded[:, 0, :])        # (B, 2), from the <cls> position
"""

import random

import torch
from torch import nn

# Given: EncoderBlock(key_size, query_size, value_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens,
# num_heads, dropout, use_bias=False) from exercise transformer (course 12.5), the reference answer: multi-head
# self-attention, add & norm, position-wise FFN, add & norm. block(X, valid_lens) maps (B, T, num_hiddens) to
# (B, T, num_hiddens); valid_lens (B,) or None masks the padding keys.
from tutor.given import EncoderBlock

# Given: Vocab(tokens=None, min_freq=0, reserved_tokens=None) from exercise vocab (course 10.2): len(vocab),
# vocab[token], vocab.to_tokens(index). Build one to try replace_mlm_tokens.
from tutor.given import Vocab  # noqa: F401


def get_tokens_and_segments(tokens_a, tokens_b=None):
    """BERT's input sequence for one sentence or a pair, and its segment ids.

    Arguments:
        tokens_a: a list of str, the first sentence.
        tokens_b: None, or a list of str, the second sentence.

    Returns:
        (tokens, segments), two new lists of the same length:
            tokens   = ['<cls>'] + tokens_a + ['<sep>']            (one sentence)
                       ... + tokens_b + ['<sep>']                  (a pair)
            segments = 0 for <cls>, tokens_a and the first <sep>;
                       1 for tokens_b and the last <sep>.
        The arguments themselves are left unchanged.

    Example:
        >>> get_tokens_and_segments(['a', 'b'], ['c', 'd', 'e'])
        (['<cls>', 'a', 'b', '<sep>', 'c', 'd', 'e', '<sep>'], [0, 0, 0, 0, 1, 1, 1, 1])
        >>> get_tokens_and_segments(['a'])
        (['<cls>', 'a', '<sep>'], [0, 0, 0])
    """
    raise NotImplementedError("get_tokens_and_segments is not written yet: replace this line with your "
                              "implementation")


class BERTEncoder(nn.Module):
    """BERT's encoder: embeddings of tokens, segments and positions, then Transformer encoder blocks.

    Created as the book does:
        BERTEncoder(vocab_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens, num_heads, num_layers,
                    dropout, max_len=1000, key_size=768, query_size=768, value_size=768)
    """

    def __init__(self, vocab_size, num_hiddens, norm_shape, ffn_num_input, ffn_num_hiddens, num_heads, num_layers,
                 dropout, max_len=1000, key_size=768, query_size=768, value_size=768, **kwargs):
        """Build the layers. Use exactly these attribute names (the grader copies weights by name):

            self.token_embedding:   nn.Embedding(vocab_size, num_hiddens)
            self.segment_embedding: nn.Embedding(2, num_hiddens)
            self.blks:              nn.Sequential of num_layers given EncoderBlock's, named "0", "1", ...,
                                    each EncoderBlock(key_size, query_size, value_size, num_hiddens, norm_shape,
                                    ffn_num_input, ffn_num_hiddens, num_heads, dropout, True)
                                    (use_bias=True, as the book's BERT)
            self.pos_embedding:     nn.Parameter of shape (1, max_len, num_hiddens), drawn from torch.randn

        Create no other parameters.
        """
        super().__init__(**kwargs)
        raise NotImplementedError("BERTEncoder.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, tokens, segments, valid_lens):
        """Encode a batch of BERT input sequences.

        Arguments:
            tokens: a long tensor (B, T) of token indices, T <= max_len.
            segments: a long tensor (B, T) of segment ids, 0 or 1.
            valid_lens: None, or a tensor (B,): the real length of each
                sequence (the rest is padding), passed on to every block.

        Returns:
            A float tensor (B, T, num_hiddens):
                X = token_embedding(tokens) + segment_embedding(segments)
                    + pos_embedding[:, :T, :]      (broadcast over the batch)
                then X = blk(X, valid_lens) for every block, in order.

        Requirements the hidden tests check:
            * It equals the reference given the same weights (eval mode),
              with valid_lens that differ per sequence.
            * The position embeddings are LEARNED: backpropagating from the
              output gives pos_embedding a gradient (rows 0 .. T-1 only).
              The book's code adds pos_embedding.data, which autograd does
              not see: here that loses a test.
        """
        raise NotImplementedError("BERTEncoder.forward is not written yet: replace this line with your "
                                  "implementation")


class MaskLM(nn.Module):
    """The masked language model head: predicts the tokens at some positions of each sequence.

    Created as MaskLM(vocab_size, num_hiddens, num_inputs=768). forward(X, pred_positions) takes the encoder's
    output X of shape (B, T, num_inputs) and pred_positions of shape (B, P), picks the P vectors of each
    sequence at its own positions, and maps each through the MLP to vocab_size scores: (B, P, vocab_size).
    """

    def __init__(self, vocab_size, num_hiddens, num_inputs=768, **kwargs):
        """Build self.mlp, an nn.Sequential of exactly these four layers (the grader loads weights by name):

            nn.Linear(num_inputs, num_hiddens), nn.ReLU(), nn.LayerNorm(num_hiddens),
            nn.Linear(num_hiddens, vocab_size)
        """
        super().__init__(**kwargs)
        raise NotImplementedError("MaskLM.__init__ is not written yet: replace this line with your implementation")

    def forward(self, X, pred_positions):
        """Score the vocabulary at the positions to predict.

        Arguments:
            X: the encoder's output, (B, T, num_inputs).
            pred_positions: a long tensor (B, P): row b lists P positions of
                sequence b (each between 0 and T - 1).

        Returns:
            A tensor (B, P, vocab_size): entry [b, j] is self.mlp applied to
            X[b, pred_positions[b, j]], the encoding of sequence b (not of
            another sequence) at its j-th position to predict.

        Requirements the hidden tests check:
            * Each row of pred_positions indexes its OWN sequence. Gathering
              all B * P vectors at once needs a batch index 0, .., 0, 1, .., 1
              (each b repeated P times in a row), not 0, 1, .., 0, 1, ...
            * Tensors you create are on X's device.
        """
        raise NotImplementedError("MaskLM.forward is not written yet: replace this line with your implementation")


class NextSentencePred(nn.Module):
    """The next sentence prediction head. Created as NextSentencePred(num_inputs).

    One linear layer from the encoding of <cls> (B, num_inputs) to two scores (B, 2): does sentence B follow
    sentence A in the corpus (class 1, as in the book's data) or was it drawn at random (class 0)? Pre-training
    adds its cross-entropy loss to the masked language model's.
    """

    def __init__(self, num_inputs, **kwargs):
        """Build self.output = nn.Linear(num_inputs, 2)."""
        super().__init__(**kwargs)
        raise NotImplementedError("NextSentencePred.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X):
        """X: (B, num_inputs), usually the encoding of <cls>. Returns the two scores, (B, 2)
        (class 1: B follows A, as in the book's data)."""
        raise NotImplementedError("NextSentencePred.forward is not written yet: replace this line with your "
                                  "implementation")


def replace_mlm_tokens(tokens, candidate_pred_positions, num_mlm_preds, vocab):
    """The book's masking rule for the masked language model.

    Arguments:
        tokens: a list of str, a BERT input sequence.
        candidate_pred_positions: a list of int, the positions that may be
            predicted (the book leaves out <cls> and <sep>). You may shuffle
            this list in place, as the book does.
        num_mlm_preds: how many positions to predict.
        vocab: a Vocab (len(vocab), vocab.to_tokens(index)); the book's Vocab
            also has vocab.idx_to_token, the list of all its tokens.

    Returns:
        (mlm_input_tokens, pred_positions_and_labels):
        * pred_positions_and_labels: a list of min(num_mlm_preds,
          len(candidate_pred_positions)) pairs (position, tokens[position]),
          the positions DISTINCT and drawn at random among the candidates
          (each candidate equally likely), the label the ORIGINAL token.
        * mlm_input_tokens: a new list, a copy of tokens in which each chosen
          position, independently, holds
              '<mask>'                                  with probability 0.8
              a random token of the whole vocabulary    with probability 0.1
              its original token, unchanged             with probability 0.1
          (tokens itself is left unchanged).
        Use Python's random module (random.random, random.shuffle,
        random.randrange) as the book does; the tests check the
        distribution over thousands of draws, not particular draws.

    Example (one possible result):
        >>> vocab = Vocab(['a', 'b', 'c', 'd'], reserved_tokens=['<mask>'])
        >>> replace_mlm_tokens(['<cls>', 'a', 'b', 'c', '<sep>'], [1, 2, 3], 2, vocab)
        (['<cls>', '<mask>', 'b', 'd', '<sep>'], [(1, 'a'), (3, 'c')])
    """
    raise NotImplementedError("replace_mlm_tokens is not written yet: replace this line with your implementation")
