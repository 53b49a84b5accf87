"""Exercise gru: a gated recurrent unit from scratch (course 11.1; d2l-zh 9.1, d2l-en 10.2).

Read the lesson first:   d2l-tutor lesson gru
Grade your work:         d2l-tutor grade gru
Stuck? Ask for a hint:   d2l-tutor hint gru

The three functions fit together the way the course's RNNModelScratch uses them:

    params = get_params(vocab_size, num_hiddens, device)
    state = init_gru_state(batch_size, num_hiddens, device)
    outputs, state = gru(inputs, state, params)
"""

import torch


def get_params(vocab_size, num_hiddens, device):
    """Create the GRU's parameters, ready to be trained.

    Arguments:
        vocab_size: the number of distinct tokens; inputs are one-hot vectors
            of this length and the outputs score every token.
        num_hiddens: the number of hidden units h.
        device: the torch.device every parameter must live on.

    Returns:
        A list of 11 tensors, in exactly this order:
            [W_xz, W_hz, b_z,      the update gate Z
             W_xr, W_hr, b_r,      the reset gate R
             W_xh, W_hh, b_h,      the candidate hidden state H~
             W_hq, b_q]            the output layer
        with the shapes
            W_xz, W_xr, W_xh: (vocab_size, num_hiddens)
            W_hz, W_hr, W_hh: (num_hiddens, num_hiddens)
            b_z, b_r, b_h:    (num_hiddens,)
            W_hq:             (num_hiddens, vocab_size)
            b_q:              (vocab_size,)

    Requirements the hidden tests check:
        * Weights are small random numbers, e.g.
          torch.randn(shape, device=device) * 0.01; biases are zeros.
        * Every parameter is a float32 leaf tensor that requires grad: scale
          first, then call .requires_grad_(True) (a tensor computed from one
          that requires grad is not a leaf, and its .grad stays None).
        * Every parameter is created on `device` (pass device=device).
        * Do not use torch.nn.GRU, torch.nn.GRUCell, torch.nn.RNN or
          torch.nn.LSTM anywhere in this file: the grader detects them.

    Example:
        >>> params = get_params(28, 32, torch.device("cpu"))
        >>> [tuple(p.shape) for p in params[:3]]
        [(28, 32), (32, 32), (32,)]
    """
    raise NotImplementedError("get_params is not written yet: replace this line with your implementation")


def init_gru_state(batch_size, num_hiddens, device):
    """Return the GRU's initial hidden state.

    Arguments:
        batch_size: the number of sequences in a minibatch.
        num_hiddens: the number of hidden units h.
        device: the torch.device the state must live on.

    Returns:
        The 1-tuple (H,) where H = zeros of shape (batch_size, num_hiddens),
        float32, on `device`. Note the trailing comma: (H,) is a tuple, (H)
        is just H. The state is a tuple so that the same training code works
        for an LSTM, whose state is (H, C).

    Example:
        >>> init_gru_state(2, 3, torch.device("cpu"))
        (tensor([[0., 0., 0.],
                [0., 0., 0.]]),)
    """
    raise NotImplementedError("init_gru_state is not written yet: replace this line with your implementation")


def gru(inputs, state, params):
    """Run the GRU over every time step of a minibatch.

    Arguments:
        inputs: a float tensor of shape (T, B, vocab_size): T time steps, each
            a (B, vocab_size) minibatch of one-hot vectors. Iterating over
            inputs (`for X in inputs:`) gives the steps in order.
        state: the 1-tuple (H,) with H of shape (B, num_hiddens), as returned
            by init_gru_state or by a previous call to gru. It is not always
            zero: start from it.
        params: the list from get_params, in its order.

    Returns:
        The pair (outputs, (H,)):
            outputs: shape (T * B, vocab_size), the output Y of every step,
                joined with torch.cat(list_of_Y, dim=0) (NOT torch.stack):
                rows t * B to t * B + B - 1 hold step t.
            (H,): the hidden state after the last step, again a 1-tuple.

    At each step, with X the (B, vocab_size) input, H the current state,
    σ the sigmoid and ⊙ elementwise multiplication:
        Z  = σ(X W_xz + H W_hz + b_z)               update gate
        R  = σ(X W_xr + H W_hr + b_r)               reset gate
        H~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h)      candidate state
        H  = Z ⊙ H + (1 - Z) ⊙ H~                   new state
        Y  = H W_hq + b_q                           output of this step
    The reset gate multiplies H BEFORE the matmul with W_hh. (torch.nn.GRU
    puts it after, r ⊙ (H W_hh + b); the grader follows the course.)

    Requirements the hidden tests check:
        * The values above, on random parameters and a nonzero initial state;
          also with T = 1 and with B = 1.
        * The returned state is the tuple (H,), and passing it back into gru
          continues the sequence where the previous call stopped.
        * Gradients reach every parameter and flow back through time: no
          .detach(), .data, .item() or torch.no_grad() inside gru.
        * Everything stays on the inputs' device.
        * No torch.nn.GRU, torch.nn.GRUCell, torch.gru or torch.gru_cell.

    Example (shapes only):
        >>> params = get_params(28, 32, torch.device("cpu"))
        >>> X = torch.nn.functional.one_hot(torch.zeros(5, 2, dtype=torch.long), 28).float()
        >>> outputs, (H,) = gru(X, init_gru_state(2, 32, torch.device("cpu")), params)
        >>> outputs.shape, H.shape
        (torch.Size([10, 28]), torch.Size([2, 32]))
    """
    raise NotImplementedError("gru is not written yet: replace this line with your implementation")
