"""Exercise optimizers: momentum, AdaGrad, RMSProp and Adam from scratch (course 13.1; d2l-zh 11.6 to 11.10,
d2l-en 12.6 to 12.10).

Read the lesson first:   d2l-tutor lesson optimization
Grade your work:         d2l-tutor grade optimizers
Stuck? Ask for a hint:   d2l-tutor hint optimizers

The conventions every update function below follows (the book's training loop, d2l.train_ch11, relies on them):

    params       a list [w, b] of leaf tensors with requires_grad=True: w of shape (feature_dim, 1), b of shape
                 (1,); each one's .grad holds the gradient of the loss (what loss.backward() left there).
    states       what the matching init_*_states(feature_dim) returned, one entry per parameter, in the order of
                 params; the function reads the state AND WRITES THE NEW STATE INTO THESE SAME TENSORS (in place:
                 v[:] = ..., s += ...), because the caller keeps them for the next step.
    hyperparams  a dict (or any mapping) of the method's numbers, read with hyperparams['lr'] etc.
    returns      nothing. Each parameter is updated in place, inside `with torch.no_grad():` (the parameters are
                 leaves that require grad), then its gradient is zeroed (p.grad.data.zero_()), because backward()
                 adds to .grad.

The states and parameters may be on any device, as long as they are on the same one; the init functions take no
device and create their zeros on the CPU, as the book's do. float32 throughout.
"""

import torch


def init_momentum_states(feature_dim):
    """Return the velocities of momentum, one per parameter, all zero.

    Arguments:
        feature_dim: a Python int, the number of inputs of the linear regression.

    Returns:
        A tuple (v_w, v_b): float32 zeros, v_w of shape (feature_dim, 1) (like w) and v_b of shape (1,) (like b).

    Example:
        >>> init_momentum_states(2)
        (tensor([[0.], [0.]]), tensor([0.]))
    """
    raise NotImplementedError("init_momentum_states is not written yet: replace this line with your implementation")


def sgd_momentum(params, states, hyperparams):
    """Take one step of stochastic gradient descent with momentum (see the module's docstring for the arguments).

    hyperparams: 'lr' (the learning rate) and 'momentum' (β, for example 0.5). For each parameter p with gradient g
    and velocity v (from states):
        v <- momentum * v + g
        p <- p - lr * v
    torch.optim.SGD(momentum=...) uses this same convention (with dampening 0), so the grader compares with it.

    Requirements the hidden tests check: the velocities are updated in place (the caller's tensors hold the new v);
    p moves AGAINST v; every gradient is zeroed afterwards.

    Example:
        >>> w = torch.tensor([[1.0]], requires_grad=True); b = torch.tensor([0.0], requires_grad=True)
        >>> states = init_momentum_states(1)
        >>> for _ in range(2):
        ...     w.grad, b.grad = torch.tensor([[2.0]]), torch.tensor([1.0])
        ...     sgd_momentum([w, b], states, {'lr': 0.1, 'momentum': 0.5})
        >>> w, states     # v = 2, then 0.5 * 2 + 2 = 3; w = 1 - 0.2 - 0.3
        (tensor([[0.5000]], requires_grad=True), (tensor([[3.]]), tensor([1.5000])))
    """
    raise NotImplementedError("sgd_momentum is not written yet: replace this line with your implementation")


def init_adagrad_states(feature_dim):
    """Return AdaGrad's sums of squared gradients, one per parameter, all zero.

    Arguments:
        feature_dim: a Python int, the number of inputs of the linear regression.

    Returns:
        A tuple (s_w, s_b): float32 zeros of shapes (feature_dim, 1) and (1,).
    """
    raise NotImplementedError("init_adagrad_states is not written yet: replace this line with your implementation")


def adagrad(params, states, hyperparams):
    """Take one AdaGrad step (see the module's docstring for the arguments).

    hyperparams: 'lr'. With eps = 1e-6, for each parameter p with gradient g and state s:
        s <- s + g * g                       (the sum of every squared gradient so far, element by element)
        p <- p - lr * g / sqrt(s + eps)      (as the book writes it: eps inside the square root)

    Requirements the hidden tests check: s accumulates (+=, not =) and is updated in place; the gradients are
    zeroed afterwards; three steps agree with torch.optim.Adagrad(lr) to 1e-4.

    Example:
        >>> w = torch.tensor([[1.0]], requires_grad=True); b = torch.tensor([0.0], requires_grad=True)
        >>> states = init_adagrad_states(1)
        >>> w.grad, b.grad = torch.tensor([[3.0]]), torch.tensor([-4.0])
        >>> adagrad([w, b], states, {'lr': 0.1})
        >>> w, b, states  # s = g², so each element moves by lr against the gradient's sign
        (tensor([[0.9000]], requires_grad=True), tensor([0.1000], requires_grad=True), (tensor([[9.]]), tensor([16.])))
    """
    raise NotImplementedError("adagrad is not written yet: replace this line with your implementation")


def init_rmsprop_states(feature_dim):
    """Return RMSProp's leaky averages of squared gradients, one per parameter, all zero.

    Arguments:
        feature_dim: a Python int, the number of inputs of the linear regression.

    Returns:
        A tuple (s_w, s_b): float32 zeros of shapes (feature_dim, 1) and (1,).
    """
    raise NotImplementedError("init_rmsprop_states is not written yet: replace this line with your implementation")


def rmsprop(params, states, hyperparams):
    """Take one RMSProp step (see the module's docstring for the arguments).

    hyperparams: 'lr' and 'gamma' (the weight of the old average, for example 0.9). With eps = 1e-6:
        s <- gamma * s + (1 - gamma) * g * g
        p <- p - lr * g / sqrt(s + eps)
    torch.optim.RMSprop calls gamma `alpha`; the grader compares three steps with it.

    Requirements the hidden tests check: gamma weighs the OLD s; s is updated in place; the gradients are zeroed.

    Example:
        >>> w = torch.tensor([[1.0]], requires_grad=True); b = torch.tensor([0.0], requires_grad=True)
        >>> states = init_rmsprop_states(1)
        >>> w.grad, b.grad = torch.tensor([[2.0]]), torch.tensor([1.0])
        >>> rmsprop([w, b], states, {'lr': 0.01, 'gamma': 0.9})
        >>> states        # 0.1 * g²; w moves by 0.01 * 2 / sqrt(0.4) = 0.0316
        (tensor([[0.4000]]), tensor([0.1000]))
    """
    raise NotImplementedError("rmsprop is not written yet: replace this line with your implementation")


def init_adam_states(feature_dim):
    """Return Adam's first and second moments, a pair per parameter, all zero.

    Arguments:
        feature_dim: a Python int, the number of inputs of the linear regression.

    Returns:
        ((v_w, s_w), (v_b, s_b)): float32 zeros, v_w and s_w of shape (feature_dim, 1), v_b and s_b of shape (1,).
    """
    raise NotImplementedError("init_adam_states is not written yet: replace this line with your implementation")


def adam(params, states, hyperparams):
    """Take one Adam step (see the module's docstring for the arguments); states is ((v_w, s_w), (v_b, s_b)).

    hyperparams: 'lr' and 't', the number of this step, starting at 1. With β1 = 0.9, β2 = 0.999, eps = 1e-6 and
    t = hyperparams['t'], for each parameter p with gradient g:
        v <- β1 * v + (1 - β1) * g
        s <- β2 * s + (1 - β2) * g * g
        v̂ = v / (1 - β1 ** t)                 (bias correction: v and s start at zero)
        ŝ = s / (1 - β2 ** t)
        p <- p - lr * v̂ / (sqrt(ŝ) + eps)     (eps AFTER the square root, unlike AdaGrad and RMSProp above)
    and, once all parameters are done, hyperparams['t'] += 1 (the book's training loop never changes t itself).

    Requirements the hidden tests check: the bias correction (the first step moves each element by about lr);
    β1 for v, β2 for s; eps after the square root (gradients of size 1e-4 still move by about lr); t grows by 1 per
    call, not per parameter; v and s updated in place; the gradients zeroed; four steps agree with
    torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-6) to 1e-4.

    Example:
        >>> w = torch.tensor([[1.0], [2.0]], requires_grad=True); b = torch.tensor([0.5], requires_grad=True)
        >>> states, hp = init_adam_states(2), {'lr': 0.1, 't': 1}
        >>> w.grad, b.grad = torch.tensor([[2.0], [-0.5]]), torch.tensor([-1.0])
        >>> adam([w, b], states, hp)
        >>> w, b, hp['t']
        (tensor([[0.9000], [2.1000]], requires_grad=True), tensor([0.6000], requires_grad=True), 2)
    """
    raise NotImplementedError("adam is not written yet: replace this line with your implementation")
