"""Reference solution: weight decay from scratch (course 4.4; d2l-zh 4.5, d2l-en 3.7)."""

import torch


def l2_penalty(w):
    """Half the squared L2 norm of w: a scalar whose gradient with respect to w is w itself."""
    return torch.sum(w.pow(2)) / 2


def sgd(params, lr, batch_size):
    """One minibatch SGD step, in place: each parameter moves against its gradient by lr / batch_size times it, then
    its gradient is zeroed (backward() accumulates into .grad)."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()
