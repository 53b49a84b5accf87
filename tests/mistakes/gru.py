"""Single-mistake variants of the gru reference solution."""

from tests.mistakes import variant

EX = "gru"
VALUES = "gru: the outputs and the final state follow the GRU equations (shared parameters, T = 5, B = 3)"
EDGES = "gru with one time step (T = 1) and with a batch of one (B = 1)"
PARAMS = "get_params: eleven leaf tensors with the right shapes, small random weights, zero biases"
INIT = "init_gru_state returns the tuple (H,) with H zeros of shape (batch_size, num_hiddens)"
STATE = "gru returns its state as the tuple (H,), and passing it back in continues the sequence"
GRADS = "gradients reach every parameter and flow back through time"
DEVICE = "everything lives on the device it was given"
SMOKE = "a character-level language model with your GRU learns a small grammar"

VARIANTS = [
    variant(EX, "Z and 1 - Z swapped", "H = Z * H + (1 - Z) * H_tilde", "H = (1 - Z) * H + Z * H_tilde",
            loses={VALUES, EDGES}, mistake="gru.update_gate_swapped"),
    variant(EX, "reset gate applied after the matmul", "(R * H) @ W_hh", "R * (H @ W_hh)",
            loses={VALUES, EDGES}, mistake="gru.reset_after_matmul"),
    variant(EX, "outputs stacked instead of concatenated", "torch.cat(outputs, dim=0)", "torch.stack(outputs)",
            loses={VALUES, EDGES}, mistake="gru.outputs_stacked"),
    variant(EX, "gru returns the state as a bare tensor", "return torch.cat(outputs, dim=0), (H,)",
            "return torch.cat(outputs, dim=0), H", loses={STATE}, mistake="gru.state_bare_tensor"),
    variant(EX, "init_gru_state returns a bare tensor", "return (torch.zeros((batch_size, num_hiddens), device=device),)",
            "return torch.zeros((batch_size, num_hiddens), device=device)", loses={INIT},
            mistake="gru.init_state_bare_tensor"),
    variant(EX, "H detached at every step", "        Z = torch.sigmoid(",
            "        H = H.detach()\n        Z = torch.sigmoid(", loses={GRADS}, mistake="gru.state_detached"),
    variant(EX, "init_gru_state creates H on the default device", "torch.zeros((batch_size, num_hiddens), device=device)",
            "torch.zeros((batch_size, num_hiddens))", loses={DEVICE}),
    variant(EX, "get_params repeats one gate's tensors (list * 3)", "params = gate() + gate() + gate()",
            "params = gate() * 3", loses={PARAMS}, mistake="gru.params_shared"),
]
