"""Reference solution: momentum, AdaGrad, RMSProp and Adam from scratch (course 13.1; d2l-zh 11.6 to 11.10,
d2l-en 12.6 to 12.10)."""

import torch


def init_momentum_states(feature_dim):
    """One velocity per parameter, zero at the start: (v_w of shape (feature_dim, 1), v_b of shape (1,))."""
    return (torch.zeros((feature_dim, 1)), torch.zeros(1))


def sgd_momentum(params, states, hyperparams):
    """v <- momentum * v + g; p <- p - lr * v; then the gradient is zeroed. The velocities change in place."""
    for p, v in zip(params, states):
        with torch.no_grad():
            v[:] = hyperparams['momentum'] * v + p.grad
            p[:] -= hyperparams['lr'] * v
        p.grad.data.zero_()


def init_adagrad_states(feature_dim):
    """The running sums of squared gradients, zero at the start."""
    return (torch.zeros((feature_dim, 1)), torch.zeros(1))


def adagrad(params, states, hyperparams):
    """s <- s + g²; p <- p - lr * g / sqrt(s + eps) with eps = 1e-6; then the gradient is zeroed."""
    eps = 1e-6
    for p, s in zip(params, states):
        with torch.no_grad():
            s[:] += torch.square(p.grad)
            p[:] -= hyperparams['lr'] * p.grad / torch.sqrt(s + eps)
        p.grad.data.zero_()


def init_rmsprop_states(feature_dim):
    """The leaky averages of squared gradients, zero at the start."""
    return (torch.zeros((feature_dim, 1)), torch.zeros(1))


def rmsprop(params, states, hyperparams):
    """s <- gamma * s + (1 - gamma) * g²; p <- p - lr * g / sqrt(s + eps) with eps = 1e-6; then the gradient is
    zeroed."""
    gamma, eps = hyperparams['gamma'], 1e-6
    for p, s in zip(params, states):
        with torch.no_grad():
            s[:] = gamma * s + (1 - gamma) * torch.square(p.grad)
            p[:] -= hyperparams['lr'] * p.grad / torch.sqrt(s + eps)
        p.grad.data.zero_()


def init_adam_states(feature_dim):
    """((v_w, s_w), (v_b, s_b)): the first and second moments of each parameter, zero at the start."""
    v_w, v_b = torch.zeros((feature_dim, 1)), torch.zeros(1)
    s_w, s_b = torch.zeros((feature_dim, 1)), torch.zeros(1)
    return ((v_w, s_w), (v_b, s_b))


def adam(params, states, hyperparams):
    """v <- β1 v + (1 - β1) g; s <- β2 s + (1 - β2) g²; both divided by (1 - β^t) (bias correction);
    p <- p - lr * v̂ / (sqrt(ŝ) + eps); the gradient is zeroed; after all parameters, hyperparams['t'] += 1."""
    beta1, beta2, eps = 0.9, 0.999, 1e-6
    for p, (v, s) in zip(params, states):
        with torch.no_grad():
            v[:] = beta1 * v + (1 - beta1) * p.grad
            s[:] = beta2 * s + (1 - beta2) * torch.square(p.grad)
            v_bias_corr = v / (1 - beta1 ** hyperparams['t'])
            s_bias_corr = s / (1 - beta2 ** hyperparams['t'])
            p[:] -= hyperparams['lr'] * v_bias_corr / (torch.sqrt(s_bias_corr) + eps)
        p.grad.data.zero_()
    hyperparams['t'] += 1
