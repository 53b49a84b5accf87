"""Single-mistake variants of softmax_regression (d2l 3.2)."""

from tests.mistakes import book_version, variant

EX = "softmax_regression"
VALUES = "softmax normalises each row: exp(X) divided by its row's sum"
KEEPS = "softmax keeps X's shape, dtype and device and leaves X unchanged"
LARGE = "softmax of large logits such as [1000, 1001] has no NaN or inf"
CE_EXAMPLE = "cross_entropy of the book's example is [2.3026, 0.6931]"
CE_BATCH = "cross_entropy gives one loss per example for a float64 batch of 6"
ACC_EXAMPLE = "accuracy of the book's example is 1 (a count, not a fraction)"
ACC_ROWS = "accuracy takes the argmax along each row, even when n = q"
GRADIENT = "the gradient of the mean cross-entropy of softmax(O) is (softmax(O) - one_hot(y)) / n"
LEARNS = "softmax regression with your functions learns 10 classes of 8x8 images"

VARIANTS = [
    # Normalises columns: every softmax value is wrong, so is the gradient; the smoke-check's classes stay
    # separable enough to pass it (0.87 to 0.96 over seeds 0..9).
    variant(EX, "softmax over dim 0", "dim=1, keepdim=True", "dim=0, keepdim=True", count=2,
            loses={VALUES, LARGE, GRADIENT}, mistake="softmax_regression.softmax_wrong_dim"),
    # One normaliser for the whole tensor: the same tests.
    variant(EX, "softmax normalised over the whole tensor", "E / E.sum(dim=1, keepdim=True)", "E / E.sum()",
            loses={VALUES, LARGE, GRADIENT}, mistake="softmax_regression.softmax_whole_tensor"),
    # The row sums without keepdim: (n, q) / (n,) fails to broadcast unless n = q, so every call of softmax with
    # n != q crashes, in every test that calls it.
    variant(EX, "row sums without keepdim", "E.sum(dim=1, keepdim=True)", "E.sum(dim=1)",
            loses={VALUES, KEEPS, LARGE, GRADIENT, LEARNS},
            mistake="softmax_regression.softmax_sum_without_keepdim"),
    # Subtracts the maximum of the whole tensor: rows far below it still underflow to 0 / 0.
    variant(EX, "global maximum subtracted", "X.max(dim=1, keepdim=True).values", "X.max()",
            loses={LARGE}, mistake="softmax_regression.book_no_max_subtraction"),
    # Shifts X in place: the caller's tensor changes, and a leaf that requires grad cannot be changed in place.
    variant(EX, "X shifted in place", "shifted = X - X.max(dim=1, keepdim=True).values",
            "X -= X.max(dim=1, keepdim=True).values\n    shifted = X",
            loses={KEEPS, GRADIENT}, mistake="softmax_regression.softmax_in_place"),
    # The mean of the losses instead of the vector: the training loop takes the mean itself, so only the two
    # cross_entropy value tests see it.
    variant(EX, "cross_entropy returns the mean", "return -torch.log(y_hat[rows, y])",
            "return -torch.log(y_hat[rows, y]).mean()",
            loses={CE_EXAMPLE, CE_BATCH}, mistake="softmax_regression.cross_entropy_mean"),
    # y_hat[:, y]: an (n, n) table; its mean is not the loss, so nothing learns.
    variant(EX, "cross_entropy indexes y_hat[:, y]", "y_hat[rows, y]", "y_hat[:, y]",
            loses={CE_EXAMPLE, CE_BATCH, GRADIENT, LEARNS},
            mistake="softmax_regression.cross_entropy_wrong_indexing"),
    # No minus sign: gradient ascent on the loss.
    variant(EX, "cross_entropy without the minus sign", "return -torch.log(", "return torch.log(",
            loses={CE_EXAMPLE, CE_BATCH, GRADIENT, LEARNS}, mistake="softmax_regression.cross_entropy_sign"),
    # The loss cut from the graph: the values are right, nothing can be learned.
    variant(EX, "cross_entropy detached", "return -torch.log(y_hat[rows, y])",
            "return -torch.log(y_hat[rows, y]).detach()",
            loses={GRADIENT, LEARNS}, mistake="softmax_regression.not_differentiable"),
    # The fraction of correct predictions instead of their number.
    variant(EX, "accuracy returns a fraction", "float((predicted == y).sum())",
            "float((predicted == y).double().mean())",
            loses={ACC_EXAMPLE, ACC_ROWS}, mistake="softmax_regression.accuracy_fraction"),
    # argmax over the examples instead of the classes.
    variant(EX, "accuracy argmax over dim 0", "y_hat.argmax(dim=1)", "y_hat.argmax(dim=0)",
            loses={ACC_EXAMPLE, ACC_ROWS}, mistake="softmax_regression.accuracy_wrong_axis"),
    # The book's functions (d2l-zh 3.6, d2l-en 4.4): softmax exponentiates X as it is, so large logits overflow.
    # Its cross_entropy and accuracy (a float count; a 1-D y_hat taken as predicted labels) pass everything. One
    # difference, one test: the large-logits test names it as the book's.
    book_version(EX, "softmax without the max shift", """
        import torch


        def softmax(X):
            numerators = torch.exp(X)  # no shift: exp(1000) is inf in float32
            return numerators / numerators.sum(1, keepdim=True)


        def cross_entropy(y_hat, y):
            return -torch.log(y_hat[range(len(y_hat)), y])


        def accuracy(y_hat, y):
            if y_hat.dim() > 1 and y_hat.shape[1] > 1:
                y_hat = y_hat.argmax(axis=1)
            matches = y_hat.type(y.dtype) == y
            return float(matches.type(y.dtype).sum())
        """, loses={LARGE}, mistake="softmax_regression.book_no_max_subtraction"),
]
