"""Single-mistake variants of the additive_attention reference solution."""

from tests.mistakes import variant

EX = "additive_attention"
SM_NONE = "masked_softmax without a mask is the plain softmax over the last axis"
SM_1D = "masked_softmax with one valid length per batch item: masked weights exactly 0, rows sum to 1"
SM_2D = "masked_softmax with one valid length per query (B, Q)"
BOOK = "the book's example: equal keys give uniform weights over the valid keys, output (2, 1, 4)"
REF = "AdditiveAttention matches the reference with the same weights"
MASK = "keys and values past the valid lengths do not change the output"
WEIGHTS = "the attention weights are kept in self.attention_weights, shape (B, Q, K)"
EVAL = "eval mode is deterministic and gradients reach W_q, W_k and w_v"
SMOKE = "attention pooling with your AdditiveAttention learns a table lookup"

VARIANTS = [
    variant(EX, "softmax over dim 1 without a mask", "return torch.softmax(X, dim=-1)",
            "return torch.softmax(X, dim=1)", loses={SM_NONE, REF},
            mistake="additive_attention.softmax_wrong_axis"),
    variant(EX, "masked with 0 instead of -1e6", "masked_fill(~keep, -1e6)", "masked_fill(~keep, 0.0)",
            loses={SM_1D, SM_2D, BOOK, REF, MASK, WEIGHTS}, mistake="additive_attention.mask_value_zero"),
    variant(EX, "mask built but never applied", "scores = X.reshape(-1, num_keys).masked_fill(~keep, -1e6)",
            "scores = X.reshape(-1, num_keys)", loses={SM_1D, SM_2D, BOOK, REF, MASK, WEIGHTS, SMOKE},
            mistake="additive_attention.mask_missing"),
    variant(EX, "key at the valid length kept", "[None, :] < lens", "[None, :] <= lens",
            loses={SM_1D, SM_2D, BOOK, REF, MASK, WEIGHTS, SMOKE},
            mistake="additive_attention.mask_boundary_included"),
    variant(EX, "valid_lens.repeat in masked_softmax", "torch.repeat_interleave(valid_lens, num_queries)",
            "valid_lens.repeat(num_queries)", loses={SM_1D, REF, MASK, WEIGHTS},
            mistake="additive_attention.softmax_lens_repeat"),
    variant(EX, "tanh missing", "torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))",
            "queries.unsqueeze(2) + keys.unsqueeze(1)", loses={REF, WEIGHTS, SMOKE},
            mistake="additive_attention.tanh_missing"),
    variant(EX, "relu instead of tanh", "torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))",
            "torch.relu(queries.unsqueeze(2) + keys.unsqueeze(1))", loses={REF, WEIGHTS},
            mistake="additive_attention.relu_not_tanh"),
    variant(EX, "valid_lens not passed to masked_softmax", "masked_softmax(scores, valid_lens)",
            "masked_softmax(scores, None)", loses={BOOK, REF, MASK, WEIGHTS, SMOKE},
            mistake="additive_attention.lens_ignored"),
    variant(EX, "W_k with a bias", "nn.Linear(key_size, num_hiddens, bias=False)", "nn.Linear(key_size, num_hiddens)",
            loses={REF, WEIGHTS, EVAL}, mistake="additive_attention.bias_added"),
    variant(EX, "attention_weights not stored",
            "        self.attention_weights = masked_softmax(scores, valid_lens)\n"
            "        return torch.bmm(self.dropout(self.attention_weights), values)",
            "        weights = masked_softmax(scores, valid_lens)\n"
            "        return torch.bmm(self.dropout(weights), values)", loses={WEIGHTS},
            mistake="additive_attention.attention_weights_missing"),
    variant(EX, "functional dropout stays on in eval mode", "self.dropout(self.attention_weights)",
            "torch.nn.functional.dropout(self.attention_weights, self.dropout.p)", loses={EVAL},
            mistake="additive_attention.dropout_in_eval"),
    variant(EX, "mask built on the default device", "torch.arange(num_keys, device=X.device)",
            "torch.arange(num_keys)", loses={EVAL}),
]
