"""Exercise autograd: numerical and automatic gradients (course 2.5; d2l-zh 2.5, d2l-en 2.5).

Read the lesson first:   d2l-tutor lesson autograd
Grade your work:         d2l-tutor grade autograd
Stuck? Ask for a hint:   d2l-tutor hint autograd
"""

import torch


def numerical_grad(f, x, h=1e-6):
    """Return the gradient of the scalar function f at x, estimated by central differences.

    Arguments:
        f: a function that takes a tensor shaped like x and returns a scalar
           (a 0-d tensor or a Python number). Treat it as a black box: it may
           not be differentiable by autograd, so only call it.
        x: a floating-point tensor of any shape (the tests use float64).
        h: the step, a small positive number.

    Returns:
        A new tensor g with x's shape, dtype and device, where for every
        element i of x
            g[i] = (f(x + h·eᵢ) - f(x - h·eᵢ)) / (2h)
        and eᵢ is the tensor of x's shape that is 1 at element i and 0
        elsewhere.

    Requirements the hidden tests check:
        * The difference is central (x + h and x - h), not one-sided: its
          error shrinks like h², which is what makes h = 1e-6 accurate.
        * float64 in, float64 out: h = 1e-6 is far too small for float32.
        * x is left unchanged when you return (work on a copy, or put every
          element back).
        * Any shape works: a scalar (0-d), a vector, a matrix, and a matrix
          that is not contiguous (say a transpose).

    Example:
        >>> x = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
        >>> numerical_grad(lambda v: 2 * torch.dot(v, v), x)
        tensor([ 0.0000,  4.0000,  8.0000, 12.0000], dtype=torch.float64)
    """
    raise NotImplementedError("numerical_grad is not written yet: replace this line with your implementation")


def autograd_grad(f, x):
    """Return the gradient of the scalar function f at x, computed by autograd.

    Arguments:
        f: a function built from torch operations that takes a tensor shaped
           like x and returns a 0-d tensor (a scalar), differentiable by
           autograd.
        x: a floating-point tensor of any shape; it may or may not require
           grad.

    Returns:
        A new tensor with x's shape, dtype and device: the gradient of f(x)
        with respect to x, what x.grad holds after f(x).backward().

    Requirements the hidden tests check:
        * The caller's x is left as it was: no .grad is left on it, and its
          values do not change.
        * The result is a new tensor each time, not a .grad that a later call
          writes into: calling autograd_grad twice on the same x returns the
          same gradient twice (gradients must not accumulate).
        * Functions that are not differentiable everywhere, such as |x| or
          max(x, 0), are evaluated away from their kinks and give their
          ordinary derivatives there.
        * Do not use torch.func.grad, torch.func.jacrev, torch.func.vjp or
          torch.autograd.functional.*: the grader detects them.

    Example:
        >>> x = torch.tensor([0.0, 1.0, 2.0, 3.0])
        >>> autograd_grad(lambda v: 2 * torch.dot(v, v), x)
        tensor([ 0.,  4.,  8., 12.])
        >>> x.grad is None
        True
    """
    raise NotImplementedError("autograd_grad is not written yet: replace this line with your implementation")
