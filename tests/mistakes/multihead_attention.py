"""Single-mistake variants of the multihead_attention reference solution."""

from tests.mistakes import variant

EX = "multihead_attention"
SOFTMAX_1D = "masked_softmax without a mask and with one valid length per batch item"
SOFTMAX_2D = "masked_softmax with one valid length per query: masked weights exactly 0, rows sum to 1"
DPA = "DotProductAttention scales by √d and stores attention_weights"
TRANSPOSES = "transpose_qkv puts head h of item b at row b * num_heads + h; transpose_output undoes it"
MHA_REF = "MultiHeadAttention matches the reference with the same weights"
MHA_ORACLE = "MultiHeadAttention agrees with torch.nn.MultiheadAttention given the same weights"
MHA_LENS = "each batch item keeps its own valid lengths in every head (1-D and 2-D valid_lens)"
MHA_SCALE = "scores are scaled by √(num_hiddens / num_heads), the size of one head"
MHA_EVAL = "eval mode is deterministic, gradients reach W_q, W_k, W_v and W_o, the device is kept"
SMOKE = "a one-block Transformer encoder with your attention learns a counting task"
MHA_VALUES = {MHA_REF, MHA_ORACLE, MHA_LENS, MHA_SCALE}

VARIANTS = [
    variant(EX, "softmax over dim 1 without a mask", "return torch.softmax(X, dim=-1)",
            "return torch.softmax(X, dim=1)", loses={SOFTMAX_1D, DPA, MHA_LENS},
            mistake="multihead_attention.softmax_wrong_axis"),
    variant(EX, "masked with 0 instead of -1e6", "masked_fill(~keep, -1e6)", "masked_fill(~keep, 0.0)",
            loses={SOFTMAX_1D, SOFTMAX_2D, DPA} | MHA_VALUES,
            mistake="multihead_attention.mask_value_zero"),
    variant(EX, "valid_lens.repeat in masked_softmax", "torch.repeat_interleave(valid_lens, num_queries)",
            "valid_lens.repeat(num_queries)", loses={SOFTMAX_1D, DPA, SMOKE} | MHA_VALUES,
            mistake="multihead_attention.softmax_lens_repeat"),
    variant(EX, "attention_weights not stored",
            "        self.attention_weights = masked_softmax(scores, valid_lens)\n"
            "        return torch.bmm(self.dropout(self.attention_weights), values)",
            "        weights = masked_softmax(scores, valid_lens)\n"
            "        return torch.bmm(self.dropout(weights), values)", loses={DPA}),
    variant(EX, "functional dropout stays on in eval mode", "self.dropout(self.attention_weights)",
            "torch.nn.functional.dropout(self.attention_weights, self.dropout.p)", loses={MHA_EVAL},
            mistake="multihead_attention.dropout_in_eval"),
    variant(EX, "mask built on the default device", "torch.arange(num_keys, device=X.device)",
            "torch.arange(num_keys)", loses={MHA_EVAL}),
    variant(EX, "heads get valid_lens.repeat", "torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)",
            "valid_lens.repeat(self.num_heads, *([1] * (valid_lens.dim() - 1)))", loses=MHA_VALUES | {SMOKE},
            mistake="multihead_attention.heads_lens_repeat"),
    variant(EX, "scores scaled by √num_hiddens", "queries = transpose_qkv(self.W_q(queries), self.num_heads)",
            "queries = transpose_qkv(self.W_q(queries) / math.sqrt(self.num_heads), self.num_heads)",
            loses=MHA_VALUES, mistake="multihead_attention.scale_num_hiddens"),
]
