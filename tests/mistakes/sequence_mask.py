"""Single-mistake variants of the sequence_mask reference solution."""

from tests.mistakes import book_version, variant

EX = "sequence_mask"
EXAMPLE = "the course's example"
BOUNDARY = "steps at index valid_len are masked (< not <=)"
VALUE = "the value argument"
DIMS = "3-D and 4-D X"
EXTREMES = "valid_len 0 and valid_len = steps"
DEVICE_INPUT = "the result is on X's device and X is left unchanged"
LOSS_COURSE = "MaskedSoftmaxCELoss subclasses nn.CrossEntropyLoss and matches the course's check"
LOSS_RANDOM = "MaskedSoftmaxCELoss matches the reference on random batches, with gradients"
SMOKE = "a padded sequence-labelling model trains with your loss"

VARIANTS = [
    variant(EX, "<= instead of <", "[None, :] < valid_len", "[None, :] <= valid_len",
            loses={EXAMPLE, BOUNDARY, VALUE, DIMS, EXTREMES, LOSS_COURSE, LOSS_RANDOM, SMOKE},
            mistake="sequence_mask.boundary_included"),
    variant(EX, "value ignored (always 0)", "X.masked_fill(~keep, value)", "X.masked_fill(~keep, 0)",
            loses={VALUE}, mistake="sequence_mask.value_ignored"),
    variant(EX, "mask not broadcast over trailing dimensions",
            "    keep = keep.reshape(keep.shape + (1,) * (X.dim() - 2))  # broadcast over trailing dimensions\n", "",
            loses={DIMS}, mistake="sequence_mask.mask_not_broadcast"),
    variant(EX, "X masked in place", "return X.masked_fill(~keep, value)", "return X.masked_fill_(~keep, value)",
            loses={DEVICE_INPUT}, mistake="sequence_mask.input_modified"),
    variant(EX, "mask built on the default device", "torch.arange(steps, device=X.device)", "torch.arange(steps)",
            loses={DEVICE_INPUT}),
    variant(EX, "loss divided by valid_len", "(per_token * weights).mean(dim=1)",
            "(per_token * weights).sum(dim=1) / valid_len", loses={LOSS_COURSE, LOSS_RANDOM},
            mistake="sequence_mask.loss_divided_by_valid_len"),
    variant(EX, "loss summed over the steps", "(per_token * weights).mean(dim=1)",
            "(per_token * weights).sum(dim=1)", loses={LOSS_COURSE, LOSS_RANDOM},
            mistake="sequence_mask.loss_summed"),
    variant(EX, "reduction not set to 'none'", '        self.reduction = "none"\n', "",
            loses={LOSS_RANDOM, SMOKE}, mistake="sequence_mask.loss_reduction_mean"),
    # The book's sequence_mask (d2l-zh 9.7, d2l-en 10.7) assigns into X (X[~mask] = value) and returns it; its
    # mask compares a float32 arange with valid_len. The loss is the book's too. One difference, one test: the
    # device-and-input test names it as the book's.
    book_version(EX, "X written in place", """
        import torch
        from torch import nn


        def sequence_mask(X, valid_len, value=0):
            steps = X.size(1)
            position = torch.arange(steps, dtype=torch.float32, device=X.device)
            keep = position[None, :] < valid_len[:, None]
            X[~keep] = value  # into the caller's tensor
            return X


        class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
            def forward(self, pred, label, valid_len):
                weights = sequence_mask(torch.ones_like(label), valid_len)
                self.reduction = "none"
                per_token = super().forward(pred.permute(0, 2, 1), label)
                return (per_token * weights).mean(dim=1)
        """, loses={DEVICE_INPUT}, mistake="sequence_mask.book_writes_into_x"),
]
