"""Single-mistake variants of the multihead_attention reference solution (masked_softmax is given: its mistakes are
additive_attention's)."""

from tests.mistakes import variant

EX = "multihead_attention"
DPA = "DotProductAttention scales by √d and stores attention_weights"
DPA_MASK = "DotProductAttention gives the keys past each valid length weight 0 (1-D and 2-D valid_lens)"
TRANSPOSES = "transpose_qkv puts head h of item b at row b * num_heads + h; transpose_output undoes it"
MHA_REF = "MultiHeadAttention matches the reference with the same weights"
MHA_ORACLE = "MultiHeadAttention agrees with torch.nn.MultiheadAttention given the same weights"
MHA_LENS = "each batch item keeps its own valid lengths in every head (1-D and 2-D valid_lens)"
MHA_SCALE = "scores are scaled by √(num_hiddens / num_heads), the size of one head"
MHA_EVAL = "eval mode is deterministic, gradients reach W_q, W_k, W_v and W_o, the device is kept"
SMOKE = "a one-block Transformer encoder with your attention learns a counting task"
MHA_VALUES = {MHA_REF, MHA_ORACLE, MHA_LENS, MHA_SCALE}

VARIANTS = [
    variant(EX, "DotProductAttention ignores valid_lens", "masked_softmax(scores, valid_lens)",
            "masked_softmax(scores, None)", loses={DPA, DPA_MASK, SMOKE} | MHA_VALUES,
            mistake="multihead_attention.attention_lens_ignored"),
    variant(EX, "attention_weights not stored",
            "        self.attention_weights = masked_softmax(scores, valid_lens)\n"
            "        return torch.bmm(self.dropout(self.attention_weights), values)",
            "        weights = masked_softmax(scores, valid_lens)\n"
            "        return torch.bmm(self.dropout(weights), values)", loses={DPA}),
    variant(EX, "functional dropout stays on in eval mode", "self.dropout(self.attention_weights)",
            "torch.nn.functional.dropout(self.attention_weights, self.dropout.p)", loses={MHA_EVAL},
            mistake="multihead_attention.dropout_in_eval"),
    variant(EX, "heads get valid_lens.repeat", "torch.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)",
            "valid_lens.repeat(self.num_heads, *([1] * (valid_lens.dim() - 1)))", loses=MHA_VALUES | {SMOKE},
            mistake="multihead_attention.heads_lens_repeat"),
    variant(EX, "scores scaled by √num_hiddens", "queries = transpose_qkv(self.W_q(queries), self.num_heads)",
            "queries = transpose_qkv(self.W_q(queries) / math.sqrt(self.num_heads), self.num_heads)",
            loses=MHA_VALUES, mistake="multihead_attention.scale_num_hiddens"),
]
