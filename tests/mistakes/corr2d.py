"""Single-mistake variants of corr2d (d2l 6.1)."""

from tests.mistakes import book_version, variant

EX = "corr2d"
EXAMPLE = "the course's 3x3 example"
NON_SQUARE = "non-square inputs and kernels: (1, 2), (2, 1), (2, 3)"
EXTREME = "a 1x1 kernel and a kernel as large as the input"
NOT_FLIPPED = "cross-correlation, not convolution: the kernel is not flipped"
GRADIENTS = "gradients flow back to X and K"
DTYPE_DEVICE = "the result keeps X's dtype and device (float64 in, float64 out)"
LEARNS = "learns the edge-detection kernel [1, -1] by gradient descent"
VALUES = {EXAMPLE, NON_SQUARE, EXTREME, NOT_FLIPPED, LEARNS}

VARIANTS = [
    # Convolution instead of cross-correlation: every value is wrong, and the flip test names it.
    variant(EX, "kernel flipped (convolution)", "* K).sum()", "* K.flip(0).flip(1)).sum()",
            loses=VALUES, mistake="corr2d.flipped_kernel"),
    # The output is one row and one column too small: every value test sees the wrong shape; the first names the
    # mistake, the others say so in one line.
    variant(EX, "output size off by one", "X.shape[0] - kh + 1, X.shape[1] - kw + 1", "X.shape[0] - kh, X.shape[1] - kw",
            loses=VALUES, mistake="corr2d.output_size_off_by_one"),
    # Only the height lacks its +1: the same mistake, named the same way.
    variant(EX, "output height off by one", "X.shape[0] - kh + 1,", "X.shape[0] - kh,",
            loses=VALUES, mistake="corr2d.output_size_off_by_one"),
    # Averages each window instead of summing it: the values are off by a factor of kh * kw.
    variant(EX, "mean of the window instead of its sum", "* K).sum()", "* K).mean()",
            loses=VALUES),
    # Always float32: only the dtype-and-device test may notice.
    variant(EX, "result always float32", "dtype=X.dtype, device=X.device", "device=X.device",
            loses={DTYPE_DEVICE}),
    # Always on the CPU: only the dtype-and-device test may notice (through the meta-device probe on a CPU run).
    variant(EX, "result always on the CPU", "dtype=X.dtype, device=X.device", "dtype=X.dtype",
            loses={DTYPE_DEVICE}),
    # .item() cuts the autograd graph: no gradient reaches X or K, and the kernel cannot be learned.
    variant(EX, "values stored with .item()", "* K).sum()", "* K).sum().item()",
            loses={GRADIENTS, LEARNS}, mistake="corr2d.not_differentiable"),
    # The book's corr2d (d2l-zh 6.2, d2l-en 7.2) makes its output with a bare torch.zeros: float32 on the CPU,
    # whatever X is. One difference, one test: the dtype-and-device test names it as the book's.
    book_version(EX, "output from a bare torch.zeros", """
        import torch


        def corr2d(X, K):
            kh, kw = K.shape
            out = torch.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))  # PyTorch's defaults: float32, CPU
            for row in range(out.shape[0]):
                for col in range(out.shape[1]):
                    out[row, col] = (X[row:row + kh, col:col + kw] * K).sum()
            return out
        """, loses={DTYPE_DEVICE}, mistake="corr2d.book_default_dtype_device"),
]
