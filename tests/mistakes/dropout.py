"""Single-mistake variants of dropout (d2l 4.5)."""

from tests.mistakes import book_version, variant

EX = "dropout"
SAME = "same shape, dtype and device as X"
FRACTION = "drops about a fraction `dropout` of the elements"
SCALED = "survivors are scaled by 1 / (1 - dropout) and the mean is preserved"
INDEPENDENT = "each element is dropped independently"
EDGES = "dropout = 0 keeps X and dropout = 1 gives zeros without NaN"
RANGE = "a probability outside [0, 1] raises an error"
UNCHANGED = "X itself is left unchanged"
LEARNS = "an MLP with your dropout learns a synthetic classification task"

VARIANTS = [
    # The mask keeps an element with probability `dropout` instead of 1 - dropout. The MLP then drops 80 % of its
    # first hidden layer and cannot reach the smoke-check's accuracy: a real consequence, so it loses that too.
    variant(EX, "mask keeps with probability dropout", "keep = torch.rand(X.shape, device=X.device) >= dropout",
            "keep = torch.rand(X.shape, device=X.device) < dropout",
            loses={FRACTION, LEARNS}, mistake="dropout.keep_probability_swapped"),
    # A normal instead of a uniform mask: the dropped fraction is Phi(p) (0.579 for p = 0.2, 0.691 for p = 0.5), which
    # is too much dropout for the smoke-check's MLP to reach its accuracy.
    variant(EX, "mask drawn with torch.randn", "torch.rand(X.shape", "torch.randn(X.shape",
            loses={FRACTION, LEARNS}, mistake="dropout.normal_mask"),
    # No inverted scaling.
    variant(EX, "survivors not scaled", "keep.to(X.dtype) * X / (1.0 - dropout)", "keep.to(X.dtype) * X",
            loses={SCALED}, mistake="dropout.not_scaled"),
    # dropout = 1 divides by zero.
    variant(EX, "dropout = 1 not handled", "    if dropout == 1.0:\n        return torch.zeros_like(X)\n", "",
            loses={EDGES}, mistake="dropout.divide_by_zero"),
    # No check of the probability.
    variant(EX, "no range check",
            '    if not 0.0 <= dropout <= 1.0:\n        raise ValueError(f"dropout must be a probability in [0, 1], '
            'got {dropout}")\n', "",
            loses={RANGE}, mistake="dropout.no_range_check"),
    # The mask is created on the default device.
    variant(EX, "mask on the CPU", "torch.rand(X.shape, device=X.device)", "torch.rand(X.shape)",
            loses={SAME}),
    # X is changed in place.
    variant(EX, "X changed in place", "return keep.to(X.dtype) * X / (1.0 - dropout)",
            "X.mul_(keep.to(X.dtype)).div_(1.0 - dropout)\n    return X",
            loses={UNCHANGED}, mistake="dropout.in_place"),
    # The book's dropout_layer (d2l-zh 4.6, d2l-en 5.6) draws its mask with torch.rand(X.shape): on the CPU,
    # whatever X's device. It also returns X itself for dropout = 0 and checks the range with an assert; neither
    # costs anything here. One difference, one test: the shape-dtype-device test names it as the book's.
    book_version(EX, "mask drawn on the CPU", """
        import torch


        def dropout_layer(X, dropout):
            assert 0 <= dropout <= 1
            if dropout == 1:
                return torch.zeros_like(X)
            if dropout == 0:
                return X
            survives = (torch.rand(X.shape) > dropout).float()  # float32, on the CPU
            return survives * X / (1.0 - dropout)
        """, loses={SAME}, mistake="dropout.book_mask_on_cpu"),
]
