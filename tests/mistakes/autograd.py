"""Single-mistake variants of autograd (d2l 2.5)."""

from tests.mistakes import variant

EX = "autograd"
N_BOOK = "numerical_grad: the book's y = 2·xᵀx has gradient 4x"
N_CENTRAL = "numerical_grad: central differences (exact for a quadratic, even with h = 0.1)"
N_SHAPES = "numerical_grad: any shape: a 0-d scalar, a matrix and a transposed (non-contiguous) matrix"
N_KEEPS_X = "numerical_grad leaves x unchanged"
N_DTYPE = "numerical_grad keeps x's dtype and device (float64 in, float64 out)"
A_BOOK = "autograd_grad: the book's y = 2·xᵀx has gradient 4x"
A_KINKS = "autograd_grad: |x| and max(x, 0) away from their kinks"
A_TWICE = "autograd_grad: twice on the same x gives the same gradient in a new tensor (nothing accumulates)"
AGREE = "autograd_grad and numerical_grad agree on a smooth function of a matrix"
SMOKE = "gradient descent with autograd_grad reaches the least-squares solution"
N_VALUES = {N_BOOK, N_CENTRAL, N_SHAPES, AGREE}

VARIANTS = [
    # A forward difference (f(x + h) - f(x)) / h: off by about h·f''/2, invisible at h = 1e-6 in the value tests'
    # tolerance; the central-difference test (h = 0.1, a quadratic) names it.
    variant(EX, "forward difference instead of central",
            "flat[i] = old - h\n            f_minus = f(point)\n            flat[i] = old\n"
            "            flat_grad[i] = (f_plus - f_minus) / (2 * h)",
            "flat[i] = old\n            f_minus = f(point)\n            flat_grad[i] = (f_plus - f_minus) / h",
            loses={N_CENTRAL}, mistake="autograd.one_sided_difference"),
    # Divided by h instead of 2h: every numerical gradient is twice the true one.
    variant(EX, "divided by h instead of 2h", "(f_plus - f_minus) / (2 * h)", "(f_plus - f_minus) / h",
            loses=N_VALUES, mistake="autograd.divided_by_h"),
    # Perturbs the caller's x in place and never puts the elements back: x ends shifted by -h; the values stay within
    # the tests' tolerance (the shift is 1e-6), so only the "x unchanged" test loses.
    variant(EX, "x modified in place without restoring",
            """    point = x.detach().clone(memory_format=torch.contiguous_format)
    grad = torch.zeros_like(point)
    flat, flat_grad = point.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + h
            f_plus = f(point)
            flat[i] = old - h
            f_minus = f(point)
            flat[i] = old
            flat_grad[i] = (f_plus - f_minus) / (2 * h)
    return grad""",
            """    grad = torch.zeros_like(x)
    with torch.no_grad():
        for i in range(x.numel()):
            idx = torch.unravel_index(torch.tensor(i), x.shape)
            old = x[idx].item()
            x[idx] = old + h
            f_plus = f(x)
            x[idx] = old - h
            f_minus = f(x)
            grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad""",
            loses={N_KEEPS_X}, mistake="autograd.x_modified"),
    # The result made with PyTorch's defaults: float32, whatever x is.
    variant(EX, "result created as float32", "grad = torch.zeros_like(point)", "grad = torch.zeros(point.shape)",
            loses={N_DTYPE}, mistake="autograd.float32"),
    # x.requires_grad_() on the caller's x and return x.grad itself: a second call on the same x adds into it.
    variant(EX, "returns the caller's x.grad", "leaf = x.detach().clone().requires_grad_(True)",
            "leaf = x.requires_grad_(True)", loses={A_TWICE}, mistake="autograd.returns_x_grad"),
    # A copy of x.grad, but never zeroed: the second call on the same x returns twice the gradient.
    variant(EX, "x.grad never zeroed",
            "leaf = x.detach().clone().requires_grad_(True)\n    with torch.enable_grad():\n"
            "        y = f(leaf)\n        y.backward()\n    return leaf.grad",
            "leaf = x.requires_grad_(True)\n    with torch.enable_grad():\n"
            "        y = f(leaf)\n        y.backward()\n    return leaf.grad.clone()",
            loses={A_TWICE}, mistake="autograd.grad_accumulates"),
]
