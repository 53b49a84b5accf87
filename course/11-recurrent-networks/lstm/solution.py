"""Reference solution: long short-term memory from scratch (course 11.2; d2l-zh 9.2, d2l-en 10.1)."""

import torch


def get_lstm_params(vocab_size, num_hiddens, device):
    """Four (input weight, hidden weight, bias) triples for I, F, O and the candidate cell, then the output layer."""

    def weight(rows, cols):
        return torch.randn((rows, cols), device=device) * 0.01

    def gate():
        return [weight(vocab_size, num_hiddens), weight(num_hiddens, num_hiddens),
                torch.zeros(num_hiddens, device=device)]

    params = gate() + gate() + gate() + gate()  # input gate I, forget gate F, output gate O, candidate cell C~
    params += [weight(num_hiddens, vocab_size), torch.zeros(vocab_size, device=device)]
    for p in params:
        p.requires_grad_(True)
    return params


def init_lstm_state(batch_size, num_hiddens, device):
    """The hidden state H and the memory cell C both start at zero."""
    return (torch.zeros((batch_size, num_hiddens), device=device),
            torch.zeros((batch_size, num_hiddens), device=device))


def lstm(inputs, state, params):
    """Run the LSTM over the time steps of `inputs`; one output row block per step, concatenated along dim 0."""
    W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q = params
    H, C = state
    outputs = []
    for X in inputs:  # X: (batch, vocab) for one time step
        I = torch.sigmoid(X @ W_xi + H @ W_hi + b_i)
        F = torch.sigmoid(X @ W_xf + H @ W_hf + b_f)
        O = torch.sigmoid(X @ W_xo + H @ W_ho + b_o)
        C_tilde = torch.tanh(X @ W_xc + H @ W_hc + b_c)
        C = F * C + I * C_tilde
        H = O * torch.tanh(C)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H, C)
