"""Reference solution: a gated recurrent unit from scratch (course 11.1; d2l-zh 9.1, d2l-en 10.2)."""

import torch


def get_params(vocab_size, num_hiddens, device):
    """Three (input weight, hidden weight, bias) triples for Z, R and the candidate, then the output layer."""

    def weight(rows, cols):
        return torch.randn((rows, cols), device=device) * 0.01

    def gate():
        return [weight(vocab_size, num_hiddens), weight(num_hiddens, num_hiddens),
                torch.zeros(num_hiddens, device=device)]

    params = gate() + gate() + gate()  # update gate Z, reset gate R, candidate state H~
    params += [weight(num_hiddens, vocab_size), torch.zeros(vocab_size, device=device)]
    for p in params:
        p.requires_grad_(True)
    return params


def init_gru_state(batch_size, num_hiddens, device):
    """The hidden state starts at zero, wrapped in a 1-tuple."""
    return (torch.zeros((batch_size, num_hiddens), device=device),)


def gru(inputs, state, params):
    """Run the GRU over the time steps of `inputs`; one output row block per step, concatenated along dim 0."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    for X in inputs:  # X: (batch, vocab) for one time step
        Z = torch.sigmoid(X @ W_xz + H @ W_hz + b_z)
        R = torch.sigmoid(X @ W_xr + H @ W_hr + b_r)
        H_tilde = torch.tanh(X @ W_xh + (R * H) @ W_hh + b_h)
        H = Z * H + (1 - Z) * H_tilde
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)
