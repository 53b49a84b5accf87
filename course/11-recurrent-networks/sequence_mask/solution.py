"""Reference solution: sequence_mask and MaskedSoftmaxCELoss (course 11.7; d2l-zh 9.7, d2l-en 10.7)."""

import torch
from torch import nn


def sequence_mask(X, valid_len, value=0):
    """Write `value` into every step t >= valid_len[b] of each sequence b; X itself is left alone."""
    steps = X.shape[1]
    keep = torch.arange(steps, device=X.device)[None, :] < valid_len.to(X.device)[:, None]  # (batch, steps)
    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))  # broadcast over trailing dimensions
    return X.masked_fill(~keep, value)


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """Softmax cross-entropy per sequence, with the padded steps weighted by zero."""

    def forward(self, pred, label, valid_len):
        weights = sequence_mask(torch.ones_like(label), valid_len)
        self.reduction = "none"
        per_token = super().forward(pred.permute(0, 2, 1), label)  # (batch, steps)
        return (per_token * weights).mean(dim=1)
