"""Single-mistake variants of the transformer reference solution."""

from tests.mistakes import variant

EX = "transformer"
FFN = "PositionWiseFFN computes dense2(relu(dense1(X))) at every position"
LN = "AddNorm normalizes each position over its features (layer norm, not batch norm)"
ORDER = "AddNorm returns LayerNorm(Y + X): add the residual first, then normalize"
DROPOUT = "AddNorm applies dropout to Y only, and only in training mode"
SHAPES = "the book's shapes: FFN (2, 3, 4) -> (2, 3, 8), AddNorm (2, 3, 4), EncoderBlock (2, 100, 24)"
ORACLE = "EncoderBlock agrees with an oracle built from torch.nn.MultiheadAttention and F.layer_norm"
REF = "EncoderBlock matches the reference with the same weights (with and without use_bias)"
LENS = "valid_lens reaches the attention: padding does not change the valid positions"
EVAL = "eval mode is deterministic, gradients reach every weight, the device is kept"
SMOKE = "a two-block encoder of your EncoderBlocks learns to spot a token in a padded sequence"
BLOCK = {ORACLE, REF}

VARIANTS = [
    variant(EX, "BatchNorm instead of LayerNorm", "self.ln = nn.LayerNorm(normalized_shape)",
            "self.ln = nn.BatchNorm1d(normalized_shape)", loses={LN, ORDER, DROPOUT, SHAPES, ORACLE, REF, LENS, EVAL,
                                                              SMOKE},
            mistake="transformer.batchnorm"),
    variant(EX, "norm before the residual add", "return self.ln(self.dropout(Y) + X)",
            "return X + self.ln(self.dropout(Y))", loses={ORDER} | BLOCK, mistake="transformer.norm_before_add"),
    variant(EX, "residual skipped", "return self.ln(self.dropout(Y) + X)", "return self.ln(self.dropout(Y))",
            loses={ORDER} | BLOCK, mistake="transformer.residual_skipped"),
    variant(EX, "dropout applied to X", "return self.ln(self.dropout(Y) + X)", "return self.ln(Y + self.dropout(X))",
            loses={DROPOUT}, mistake="transformer.dropout_on_x"),
    variant(EX, "ReLU missing", "return self.dense2(self.relu(self.dense1(X)))", "return self.dense2(self.dense1(X))",
            loses={FFN} | BLOCK, mistake="transformer.ffn_relu_missing"),
    variant(EX, "valid_lens dropped", "self.attention(X, X, X, valid_lens)", "self.attention(X, X, X, None)",
            loses={ORACLE, REF, LENS, SMOKE}, mistake="transformer.valid_lens_dropped"),
    variant(EX, "FFN on the block's input", "return self.addnorm2(Y, self.ffn(Y))", "return self.addnorm2(Y, self.ffn(X))",
            loses=BLOCK, mistake="transformer.ffn_on_input"),
    variant(EX, "use_bias not passed on", "num_heads, dropout,\n                                            use_bias)",
            "num_heads, dropout)", loses={REF}),
]
VARIANTS += [
    variant(EX, "dropout left out", "return self.ln(self.dropout(Y) + X)", "return self.ln(Y + X)",
            loses={DROPOUT}, mistake="transformer.dropout_missing"),
]
