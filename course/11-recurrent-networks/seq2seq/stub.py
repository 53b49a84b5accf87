"""Exercise seq2seq: the RNN encoder-decoder for sequence to sequence learning
(course 11.6-11.7; d2l-zh 9.6-9.7, d2l-en 10.6-10.7).

Read the lesson first:   d2l-tutor lesson seq2seq
Grade your work:         d2l-tutor grade seq2seq
Stuck? Ask for a hint:   d2l-tutor hint seq2seq

The book derives both classes from its Encoder and Decoder base classes, which
are only an interface (forward, and init_state for the decoder); here they
subclass nn.Module directly. Shapes below use B = batch size, T = number of
time steps, V = vocab_size, E = embed_size, H = num_hiddens, L = num_layers.
"""

import torch
from torch import nn

# Given: MaskedSoftmaxCELoss from exercise sequence_mask (course 11.7), the reference answer. It is not needed for
# the two classes; use it to train your encoder-decoder in your own notebook (loss(Y_hat, Y, Y_valid_len)).
from tutor.given import MaskedSoftmaxCELoss  # noqa: F401


class Seq2SeqEncoder(nn.Module):
    """The RNN encoder: token embedding followed by a multilayer GRU.

    Created as Seq2SeqEncoder(vocab_size, embed_size, num_hiddens, num_layers,
    dropout=0). Used as
        encoder = Seq2SeqEncoder(10, 8, 16, 2)
        outputs, state = encoder(X)        # X: (4, 7) token ids
        outputs.shape, state.shape         # (7, 4, 16), (2, 4, 16)
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        """Build the layers. Use exactly these attribute names (the grader
        copies weights by name) and create no other parameters:

            self.embedding: nn.Embedding with vocab_size rows of size embed_size
            self.rnn:       nn.GRU from embed_size to num_hiddens, num_layers
                            layers, dropout between layers = dropout, in
                            PyTorch's default time-major layout
        """
        super().__init__()
        raise NotImplementedError("Seq2SeqEncoder.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X, *args):
        """Encode a minibatch of source sequences.

        Arguments:
            X: an integer (torch.long) tensor of shape (B, T), one source
                sequence of token ids per row (batch-major, as the data
                iterators give it).
            *args: ignored (the book passes the valid lengths; this encoder
                does not need them).

        Returns:
            The pair (outputs, state) that nn.GRU returns when it starts from
            a zero state:
            * outputs: (T, B, H), the top layer's hidden state at every step;
            * state: (L, B, H), every layer's hidden state after the last step.
            The GRU reads its input time-major, (T, B, E): the embedded X,
            shape (B, T, E), must be rearranged first.
        """
        raise NotImplementedError("Seq2SeqEncoder.forward is not written yet: replace this line with your "
                                  "implementation")


class Seq2SeqDecoder(nn.Module):
    """The RNN decoder: embedding, a GRU that also reads a context vector, and a linear output layer.

    Created as Seq2SeqDecoder(vocab_size, embed_size, num_hiddens, num_layers,
    dropout=0). Used as
        decoder = Seq2SeqDecoder(10, 8, 16, 2)
        state = decoder.init_state(encoder(X))
        Y_hat, state = decoder(Y, state)    # Y: (4, 7) -> Y_hat: (4, 7, 10)
    """

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        """Build the layers. Use exactly these attribute names (the grader
        copies weights by name) and create no other parameters:

            self.embedding: nn.Embedding with vocab_size rows of size embed_size
            self.rnn:       nn.GRU from embed_size + num_hiddens (the embedding
                            and the context, joined) to num_hiddens, num_layers
                            layers, dropout between layers = dropout, time-major
            self.dense:     nn.Linear from num_hiddens to vocab_size
        """
        super().__init__()
        raise NotImplementedError("Seq2SeqDecoder.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def init_state(self, enc_outputs, *args):
        """Build the decoder's first state from the encoder's result.

        Arguments:
            enc_outputs: the pair (outputs, enc_state) the encoder returned,
                enc_state of shape (L, B, H).
            *args: ignored (the book passes the valid lengths).

        Returns:
            The pair (enc_state, context):
            * enc_state: (L, B, H), the decoder GRU's initial hidden state;
            * context: (B, H), the encoder's final state of its LAST (top)
              layer, enc_state[-1]. It summarises the whole source and stays
              the same for every step the decoder ever takes.
        """
        raise NotImplementedError("Seq2SeqDecoder.init_state is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X, state):
        """Decode T steps, teacher-forced by the tokens in X.

        Arguments:
            X: an integer tensor of shape (B, T): the decoder's input tokens
                (during training: <bos> followed by the target shifted by one).
            state: the pair (H_state, context), as init_state returns it or as
                the previous call to forward returned it; H_state (L, B, H),
                context (B, H).

        Returns:
            The pair (Y_hat, new_state):
            * Y_hat: (B, T, V), unnormalized scores of the next token at every
              step, batch-major again;
            * new_state: (H_state after the last step, context), the context
              unchanged, so that decoding a sequence in several calls (one
              token at a time, as prediction does) gives the same scores as
              one call over the whole sequence.
            At every step t the GRU's input is the embedding of X[:, t] joined
            (concatenated along the feature dimension) with the context: the
            same (B, H) context at each of the T steps, giving (T, B, E + H).
            The GRU starts from H_state.

        Requirements the hidden tests check:
            * The scores equal the reference's given the same weights.
            * The context is the encoder's, never taken from the state the
              decoder has updated (the book's printed PyTorch code takes it
              from the state passed in, which drifts during prediction).
            * Gradients reach every parameter of the decoder and, through the
              context and the initial state, of the encoder.
        """
        raise NotImplementedError("Seq2SeqDecoder.forward is not written yet: replace this line with your "
                                  "implementation")
