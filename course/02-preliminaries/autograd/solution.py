"""Reference solution: numerical and automatic gradients (course 2.5; d2l-zh 2.5, d2l-en 2.5)."""

import torch


def numerical_grad(f, x, h=1e-6):
    """Central differences, one element at a time, on a private copy of x."""
    point = x.detach().clone(memory_format=torch.contiguous_format)
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
    return grad


def autograd_grad(f, x):
    """Backpropagate through f from a fresh leaf copy of x, so the caller's x never gets a .grad."""
    leaf = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = f(leaf)
        y.backward()
    return leaf.grad
