"""Single-mistake variants of the bahdanau reference solution."""

from tests.mistakes import variant

EX = "bahdanau"
INIT = "init_state returns (enc_outputs batch-first, hidden_state, enc_valid_lens)"
SHAPES = "the book's shapes (batch 4, 7 steps, vocab 10, embed 8, 16 hiddens, 2 layers)"
QUERIES = "queries: the previous step's top-layer hidden state, updated at every step"
WEIGHTS = "attention_weights: one (B, 1, K) tensor per step of the last call, zero past the valid lengths"
VALUES = "one token at a time, threading the state, equals the reference given the same weights"
GRADS = "gradients reach every parameter and the encoder's outputs and state"
DROPOUT = "dropout reaches the GRU, eval mode is deterministic, results stay on the device"
SMOKE = "a translation model with your decoder beats the plain seq2seq on long sentences"

VARIANTS = [
    variant(EX, "keys and values left time-major", "return outputs.permute(1, 0, 2), hidden_state, enc_valid_lens",
            "return outputs, hidden_state, enc_valid_lens", loses={INIT, SMOKE},
            mistake="bahdanau.enc_outputs_not_permuted"),
    variant(EX, "query from the first layer", "query = hidden_state[-1].unsqueeze(1)",
            "query = hidden_state[0].unsqueeze(1)", loses={QUERIES}, mistake="bahdanau.query_first_layer"),
    variant(EX, "query never updated (the encoder's final state at every step)",
            "        for x in steps:\n            query = hidden_state[-1].unsqueeze(1)",
            "        query = hidden_state[-1].unsqueeze(1)\n        for x in steps:", loses={QUERIES, SMOKE},
            mistake="bahdanau.query_not_updated"),
    variant(EX, "embedding first in the concatenation", "torch.cat((context, x.unsqueeze(1)), dim=-1)",
            "torch.cat((x.unsqueeze(1), context), dim=-1)", loses={VALUES}, mistake="bahdanau.concat_order"),
    variant(EX, "valid lengths not passed to the attention",
            "self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)",
            "self.attention(query, enc_outputs, enc_outputs, None)", loses={WEIGHTS},
            mistake="bahdanau.valid_lens_ignored"),
    variant(EX, "attention weights accumulate across calls", "outputs, self._attention_weights = [], []",
            "outputs = []", loses={WEIGHTS}, mistake="bahdanau.attention_weights_accumulate"),
    variant(EX, "output left time-major", "return outputs.permute(1, 0, 2), (enc_outputs",
            "return outputs, (enc_outputs", loses={SHAPES, SMOKE},
            mistake="bahdanau.output_time_major"),
]
