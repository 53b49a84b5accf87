"""Exercise weight_decay: weight decay from scratch (course 4.4; d2l-zh 4.5, d2l-en 3.7).

Read the lesson first:   d2l-tutor lesson weight_decay
Grade your work:         d2l-tutor grade weight_decay
Stuck? Ask for a hint:   d2l-tutor hint weight_decay
"""

import torch


def l2_penalty(w):
    """Return the L2 penalty of the weights w: half their squared L2 norm.

    Arguments:
        w: a tensor of any shape (the book's weight has shape (200, 1)),
            float32 or float64, on any device, usually with requires_grad=True.

    Returns:
        A 0-dim tensor (a scalar) with w's dtype and device:
            l2_penalty(w) = (sum over every element of w of w[i] ** 2) / 2
        i.e. ||w||² / 2. The factor 1/2 is there so that the gradient of the
        penalty with respect to w is exactly w.

    Requirements the hidden tests check:
        * Square every element and SUM them (not the mean, not the absolute
          values: that would be an L1 penalty), then halve.
        * The result stays in autograd's graph: the training loop adds
          lambd * l2_penalty(w) to the loss and calls backward(), so do not
          use .item(), float(...), .detach() or torch.tensor(...) on it.
        * A matrix counts all its elements: the penalty of a (3, 4) weight is
          a 0-dim tensor, equal to the penalty of its 12 entries as a vector.

    Example:
        >>> l2_penalty(torch.tensor([3.0, -4.0, 12.0]))
        tensor(84.5000)
    """
    raise NotImplementedError("l2_penalty is not written yet: replace this line with your implementation")


def sgd(params, lr, batch_size):
    """Take one minibatch stochastic gradient descent step on params, in place.

    Arguments:
        params: a list of tensors (the book passes [w, b]), each a leaf with
            requires_grad=True whose .grad holds the gradient of the SUM of
            the losses over a minibatch (what loss.sum().backward() leaves).
        lr: the learning rate, a Python float.
        batch_size: the number of examples in the minibatch, a Python int.

    Returns:
        Nothing. For every tensor param in params:
            param <- param - lr * param.grad / batch_size
        (dividing by batch_size turns the summed gradient into the mean
        gradient), and then param.grad is zeroed.

    Requirements the hidden tests check:
        * Update each tensor IN PLACE, so the caller's tensors (the w and b
          of the training loop) change: `param -= ...` or param.sub_(...).
          `param = param - ...` only rebinds the loop variable to a new
          tensor; the caller's tensor never changes.
        * Do the update inside `with torch.no_grad():`. The parameters are
          leaves that require grad, and autograd refuses an in-place change
          of such a tensor while it records; after the step each parameter
          is still a leaf with requires_grad=True and no grad_fn.
        * Divide by batch_size.
        * Zero every gradient after its update (param.grad.zero_()):
          backward() ADDS to .grad, so a gradient left in place would be
          added to the next minibatch's.
        * Do not use torch.optim.SGD: the grader detects it.

    Example:
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> b = torch.tensor([0.5], requires_grad=True)
        >>> (3 * w.sum() + 4 * b.sum()).backward()    # w.grad = [3, 3], b.grad = [4]
        >>> sgd([w, b], lr=0.1, batch_size=2)
        >>> w, b
        (tensor([0.8500, 1.8500], requires_grad=True), tensor([0.3000], requires_grad=True))
        >>> w.grad, b.grad
        (tensor([0., 0.]), tensor([0.]))
    """
    raise NotImplementedError("sgd is not written yet: replace this line with your implementation")
