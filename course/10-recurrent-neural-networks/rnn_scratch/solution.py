"""Reference solution: a recurrent neural network from scratch, with gradient clipping (course 10.5; d2l-zh 8.5,
d2l-en 9.5)."""

import torch
from torch import nn


def get_params(vocab_size, num_hiddens, device):
    """The hidden layer (W_xh, W_hh, b_h), then the output layer (W_hq, b_q)."""

    def weight(rows, cols):
        return torch.randn((rows, cols), device=device) * 0.01

    params = [weight(vocab_size, num_hiddens), weight(num_hiddens, num_hiddens),
              torch.zeros(num_hiddens, device=device),
              weight(num_hiddens, vocab_size), torch.zeros(vocab_size, device=device)]
    for p in params:
        p.requires_grad_(True)
    return params


def init_rnn_state(batch_size, num_hiddens, device):
    """The hidden state starts at zero, wrapped in a 1-tuple."""
    return (torch.zeros((batch_size, num_hiddens), device=device),)


def rnn(inputs, state, params):
    """Run the RNN over the time steps of `inputs`; one output row block per step, concatenated along dim 0."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    for X in inputs:  # X: (batch, vocab) for one time step
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)


def grad_clipping(net, theta):
    """Scale every gradient by theta / ‖g‖ when the global norm ‖g‖ of all of them together exceeds theta."""
    if isinstance(net, nn.Module):
        params = [p for p in net.parameters() if p.requires_grad]
    else:
        params = net.params
    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    if norm > theta:
        for p in params:
            p.grad.mul_(theta / norm)
