"""Single-mistake variants of the rnn_scratch reference solution."""

from tests.mistakes import variant

EX = "rnn_scratch"
VALUES = ("rnn: outputs concatenated along dim 0 and the final state follow H = tanh(X W_xh + H W_hh + b_h), "
          "Y = H W_hq + b_q (shared parameters; T = 5, B = 3, T = 1 and B = 1)")
PARAMS = "get_params: five leaf tensors with the right shapes, small random weights, zero biases"
INIT = "init_rnn_state returns the tuple (H,) with H zeros of shape (batch_size, num_hiddens)"
STATE = "rnn carries the state: passing the returned (H,) back in continues the sequence"
GRADS = "gradients reach every parameter and flow back through time"
DEVICE = "everything lives on the device it was given"
CLIP = "grad_clipping scales all gradients together to a global norm of exactly theta, in place"
BELOW = "grad_clipping leaves gradients whose norm is below theta untouched"
MODULE = "grad_clipping works on an nn.Module (its parameters that require grad)"
SMOKE = "a character-level language model with your rnn and grad_clipping learns a small grammar"
NO_GRAPH = "grad_clipping records no graph: the parameters keep their values and stay leaves"

VARIANTS = [
    variant(EX, "ReLU instead of tanh", "H = torch.tanh(", "H = torch.relu(", loses={VALUES},
            mistake="rnn_scratch.relu_not_tanh"),
    variant(EX, "outputs stacked instead of concatenated", "torch.cat(outputs, dim=0)", "torch.stack(outputs)",
            loses={VALUES}, mistake="rnn_scratch.outputs_stacked"),
    variant(EX, "initial state ignored", "    (H,) = state\n",
            "    (H,) = state\n    H = torch.zeros_like(H)\n", loses={VALUES, STATE}, mistake="rnn_scratch.initial_state_ignored"),
    variant(EX, "init_rnn_state returns a bare tensor", "return (torch.zeros((batch_size, num_hiddens), device=device),)",
            "return torch.zeros((batch_size, num_hiddens), device=device)", loses={INIT},
            mistake="rnn_scratch.init_state_bare_tensor"),
    variant(EX, "H detached at every step", "        H = torch.tanh(", "        H = H.detach()\n        H = torch.tanh(",
            loses={GRADS}, mistake="rnn_scratch.state_detached"),
    variant(EX, "init_rnn_state creates H on the default device",
            "torch.zeros((batch_size, num_hiddens), device=device)", "torch.zeros((batch_size, num_hiddens))",
            loses={DEVICE}),
    variant(EX, "one norm per tensor", """    norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
    if norm > theta:
        for p in params:
            p.grad.mul_(theta / norm)""", """    for p in params:
        norm = torch.sqrt(torch.sum(p.grad ** 2))
        if norm > theta:
            p.grad.mul_(theta / norm)""", loses={CLIP, MODULE}, mistake="grad_clipping.per_parameter_norm"),
    variant(EX, "no square root", "norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))",
            "norm = sum(torch.sum(p.grad ** 2) for p in params)", loses={CLIP, BELOW, MODULE},
            mistake="grad_clipping.no_sqrt"),
    variant(EX, "always scaled", "    if norm > theta:\n        for p in params:", "    if True:\n        for p in params:",
            loses={BELOW}, mistake="grad_clipping.always_scaled"),
    variant(EX, "not in place", "            p.grad.mul_(theta / norm)", "            p = p.grad * theta / norm",
            loses={CLIP, MODULE, SMOKE}, mistake="grad_clipping.not_in_place"),
    variant(EX, "only net.params", """    if isinstance(net, nn.Module):
        params = [p for p in net.parameters() if p.requires_grad]
    else:
        params = net.params""", "    params = net.params", loses={MODULE}, mistake="grad_clipping.module_not_handled"),
]
