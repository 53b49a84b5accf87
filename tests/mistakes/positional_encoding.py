"""Single-mistake variants of the positional_encoding reference solution, and the book's printed code."""

from tests.mistakes import book_version, edits, variant

EX = "positional_encoding"
VALUES = "P[0, i, 2j] = sin(i / 10000^(2j/d)) and P[0, i, 2j+1] = cos(i / 10000^(2j/d))"
ODD = "an odd num_hiddens works: the last column is a sine"
MAX_LEN = "max_len sets the number of positions"
ADDS = "forward adds P[:, :T, :] to every item of the batch"
TRAINING = "dropout acts on X + P in training mode"
EVAL = "in eval mode there is no dropout: the output is X + P"
BUFFER = "P is a buffer: it follows .to(device) and is not a parameter"
SMOKE = "an attention-only model with your encoding finds the token at a given position"

VARIANTS = [
    edits(EX, "sines and cosines swapped", [
        ("P[:, :, 0::2] = torch.sin(angles)", "P[:, :, 0::2] = torch.cos(angles)"),
        ("P[:, :, 1::2] = torch.cos(angles[:, :num_hiddens // 2])",
         "P[:, :, 1::2] = torch.sin(angles[:, :num_hiddens // 2])")],
        loses={VALUES}, mistake="positional_encoding.sin_cos_swapped"),
    variant(EX, "exponent j / d", "torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens",
            "torch.arange(0, num_hiddens, 2, dtype=torch.float32) / 2 / num_hiddens", loses={VALUES},
            mistake="positional_encoding.exponent_j_over_d"),
    variant(EX, "position and column swapped", "angles = positions / torch.pow(10000, exponents)",
            "angles = (exponents * num_hiddens / 2) / torch.pow(10000, 2 * positions / num_hiddens)",
            loses={VALUES, SMOKE}, mistake="positional_encoding.position_column_swapped"),
    variant(EX, "cosines of every angle (fails for odd d)", "torch.cos(angles[:, :num_hiddens // 2])",
            "torch.cos(angles)", loses={ODD}, mistake="positional_encoding.odd_hiddens_book"),
    variant(EX, "P not sliced to X's length", "self.P[:, :X.shape[1], :]", "self.P", loses={ADDS},
            mistake="positional_encoding.P_not_sliced"),
    edits(EX, "P added after dropout", [
        ("        X = X + self.P[:, :X.shape[1], :]\n        return self.dropout(X)",
         "        return self.dropout(X) + self.P[:, :X.shape[1], :]")],
        loses={TRAINING}, mistake="positional_encoding.P_added_after_dropout"),
    variant(EX, "functional dropout stays on in eval mode", "return self.dropout(X)",
            "return torch.nn.functional.dropout(X, self.dropout.p)", loses={EVAL},
            mistake="positional_encoding.dropout_in_eval"),
    variant(EX, "P a parameter", 'self.register_buffer("P", P, persistent=False)', "self.P = nn.Parameter(P)",
            loses={BUFFER}, mistake="positional_encoding.P_is_parameter"),
    book_version(EX, "a plain attribute moved in forward, and cosines of every angle", '''
        import torch
        from torch import nn


        class PositionalEncoding(nn.Module):
            def __init__(self, num_hiddens, dropout, max_len=1000):
                super().__init__()
                self.dropout = nn.Dropout(dropout)
                self.P = torch.zeros((1, max_len, num_hiddens))
                angles = torch.arange(max_len, dtype=torch.float32).reshape(-1, 1) / torch.pow(
                    10000, torch.arange(0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
                self.P[:, :, 0::2] = torch.sin(angles)
                self.P[:, :, 1::2] = torch.cos(angles)

            def forward(self, X):
                X = X + self.P[:, :X.shape[1], :].to(X.device)
                return self.dropout(X)
        ''', loses={ODD, BUFFER}, mistake="positional_encoding.P_not_buffer"),
]
