"""Exercise lstm: long short-term memory from scratch (course 11.2; d2l-zh 9.2, d2l-en 10.1).

Read the lesson first:   d2l-tutor lesson lstm
Grade your work:         d2l-tutor grade lstm
Stuck? Ask for a hint:   d2l-tutor hint lstm

The three functions fit together the way the course's RNNModelScratch uses them:

    params = get_lstm_params(vocab_size, num_hiddens, device)
    state = init_lstm_state(batch_size, num_hiddens, device)
    outputs, state = lstm(inputs, state, params)
"""

import torch


def get_lstm_params(vocab_size, num_hiddens, device):
    """Create the LSTM's parameters, ready to be trained.

    Arguments:
        vocab_size: the number of distinct tokens; inputs are one-hot vectors
            of this length and the outputs score every token.
        num_hiddens: the number of hidden units h.
        device: the torch.device every parameter must live on.

    Returns:
        A list of 14 tensors, in exactly this order:
            [W_xi, W_hi, b_i,      the input gate I
             W_xf, W_hf, b_f,      the forget gate F
             W_xo, W_ho, b_o,      the output gate O
             W_xc, W_hc, b_c,      the candidate memory cell C~
             W_hq, b_q]            the output layer
        with the shapes
            W_xi, W_xf, W_xo, W_xc: (vocab_size, num_hiddens)
            W_hi, W_hf, W_ho, W_hc: (num_hiddens, num_hiddens)
            b_i, b_f, b_o, b_c:     (num_hiddens,)
            W_hq:                   (num_hiddens, vocab_size)
            b_q:                    (vocab_size,)

    Requirements the hidden tests check:
        * Weights are small random numbers, e.g.
          torch.randn(shape, device=device) * 0.01; biases are zeros.
        * Every parameter is a float32 leaf tensor that requires grad: scale
          first, then call .requires_grad_(True) (a tensor computed from one
          that requires grad is not a leaf, and its .grad stays None).
        * Every parameter is its own tensor, created on `device`.
        * Do not use torch.nn.LSTM, torch.nn.LSTMCell, torch.nn.GRU,
          torch.nn.GRUCell or torch.nn.RNN anywhere in this file: the grader
          detects them.

    Example:
        >>> params = get_lstm_params(28, 32, torch.device("cpu"))
        >>> len(params), [tuple(p.shape) for p in params[:3]]
        (14, [(28, 32), (32, 32), (32,)])
    """
    raise NotImplementedError("get_lstm_params is not written yet: replace this line with your implementation")


def init_lstm_state(batch_size, num_hiddens, device):
    """Return the LSTM's initial state: the hidden state and the memory cell.

    Arguments:
        batch_size: the number of sequences in a minibatch.
        num_hiddens: the number of hidden units h.
        device: the torch.device the state must live on.

    Returns:
        The pair (H, C): two float32 tensors of zeros, each of shape
        (batch_size, num_hiddens), on `device`. H is the hidden state, C the
        memory cell; the order is (H, C).

    Example:
        >>> H, C = init_lstm_state(2, 3, torch.device("cpu"))
        >>> H.shape, C.shape
        (torch.Size([2, 3]), torch.Size([2, 3]))
    """
    raise NotImplementedError("init_lstm_state is not written yet: replace this line with your implementation")


def lstm(inputs, state, params):
    """Run the LSTM over every time step of a minibatch.

    Arguments:
        inputs: a float tensor of shape (T, B, vocab_size): T time steps, each
            a (B, vocab_size) minibatch of one-hot vectors. Iterating over
            inputs (`for X in inputs:`) gives the steps in order.
        state: the pair (H, C), both of shape (B, num_hiddens), as returned by
            init_lstm_state or by a previous call to lstm. It is not always
            zero: start from it.
        params: the list from get_lstm_params, in its order.

    Returns:
        The pair (outputs, (H, C)):
            outputs: shape (T * B, vocab_size), the output Y of every step,
                joined with torch.cat(list_of_Y, dim=0) (NOT torch.stack):
                rows t * B to t * B + B - 1 hold step t.
            (H, C): the hidden state and the memory cell after the last step.

    At each step, with X the (B, vocab_size) input, H and C the current state,
    σ the sigmoid and ⊙ elementwise multiplication:
        I  = σ(X W_xi + H W_hi + b_i)               input gate
        F  = σ(X W_xf + H W_hf + b_f)               forget gate
        O  = σ(X W_xo + H W_ho + b_o)               output gate
        C~ = tanh(X W_xc + H W_hc + b_c)            candidate memory cell
        C  = F ⊙ C + I ⊙ C~                         new memory cell
        H  = O ⊙ tanh(C)                            new hidden state
        Y  = H W_hq + b_q                           output of this step
    All four of I, F, O and C~ read the H of the previous step.

    Requirements the hidden tests check:
        * The values above, on random parameters and a nonzero initial (H, C);
          also with T = 1 and with B = 1.
        * The returned state is the tuple (H, C), and passing it back into
          lstm continues the sequence where the previous call stopped.
        * Gradients reach every parameter and flow back through time: no
          .detach(), .data, .item() or torch.no_grad() inside lstm.
        * Everything stays on the inputs' device.
        * No torch.nn.LSTM, torch.nn.LSTMCell, torch.lstm or torch.lstm_cell.

    Example (shapes only):
        >>> params = get_lstm_params(28, 32, torch.device("cpu"))
        >>> X = torch.nn.functional.one_hot(torch.zeros(5, 2, dtype=torch.long), 28).float()
        >>> outputs, (H, C) = lstm(X, init_lstm_state(2, 32, torch.device("cpu")), params)
        >>> outputs.shape, H.shape, C.shape
        (torch.Size([10, 28]), torch.Size([2, 32]), torch.Size([2, 32]))
    """
    raise NotImplementedError("lstm is not written yet: replace this line with your implementation")
