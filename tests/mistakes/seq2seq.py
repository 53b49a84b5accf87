"""Single-mistake variants of the seq2seq reference solution."""

from tests.mistakes import variant

EX = "seq2seq"
ENC_SHAPES = "the encoder: the book's shapes (batch 4, 7 steps, vocab 10, embed 8, 16 hiddens, 2 layers)"
DEC_SHAPES = "the decoder: the book's shapes, and a GRU that reads embed_size + num_hiddens inputs"
ENC_VALUES = "the encoder equals nn.Embedding followed by nn.GRU with the same weights"
DEC_VALUES = "the decoder equals the reference given the same weights (teacher-forced, one call)"
STEPWISE = "decoding one token at a time, threading the returned state, equals one call"
GRADS = "gradients reach every parameter of the decoder and, through the state, of the encoder"
SMOKE = "an encoder-decoder with your classes learns a toy translation task"
DROPOUT = "dropout reaches both GRUs, eval mode is deterministic, results stay on the device"

VARIANTS = [
    variant(EX, "encoder forgets the permute to time-major", "emb = self.embedding(X).permute(1, 0, 2)  # (batch, steps)",
            "emb = self.embedding(X)  # (batch, steps)", loses={ENC_SHAPES, ENC_VALUES, GRADS, SMOKE},
            mistake="seq2seq.encoder_not_time_major"),
    variant(EX, "context from the first layer", "return enc_state, enc_state[-1]", "return enc_state, enc_state[0]",
            loses={DEC_VALUES}, mistake="seq2seq.context_first_layer"),
    variant(EX, "context taken from the decoder's updated state (the book's printed code)",
            "context_steps = context.unsqueeze(0)", "context_steps = H[-1].unsqueeze(0)",
            loses={STEPWISE}, mistake="seq2seq.context_from_decoder_state"),
    variant(EX, "context first in the concatenation", "torch.cat((emb, context_steps), dim=2)",
            "torch.cat((context_steps, emb), dim=2)", loses={DEC_VALUES}, mistake="seq2seq.concat_order"),
    variant(EX, "dropout not passed to the encoder's GRU", "num_layers, dropout=dropout)\n\n    def forward(self, X, *args)",
            "num_layers)\n\n    def forward(self, X, *args)", loses={DROPOUT}, mistake="seq2seq.dropout_ignored"),
    variant(EX, "decoder output left time-major", "return self.dense(output).permute(1, 0, 2), (H, context)",
            "return self.dense(output), (H, context)", loses={DEC_SHAPES, DEC_VALUES, SMOKE},
            mistake="seq2seq.decoder_output_time_major"),
    variant(EX, "encoder state detached", "return output, state\n", "return output, state.detach()\n",
            loses={GRADS, SMOKE}, mistake="seq2seq.encoder_state_detached"),
]
