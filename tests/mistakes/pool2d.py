"""Single-mistake variants of pool2d (course 6.4; d2l-zh 6.5, d2l-en 7.5)."""

from tests.mistakes import variant

EX = "pool2d"
EXAMPLE = "the book's example: X = 0..8 as 3x3, a 2x2 window"
NON_SQUARE = "non-square windows: (1, 2), (2, 1), (2, 3)"
GRADIENTS = "gradients: max goes to the arg-max, average spreads evenly"
DTYPE_DEVICE = "both functions keep X's dtype and device (float64 in, float64 out)"
STRIDED_MAX = "pool2d_strided max mode matches nn.MaxPool2d (stride, padding with -inf)"
STRIDED_AVG = "pool2d_strided avg mode matches nn.AvgPool2d (padded zeros counted)"
STRIDED_EDGES = ("pool2d_strided edge cases: a window as large as the padded input, a stride larger than the "
                 "window")
NO_IN_PLACE = "X is left unchanged"
LEARNS = "a small CNN pooling with your pool2d_strided learns the shape images"

POOL2D_LOOP = """            if mode == 'max':
                Y[i, j] = window.max()
            elif mode == 'avg':
                Y[i, j] = window.mean()"""

VARIANTS = [
    # pool2d's output is one row and one column too small: the first value test names it, the others say so in
    # one line; the gradient test sees the wrong shape.
    variant(EX, "output size off by one", "X.shape[0] - p_h + 1, X.shape[1] - p_w + 1",
            "X.shape[0] - p_h, X.shape[1] - p_w",
            loses={EXAMPLE, NON_SQUARE, GRADIENTS}, mistake="pool2d.output_size_off_by_one"),
    # pool2d always takes the maximum: every avg-mode value is wrong, and so is the avg-mode gradient.
    variant(EX, "pool2d ignores mode", POOL2D_LOOP, "            Y[i, j] = window.max()",
            loses={EXAMPLE, NON_SQUARE, GRADIENTS}, mistake="pool2d.mode_ignored"),
    # pool2d_strided always takes the maximum: the avg tests fail; the max ones and the smoke-check do not notice.
    variant(EX, "pool2d_strided ignores mode", "    if mode == 'max':\n        return views.amax(0)\n",
            "    return views.amax(0)\n",
            loses={STRIDED_AVG, STRIDED_EDGES}, mistake="pool2d.mode_ignored"),
    # Zero padding in max mode: an all-negative window at the border returns 0.
    variant(EX, "max mode padded with zeros", "fill = float('-inf') if mode == 'max' else 0.0", "fill = 0.0",
            loses={STRIDED_MAX, STRIDED_EDGES}, mistake="pool2d.max_padded_with_zero"),
    # The window's sum divided by the wrong count (p_h + p_w instead of p_h * p_w).
    variant(EX, "avg divides by the wrong count", "views.sum(0) / (p_h * p_w)", "views.sum(0) / (p_h + p_w)",
            loses={STRIDED_AVG, STRIDED_EDGES}, mistake="pool2d.avg_wrong_count"),
    # The values are right (Xp was padded before), but the caller's X is scaled in place afterwards.
    variant(EX, "X divided in place", "    return views.sum(0) / (p_h * p_w)",
            "    X /= p_h * p_w\n    return views.sum(0) / (p_h * p_w)",
            loses={NO_IN_PLACE}, mistake="pool2d.in_place_write"),
    # .item() in max mode cuts the autograd graph: only the gradient test notices.
    variant(EX, "max values stored with .item()", "Y[i, j] = window.max()", "Y[i, j] = window.max().item()",
            loses={GRADIENTS}, mistake="pool2d.not_differentiable"),
    # pool2d_strided detaches its max result: the smoke-check's convolutions get no gradient, and it says so.
    variant(EX, "pool2d_strided detaches its result", "return views.amax(0)", "return views.amax(0).detach()",
            loses={LEARNS}, mistake="pool2d.not_differentiable"),
    # The book's pool2d makes Y with a bare torch.zeros: float32 on the CPU whatever X is.
    variant(EX, "Y from a bare torch.zeros (the book's pool2d)",
            "torch.zeros((out_h, out_w), dtype=X.dtype, device=X.device)", "torch.zeros((out_h, out_w))",
            loses={DTYPE_DEVICE}, mistake="pool2d.book_default_dtype_device"),
]
