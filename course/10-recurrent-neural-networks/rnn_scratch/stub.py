"""Exercise rnn_scratch: a recurrent neural network from scratch, with gradient clipping (course 10.5; d2l-zh 8.5,
d2l-en 9.5).

Read the lesson first:   d2l-tutor lesson rnn-scratch
Grade your work:         d2l-tutor grade rnn_scratch
Stuck? Ask for a hint:   d2l-tutor hint rnn_scratch

The functions fit together the way the course's RNNModelScratch and its training loop use them:

    params = get_params(vocab_size, num_hiddens, device)
    state = init_rnn_state(batch_size, num_hiddens, device)
    outputs, state = rnn(inputs, state, params)
    loss.backward()
    grad_clipping(net, 1)        # net.params is the list of parameters
    optimizer.step()
"""

import torch
from torch import nn


def get_params(vocab_size, num_hiddens, device):
    """Create the RNN's parameters, ready to be trained.

    Arguments:
        vocab_size: the number of distinct tokens; inputs are one-hot vectors
            of this length and the outputs score every token.
        num_hiddens: the number of hidden units h.
        device: the torch.device every parameter must live on.

    Returns:
        A list of 5 tensors, in exactly this order:
            [W_xh, W_hh, b_h,      the hidden layer
             W_hq, b_q]            the output layer
        with the shapes
            W_xh: (vocab_size, num_hiddens)
            W_hh: (num_hiddens, num_hiddens)
            b_h:  (num_hiddens,)
            W_hq: (num_hiddens, vocab_size)
            b_q:  (vocab_size,)

    Requirements the tests check:
        * Weights are small random numbers, e.g.
          torch.randn(shape, device=device) * 0.01; biases are zeros.
        * Every parameter is a float32 leaf tensor that requires grad: scale
          first, then call .requires_grad_(True).
        * Every parameter is created on `device` (pass device=device).

    Example:
        >>> params = get_params(28, 32, torch.device("cpu"))
        >>> [tuple(p.shape) for p in params]
        [(28, 32), (32, 32), (32,), (32, 28), (28,)]
    """
    raise NotImplementedError("get_params is not written yet: replace this line with your implementation")


def init_rnn_state(batch_size, num_hiddens, device):
    """Return the RNN's initial hidden state.

    Arguments:
        batch_size: the number of sequences in a minibatch.
        num_hiddens: the number of hidden units h.
        device: the torch.device the state must live on.

    Returns:
        The 1-tuple (H,) where H = zeros of shape (batch_size, num_hiddens),
        float32, on `device`. Note the trailing comma: (H,) is a tuple, (H)
        is just H. (An LSTM's state is (H, C); the tuple keeps the training
        code the same for both.)

    Example:
        >>> init_rnn_state(2, 3, torch.device("cpu"))
        (tensor([[0., 0., 0.],
                [0., 0., 0.]]),)
    """
    raise NotImplementedError("init_rnn_state is not written yet: replace this line with your implementation")


def rnn(inputs, state, params):
    """Run the RNN over every time step of a minibatch.

    Arguments:
        inputs: a float tensor of shape (T, B, vocab_size): T time steps, each
            a (B, vocab_size) minibatch of one-hot vectors. Iterating over
            inputs (`for X in inputs:`) gives the steps in order.
        state: the 1-tuple (H,) with H of shape (B, num_hiddens), from
            init_rnn_state or from a previous call to rnn. It is not always
            zero: start from it.
        params: the list from get_params, in its order.

    Returns:
        The pair (outputs, (H,)):
            outputs: shape (T * B, vocab_size), the output Y of every step,
                joined with torch.cat(list_of_Y, dim=0) (NOT torch.stack):
                rows t * B to t * B + B - 1 hold step t.
            (H,): the hidden state after the last step, again a 1-tuple.

    At each step, with X the (B, vocab_size) input and H the current state:
        H = tanh(X W_xh + H W_hh + b_h)      the new state (tanh, not ReLU)
        Y = H W_hq + b_q                     this step's output, from the new H

    Requirements the tests check:
        * The values above, on random parameters and a nonzero initial state;
          also with T = 1 and with B = 1.
        * Passing the returned state back into rnn continues the sequence.
        * Gradients reach every parameter and flow back through time: no
          .detach(), .data, .item() or torch.no_grad() inside rnn.
        * Everything stays on the inputs' device.

    Example (shapes only):
        >>> params = get_params(28, 32, torch.device("cpu"))
        >>> X = torch.nn.functional.one_hot(torch.zeros(5, 2, dtype=torch.long), 28).float()
        >>> outputs, (H,) = rnn(X, init_rnn_state(2, 32, torch.device("cpu")), params)
        >>> outputs.shape, H.shape
        (torch.Size([10, 28]), torch.Size([2, 32]))
    """
    raise NotImplementedError("rnn is not written yet: replace this line with your implementation")


def grad_clipping(net, theta):
    """Clip the gradients of all of net's parameters together, in place.

    Arguments:
        net: either an nn.Module (use its parameters that require grad) or
            an object with an attribute .params, a list of tensors (the
            course's RNNModelScratch). Every parameter has its .grad set.
        theta: a positive float, the largest allowed norm.

    Returns:
        None. It changes the tensors' .grad in place and nothing else.

    The global norm treats every gradient as one long vector g:
        ‖g‖ = sqrt(sum over all parameters p of sum(p.grad ** 2))
    If ‖g‖ > theta, every gradient is multiplied by theta / ‖g‖, so the new
    global norm is exactly theta and the direction of g is kept. If
    ‖g‖ <= theta, the gradients are left exactly as they are.

    Requirements the tests check:
        * One norm for all parameters together (not one per tensor), with
          the square root; the scale is theta / ‖g‖.
        * The caller's .grad tensors change (in place); the parameters'
          values do not, and they stay leaves that require grad.
        * Works for an nn.Module and for an object with .params.
        * Do not call torch.nn.utils.clip_grad_norm_: that is the answer.

    Example:
        gradients [3., 4.] and [12.] have global norm 13; with theta = 1 they
        become [3/13, 4/13] and [12/13]; with theta = 20 they stay as they are.
    """
    raise NotImplementedError("grad_clipping is not written yet: replace this line with your implementation")
